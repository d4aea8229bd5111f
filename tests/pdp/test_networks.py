"""Named networks and IPv4-mapped IPv6: one host written two ways is in the same networks.

A dual-stack PEP reports an IPv4 client as `::ffff:a.b.c.d`; a policy that denies by network
must deny it exactly as it denies `a.b.c.d`, and an IPv4 client must be in a network written
as a mapped IPv6 range.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from pdp.policy import address_forms, matching_networks, parse_networks
from pdp.services import Services
from tests.pdp.pdp_env import ALICE, document_request, running_pdp

DENY_BY_NETWORK = """package authz

import rego.v1

blocked if "blocked" in input.context.networks

decision := {"allow": false, "reasons": ["blocked_network", input.context.ip]} if blocked

decision := {"allow": true, "reasons": ["open", input.context.ip]} if not blocked
"""


NETWORKS = parse_networks(
    {
        "networks": {
            "v4": ["10.0.0.0/8"],
            "mapped": ["::ffff:192.168.0.0/112"],
            "v6": ["2001:db8::/32"],
            "nat64": ["64:ff9b::/96"],
        }
    }
)


@pytest.mark.parametrize(
    ("ip", "networks"),
    [
        ("10.0.0.1", ["v4"]),
        ("::ffff:10.0.0.1", ["v4"]),
        ("::FFFF:A00:1", ["v4"]),
        ("::ffff:10.0.0.1%eth0", ["v4"]),
        ("192.168.3.4", ["mapped"]),
        ("::ffff:192.168.3.4", ["mapped"]),
        ("192.169.0.1", []),
        ("2001:db8::1", ["v6"]),
        # Not the same host as 10.0.0.1: a NAT64 translation, a 6to4 site, an IPv4-compatible
        # address (deprecated) are matched only as the IPv6 addresses they are.
        ("64:ff9b::10.0.0.1", ["nat64"]),
        ("2002:a00:1::1", []),
        ("::10.0.0.1", []),
    ],
)
def test_mapped_and_plain_forms_are_in_the_same_networks(ip, networks) -> None:
    assert matching_networks(NETWORKS, ip) == networks


def test_the_forms_of_an_address() -> None:
    four, mapped = ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("::ffff:10.0.0.1")
    assert address_forms("10.0.0.1") == (four, mapped)
    assert address_forms("::ffff:10.0.0.1") == (mapped, four)
    assert address_forms("2001:db8::1") == (ipaddress.ip_address("2001:db8::1"),)


ipv4 = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)


@st.composite
def networks(draw: st.DrawFn) -> str:
    """A CIDR written as IPv4, or as the IPv4-mapped IPv6 range of the same addresses."""
    prefix = draw(st.integers(0, 32))
    network = ipaddress.IPv4Network((draw(ipv4), prefix), strict=False)
    if draw(st.booleans()):
        return str(network)
    return f"::ffff:{network.network_address}/{96 + prefix}"


@given(address=ipv4, cidr=networks())
def test_the_mapped_form_matches_exactly_when_the_plain_form_does(address, cidr) -> None:
    named = parse_networks({"networks": {"net": [cidr]}})
    plain = matching_networks(named, str(address))
    assert matching_networks(named, f"::ffff:{address}") == plain
    network = ipaddress.ip_network(cidr)
    inside = ipaddress.IPv6Address(f"::ffff:{address}") in network or address in network
    assert plain == (["net"] if inside else [])


@pytest.fixture(scope="module")
def deny_pdp(tmp_path_factory, issuer) -> Iterator[tuple[TestClient, Services]]:
    """A PDP serving a bundle that denies every client in the `blocked` network."""
    root = tmp_path_factory.mktemp("deny-by-network")
    (root / "authz").mkdir()
    (root / "authz" / "policy.rego").write_text(DENY_BY_NETWORK)
    networks = {"blocked": ["10.0.0.0/8", "::ffff:172.16.0.0/108"]}
    (root / "data.json").write_text(json.dumps({"networks": networks}))
    (root / ".manifest").write_text(json.dumps({"revision": "deny-net", "roots": [""]}))
    state = tmp_path_factory.mktemp("pdp")
    with running_pdp(state, issuer, bundle=root, require_pep_auth=False) as running:
        yield running


@pytest.mark.parametrize(
    ("ip", "allow"),
    [
        ("10.1.2.3", False),
        ("::ffff:10.1.2.3", False),
        ("::ffff:a01:203", False),
        ("172.16.9.9", False),
        ("::ffff:172.16.9.9", False),
        ("192.0.2.1", True),
        ("::ffff:192.0.2.1", True),
    ],
)
def test_decide_denies_the_mapped_form_as_the_plain_one(deny_pdp, ip, allow) -> None:
    client, _ = deny_pdp
    body = document_request({"id": ALICE})
    body["context"]["ip"] = ip
    response = client.post("/decide", json=body)
    assert response.status_code == 200, response.text
    # `context.ip` stays as the PEP sent it; only the network match normalises.
    assert response.json()["reasons"] == ["open" if allow else "blocked_network", ip]
    assert response.json()["allow"] is allow

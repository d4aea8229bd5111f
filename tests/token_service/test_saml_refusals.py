"""SAML Responses that must be refused, each crafted by the pysaml2 partner IdP against a real
AuthnRequest of a real trip at a real `token-service serve`: forged, expired, misaddressed,
unsolicited, wrapped, replayed, cross-browser, garbage, XML entities; nothing is created.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from saml2.saml import NAMEID_FORMAT_TRANSIENT

from tests.support.saml_idp import running_idp
from tests.token_service import saml_world
from tests.token_service.conftest import Server
from tests.token_service.oidc_world import onward
from tests.token_service.saml_world import (
    SamlWorld,
    partner_user,
    post_back,
    refused,
    start,
    user_exists,
)
from tests.token_service.test_authorize import pkce, query_of
from token_service.federation.saml_keys import self_signed

# The partner IdP, its pool and the httpx browser, shared with the other SAML test module.
idp = saml_world.idp
world = saml_world.world
browser = saml_world.browser


def _without_signature(assertion: str) -> str:
    return re.sub(r"<ds:Signature.*?</ds:Signature>", "", assertion, flags=re.S)


def _wrapped(xml: str, where: str) -> str:
    """XML signature wrapping: an unsigned assertion for another user next to the signed
    one, or in its place with the signed one moved into the Response's Extensions (with
    another ID; with the signed one's own ID, so that a lookup by ID finds the signed one
    while the Response's assertion is the forged one; or that and its signature copied)."""
    start_at = xml.index("<ns1:Assertion")
    end_at = xml.index("</ns1:Assertion>") + len("</ns1:Assertion>")
    signed = xml[start_at:end_at]
    evil = signed if where == "copied signature" else _without_signature(signed)
    evil = evil.replace(">mallory-wrap-", ">admin-wrap-")
    if where not in ("same ID", "copied signature"):
        evil = re.sub(r'ID="[^"]+"', 'ID="_evil"', evil, count=1)
    if where == "sibling":
        return xml[:start_at] + evil + signed + xml[end_at:]
    issuer_end = xml.index("</ns1:Issuer>") + len("</ns1:Issuer>")
    extensions = f"<ns0:Extensions>{signed}</ns0:Extensions>"
    head, tail = xml[:issuer_end], xml[issuer_end:start_at]
    return head + extensions + tail + evil + xml[end_at:]


def _response_wrapped(xml: str) -> str:
    """Wrapping of a signed Response: a new unsigned Response (another ID) whose Extensions
    hold the signed one and whose own assertion names another user."""
    xml = re.sub(r"^<\?xml[^>]*\?>", "", xml.strip())
    root_end = xml.index(">") + 1
    outer = re.sub(r'ID="[^"]+"', 'ID="_evil-response"', xml[:root_end], count=1)
    issuer = xml[xml.index("<ns1:Issuer") : xml.index("</ns1:Issuer>") + len("</ns1:Issuer>")]
    status = xml[xml.index("<ns0:Status>") : xml.index("</ns0:Status>") + len("</ns0:Status>")]
    assertion = xml[xml.index("<ns1:Assertion") : xml.index("</ns1:Assertion>") + 16]
    evil = assertion.replace(">mallory-wrap-", ">admin-wrap-")
    extensions = f"<ns0:Extensions>{xml}</ns0:Extensions>"
    return f"{outer}{issuer}{extensions}{status}{evil}</ns0:Response>"


HOSTILE = {
    "unsigned": ({"sign_assertion": False}, "not signed"),
    "another key": ({"keys": self_signed("impostor")}, "not signed"),
    "sha1": ({"sha1": True}, "SHA-1"),
    "expired": ({"lifetime_minutes": -10}, "expired"),
    "wrong audience": ({"audience": "urn:amazon:cognito:sp:us-east-1_other"}, "audience"),
    "wrong recipient": ({"acs": "https://evil.example/saml2/idpresponse"}, "not addressed"),
    "wrong InResponseTo": ({"request_id": "_another-request"}, "answers no request"),
    "transient NameID": ({"name_id_format": NAMEID_FORMAT_TRANSIENT}, "transient NameID"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_responses_go_back_to_the_app_refused_and_create_no_one(
    cognito: Any, browser: httpx.Client, world: SamlWorld, case: str
) -> None:
    changes, reason = HOSTILE[case]
    seen, _ = start(browser, world, pkce()[1])
    name_id = f"mallory-{case.replace(' ', '-')}"
    arguments = {"request_id": seen.id, "acs": seen.acs, "audience": seen.sp}
    options = {k: v for k, v in changes.items() if k not in arguments}
    arguments.update({k: v for k, v in changes.items() if k in arguments})
    xml = world.idp.response(
        arguments["request_id"],
        arguments["acs"],
        arguments["audience"],
        partner_user(name_id, f"{name_id}@partner.example"),
        **options,
    )
    assert reason in refused(post_back(browser, xml, seen.relay_state))
    assert not user_exists(cognito, world.pool, f"Partner_{name_id}")


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("sibling", "exactly one"),
        ("extensions", "not signed"),
        ("same ID", "not signed"),
        ("copied signature", "not signed"),
        ("response", "not signed"),
    ],
)
def test_signature_wrapping_is_refused(
    cognito: Any, browser: httpx.Client, world: SamlWorld, where: str, reason: str
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    where_id = where.replace(" ", "-")
    user = partner_user(f"mallory-wrap-{where_id}", "mallory@partner.example")
    if where == "response":
        signed = world.idp.response(
            seen.id, seen.acs, seen.sp, user, sign_assertion=False, sign_response=True
        )
        xml = _response_wrapped(signed)
    else:
        xml = _wrapped(world.idp.response(seen.id, seen.acs, seen.sp, user), where)
    assert reason in refused(post_back(browser, xml, seen.relay_state))
    assert not user_exists(cognito, world.pool, f"Partner_admin-wrap-{where_id}")
    assert not user_exists(cognito, world.pool, f"Partner_mallory-wrap-{where_id}")


def test_an_idp_refusal_reaches_the_app_and_the_events(
    server: Server, browser: httpx.Client, world: SamlWorld
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    answer = post_back(browser, world.idp.refusal(seen.id, seen.acs), seen.relay_state)
    assert "did not sign the user in" in refused(answer)
    listed = server.cli("events", "--pool", world.pool, "--json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    reasons = [event.get("reason") for event in json.loads(listed.stdout)["events"]]
    assert "Partner: The identity provider did not sign the user in." in reasons


def test_an_assertion_of_another_issuer_signed_with_the_idps_key_is_refused(
    cognito: Any, browser: httpx.Client, world: SamlWorld, tmp_path: Path
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    with contextmanager(running_idp)(tmp_path, {}) as other:
        other.keys = world.idp.keys
        other.trust(httpx.get(f"{world.server_url}/{world.pool}/saml2/metadata").text)
        xml = other.response(seen.id, seen.acs, seen.sp, partner_user("elsewhere", "e@x.example"))
    assert other.entity_id != world.idp.entity_id
    assert "not signed" in refused(post_back(browser, xml, seen.relay_state))
    assert not user_exists(cognito, world.pool, "Partner_elsewhere")


def test_a_response_is_used_once_and_only_for_its_own_request(
    browser: httpx.Client, world: SamlWorld
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    xml = world.idp.response(seen.id, seen.acs, seen.sp, partner_user("replayed", "r@p.example"))
    assert "code" in query_of(onward(post_back(browser, xml, seen.relay_state)))
    again = post_back(browser, xml, seen.relay_state)
    assert again.status_code == 400 and "already used" in again.text
    other, _ = start(browser, world, pkce()[1])
    assert "answers no request" in refused(post_back(browser, xml, other.relay_state))


def test_a_response_posted_into_another_browser_is_refused(
    cognito: Any, server: Server, browser: httpx.Client, world: SamlWorld
) -> None:
    """Login CSRF: the attacker's own trip and assertion, posted from the victim's browser."""
    seen, _ = start(browser, world, pkce()[1])
    xml = world.idp.response(seen.id, seen.acs, seen.sp, partner_user("attacker", "a@p.example"))
    with httpx.Client(base_url=server.url, timeout=10) as victim:
        answer = post_back(victim, xml, seen.relay_state)
    assert answer.status_code == 400 and "did not start in this browser" in answer.text
    assert "cognito" not in victim.cookies
    assert not user_exists(cognito, world.pool, "Partner_attacker")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(garbage=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_any_garbage_as_saml_response_is_refused_cleanly(
    browser: httpx.Client, world: SamlWorld, garbage: str | bytes
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    if isinstance(garbage, bytes):
        value = base64.b64encode(zlib.compress(garbage)).decode()
    else:
        value = garbage
    answer = browser.post(
        "/saml2/idpresponse", data={"SAMLResponse": value, "RelayState": seen.relay_state}
    )
    refused(answer)


def test_xml_entities_in_a_response_are_refused(browser: httpx.Client, world: SamlWorld) -> None:
    """Entity expansion ("billion laughs") and external entities never reach the parser's
    expansion: the document is refused as a whole."""
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    for doctype, where, entity in (
        (f'<!DOCTYPE r [<!ENTITY l0 "lol">{laughs}]>', ">lol<", ">&l9;<"),
        ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', ">l@p.example<", ">&x;<"),
    ):
        seen, _ = start(browser, world, pkce()[1])
        xml = world.idp.response(seen.id, seen.acs, seen.sp, partner_user("lol", "l@p.example"))
        body = re.sub(r"^<\?xml[^>]*\?>", "", xml.strip())
        hostile = doctype + body.replace(where, entity)
        refused(post_back(browser, hostile, seen.relay_state))


def test_a_response_over_100000_characters_is_refused(
    browser: httpx.Client, world: SamlWorld
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    padded = {"SAMLResponse": "A" * 100_004, "RelayState": seen.relay_state}
    assert "too long" in refused(browser.post("/saml2/idpresponse", data=padded))


def test_acs_refuses_what_is_not_a_form_post(browser: httpx.Client) -> None:
    assert browser.get("/saml2/idpresponse").status_code == 405
    posted = browser.post("/saml2/idpresponse", content=b"{}", headers={"content-type": "json"})
    assert posted.status_code == 400
    unknown = browser.post("/saml2/idpresponse", data={"SAMLResponse": "x", "RelayState": "y"})
    assert unknown.status_code == 400 and "unknown, expired or already used" in unknown.text

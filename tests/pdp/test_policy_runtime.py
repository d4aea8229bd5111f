"""The active policy: a refused bundle never replaces the one serving."""

from __future__ import annotations

import pytest

from pdp.engine import CompileError, PolicySource
from pdp.metrics import Metrics
from pdp.policy import PolicyRuntime, parse_networks

GOOD = """package authz

import rego.v1

decision := {"allow": input.action == "ok", "reasons": ["good"]}
"""


def source(rego: str, revision: str, data: dict | None = None) -> PolicySource:
    return PolicySource(modules={"authz.rego": rego}, data=data or {}, revision=revision)


def test_a_refused_bundle_leaves_the_previous_one_serving():
    runtime = PolicyRuntime("data.authz.decision", Metrics())
    runtime.load(source(GOOD, "r1"))
    for bad in (
        "package authz\n\nimport rego.v1\n\ndecision := {",
        "package authz\n\nimport rego.v1\n\ndecision := x if { x := unknown_function(1) }\n",
    ):
        with pytest.raises(CompileError):
            runtime.load(source(bad, "r2"))
        assert runtime.revision == "r1"
    with pytest.raises(CompileError):
        runtime.load(source(GOOD, "r3", {"networks": {"office": ["10.0.0.0/33"]}}))
    assert runtime.revision == "r1"
    assert runtime.active.evaluator.evaluate("authz/decision", {"action": "ok"})["allow"] is True


def test_named_networks_cover_ipv4_and_ipv6():
    runtime = PolicyRuntime("data.authz.decision", Metrics())
    data = {"networks": {"office": ["10.0.0.0/8", "2001:db8:1::/48"], "lab": ["10.9.0.0/16"]}}
    active = runtime.load(source(GOOD, "r1", data))
    contains = active.networks_containing
    for _ in range(2):  # the second round answers from the cache
        assert contains("10.9.1.1") == ["office", "lab"]
        assert contains("2001:db8:1::9") == ["office"]
        assert contains("2001:db8:2::9") == []
        assert contains("192.0.2.1") == []


@pytest.mark.parametrize("networks", [[], {"office": "10.0.0.0/8"}, {"office": ["nope"]}])
def test_bad_named_networks_refuse_the_bundle(networks):
    with pytest.raises(CompileError):
        parse_networks({"networks": networks})

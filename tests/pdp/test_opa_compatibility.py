"""The Rego we ship is OPA's Rego: its tests pass in OPA's own engine, and OPA decides alike.

OPA's Go evaluator comes from the `opa-golib-python-bindings` package (a c-shared build of
OPA's `rego` library). The package declares Python 3.14 but runs here; `scripts/test`
installs it with `--ignore-requires-python`, and these tests are skipped, saying so, where
it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.bundles.loader import load_policy_source
from pdp.engine import UNDEFINED, Evaluator, compile_policy
from pdp.engine.testing import discover_tests
from tests.pdp.pdp_env import POLICIES, REPO

opa_bindings = pytest.importorskip(
    "opa_bindings",
    reason="OPA's engine (pip install --ignore-requires-python opa-golib-python-bindings) "
    "is not installed: OPA compatibility skipped",
)

POLICY_SETS = [POLICIES, REPO / "bundles" / "examples" / "todo"]


def opa_engine(path: Path, *, include_tests: bool) -> Any:
    source = load_policy_source(path, include_tests=include_tests)
    engine = opa_bindings.OpaEngine()
    for name, text in source.modules.items():
        engine.add_policy(name, text)
    engine.add_data(source.data)
    return engine


@pytest.mark.parametrize("path", POLICY_SETS, ids=lambda p: p.name)
def test_every_rego_test_passes_in_opa(path: Path) -> None:
    engine = opa_engine(path, include_tests=True)
    tests = discover_tests(load_policy_source(path))
    assert tests
    failed = []
    for test in tests:
        try:
            value = engine.eval_document(test.entrypoint.replace("/", "."))
        except opa_bindings.OpaError as exc:
            value = f"error: {exc}"
        if value is not True:
            failed.append(f"{test.package}.{test.name}: {value}")
    assert not failed


ROLES = ["viewer", "commenter", "editor", "payroll_clerk", "auditor", "document_admin", "admin"]
TENANTS = ["4f1c2d3e-0000-4000-8000-000000000001", "9a7b6c5d-0000-4000-8000-000000000002"]
ATTRIBUTE = st.sampled_from(["engineering", "sales", None])


def _attributes(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    return {n: v for n in names if (v := draw(ATTRIBUTE)) is not None}


@st.composite
def policy_inputs(draw: st.DrawFn) -> dict[str, Any]:
    """Inputs shaped as the PDP builds them, over the default policy's vocabulary."""
    roles = st.lists(st.sampled_from(ROLES), max_size=2, unique=True)
    subject_id = draw(st.sampled_from(["alice", "bob"]))
    return {
        "subject": {
            "id": subject_id,
            "type": draw(st.sampled_from(["user", "client"])),
            "tenant_id": draw(st.sampled_from(TENANTS)),
            "roles": draw(roles),
            "groups": [{"id": "g", "roles": draw(roles)}],
            "company": draw(st.sampled_from([None, {"id": "c", "roles": draw(roles)}])),
            "attributes": {
                **_attributes(draw, ["department"]),
                **({"status": "suspended"} if draw(st.booleans()) and draw(st.booleans()) else {}),
            },
        },
        "action": draw(
            st.sampled_from(
                ["document:read", "document:write", "document:delete", "payroll:read", "x:y"]
            )
        ),
        "resource": {
            "type": "document",
            "id": "d1",
            "tenant_id": draw(st.sampled_from(TENANTS)),
            "attributes": {
                **_attributes(draw, ["department"]),
                "owner": draw(st.sampled_from(["alice", "bob"])),
                **({"legal_hold": True} if draw(st.booleans()) else {}),
            },
        },
        "context": {
            "ip": "10.0.0.1",
            "networks": draw(st.sampled_from([[], ["office"], ["vpn"], ["office", "vpn"]])),
            "tenant_time": {
                "timezone": "Europe/Warsaw",
                "weekday": draw(st.sampled_from(["Monday", "Saturday"])),
                "hour": draw(st.integers(min_value=0, max_value=23)),
                "minute": 0,
                "date": "2026-11-23",
            },
        },
    }


@pytest.fixture(scope="module")
def engines() -> tuple[Evaluator, Any]:
    source = load_policy_source(POLICIES, include_tests=False)
    ours = Evaluator(compile_policy(source, ["data.authz.decision"]))
    return ours, opa_engine(POLICIES, include_tests=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_input=policy_inputs())
def test_the_default_policy_decides_alike_in_opa_and_here(engines, policy_input) -> None:
    ours, opa = engines
    here = ours.evaluate("authz/decision", policy_input)
    assert here is not UNDEFINED
    assert here == opa.eval_document("authz.decision", policy_input)

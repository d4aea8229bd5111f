"""The default policy set, evaluated from Python with full inputs as the PDP builds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pdp.bundles import load_policy_source
from pdp.engine import Evaluator, compile_policy

POLICIES = Path(__file__).resolve().parents[2] / "policies"
TENANT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    source = load_policy_source(POLICIES, include_tests=False)
    return Evaluator(compile_policy(source, ["data.authz.decision"]))


def _input(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "subject": {
            "id": "alice",
            "type": "user",
            "tenant_id": TENANT,
            "roles": [],
            "groups": [{"id": "engineering", "roles": ["editor"]}],
            "company": None,
            "attributes": {"department": "rd"},
        },
        "action": "document:write",
        "resource": {
            "type": "document",
            "id": "d1",
            "tenant_id": TENANT,
            "attributes": {"department": "rd", "owner": "alice"},
        },
        "context": {
            "ip": "10.0.0.1",
            "networks": ["office"],
            "tenant_time": {"timezone": "Europe/Warsaw", "weekday": "Monday", "hour": 11},
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = request
        for key in parents:
            node = node[key]
        node[leaf] = value
    return request


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, {"allow": True, "reasons": ["role:editor via group:engineering"]}),
        (
            {"resource__attributes": {"department": "sales"}},
            {"allow": False, "reasons": ["department_mismatch"]},
        ),
        (
            {"action": "document:delete", "context__networks": []},
            {"allow": False, "reasons": ["network_not_allowed"]},
        ),
        (
            {"resource__tenant_id": "0f8fad5b-d9cb-469f-a165-70867728950e"},
            {"allow": False, "reasons": ["tenant_mismatch"]},
        ),
        (
            {"resource__attributes": {"department": "rd", "legal_hold": True}},
            {"allow": False, "reasons": ["forbidden:legal_hold"]},
        ),
        ({"subject__groups": []}, {"allow": False, "reasons": ["no_matching_role"]}),
        (
            {"subject__company": {"id": "acme", "roles": ["admin"]}, "action": "invoice:approve"},
            {"allow": True, "reasons": ["role:admin via company:acme"]},
        ),
    ],
)
def test_decisions(evaluator: Evaluator, changes: dict[str, Any], expected: dict) -> None:
    assert evaluator.evaluate("authz/decision", _input(**changes)) == expected


def test_empty_input_is_denied(evaluator: Evaluator) -> None:
    assert evaluator.evaluate("authz/decision", {})["allow"] is False


def test_every_rego_unit_test_of_the_default_policy_passes() -> None:
    from pdp.engine import run_rego_tests

    results = run_rego_tests(load_policy_source(POLICIES))
    failed = [
        f"{r.package}.{r.name}: {r.error or 'false or undefined'}" for r in results if not r.passed
    ]
    assert not failed
    assert len(results) >= 40
    assert {r.file for r in results} == {"authz/decision_test.rego"}

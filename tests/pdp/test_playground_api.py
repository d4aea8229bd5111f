"""`POST /admin/v1/playground/evaluate`: a policy text and an input evaluated in the engine's
child process, problems at file:line:col, the served bundle untouched."""

from __future__ import annotations

import json

import pytest

from pdp.playground import PlaygroundRequest
from pdp.playground import evaluate as run
from pdp.policy import SMOKE_INPUT
from tests.pdp.pdp_env import ACME, ALICE, POLICIES
from tests.support.issuer import TestIssuer

URL = "/admin/v1/playground/evaluate"
DEFAULT_MODULES = {
    str(p.relative_to(POLICIES)): p.read_text()
    for p in sorted(POLICIES.rglob("*.rego"))
    if not p.name.endswith("_test.rego")
}
DEFAULT_DATA = json.loads((POLICIES / "data.json").read_text())
DENY_ALL = (
    'package authz\n\nimport rego.v1\n\ndecision := {"allow": false, "reasons": ["closed"]}\n'
)


def auth(issuer: TestIssuer, scope: str = "pdp/admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('author', scope=scope)}"}


def evaluate(pdp, issuer, body: dict) -> dict:
    client, _ = pdp
    answer = client.post(URL, json=body, headers=auth(issuer))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_default_policy_decides_the_smoke_input(pdp, issuer) -> None:
    result = evaluate(
        pdp, issuer, {"modules": DEFAULT_MODULES, "data": DEFAULT_DATA, "input": SMOKE_INPUT}
    )
    assert (result["ok"], result["status"], result["entrypoint"]) == (
        True,
        "ok",
        "data.authz.decision",
    )
    assert result["decision"]["allow"] is True
    assert "role:viewer via user:smoke-subject" in result["decision"]["reasons"]
    assert result["problems"] == []


def test_an_edited_policy_decides_without_touching_the_served_bundle(pdp, issuer) -> None:
    client, services = pdp
    served = services.policy.revision
    result = evaluate(
        pdp, issuer, {"modules": {"authz/decision.rego": DENY_ALL}, "input": SMOKE_INPUT}
    )
    assert result["decision"] == {"allow": False, "reasons": ["closed"]}
    assert services.policy.revision == served
    assert client.get("/health").json()["bundle_revision"] == served


def test_another_entrypoint_gives_its_value_without_a_decision(pdp, issuer) -> None:
    modules = {"lib/answers.rego": "package lib\n\nimport rego.v1\n\nanswer := input.n * 2\n"}
    result = evaluate(
        pdp, issuer, {"modules": modules, "input": {"n": 21}, "entrypoint": "data.lib.answer"}
    )
    assert (result["status"], result["value"], result["decision"]) == ("ok", 42, None)
    undefined = evaluate(
        pdp, issuer, {"modules": modules, "input": {}, "entrypoint": "data.lib.answer"}
    )
    assert (undefined["status"], undefined["ok"]) == ("undefined", False)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('decision := {"allow": true} if input.nothing', "policy_undefined"),
        ('decision := "yes"', "invalid_policy_output"),
        ('decision := {"allow": "yes", "reasons": []}', "invalid_policy_output"),
    ],
)
def test_an_unusable_decision_is_the_deny_decide_would_give(pdp, issuer, text, reason) -> None:
    module = f"package authz\n\nimport rego.v1\n\n{text}\n"
    result = evaluate(
        pdp, issuer, {"modules": {"authz/decision.rego": module}, "input": SMOKE_INPUT}
    )
    assert result["decision"] == {"allow": False, "reasons": [reason]}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('package authz\n\nimport rego.v1\n\ndecision := {"allow": true,, }\n', 5),
        ("package authz\n\ndecision = x { x := 1 }\n", 3),
    ],
)
def test_problems_are_located_as_pdp_check_locates_them(pdp, issuer, text, line) -> None:
    result = evaluate(pdp, issuer, {"modules": {"authz/bad.rego": text}, "input": {}})
    assert (result["ok"], result["status"]) == (False, None)
    problem = result["problems"][0]
    assert (problem["file"], problem["line"], problem["severity"]) == (
        "authz/bad.rego",
        line,
        "error",
    )
    assert problem["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "modules"),
        ({"modules": {}}, "modules"),
        ({"modules": {"../up.rego": DENY_ALL}}, "modules"),
        ({"modules": {"notes.txt": DENY_ALL}}, "modules"),
        ({"modules": {"a.rego": 5}}, "modules.a.rego"),
        ({"modules": {"a.rego": DENY_ALL}, "input": [1]}, "input"),
        ({"modules": {"a.rego": DENY_ALL}, "data": "x"}, "data"),
        ({"modules": {"a.rego": DENY_ALL}, "entrypoint": "data."}, "entrypoint"),
        ({"modules": {"a.rego": DENY_ALL}, "entrypoint": "data.a b"}, "entrypoint"),
        ({"modules": {"a.rego": DENY_ALL}, "extra": 1}, "extra"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(pdp, issuer, body, field) -> None:
    client, _ = pdp
    answer = client.post(URL, json=body, headers=auth(issuer))
    assert answer.status_code == 400, answer.text
    assert (answer.json()["error"], answer.json()["field"]) == ("invalid_request", field)


def test_not_json_is_400(pdp, issuer) -> None:
    client, _ = pdp
    headers = {**auth(issuer), "Content-Type": "application/json"}
    answer = client.post(URL, content=b"{modules", headers=headers)
    assert (answer.status_code, answer.json()["field"]) == (400, "body")


@pytest.mark.parametrize("scope", ["pdp/decide", "pdp/bundles", "pdp/audit"])
def test_the_playground_needs_the_admin_scope(pdp, issuer, scope) -> None:
    client, _ = pdp
    body = {"modules": {"a.rego": DENY_ALL}}
    assert client.post(URL, json=body, headers=auth(issuer, scope)).status_code == 403
    assert client.post(URL, json=body).status_code == 401


def test_a_slow_policy_is_stopped_at_the_time_limit() -> None:
    request = PlaygroundRequest(modules={"authz/decision.rego": DENY_ALL}, input={})
    result = run(request, decision_entrypoint="data.authz.decision", timeout=0.001)
    assert result.status is None
    assert "timed out" in result.problems[0].message


def test_the_tenant_guard_applies_as_in_decide() -> None:
    allow = 'package authz\n\nimport rego.v1\n\ndecision := {"allow": true, "reasons": ["ok"]}\n'
    other = {**SMOKE_INPUT, "resource": {**SMOKE_INPUT["resource"], "tenant_id": "t2"}}
    crossed = run(
        PlaygroundRequest(modules={"authz/decision.rego": allow}, input=other),
        decision_entrypoint="data.authz.decision",
    )
    assert crossed.decision == {"allow": False, "reasons": ["tenant_mismatch"]}
    bare = run(
        PlaygroundRequest(modules={"authz/decision.rego": allow}, input={}),
        decision_entrypoint="data.authz.decision",
    )
    assert bare.decision is not None and bare.decision["allow"] is False
    assert "tenant_id" in bare.decision["note"]


def test_a_decision_table_case_of_the_directory_is_decided_and_checked(pdp, issuer) -> None:
    case = {
        "name": "alice reads",
        "request": {
            "subject": {"id": ALICE},
            "action": "document:read",
            "resource": {"type": "document", "id": "d1", "tenant_id": ACME},
            "context": {"ip": "10.1.2.3", "time": "2026-11-23T10:00:00Z"},
        },
        "expect": {"allow": True, "reasons": ["role:editor via group:engineering"]},
    }
    body = {"modules": DEFAULT_MODULES, "data": DEFAULT_DATA, "case": case}
    result = evaluate(pdp, issuer, body)
    assert result["case"] == {"name": "alice reads", "status": "passed", "message": None}
    # The input is the one /decide builds: the directory's facts, the computed context.
    assert result["input"]["subject"]["groups"][0]["id"] == "engineering"
    assert result["input"]["context"]["tenant_time"]["timezone"] == "Europe/Warsaw"
    closed = evaluate(pdp, issuer, {**body, "modules": {"authz/decision.rego": DENY_ALL}})
    assert closed["case"]["status"] == "failed"
    assert "expected allow=true" in closed["case"]["message"]


def test_a_case_that_spells_out_its_subject_needs_no_directory(pdp, issuer) -> None:
    subject = {"id": "zed", "tenant_id": ACME, "roles": ["viewer"]}
    case = {
        "name": "inline",
        "request": {
            "subject": subject,
            "action": "document:read",
            "resource": {"type": "document", "id": "d1"},
            "context": {"ip": "10.0.0.7"},
        },
        "expect": {"allow": True},
    }
    body = {"modules": DEFAULT_MODULES, "data": DEFAULT_DATA, "case": case}
    result = evaluate(pdp, issuer, body)
    assert result["case"]["status"] == "passed"
    assert result["input"]["resource"]["tenant_id"] == ACME
    assert result["input"]["context"]["networks"] == ["office"]


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ({"name": "x", "request": {}}, "case.expect"),
        ({"name": "x", "request": {"subject": {"id": "ghost"}}, "expect": {"allow": True}}, "case"),
        (
            {
                "name": "x",
                "request": {
                    "subject": {"id": "ghost", "tenant_id": ACME},
                    "action": "document:read",
                    "resource": {"type": "document", "id": "d1"},
                },
                "expect": {"allow": True},
            },
            "case.request.subject",
        ),
    ],
)
def test_malformed_cases_are_400_naming_the_field(pdp, issuer, case, field) -> None:
    client, _ = pdp
    body = {"modules": {"a.rego": DENY_ALL}, "case": case}
    answer = client.post(URL, json=body, headers=auth(issuer))
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


def test_an_input_and_a_case_together_are_refused(pdp, issuer) -> None:
    client, _ = pdp
    case = {"name": "x", "request": {}, "expect": {"allow": True}}
    body = {"modules": {"a.rego": DENY_ALL}, "input": {}, "case": case}
    answer = client.post(URL, json=body, headers=auth(issuer))
    assert (answer.status_code, answer.json()["field"]) == (400, "body")

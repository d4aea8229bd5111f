"""Explanations: effective roles and their bindings, `POST /admin/v1/explain`, the Why page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from pdp.console.decision_views import parse_filters
from pdp.console.why_form import decision_request, shown
from pdp.decision_log import DecisionQuery
from pdp.errors import InvalidRequest
from pdp.explain import action_matches, effective_roles, roles_granting
from pdp.services import Services
from tests.pdp.pdp_env import ACME, ALICE, BOB, document_request
from tests.support.issuer import TestIssuer

ROLES = {
    "viewer": {"permissions": ["document:read"]},
    "commenter": {"includes": ["viewer"], "permissions": ["document:comment"]},
    "editor": {"includes": ["commenter"], "permissions": [{"action": "document:write"}]},
    "loop": {"includes": ["loop", "viewer"], "permissions": []},
}


def test_roles_show_the_binding_each_came_from_and_the_inclusion_chain() -> None:
    subject = {
        "id": "u1",
        "type": "user",
        "roles": ["viewer"],
        "groups": [{"id": "eng", "roles": ["editor"]}],
        "company": {"id": "acme", "roles": ["ghost"]},
    }
    found = [(r.role, r.via, r.binding, r.path, r.grants_action, r.defined)
             for r in effective_roles(subject, ROLES, "document:comment")]  # fmt: skip
    assert found == [
        ("viewer", "direct", "user:u1", (), False, True),
        ("editor", "group", "group:eng", (), False, True),
        ("commenter", "inherited", "group:eng", ("editor", "commenter"), True, True),
        ("viewer", "inherited", "group:eng", ("editor", "commenter", "viewer"), False, True),
        ("ghost", "company", "company:acme", (), False, False),
    ]


def test_a_client_binding_and_an_inclusion_cycle() -> None:
    subject = {"id": "svc", "type": "client", "roles": ["loop"], "groups": [], "company": None}
    found = [(r.role, r.binding, r.path) for r in effective_roles(subject, ROLES, None)]
    assert found == [("loop", "client:svc", ()), ("viewer", "client:svc", ("loop", "viewer"))]


def test_roles_granting_counts_included_permissions() -> None:
    assert roles_granting(ROLES, "document:read") == ["commenter", "editor", "loop", "viewer"]
    assert roles_granting(ROLES, "document:write") == ["editor"]
    assert roles_granting(ROLES, None) == []


segment = st.text(alphabet="abc*", min_size=1, max_size=3)


@given(st.lists(segment, min_size=1, max_size=3), st.lists(segment, min_size=1, max_size=3))
def test_a_pattern_matches_only_actions_of_its_shape(pattern: list[str], action: list[str]) -> None:
    matched = action_matches(":".join(pattern), ":".join(action))
    expected = len(pattern) == len(action) and all(
        p == "*" or p == a for p, a in zip(pattern, action, strict=True)
    )
    assert matched == expected


FILTER_NAMES = ("subject_id", "tenant_id", "action", "allow", "since", "until", "reason",
                "bundle_revision", "page_token", "resource_id", "resource_type")  # fmt: skip


@given(st.dictionaries(st.sampled_from(FILTER_NAMES), st.text(max_size=300)))
def test_log_filters_parse_or_name_the_field(params: dict[str, str]) -> None:
    try:
        query, _ = parse_filters(params)
    except InvalidRequest as exc:
        assert exc.field in FILTER_NAMES
    else:
        assert query.limit == 25


WHY_NAMES = ("subject_id", "subject_tenant_id", "action", "resource_type", "resource_id",
             "resource_tenant_id", "resource_attributes", "ip")  # fmt: skip


@given(st.dictionaries(st.sampled_from(WHY_NAMES), st.text(max_size=80)))
def test_the_why_form_builds_a_decide_body_or_names_the_field(params: dict[str, str]) -> None:
    try:
        body = decision_request(shown(params))
    except InvalidRequest as exc:
        assert exc.field in WHY_NAMES
    else:
        assert body.subject.id and body.action and body.resource.id


def bearer(issuer: TestIssuer, scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('ops', scope=scope)}"}


def test_explaining_a_request_decides_as_decide_does_and_logs_nothing(
    pdp: tuple[TestClient, Services], issuer: TestIssuer
) -> None:
    client, services = pdp
    body = document_request({"id": ALICE}, "document:write")
    answer = client.post(
        "/admin/v1/explain", json={"request": body}, headers=bearer(issuer, "pdp/audit")
    )
    assert answer.status_code == 200, answer.text
    explained = answer.json()
    decided = client.post("/decide", json=body, headers=bearer(issuer, "pdp/decide")).json()
    assert explained["decision"]["allow"] == decided["allow"]
    assert explained["decision"]["reasons"] == decided["reasons"]
    held = {(r["role"], r["via"], r["binding"]) for r in explained["roles"]}
    assert ("editor", "group", "group:engineering") in held
    assert ("viewer", "company", "company:acme-corp") in held
    assert ("viewer", "inherited", "group:engineering") in held
    # Each role carries the directory's binding behind it, inherited ones their bound role's.
    ids = {(r["role"], r["binding"]): r["binding_id"] for r in explained["roles"]}
    assert ids[("editor", "group:engineering")] is not None
    assert ids[("viewer", "group:engineering")] == ids[("editor", "group:engineering")]
    assert ids[("viewer", "company:acme-corp")] not in (None, ids[("editor", "group:engineering")])
    assert services.decision_log.flush()
    logged, _ = services.decision_log.store.query(DecisionQuery())
    assert [r.decision_id for r in logged] == [decided["decision_id"]]


def test_explaining_a_logged_deny(pdp: tuple[TestClient, Services], issuer: TestIssuer) -> None:
    client, services = pdp
    body = document_request({"id": BOB, "tenant_id": ACME}, "document:write")
    decided = client.post("/decide", json=body, headers=bearer(issuer, "pdp/decide")).json()
    assert services.decision_log.flush()
    answer = client.post(
        "/admin/v1/explain",
        json={"decision_id": decided["decision_id"]},
        headers=bearer(issuer, "pdp/admin"),
    ).json()
    assert answer["decision"] == answer["today"]
    assert answer["decision"]["reasons"] == ["no_matching_role"]
    assert answer["roles"][0]["binding"] == "company:acme-corp"
    assert "editor" in answer["roles_granting_action"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"decision_id": "x", "request": document_request({"id": BOB})}, "body"),
        ({"decision_id": ""}, "decision_id"),
        ({"request": {"subject": {"id": BOB}}}, "request.action"),
        ({"decision_id": "x", "extra": 1}, "extra"),
    ],
)
def test_malformed_explain_bodies_name_the_field(
    pdp: tuple[TestClient, Services], issuer: TestIssuer, body: dict, field: str
) -> None:
    answer = pdp[0].post("/admin/v1/explain", json=body, headers=bearer(issuer, "pdp/audit"))
    assert answer.status_code == 400
    assert answer.json()["field"] == field


def test_explain_refusals(pdp: tuple[TestClient, Services], issuer: TestIssuer) -> None:
    client, _ = pdp
    asked = {"decision_id": "00000000-0000-4000-8000-000000000000"}
    assert client.post("/admin/v1/explain", json=asked).status_code == 401
    pep = bearer(issuer, "pdp/decide")
    assert client.post("/admin/v1/explain", json=asked, headers=pep).status_code == 403
    missing = client.post("/admin/v1/explain", json=asked, headers=bearer(issuer, "pdp/audit"))
    assert missing.status_code == 404
    ghost = document_request({"id": "nobody"}, "document:read")
    unknown = client.post(
        "/admin/v1/explain", json={"request": ghost}, headers=bearer(issuer, "pdp/audit")
    ).json()
    assert unknown["decision"]["reasons"] == ["unknown_subject"] and unknown["roles"] == []


def test_the_why_page_explains_a_logged_deny(
    pdp: tuple[TestClient, Services], issuer: TestIssuer
) -> None:
    client, services = pdp
    body = document_request({"id": BOB, "tenant_id": ACME}, "document:delete")
    decided = client.post("/decide", json=body, headers=bearer(issuer, "pdp/decide")).json()
    assert services.decision_log.flush()
    client.cookies.clear()
    form = client.get("/console/signin").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    token = issuer.machine_token("ops", scope="pdp/audit")
    client.post("/console/token", data={"token": token, "csrf_token": csrf})
    page = client.get("/console/why", params={"decision_id": decided["decision_id"]}).text
    assert "no_matching_role" in page and "company:acme-corp" in page
    assert 'value="document:delete"' in page  # the form holds the question, to ask again
    question = {"subject_id": ALICE, "resource_type": "document", "resource_id": "d1"}
    asked = client.get("/console/why", params={**question, "action": "document:write"}).text
    assert "department_mismatch" in asked and "editor → commenter" in asked
    assert "Effective roles of alice@" in asked
    bad = client.get(
        "/console/why",
        params={**question, "action": "document:read", "resource_attributes": "[1]"},
    )
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    client.cookies.clear()

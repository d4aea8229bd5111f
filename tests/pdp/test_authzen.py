"""AuthZEN 1.0 on the default policy and the demo directory: the spec's examples, the mapping
to the decision path, errors, PEP authentication, search with pagination, metadata."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from pdp.authzen import decode_page_token, encode_page_token
from pdp.errors import InvalidRequest
from pdp.services import Services
from tests.pdp.pdp_env import ACME, ALICE, BOB, ELLEN, GLOBEX, REPORTING, running_pdp
from tests.support.issuer import TestIssuer

API_KEY = "authzen-gateway-static-key"


@pytest.fixture(scope="module")
def pdp(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
) -> Iterator[tuple[TestClient, Services]]:
    digest = hashlib.sha256(API_KEY.encode()).hexdigest()
    with running_pdp(
        tmp_path_factory.mktemp("authzen"), issuer, api_keys=(("gateway", digest),)
    ) as env:
        yield env


@pytest.fixture(scope="module")
def pep(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('authzen-pep')}"}


def evaluation(
    subject_id: str = ALICE,
    action: str = "document:write",
    properties: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "subject": {"type": "user", "id": subject_id},
        "action": {"name": action},
        "resource": {
            "type": "document",
            "id": "d1",
            "properties": {"department": "engineering"} if properties is None else properties,
        },
        "context": {"ip": "10.1.2.3"},
    }
    body.update(extra)
    return body


# --- the specification's own examples ----------------------------------------------------------

SPEC_EVALUATION = {
    "subject": {
        "type": "user",
        "id": "alice@acme.com",
        "properties": {"department": "Sales"},
    },
    "resource": {"type": "account", "id": "123"},
    "action": {"name": "can_read", "properties": {"method": "GET"}},
    "context": {"time": "1985-10-26T01:22-07:00"},
}

SPEC_EVALUATIONS = {
    "subject": {"type": "user", "id": "alice@acme.com"},
    "context": {"time": "2024-05-31T15:22-07:00"},
    "action": {"name": "can_read"},
    "evaluations": [
        {"resource": {"type": "document", "id": "boxcarring.md"}},
        {"resource": {"type": "document", "id": "subject-search.md"}},
        {
            "action": {"name": "can_edit"},
            "resource": {"type": "document", "id": "resource-search.md"},
        },
    ],
}


def test_spec_evaluation_example(client, pep):
    """Unknown to this directory, the spec's alice is denied, with the reason in the context."""
    response = client.post("/access/v1/evaluation", json=SPEC_EVALUATION, headers=pep)
    assert response.status_code == 200
    assert response.json()["decision"] is False
    assert response.json()["context"]["reasons"] == ["unknown_subject"]


def test_spec_evaluations_example(client, pep):
    response = client.post("/access/v1/evaluations", json=SPEC_EVALUATIONS, headers=pep)
    assert response.status_code == 200
    results = response.json()["evaluations"]
    assert [r["decision"] for r in results] == [False, False, False]
    assert all(r["context"]["reasons"] == ["unknown_subject"] for r in results)


def test_spec_search_examples(client, pep):
    subject_search = {
        "subject": {"type": "user"},
        "action": {"name": "document:read"},
        "resource": {"type": "document", "id": "123", "properties": {"tenant_id": ACME}},
        "context": {"time": "2024-10-26T01:22-07:00"},
    }
    found = client.post("/access/v1/search/subject", json=subject_search, headers=pep).json()
    assert found["page"]["next_token"] == ""
    assert {"type": "user", "id": ALICE} in found["results"]
    assert all(r["type"] == "user" for r in found["results"])
    action_search = {
        "subject": {"type": "user", "id": ALICE},
        "resource": {"type": "document", "id": "123"},
        "context": {"time": "2024-10-26T01:22-07:00"},
    }
    actions = client.post("/access/v1/search/action", json=action_search, headers=pep).json()
    assert {"name": "document:read"} in actions["results"]
    assert {"name": "document:delete"} not in actions["results"]  # only from the office


# --- the mapping onto the decision path ------------------------------------------------------


def test_allow_and_deny_carry_reasons_and_a_logged_decision_id(client, pep, services):
    allowed = client.post("/access/v1/evaluation", json=evaluation(), headers=pep).json()
    assert allowed["decision"] is True
    assert "role:editor via group:engineering" in allowed["context"]["reasons"]
    assert allowed["context"]["reason_admin"]["en"].startswith("role:")
    denied = client.post("/access/v1/evaluation", json=evaluation(BOB), headers=pep).json()
    assert denied["decision"] is False and denied["context"]["reasons"] == ["no_matching_role"]
    services.decision_log.flush()
    record = services.decision_log.store.get(allowed["context"]["decision_id"])
    assert record is not None and record.endpoint == "authzen/evaluation"
    assert record.subject_id == ALICE and record.action == "document:write"
    assert record.input["context"]["authzen"]["subject"] == {"type": "user", "properties": {}}


def test_properties_never_override_directory_facts(client, pep, services):
    body = evaluation(BOB)
    body["subject"]["properties"] = {"roles": ["admin"], "department": "engineering"}
    response = client.post("/access/v1/evaluation", json=body, headers=pep).json()
    assert response["decision"] is False
    services.decision_log.flush()
    record = services.decision_log.store.get(response["context"]["decision_id"])
    assert record.input["subject"]["roles"] == []
    assert record.input["context"]["authzen"]["subject"]["properties"]["roles"] == ["admin"]


def test_resource_tenant_defaults_to_the_subjects(client, pep):
    same = evaluation(properties={"department": "engineering", "tenant_id": ACME})
    other = evaluation(properties={"department": "engineering", "tenant_id": GLOBEX})
    assert client.post("/access/v1/evaluation", json=same, headers=pep).json()["decision"]
    crossed = client.post("/access/v1/evaluation", json=other, headers=pep).json()
    assert crossed["decision"] is False and "tenant_mismatch" in crossed["context"]["reasons"]
    elsewhere = evaluation(ELLEN, "document:read", properties={})
    assert client.post("/access/v1/evaluation", json=elsewhere, headers=pep).json()["decision"]


def test_subject_tenant_property_must_agree_with_the_directory(client, pep):
    body = evaluation()
    body["subject"]["properties"] = {"tenant_id": GLOBEX}
    response = client.post("/access/v1/evaluation", json=body, headers=pep).json()
    assert response["context"]["reasons"] == ["subject_tenant_mismatch"]


def test_machine_clients_are_subjects_too(client, pep):
    body = evaluation(REPORTING, "document:read", properties={})
    body["subject"]["type"] = "client"
    assert client.post("/access/v1/evaluation", json=body, headers=pep).json()["decision"] is True


def test_evaluations_without_items_is_one_evaluation(client, pep):
    for body in (evaluation(), {**evaluation(), "evaluations": []}):
        response = client.post("/access/v1/evaluations", json=body, headers=pep).json()
        assert response["decision"] is True and "evaluations" not in response


def test_an_item_that_cannot_be_evaluated_is_a_deny_with_an_error(client, pep):
    body = {
        "subject": {"type": "user", "id": ALICE},
        "action": {"name": "document:read"},
        "evaluations": [
            {"resource": {"type": "document", "id": "d1"}},
            {},
            {"resource": {"type": "document", "id": "d2", "properties": {"tenant_id": "x"}}},
            {"resource": {"type": "document", "id": "d3"}},
        ],
    }
    results = client.post("/access/v1/evaluations", json=body, headers=pep).json()["evaluations"]
    assert [r["decision"] for r in results] == [True, False, False, True]
    assert results[1]["context"]["error"]["status"] == 400
    assert results[1]["context"]["error"]["message"].startswith("evaluations[1].resource")
    assert "resource.properties.tenant_id" in results[2]["context"]["error"]["message"]
    body["options"] = {"evaluations_semantic": "deny_on_first_deny"}
    stopped = client.post("/access/v1/evaluations", json=body, headers=pep).json()["evaluations"]
    assert [r["decision"] for r in stopped] == [True, False]


# --- malformed requests and authentication ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("evaluation", {**evaluation(), "subject": {"type": "user"}}, "subject.id"),
        ("evaluation", {**evaluation(), "action": {}}, "action.name"),
        ("evaluation", {**evaluation(), "action": "document:read"}, "action"),
        ("evaluation", {**evaluation(), "resource": {"id": "d1"}}, "resource.type"),
        ("evaluation", {**evaluation(), "subject": {"type": "", "id": ALICE}}, "subject.type"),
        ("evaluation", {**evaluation(), "context": {"ip": "999.1.1.1"}}, "context.ip"),
        ("evaluation", {**evaluation(), "context": []}, "context"),
        ("evaluation", {**evaluation(), "extra": 1}, "extra"),
        (
            "evaluation",
            evaluation(properties={"tenant_id": "not-a-uuid"}),
            "resource.properties.tenant_id",
        ),
        (
            "evaluations",
            {**evaluation(), "options": {"evaluations_semantic": "first_wins"}},
            "options.evaluations_semantic",
        ),
        ("evaluations", {**evaluation(), "evaluations": {}}, "evaluations"),
        ("evaluations", {"subject": {"type": "user", "id": ALICE}}, "action"),
        (
            "search/subject",
            {"action": {"name": "a"}, "resource": {"type": "t", "id": "1"}},
            "subject",
        ),
        (
            "search/subject",
            {
                "subject": {"type": "user"},
                "action": {"name": "a"},
                "resource": {"type": "t", "id": "1"},
                "page": {"limit": 0},
            },
            "page.limit",
        ),
        (
            "search/subject",
            {
                "subject": {"type": "user"},
                "action": {"name": "a"},
                "resource": {"type": "t", "id": "1", "properties": {"tenant_id": ACME}},
                "page": {"token": "garbage"},
            },
            "page.token",
        ),
        (
            "search/resource",
            {
                "subject": {"type": "user", "id": ALICE},
                "action": {"name": "a"},
                "resource": {"type": "t", "properties": {"candidates": "d1"}},
            },
            "resource.properties.candidates",
        ),
    ],
)
def test_malformed_requests_are_400_naming_the_field(client, pep, path, body, field):
    response = client.post(f"/access/v1/{path}", json=body, headers=pep)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.json()["field"] == field


def test_body_that_is_not_json_is_400(client, pep):
    response = client.post(
        "/access/v1/evaluation",
        content=b"{",
        headers={**pep, "Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_pep_credentials(client, issuer, rogue_issuer):
    body = evaluation()
    for headers, status in (
        ({}, 401),
        ({"Authorization": f"Bearer {rogue_issuer.machine_token('pep')}"}, 401),
        ({"Authorization": "Bearer wrong-api-key"}, 401),
        ({"Authorization": f"Token {API_KEY}"}, 401),
        ({"Authorization": f"Bearer {issuer.machine_token('pep', scope='pdp/admin')}"}, 403),
    ):
        response = client.post("/access/v1/evaluation", json=body, headers=headers)
        assert response.status_code == status
        assert response.json()["error"] in {"unauthenticated", "invalid_token", "forbidden"}
    with_key = client.post(
        "/access/v1/evaluation", json=body, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert with_key.status_code == 200 and with_key.json()["decision"] is True


def test_api_key_decides_but_never_administers(client, services):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    assert client.get("/admin/v1/tenants", headers=headers).status_code == 403
    response = client.post("/access/v1/evaluation", json=evaluation(), headers=headers).json()
    services.decision_log.flush()
    assert services.decision_log.store.get(response["context"]["decision_id"]).pep_client_id == (
        "gateway"
    )


def test_request_id_is_echoed_on_answers_and_errors(client, pep):
    ok = client.post(
        "/access/v1/evaluation", json=evaluation(), headers={**pep, "X-Request-ID": "req-1"}
    )
    assert ok.headers["X-Request-ID"] == "req-1"
    bad = client.post("/access/v1/evaluation", json={}, headers={**pep, "X-Request-ID": "req-2"})
    assert bad.status_code == 400 and bad.headers["X-Request-ID"] == "req-2"
    unauthenticated = client.post(
        "/access/v1/evaluation", json=evaluation(), headers={"X-Request-ID": "req-3"}
    )
    assert unauthenticated.headers["X-Request-ID"] == "req-3"
    assert "X-Request-ID" not in client.post("/access/v1/evaluation", json={}, headers=pep).headers


def test_metadata_has_absolute_urls_from_the_request_base(client):
    document = client.get(
        "/.well-known/authzen-configuration", headers={"Host": "pdp.internal:9000"}
    ).json()
    base = "http://pdp.internal:9000"
    assert document == {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_subject_endpoint": f"{base}/access/v1/search/subject",
        "search_resource_endpoint": f"{base}/access/v1/search/resource",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }


# --- search and pagination ---------------------------------------------------------------------


def subject_search(**page: Any) -> dict[str, Any]:
    return {
        "subject": {"type": "user"},
        "action": {"name": "document:read"},
        "resource": {"type": "document", "id": "d1", "properties": {"tenant_id": ACME}},
        "page": page,
    }


def test_subject_search_pages_through_every_allowed_subject(client, pep):
    everyone = client.post("/access/v1/search/subject", json=subject_search(), headers=pep).json()
    assert len(everyone["results"]) >= 2
    collected, token, pages = [], None, 0
    while True:
        page = {"limit": 1} | ({"token": token} if token else {})
        body = client.post("/access/v1/search/subject", json=subject_search(**page), headers=pep)
        answer = body.json()
        assert answer["page"]["count"] == len(answer["results"]) <= 1
        collected += answer["results"]
        token, pages = answer["page"]["next_token"], pages + 1
        if not token:
            break
    assert collected == everyone["results"] and pages >= len(collected)


def test_a_page_token_belongs_to_its_search(client, pep):
    first = client.post("/access/v1/search/subject", json=subject_search(limit=1), headers=pep)
    token = first.json()["page"]["next_token"]
    other = subject_search(limit=1, token=token)
    other["action"]["name"] = "document:write"
    response = client.post("/access/v1/search/subject", json=other, headers=pep)
    assert response.status_code == 400 and response.json()["field"] == "page.token"


def test_subject_search_needs_a_tenant_when_there_are_several(client, pep):
    body = subject_search()
    del body["resource"]["properties"]
    response = client.post("/access/v1/search/subject", json=body, headers=pep)
    assert response.status_code == 400
    assert response.json()["field"] == "resource.properties.tenant_id"


def test_subject_search_by_type(client, pep):
    body = subject_search()
    body["subject"]["type"] = "client"
    results = client.post("/access/v1/search/subject", json=body, headers=pep).json()["results"]
    assert results == [{"type": "client", "id": REPORTING}]


def test_resource_search_over_named_candidates(client, pep):
    body = {
        "subject": {"type": "user", "id": ALICE},
        "action": {"name": "document:write"},
        "resource": {
            "type": "document",
            "properties": {"department": "engineering", "candidates": ["d3", "d1", "d2", "d1"]},
        },
        "page": {"limit": 2},
    }
    first = client.post("/access/v1/search/resource", json=body, headers=pep).json()
    assert first["results"] == [{"type": "document", "id": "d3"}, {"type": "document", "id": "d1"}]
    body["page"]["token"] = first["page"]["next_token"]
    second = client.post("/access/v1/search/resource", json=body, headers=pep).json()
    assert second == {
        "page": {"next_token": "", "count": 1},
        "results": [{"type": "document", "id": "d2"}],
    }
    body["subject"]["id"] = BOB
    del body["page"]["token"]
    assert client.post("/access/v1/search/resource", json=body, headers=pep).json()["results"] == []


def test_resource_search_of_unknown_kind_without_candidates_is_empty(client, pep):
    body = {
        "subject": {"type": "user", "id": ALICE},
        "action": {"name": "document:read"},
        "resource": {"type": "document"},
    }
    answer = client.post("/access/v1/search/resource", json=body, headers=pep).json()
    assert answer == {"page": {"next_token": "", "count": 0}, "results": []}


@given(st.integers(min_value=0, max_value=10**9), st.text(min_size=1, max_size=40))
def test_page_tokens_round_trip(offset, fingerprint):
    assert decode_page_token(encode_page_token(offset, fingerprint), fingerprint) == offset


@given(st.text(max_size=200))
def test_page_token_parser_refuses_anything_else_cleanly(token):
    fingerprint = uuid.uuid4().hex
    try:
        offset = decode_page_token(token, fingerprint)
    except InvalidRequest as exc:
        assert exc.field == "page.token"
    else:  # only a token naming this very search parses
        assert encode_page_token(offset, fingerprint).rstrip("=") == token.rstrip("=")


def test_subject_search_without_a_tenant_needs_one_when_there_are_several(client, pep):
    body = {
        "subject": {"type": "user"},
        "action": {"name": "document:read"},
        "resource": {"type": "document", "id": "123"},
    }
    response = client.post("/access/v1/search/subject", json=body, headers=pep)
    assert response.status_code == 400
    assert response.json()["field"] == "resource.properties.tenant_id"

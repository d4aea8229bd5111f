"""`/decide` in process: the real store, snapshot, compiled default policy and decision log."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.pdp.pdp_env import (
    ACME,
    ALICE,
    BOB,
    ELLEN,
    GLOBEX,
    REPORTING,
    document_request,
    running_pdp,
)


def decide(client: TestClient, headers: dict, body: dict) -> dict:
    response = client.post("/decide", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# --- PEP authentication -------------------------------------------------------


def test_pep_without_token_is_401(client):
    response = client.post("/decide", json=document_request({"id": ALICE}))
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_pep_with_bad_token_is_401(client, rogue_issuer):
    headers = {"Authorization": f"Bearer {rogue_issuer.machine_token('pep')}"}
    response = client.post("/decide", json=document_request({"id": ALICE}), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_pep_without_decide_scope_is_403(client, issuer):
    headers = {"Authorization": f"Bearer {issuer.machine_token('pep', scope='pdp/admin')}"}
    response = client.post("/decide", json=document_request({"id": ALICE}), headers=headers)
    assert response.status_code == 403
    assert "pdp/decide" in response.json()["message"]


def test_malformed_authorization_header(client):
    response = client.post(
        "/decide", json=document_request({"id": ALICE}), headers={"Authorization": "Basic abc"}
    )
    assert response.status_code == 401


# --- decisions ----------------------------------------------------------------


def test_group_role_allows_with_a_reason(client, pep):
    body = document_request(
        {"id": ALICE}, "document:write", attributes={"department": "engineering"}
    )
    result = decide(client, pep, body)
    assert result["allow"] is True
    assert any("editor" in r and "group:engineering" in r for r in result["reasons"])
    assert result["bundle_revision"]
    assert len(result["decision_id"]) == 36


def test_company_role_reads_but_does_not_write(client, pep):
    assert decide(client, pep, document_request({"id": BOB}))["allow"] is True
    result = decide(client, pep, document_request({"id": BOB}, "document:write"))
    assert result["allow"] is False
    assert result["reasons"]


def test_machine_client_is_a_subject(client, pep):
    result = decide(client, pep, document_request({"id": REPORTING}, "report:read"))
    assert result["allow"] is True


def test_subject_by_user_access_token(client, pep, issuer):
    body = document_request({"token": issuer.user_access_token(ALICE)})
    assert decide(client, pep, body)["allow"] is True


def test_subject_by_id_token_with_matching_tenant(client, pep, issuer):
    body = document_request({"token": issuer.user_id_token(ALICE, ACME)})
    assert decide(client, pep, body)["allow"] is True


def test_tenant_claim_must_agree_with_the_directory(client, pep, issuer):
    body = document_request({"token": issuer.user_id_token(ALICE, GLOBEX)})
    result = decide(client, pep, body)
    assert result == {**result, "allow": False, "reasons": ["tenant_claim_mismatch"]}


def test_bad_subject_token_is_a_deny_not_an_error(client, pep, rogue_issuer):
    body = document_request({"token": rogue_issuer.user_access_token(ALICE)})
    result = decide(client, pep, body)
    assert result["allow"] is False
    assert result["reasons"] == ["invalid_token", "untrusted_issuer"]


def test_garbage_subject_token(client, pep):
    result = decide(client, pep, document_request({"token": "not-a-jwt"}))
    assert result["reasons"] == ["invalid_token", "malformed_token"]


def test_unknown_subject(client, pep):
    result = decide(client, pep, document_request({"id": "nobody"}))
    assert (result["allow"], result["reasons"]) == (False, ["unknown_subject"])


def test_asserted_tenant_must_match(client, pep):
    result = decide(client, pep, document_request({"id": ALICE, "tenant_id": GLOBEX}))
    assert result["reasons"] == ["subject_tenant_mismatch"]


def test_other_tenants_resource_is_denied_even_for_an_admin(client, pep):
    result = decide(client, pep, document_request({"id": ELLEN}, "document:delete"))
    assert result["allow"] is False
    assert "tenant_mismatch" in result["reasons"]


def test_resource_without_tenant_is_in_the_subjects_tenant(client, pep):
    body = document_request({"id": ELLEN}, "document:delete")
    del body["resource"]["tenant_id"]
    assert decide(client, pep, body)["allow"] is True


def test_unknown_action_is_a_deny(client, pep):
    result = decide(client, pep, document_request({"id": ALICE}, "spaceship:launch"))
    assert result["allow"] is False
    assert result["reasons"] == ["no_matching_role"]


def test_batch_answers_in_order(client, pep):
    requests = [
        document_request({"id": ALICE}),
        document_request({"id": "nobody"}),
        document_request({"id": BOB}, "document:write"),
    ]
    response = client.post("/decide/batch", json={"requests": requests}, headers=pep)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["allow"] for r in results] == [True, False, False]
    assert results[1]["reasons"] == ["unknown_subject"]
    assert len({r["decision_id"] for r in results}) == 3


def test_pep_cannot_set_the_time(client, pep, services):
    body = document_request({"id": ALICE})
    body["context"]["time"] = "1999-01-01T00:00:00Z"
    decision_id = decide(client, pep, body)["decision_id"]
    services.decision_log.flush()
    record = services.decision_log.store.get(decision_id)
    assert not record.input["context"]["time"].startswith("1999")
    assert record.input["context"]["networks"] == ["office"]
    assert record.input["context"]["tenant_time"]["timezone"] == "Europe/Warsaw"


# --- the decision log ---------------------------------------------------------


def test_every_decision_is_logged_without_the_token(client, pep, admin, services, issuer):
    token = issuer.user_access_token(ALICE)
    decision_id = decide(client, pep, document_request({"token": token}))["decision_id"]
    services.decision_log.flush()
    response = client.get(f"/admin/v1/decisions/{decision_id}", headers=admin)
    assert response.status_code == 200
    record = response.json()
    assert record["subject_id"] == ALICE
    assert record["tenant_id"] == ACME
    assert record["pep_client_id"] == "pep-documents"
    assert record["allow"] is True
    assert record["latency_ms"] > 0
    assert token not in json.dumps(record)
    assert token.split(".")[2] not in json.dumps(record)


def test_decision_log_filters_and_pages(client, pep, admin, services):
    for _ in range(5):
        decide(client, pep, document_request({"id": BOB}, "document:write"))
    services.decision_log.flush()
    seen: list[str] = []
    token = None
    while True:
        params = {"subject_id": BOB, "allow": "false", "limit": 2}
        if token:
            params["page_token"] = token
        page = client.get("/admin/v1/decisions", params=params, headers=admin).json()
        assert all(item["subject_id"] == BOB and not item["allow"] for item in page["items"])
        seen += [item["decision_id"] for item in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert len(seen) == len(set(seen)) >= 5


def test_decision_log_needs_admin_scope(client, pep):
    assert client.get("/admin/v1/decisions", headers=pep).status_code == 403


def test_bad_page_token(client, admin):
    response = client.get("/admin/v1/decisions", params={"page_token": "!!"}, headers=admin)
    assert response.status_code == 400
    assert response.json()["field"] == "page_token"


# --- admin changes show in the next decision ----------------------------------


def test_binding_added_through_admin_api_applies_immediately(client, pep, admin):
    body = document_request({"id": BOB}, "document:comment")
    assert decide(client, pep, body)["allow"] is False
    created = client.post(
        f"/admin/v1/tenants/{ACME}/role-bindings",
        json={"subject_type": "user", "subject_id": BOB, "role": "commenter"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert decide(client, pep, body)["allow"] is True
    binding_id = created.json()["id"]
    deleted = client.delete(f"/admin/v1/tenants/{ACME}/role-bindings/{binding_id}", headers=admin)
    assert deleted.status_code == 204
    assert decide(client, pep, body)["allow"] is False


# --- operations ---------------------------------------------------------------


def test_health_reports_the_revision(client, services):
    for path in ("/health", "/health?bundles"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json()["bundle_revision"] == services.policy.revision


def test_metrics(client, pep):
    decide(client, pep, document_request({"id": ALICE}))
    text = client.get("/metrics").text
    assert 'pdp_decisions_total{result="allow"}' in text
    assert "pdp_decision_latency_seconds_bucket" in text
    assert "pdp_bundle_active{revision=" in text


def test_openapi_is_served(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/decide", "/decide/batch", "/health"} <= set(paths)


def test_pep_auth_can_be_switched_off_for_development(tmp_path, issuer):
    with running_pdp(tmp_path, issuer, require_pep_auth=False) as (open_client, _):
        response = open_client.post("/decide", json=document_request({"id": ALICE}))
        assert response.status_code == 200
        assert response.json()["allow"] is True
        assert open_client.get("/admin/v1/tenants").status_code == 200


def test_a_policy_that_answers_the_wrong_shape_is_a_deny(tmp_path, issuer):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "authz.rego").write_text('package authz\n\nimport rego.v1\n\ndecision := "yes"\n')
    with running_pdp(tmp_path, issuer, bundle=bundle, require_pep_auth=False) as (c, _):
        result = c.post("/decide", json=document_request({"id": ALICE})).json()
        assert (result["allow"], result["reasons"]) == (False, ["invalid_policy_output"])


def test_an_undefined_decision_is_a_deny(tmp_path, issuer):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "authz.rego").write_text(
        'package authz\n\nimport rego.v1\n\ndecision := {"allow": true, "reasons": []} if input.never\n'
    )
    with running_pdp(tmp_path, issuer, bundle=bundle, require_pep_auth=False) as (c, _):
        result = c.post("/decide", json=document_request({"id": ALICE})).json()
        assert (result["allow"], result["reasons"]) == (False, ["policy_undefined"])


def test_an_evaluation_past_the_deadline_is_a_timeout_deny(tmp_path, issuer):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "authz.rego").write_text(
        "package authz\n\nimport rego.v1\n\n"
        'decision := {"allow": true, "reasons": []} if {\n'
        "\tcount([x | some x in numbers.range(1, input.context.n); x % 7 == 0]) > 0\n}\n"
    )
    with running_pdp(
        tmp_path, issuer, bundle=bundle, require_pep_auth=False, eval_timeout_seconds=0.05
    ) as (c, services):
        body = document_request({"id": ALICE})
        body["context"]["n"] = 3_000_000
        result = c.post("/decide", json=body).json()
        assert (result["allow"], result["reasons"]) == (False, ["timeout"])
        services.decision_log.flush()
        record = services.decision_log.store.get(result["decision_id"])
        assert record.reasons == ["timeout"]
        body["context"]["n"] = 10
        assert c.post("/decide", json=body).json()["allow"] is True

"""OPA's Data API: response shapes as OPA documents them, PIP enrichment, errors, a real client."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pdp.services import Services
from tests.pdp.pdp_env import ACME, ALICE, BOB, DEMO_DIRECTORY, running_pdp
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

# A bundle beside the default policy: an echo of the input, an evaluation error, nested data.
ECHO_REGO = """package echo

import rego.v1

got := input

clash := input.a

clash := input.b

nested.deeper := {"list": [10, 20]}

twice(x) := 2 * x

doubled := twice(input.n)
"""
API_KEY = "pep-static-key-for-tests"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    policies = Path(__file__).resolve().parents[2] / "policies"
    for rego in (policies / "authz").glob("*.rego"):
        (root / "authz").mkdir(exist_ok=True)
        (root / "authz" / rego.name).write_text(rego.read_text())
    (root / "data.json").write_text((policies / "data.json").read_text())
    (root / "echo").mkdir()
    (root / "echo" / "echo.rego").write_text(ECHO_REGO)
    (root / "echo" / "data.json").write_text(json.dumps({"base": {"list": ["a", "b"]}}))
    return root


@pytest.fixture(scope="module")
def pdp(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer, bundle: Path
) -> Iterator[tuple[TestClient, Services]]:
    digest = hashlib.sha256(API_KEY.encode()).hexdigest()
    with running_pdp(
        tmp_path_factory.mktemp("opa"), issuer, bundle=bundle, api_keys=(("gateway", digest),)
    ) as env:
        yield env


@pytest.fixture(scope="module")
def pep(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('pep-opa')}"}


def decide_input(subject: dict, action: str = "document:write", **attributes: str) -> dict:
    return {
        "subject": subject,
        "action": action,
        "resource": {"type": "document", "id": "d1", "attributes": attributes},
        "context": {"ip": "10.1.2.3"},
    }


def test_defined_result_has_exactly_result_and_decision_id(client, pep):
    body = {"input": decide_input({"id": ALICE}, department="engineering")}
    response = client.post("/v1/data/authz/decision", json=body, headers=pep)
    assert response.status_code == 200
    document = response.json()
    assert set(document) == {"result", "decision_id"}
    assert uuid.UUID(document["decision_id"])
    assert document["result"]["allow"] is True


def test_undefined_document_has_no_result(client, pep):
    for path in ("authz/no_such_rule", "no_such_package/x", "echo/base/list/7", "roles/viewer/x"):
        response = client.post(f"/v1/data/{path}", json={"input": {}}, headers=pep)
        assert response.status_code == 200, path
        assert set(response.json()) == {"decision_id"}, path


def test_input_naming_a_subject_is_enriched_by_the_pip(client, pep):
    # BOB claims admin roles in the input; the directory (company role viewer) decides.
    claimed = {"id": BOB, "roles": ["admin"], "tenant_id": ACME}
    body = {"input": decide_input(claimed, department="engineering")}
    result = client.post("/v1/data/authz/decision", json=body, headers=pep).json()["result"]
    assert result == {"allow": False, "reasons": ["no_matching_role"]}
    seen = client.post("/v1/data/echo/got", json=body, headers=pep).json()["result"]
    assert seen["subject"]["roles"] == [] and seen["subject"]["company"]["roles"] == ["viewer"]
    assert seen["context"]["time"].endswith("Z") and seen["resource"]["tenant_id"] == ACME


def test_input_with_a_subject_token_is_verified(client, pep, issuer):
    body = {"input": decide_input({"token": issuer.user_access_token(ALICE)})}
    seen = client.post("/v1/data/echo/got", json=body, headers=pep).json()["result"]
    assert seen["subject"]["id"] == ALICE and seen["subject"]["claims"]["sub"] == ALICE
    assert "token" not in seen["subject"]


def test_unresolved_subject_is_not_evaluated(client, pep, issuer, rogue_issuer):
    for subject, reason in (
        ({"id": "nobody"}, "unknown_subject"),
        ({"token": rogue_issuer.user_access_token(ALICE)}, "invalid_token"),
        ({"id": ALICE, "tenant_id": str(uuid.uuid4())}, "subject_tenant_mismatch"),
    ):
        body = {"input": decide_input(subject)}
        document = client.post("/v1/data/authz/decision", json=body, headers=pep).json()
        assert "result" not in document
        assert document["warning"]["code"] == "subject_unresolved"
        assert reason in document["warning"]["message"]


def test_input_without_a_subject_passes_through(client, pep):
    raw = {"subject": {"name": "x"}, "roles": ["admin"], "n": 1}
    seen = client.post("/v1/data/echo/got", json={"input": raw}, headers=pep).json()["result"]
    assert seen == raw


def test_input_naming_a_subject_must_be_a_decide_request(client, pep):
    response = client.post(
        "/v1/data/authz/decision", json={"input": {"subject": {"id": ALICE}}}, headers=pep
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_parameter"
    assert "input.action" in response.json()["message"]


def test_paths_into_packages_rules_and_base_data(client, pep):
    def result(path: str, input_doc: dict | None = None):
        body = {"input": input_doc or {}}
        return client.post(f"/v1/data/{path}", json=body, headers=pep).json().get("result")

    assert result("echo/nested/deeper/list/1") == 20
    assert result("echo/base/list/0") == "a"
    assert result("echo/doubled", {"n": 4}) == 8
    package = result("echo", {"n": 1, "a": 1, "b": 1})
    assert package == {
        "got": {"n": 1, "a": 1, "b": 1},
        "clash": 1,
        "nested": {"deeper": {"list": [10, 20]}},
        "doubled": 2,
        "base": {"list": ["a", "b"]},
    }
    assert "twice" not in package  # functions are not documents, as in OPA
    assert result("roles/viewer/permissions/0") == "document:read"


def test_whole_data_document(client, pep):
    for response in (
        client.post("/v1/data", json={"input": {}}, headers=pep),
        client.get("/v1/data", headers=pep),
    ):
        document = response.json()["result"]
        assert {"roles", "networks", "authz", "echo"} <= set(document)
        assert document["echo"]["base"] == {"list": ["a", "b"]}
        assert document["authz"]["decision"]["allow"] is False


def test_get_takes_input_as_a_query_parameter(client, pep):
    raw = json.dumps(decide_input({"id": ALICE}, department="engineering"))
    response = client.get("/v1/data/authz/decision", params={"input": raw}, headers=pep)
    assert response.json()["result"]["allow"] is True
    bad = client.get("/v1/data/authz/decision", params={"input": "{nope"}, headers=pep)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameter"


def test_missing_input_key_warns_as_opa_does(client, pep):
    document = client.post("/v1/data/roles/viewer", json={}, headers=pep).json()
    assert document["warning"] == {
        "code": "api_usage_warning",
        "message": "'input' key missing from the request",
    }
    assert document["result"]["permissions"][0] == "document:read"
    assert "warning" not in client.post("/v1/data/roles", json={"input": {}}, headers=pep).json()


def test_pretty_explain_metrics_provenance(client, pep, services):
    response = client.post(
        "/v1/data/echo/got?pretty=true&explain=notes&metrics=true&provenance=true",
        json={"input": {"k": 1}},
        headers=pep,
    )
    assert response.text.startswith('{\n  "decision_id"')
    document = response.json()
    assert document["explanation"] == []
    assert document["metrics"]["timer_rego_query_eval_ns"] > 0
    assert document["provenance"]["bundles"]["pdp"]["revision"] == services.policy.revision
    full = client.post("/v1/data/echo/got?explain=full", json={"input": {}}, headers=pep)
    assert full.status_code == 400 and full.json()["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'"input"', b"\xff\xfe"],
    ids=["malformed", "array", "string", "not-utf8"],
)
def test_malformed_bodies_are_invalid_parameter(client, pep, body):
    response = client.post(
        "/v1/data/authz/decision", content=body, headers={**pep, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    # OPA's shape for OPA clients, and the PDP's `error` and `field` beside it.
    assert set(response.json()) == {"code", "message", "error", "field"}
    assert response.json()["code"] == "invalid_parameter"
    assert response.json()["field"] == "body"


def test_evaluation_error_is_opa_internal_error(client, pep):
    response = client.post("/v1/data/echo/clash", json={"input": {"a": 1, "b": 2}}, headers=pep)
    assert response.status_code == 500
    document = response.json()
    assert document["code"] == "internal_error"
    assert document["errors"][0]["code"] == "eval_error"


def test_credentials_are_required_and_errors_are_opa_shaped(client, issuer):
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer not-a-jwt"}, 401),
        ({"Authorization": "Basic abc"}, 401),
        ({"Authorization": f"Bearer {issuer.machine_token('pep', scope='pdp/admin')}"}, 403),
    ):
        response = client.post("/v1/data/authz/decision", json={"input": {}}, headers=headers)
        assert response.status_code == status
        assert response.json()["code"] == "unauthorized"
        assert set(response.json()) == {"code", "message"}


def test_api_key_authenticates_a_pep(client):
    ok = client.post(
        "/v1/data/roles/viewer", json={"input": {}}, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert ok.status_code == 200 and "result" in ok.json()
    wrong = client.post(
        "/v1/data/roles/viewer", json={"input": {}}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401


def test_every_query_is_logged_with_its_input(client, pep, services):
    secret = {"authorization": "Bearer raw-token", "x": {"Cookie": "c"}}
    body = {"input": {**decide_input({"id": ALICE}, department="engineering"), "headers": secret}}
    first = client.post("/v1/data/authz/decision", json=body, headers=pep).json()
    passed = client.post("/v1/data/echo/got", json={"input": secret}, headers=pep).json()
    services.decision_log.flush()
    record = services.decision_log.store.get(first["decision_id"])
    assert record is not None and record.endpoint == "v1/data/authz/decision"
    assert record.allow is True and record.subject_id == ALICE and record.tenant_id == ACME
    assert record.input["subject"]["roles"] == [] and record.input["context"]["time"]
    assert record.input["headers"]["authorization"] == "<redacted>"
    echoed = services.decision_log.store.get(passed["decision_id"])
    assert echoed.input == {"authorization": "<redacted>", "x": {"Cookie": "<redacted>"}}
    assert "raw-token" not in json.dumps(echoed.to_json())


def test_real_opa_client_round_trip(tmp_path, issuer, bundle):
    """The OPA Python SDK (opa-python-client) against a real `pdp serve`."""
    opa_client = pytest.importorskip("opa_client", reason="pip install opa-python-client")
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp_path / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(bundle),
    }
    from pdp.directory.document import import_document, load_document
    from pdp.directory.store import DirectoryStore

    store = DirectoryStore(env["PDP_DATABASE_URL"])
    import_document(store, load_document(DEMO_DIRECTORY))
    store.close()
    server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "pdp.log")
    try:
        opa = opa_client.OpaClient(
            port=server.port, host="127.0.0.1", token=issuer.machine_token("sdk")
        )
        decided = opa.query_rule(
            decide_input({"id": ALICE}, department="engineering"), "authz", "decision"
        )
        assert decided["result"]["allow"] is True and uuid.UUID(decided["decision_id"])
        denied = opa.query_rule(decide_input({"id": BOB}), "authz", "decision")
        assert denied["result"] == {"allow": False, "reasons": ["no_matching_role"]}
        assert opa.get_data("echo/base")["result"] == {"list": ["a", "b"]}
        assert "result" not in opa.query_rule({}, "authz", "no_such_rule")
        opa.close_connection()
    finally:
        server.stop()


def test_evaluation_past_the_deadline_is_opa_internal_error(tmp_path, issuer, bundle):
    with running_pdp(
        tmp_path, issuer, bundle=bundle, require_pep_auth=False, eval_timeout_seconds=1e-9
    ) as (client, _):
        response = client.post("/v1/data/authz/decision", json={"input": {}})
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert response.json()["errors"][0]["code"] == "eval_cancel_error"

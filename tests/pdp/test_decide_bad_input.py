"""Malformed requests: each gets a 4xx naming the field, and nothing in the directory changes."""

from __future__ import annotations

import pytest

from pdp.directory.document import export_document
from tests.pdp.pdp_env import ALICE, document_request


@pytest.fixture(scope="module")
def headers(issuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('pep')}"}


@pytest.fixture(autouse=True)
def directory_unchanged(pdp):
    _, services = pdp
    before = export_document(services.directory)
    yield
    assert export_document(services.directory) == before


def _without(body: dict, *path: str) -> dict:
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


VALID = document_request({"id": ALICE})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "action": 5}, "action"),
        ({**VALID, "action": ""}, "action"),
        (_without(document_request({"id": ALICE}), "action"), "action"),
        (_without(document_request({"id": ALICE}), "resource", "type"), "resource.type"),
        ({**VALID, "resource": "d1"}, "resource"),
        ({**VALID, "subject": {}}, "subject"),
        ({**VALID, "subject": {"id": ALICE, "token": "x"}}, "subject"),
        ({**VALID, "subject": {"id": ALICE, "tenant_id": "acme"}}, "subject.tenant_id"),
        ({**VALID, "subject": {"id": ALICE, "role": "admin"}}, "subject.role"),
        ({**VALID, "resource": {**VALID["resource"], "tenant_id": 7}}, "resource.tenant_id"),
        ({**VALID, "context": {"ip": "10.0.0.300"}}, "context.ip"),
        ({**VALID, "context": {"ip": 12}}, "context.ip"),
        ({**VALID, "context": []}, "context"),
        ({**VALID, "allow": True}, "allow"),
        ([], "body"),
    ],
)
def test_malformed_body_is_400_naming_the_field(pdp, headers, body, field):
    client, _ = pdp
    response = client.post("/decide", json=body, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"] == "invalid_request"
    assert error["field"] == field
    assert error["message"]


def test_not_json(pdp, headers):
    client, _ = pdp
    response = client.post(
        "/decide", content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_ten_megabyte_body_is_413(pdp, headers):
    client, _ = pdp
    body = b'{"action": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    response = client.post(
        "/decide", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_empty_and_oversized_batches(pdp, headers):
    client, _ = pdp
    assert client.post("/decide/batch", json={"requests": []}, headers=headers).status_code == 400
    too_many = {"requests": [VALID] * 101}
    response = client.post("/decide/batch", json=too_many, headers=headers)
    assert response.status_code == 400
    assert response.json()["field"] == "requests"


def test_bad_item_in_batch_names_its_index(pdp, headers):
    client, _ = pdp
    response = client.post(
        "/decide/batch", json={"requests": [VALID, {**VALID, "action": 1}]}, headers=headers
    )
    assert response.status_code == 400
    assert response.json()["field"] == "requests.1.action"


def test_expired_pep_token(pdp, issuer):
    client, _ = pdp
    token = issuer.machine_token("pep", exp=1, iat=0)
    response = client.post("/decide", json=VALID, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401

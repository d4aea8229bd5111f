"""The directory admin API over HTTP: every endpoint, its errors, pagination, and that a write
shows in the PIP snapshot at once."""

from __future__ import annotations

import types
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pdp.admin_work import AdminWork
from pdp.api import admin_directory
from pdp.api.errors import install_error_handlers
from pdp.directory.snapshot import DirectorySnapshot
from pdp.directory.store import DirectoryStore
from pdp.settings import Settings

API = "/admin/v1"


def _app(store: DirectoryStore, snapshot: DirectorySnapshot, database_url: str) -> FastAPI:
    app = FastAPI()
    app.state.services = types.SimpleNamespace(
        settings=Settings(require_pep_auth=False, database_url=database_url),
        directory=store,
        snapshot=snapshot,
        admin_work=AdminWork(wait_seconds=30.0),
    )

    install_error_handlers(app)
    app.include_router(admin_directory.router)
    return app


@pytest.fixture
def snapshot(store: DirectoryStore) -> DirectorySnapshot:
    return DirectorySnapshot(store)


@pytest.fixture
def client(store: DirectoryStore, snapshot: DirectorySnapshot, database_url: str) -> TestClient:
    return TestClient(_app(store, snapshot, database_url))


@pytest.fixture
def tenant(client: TestClient) -> str:
    response = client.post(f"{API}/tenants", json={"name": "acme", "timezone": "Europe/Warsaw"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


def _error(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert body["message"]
    if field is not None:
        assert body["field"] == field
    return body


def test_tenant_endpoints(client: TestClient, tenant: str) -> None:
    base = f"{API}/tenants"
    assert _ok(client.get(f"{base}/{tenant}")) == {
        "id": tenant,
        "name": "acme",
        "timezone": "Europe/Warsaw",
        "attributes": {},
    }
    chosen = str(uuid.uuid4())
    _ok(client.post(base, json={"id": chosen, "name": "globex"}), 201)
    updated = _ok(client.patch(f"{base}/{chosen}", json={"attributes": {"tier": "gold"}}))
    assert (updated["name"], updated["attributes"]) == ("globex", {"tier": "gold"})
    page = _ok(client.get(base, params={"limit": 1}))
    assert len(page["items"]) == 1 and page["next_page_token"]
    rest = _ok(client.get(base, params={"limit": 1, "page_token": page["next_page_token"]}))
    assert rest["next_page_token"] is None
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {tenant, chosen}
    _ok(client.delete(f"{base}/{chosen}"), 204)
    _error(client.get(f"{base}/{chosen}"), 404, "not_found")
    _error(client.delete(f"{base}/{chosen}"), 404, "not_found")
    _error(client.post(base, json={"id": tenant, "name": "x"}), 409, "conflict", "id")
    _error(client.post(base, json={"name": "acme"}), 409, "conflict", "name")
    _error(client.get(f"{base}/not-a-uuid"), 400, "invalid_request", "path.tenant_id")
    _error(client.post(base, json={"name": "x", "tz": "UTC"}), 400, "invalid_request", "tz")
    _error(
        client.post(base, json={"name": "x", "timezone": "Nowhere/Land"}),
        400,
        "invalid_request",
        "timezone",
    )
    _error(client.patch(f"{base}/{tenant}", json={"name": None}), 400, "invalid_request")


def test_user_endpoints_and_snapshot(
    client: TestClient, tenant: str, snapshot: DirectorySnapshot
) -> None:
    users = f"{API}/tenants/{tenant}/users"
    _ok(client.post(f"{API}/tenants/{tenant}/companies", json={"id": "corp", "roles": ["v"]}), 201)
    alice = _ok(
        client.post(
            users,
            json={
                "id": "alice",
                "email": "alice@acme.test",
                "company": "corp",
                "roles": ["editor"],
                "attributes": {"country": "PL"},
            },
        ),
        201,
    )
    assert alice == {
        "id": "alice",
        "tenant_id": tenant,
        "email": "alice@acme.test",
        "company": "corp",
        "roles": ["editor"],
        "attributes": {"country": "PL"},
    }
    # The very next decision would see the write: no polling involved.
    facts = snapshot.subject("alice")
    assert facts is not None and facts.company is not None
    assert (facts.roles, facts.company.roles) == (("editor",), ("v",))
    assert _ok(client.get(f"{users}/alice")) == alice
    patched = _ok(client.patch(f"{users}/alice", json={"roles": ["owner"], "company": None}))
    assert (patched["roles"], patched["company"], patched["email"]) == (
        ["owner"],
        None,
        "alice@acme.test",
    )
    assert snapshot.subject("alice").roles == ("owner",)  # type: ignore[union-attr]
    _error(
        client.patch(f"{users}/alice", json={"company": "nope"}), 422, "unprocessable", "company"
    )
    _error(client.post(users, json={"id": "alice"}), 409, "conflict", "id")
    _error(client.post(users, json={"id": "bob", "company": "nope"}), 422, "unprocessable")
    _error(client.post(users, json={"id": "bob", "email": "nope"}), 400, "invalid_request")
    _error(client.get(f"{users}/ghost"), 404, "not_found")
    _error(client.patch(f"{users}/ghost", json={}), 404, "not_found")
    ghost_tenant = f"{API}/tenants/{uuid.uuid4()}/users"
    _error(client.get(ghost_tenant), 404, "not_found")
    _error(client.post(ghost_tenant, json={"id": "bob"}), 422, "unprocessable", "tenant_id")
    assert [u["id"] for u in _ok(client.get(users))["items"]] == ["alice"]
    _ok(client.delete(f"{users}/alice"), 204)
    assert snapshot.subject("alice") is None
    _error(client.delete(f"{users}/alice"), 404, "not_found")


def test_subject_ids_unique_across_tenants(client: TestClient, tenant: str) -> None:
    other = _ok(client.post(f"{API}/tenants", json={"name": "globex"}), 201)["id"]
    _ok(client.post(f"{API}/tenants/{tenant}/clients", json={"id": "svc"}), 201)
    body = _error(
        client.post(f"{API}/tenants/{other}/users", json={"id": "svc"}), 409, "conflict", "id"
    )
    assert "another tenant" in body["message"]


@pytest.mark.parametrize(
    ("plural", "body", "patch", "expected"),
    [
        ("clients", {"id": "svc", "roles": ["r"]}, {"attributes": {"a": 1}}, {"attributes": {"a": 1}}),
        ("companies", {"id": "corp"}, {"roles": ["viewer"]}, {"roles": ["viewer"]}),
        ("groups", {"id": "eng", "roles": ["editor"]}, {"roles": []}, {"roles": [], "members": []}),
    ],
)  # fmt: skip
def test_other_object_endpoints(
    client: TestClient,
    tenant: str,
    plural: str,
    body: dict[str, Any],
    patch: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    base = f"{API}/tenants/{tenant}/{plural}"
    created = _ok(client.post(base, json=body), 201)
    assert created["tenant_id"] == tenant
    assert _ok(client.get(f"{base}/{body['id']}")) == created
    updated = _ok(client.patch(f"{base}/{body['id']}", json=patch))
    assert {key: updated[key] for key in expected} == expected
    assert [item["id"] for item in _ok(client.get(base))["items"]] == [body["id"]]
    _error(client.post(base, json=body), 409, "conflict")
    _error(client.post(base, json={**body, "unknown": 1}), 400, "invalid_request", "unknown")
    _ok(client.delete(f"{base}/{body['id']}"), 204)
    _error(client.get(f"{base}/{body['id']}"), 404, "not_found")


def test_group_members(client: TestClient, tenant: str, snapshot: DirectorySnapshot) -> None:
    base = f"{API}/tenants/{tenant}"
    _ok(client.post(f"{base}/users", json={"id": "alice"}), 201)
    _ok(client.post(f"{base}/clients", json={"id": "svc"}), 201)
    _ok(client.post(f"{base}/groups", json={"id": "eng", "roles": ["editor"]}), 201)
    members = f"{base}/groups/eng/members"
    assert _ok(client.post(members, json={"subject_id": "alice"}), 201) == {
        "group_id": "eng",
        "subject_id": "alice",
        "subject_type": "user",
    }
    assert [g.id for g in snapshot.subject("alice").groups] == ["eng"]  # type: ignore[union-attr]
    _ok(client.post(members, json={"subject_id": "svc"}), 201)
    _error(client.post(members, json={"subject_id": "alice"}), 409, "conflict")
    _error(client.post(members, json={"subject_id": "ghost"}), 422, "unprocessable", "subject_id")
    _error(client.post(members, json={}), 400, "invalid_request", "subject_id")
    _error(client.get(f"{base}/groups/none/members"), 404, "not_found")
    first = _ok(client.get(members, params={"limit": 1}))
    second = _ok(client.get(members, params={"limit": 1, "page_token": first["next_page_token"]}))
    assert [m["subject_id"] for m in first["items"] + second["items"]] == ["alice", "svc"]
    assert second["next_page_token"] is None
    _ok(client.delete(f"{members}/alice"), 204)
    assert snapshot.subject("alice").groups == ()  # type: ignore[union-attr]
    _error(client.delete(f"{members}/alice"), 404, "not_found")
    group = _ok(client.get(f"{base}/groups/eng"))
    assert group["members"] == ["svc"]


def test_role_bindings(client: TestClient, tenant: str, snapshot: DirectorySnapshot) -> None:
    base = f"{API}/tenants/{tenant}"
    bindings = f"{base}/role-bindings"
    _ok(client.post(f"{base}/users", json={"id": "alice", "roles": ["viewer"]}), 201)
    created = _ok(
        client.post(bindings, json={"subject_type": "user", "subject_id": "alice", "role": "ops"}),
        201,
    )
    assert created["tenant_id"] == tenant and created["id"]
    assert snapshot.subject("alice").roles == ("ops", "viewer")  # type: ignore[union-attr]
    assert _ok(client.get(f"{base}/users/alice"))["roles"] == ["ops", "viewer"]
    _error(
        client.post(bindings, json={"subject_type": "user", "subject_id": "alice", "role": "ops"}),
        409,
        "conflict",
    )
    _error(
        client.post(bindings, json={"subject_type": "group", "subject_id": "x", "role": "ops"}),
        422,
        "unprocessable",
        "subject_id",
    )
    _error(
        client.post(bindings, json={"subject_type": "robot", "subject_id": "x", "role": "r"}),
        400,
        "invalid_request",
        "subject_type",
    )
    listed = _ok(client.get(bindings, params={"role": "ops"}))["items"]
    assert listed == [created]
    assert len(_ok(client.get(bindings, params={"subject_id": "alice"}))["items"]) == 2
    assert _ok(client.get(bindings, params={"subject_type": "client"}))["items"] == []
    _error(client.get(bindings, params={"subject_type": "robot"}), 400, "invalid_request")
    page = _ok(client.get(bindings, params={"limit": 1}))
    assert len(page["items"]) == 1 and page["next_page_token"]
    _ok(client.delete(f"{bindings}/{created['id']}"), 204)
    assert snapshot.subject("alice").roles == ("viewer",)  # type: ignore[union-attr]
    _error(client.delete(f"{bindings}/{created['id']}"), 404, "not_found")


def test_pagination_parameters(client: TestClient, tenant: str) -> None:
    users = f"{API}/tenants/{tenant}/users"
    for n in range(5):
        _ok(client.post(users, json={"id": f"u{n}"}), 201)
    seen, token = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"page_token": token} if token else {})}
        page = _ok(client.get(users, params=params))
        seen += [u["id"] for u in page["items"]]
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [f"u{n}" for n in range(5)]
    _error(client.get(users, params={"limit": 0}), 400, "invalid_request", "query.limit")
    _error(client.get(users, params={"limit": 1001}), 400, "invalid_request", "query.limit")
    _error(client.get(users, params={"page_token": "zzz"}), 400, "invalid_request", "page_token")


def test_deleting_a_tenant_empties_the_snapshot(
    client: TestClient, tenant: str, snapshot: DirectorySnapshot
) -> None:
    _ok(client.post(f"{API}/tenants/{tenant}/users", json={"id": "alice"}), 201)
    assert snapshot.tenant(tenant) is not None
    _ok(client.delete(f"{API}/tenants/{tenant}"), 204)
    assert snapshot.tenant(tenant) is None
    assert snapshot.subject("alice") is None

"""`PATCH .../{kind}/{id}` with `roles` keeps the binding (and its id) of every role that
stays, adds the new ones and removes the rest; bindings of other subjects are untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pdp.pdp_env import running_pdp
from tests.support.issuer import TestIssuer

API = "/admin/v1/tenants"


@pytest.fixture
def admin(tmp_path: Path, issuer: TestIssuer):
    with running_pdp(tmp_path, issuer, directory=None) as (client, _):
        headers = {"Authorization": f"Bearer {issuer.machine_token('ops', 'pdp/admin')}"}
        tenant = client.post(API, json={"name": "acme"}, headers=headers).json()["id"]
        yield client, headers, f"{API}/{tenant}"


def bindings(client, headers, base: str, subject_id: str) -> dict[str, str]:
    items = client.get(
        f"{base}/role-bindings", params={"subject_id": subject_id}, headers=headers
    ).json()["items"]
    return {b["role"]: b["id"] for b in items}


@pytest.mark.parametrize("plural", ["users", "clients", "groups", "companies"])
def test_patch_roles_keeps_the_bindings_that_stay(admin, plural: str) -> None:
    client, headers, base = admin
    created = client.post(
        f"{base}/{plural}", json={"id": "s1", "roles": ["viewer", "editor"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    client.post(f"{base}/{plural}", json={"id": "s2", "roles": ["viewer"]}, headers=headers)
    before = bindings(client, headers, base, "s1")
    other = bindings(client, headers, base, "s2")
    # A binding made on its own is one of the subject's roles like any other.
    kind = {"users": "user", "clients": "client", "groups": "group", "companies": "company"}
    made = client.post(
        f"{base}/role-bindings",
        json={"subject_type": kind[plural], "subject_id": "s1", "role": "auditor"},
        headers=headers,
    ).json()

    patched = client.patch(
        f"{base}/{plural}/s1",
        json={"roles": ["viewer", "auditor", "admin", "admin"]},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["roles"] == ["admin", "auditor", "viewer"]
    after = bindings(client, headers, base, "s1")
    assert after["viewer"] == before["viewer"]
    assert after["auditor"] == made["id"]
    assert set(after) == {"viewer", "auditor", "admin"}
    assert bindings(client, headers, base, "s2") == other

    kept = client.delete(f"{base}/role-bindings/{before['viewer']}", headers=headers)
    assert kept.status_code == 204
    gone = client.delete(f"{base}/role-bindings/{before['editor']}", headers=headers)
    assert gone.status_code == 404

    # Without `roles`, a PATCH leaves the bindings alone; `[]` removes them all.
    client.patch(f"{base}/{plural}/s1", json={"attributes": {"x": 1}}, headers=headers)
    assert set(bindings(client, headers, base, "s1")) == {"auditor", "admin"}
    client.patch(f"{base}/{plural}/s1", json={"roles": []}, headers=headers)
    assert bindings(client, headers, base, "s1") == {}

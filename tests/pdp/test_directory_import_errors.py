"""Import errors name the entry (tenant, kind, id) and the field, for `pdp directory import`
and for `POST /admin/v1/directory/import`; the field keeps the document path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pdp.directory.entries import describe
from tests.pdp.pdp_env import running_pdp
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO

ACME = "4f1c2d3e-0000-4000-8000-000000000001"
GLOBEX = "4f1c2d3e-0000-4000-8000-000000000002"


def document(**alice: Any) -> dict[str, Any]:
    return {
        "tenants": [
            {
                "id": ACME,
                "name": "acme",
                "companies": [{"id": "acme-corp"}],
                "users": [{"id": "alice", "email": "alice@acme.test", **alice}, {"id": "bob"}],
            }
        ]
    }


def no_name() -> dict[str, Any]:
    doc = document()
    del doc["tenants"][0]["name"]
    return doc


def nameless_user() -> dict[str, Any]:
    doc = document()
    doc["tenants"][0]["users"].append({"email": "x@acme.test"})
    return doc


def unknown_member() -> dict[str, Any]:
    doc = document()
    doc["tenants"][0]["groups"] = [{"id": "ops", "members": ["ghost"]}]
    return doc


def two_acmes() -> dict[str, Any]:
    doc = document()
    doc["tenants"].append({"id": GLOBEX, "name": "acme"})
    return doc


CASES = [
    (
        document(colour="red"),
        "tenant acme: user alice: colour: Extra inputs are not permitted",
        "tenants[0].users[0].colour",
    ),
    (
        document(company="initech"),
        "tenant acme: user alice: company: company 'initech' is not in this tenant",
        "tenants[0].users[0].company",
    ),
    (
        document(roles="admin"),
        "tenant acme: user alice: roles: Input should be a valid list",
        "tenants[0].users[0].roles",
    ),
    (no_name(), f"tenant {ACME}: name: Field required", "tenants[0].name"),
    (nameless_user(), "tenant acme: user #2: id: Field required", "tenants[0].users[2].id"),
    (
        unknown_member(),
        "tenant acme: group ops: members: members are not users or clients of this tenant: ghost",
        "tenants[0].groups[0].members",
    ),
    (two_acmes(), "tenant acme: name: duplicate tenant name 'acme'", "tenants[1].name"),
    ({"tenants": [], "colour": "red"}, "colour: Extra inputs are not permitted", "colour"),
    ({"tenants": "acme"}, "tenants: Input should be a valid list", "tenants"),
]


@pytest.mark.parametrize(("doc", "message", "field"), CASES)
def test_cli_names_entry_and_field(tmp_path: Path, doc: dict, message: str, field: str) -> None:
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = subprocess.run(
        [sys.executable, "-m", "pdp.cli", "directory", "import", str(path)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PDP_DATABASE_URL": f"sqlite:///{tmp_path / 'pdp.db'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"error: {message}\n")


@pytest.fixture
def pdp(tmp_path: Path, issuer: TestIssuer):
    with running_pdp(tmp_path, issuer, directory=None) as (client, _):
        yield client, {"Authorization": f"Bearer {issuer.machine_token('ops', 'pdp/admin')}"}


@pytest.fixture
def pep(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('pep', 'pdp/decide')}"}


def test_admin_api_import_names_entry_and_field(pdp) -> None:
    client, admin = pdp
    for doc, message, field in CASES:
        answer = client.post("/admin/v1/directory/import", json=doc, headers=admin)
        assert answer.status_code in (400, 422), answer.text
        assert answer.json()["message"] == message
        assert answer.json()["field"] == field
    assert client.get("/admin/v1/tenants", headers=admin).json()["items"] == []


def test_admin_api_import_and_export(pdp, pep) -> None:
    client, admin = pdp
    imported = client.post("/admin/v1/directory/import", json=document(), headers=admin)
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"]["users"] == 2
    again = client.post("/admin/v1/directory/import", json=document(), headers=admin).json()
    assert again["changed_tenants"] == [] and again["unchanged"]["users"] == 2
    exported = client.get("/admin/v1/directory/export", headers=admin).json()
    assert [u["id"] for u in exported["tenants"][0]["users"]] == ["alice", "bob"]
    one = client.get(f"/admin/v1/directory/export?tenant={ACME}", headers=admin).json()
    assert one == exported
    missing = client.get(f"/admin/v1/directory/export?tenant={GLOBEX}", headers=admin)
    assert missing.status_code == 404 and missing.json()["field"] == "tenant_id"
    not_a_document = client.post("/admin/v1/directory/import", json=[1], headers=admin)
    assert not_a_document.status_code == 400
    assert client.post("/admin/v1/directory/import", json={}, headers=pep).status_code == 403
    assert client.get("/admin/v1/directory/export").status_code == 401


_parts = st.one_of(
    st.sampled_from(["tenants", "users", "groups", "id", "name", "email"]),
    st.integers(-1, 5),
)


@given(
    doc=st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["tenants", "users", "id", "name"]), inner, max_size=3
            )
        ),
        max_leaves=10,
    ),
    steps=st.lists(_parts, max_size=6),
)
def test_describe_takes_any_document_and_path(doc: object, steps: list) -> None:
    path = ""
    for step in steps:
        path += f"[{step}]" if isinstance(step, int) else (f".{step}" if path else step)
    described = describe(doc, path, "the message")
    assert described.endswith(": the message") or described == "the message"

"""The directory file: validation, idempotent transactional import, export round trip."""

from __future__ import annotations

import copy
import json
import tempfile
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.directory.document import (
    export_document,
    import_document,
    load_document,
    normalize_document,
)
from pdp.directory.schemas import TenantCreate, UserCreate
from pdp.directory.store import DirectoryStore
from pdp.errors import Conflict, InvalidRequest, NotFound, Unprocessable

ACME = "4f1c2d3e-0000-4000-8000-000000000001"
GLOBEX = "4f1c2d3e-0000-4000-8000-000000000002"

DOCUMENT_YAML = f"""
tenants:
  - id: {ACME}
    name: acme
    timezone: Europe/Warsaw
    companies:
      - {{id: acme-corp, roles: [viewer], attributes: {{}}}}
    groups:
      - {{id: engineering, roles: [editor], members: [alice-sub]}}
    users:
      - id: alice-sub
        email: alice@acme.test
        company: acme-corp
        roles: [auditor]
        attributes: {{department: engineering, country: PL}}
      - id: bob-sub
    clients:
      - {{id: 5k2l9client0id, roles: [reporting-service], attributes: {{}}}}
  - id: {GLOBEX}
    name: globex
    attributes: {{tier: gold}}
"""


@pytest.fixture
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT_YAML)


def test_import_then_reimport_changes_nothing(
    store: DirectoryStore, document: dict[str, Any]
) -> None:
    first = import_document(store, document)
    assert first.created == {
        "tenants": 2,
        "companies": 1,
        "groups": 1,
        "users": 2,
        "clients": 1,
    }
    assert first.changed_tenants == [ACME, GLOBEX]
    alice = store.get_user(ACME, "alice-sub")
    assert (alice.company, alice.roles) == ("acme-corp", ["auditor"])
    revisions = store.revisions()
    second = import_document(store, document)
    assert not second.changed
    assert sum(second.created.values()) + sum(second.updated.values()) == 0
    assert sum(second.deleted.values()) == 0
    assert sum(second.unchanged.values()) == 7
    assert store.revisions() == revisions
    assert "0 created" in str(second)
    assert json.dumps(second.to_dict())


def test_import_makes_listed_tenants_match_exactly(
    store: DirectoryStore, document: dict[str, Any]
) -> None:
    import_document(store, document)
    untouched = store.create_tenant(TenantCreate(name="initech")).id
    store.create_user(untouched, UserCreate(id="carol"))
    store.create_user(ACME, UserCreate(id="stray"))
    revisions = store.revisions()
    changed = copy.deepcopy(document)
    acme = changed["tenants"][0]
    acme["users"][0]["roles"] = ["auditor", "owner"]
    acme["users"][0]["company"] = None
    acme["companies"] = []
    del changed["tenants"][1]
    report = import_document(store, changed)
    assert report.deleted == {
        "tenants": 0,
        "companies": 1,
        "groups": 0,
        "users": 1,
        "clients": 0,
    }
    assert report.updated["users"] == 1
    assert report.changed_tenants == [ACME]
    assert store.get_user(ACME, "alice-sub").roles == ["auditor", "owner"]
    assert [u.id for u in store.list_users(untouched).items] == ["carol"]
    assert store.get_tenant(GLOBEX).name == "globex"  # not listed: untouched
    after = store.revisions()
    assert after[GLOBEX] == revisions[GLOBEX]
    assert after[untouched] == revisions[untouched]
    assert after[ACME] == revisions[ACME] + 1


def test_import_moves_a_subject_between_listed_tenants(
    store: DirectoryStore, document: dict[str, Any]
) -> None:
    import_document(store, document)
    moved = copy.deepcopy(document)
    moved["tenants"][0]["users"].pop()  # bob-sub leaves acme
    moved["tenants"][1]["users"] = [{"id": "bob-sub"}]
    import_document(store, moved)
    assert store.get_user(GLOBEX, "bob-sub").tenant_id == GLOBEX


def test_failed_import_changes_nothing(store: DirectoryStore, document: dict[str, Any]) -> None:
    import_document(store, document)
    before = export_document(store)
    broken = copy.deepcopy(document)
    broken["tenants"][0]["users"][0]["roles"] = ["changed"]
    # Valid on its own, but taken by a tenant the document does not list: fails in the store,
    # after the acme changes were already written in the same transaction.
    other = store.create_tenant(TenantCreate(name="initech")).id
    store.create_user(other, UserCreate(id="carol"))
    broken["tenants"][1]["users"] = [{"id": "carol"}]
    revisions = store.revisions()
    with pytest.raises(Conflict) as taken:
        import_document(store, broken)
    assert taken.value.field == "tenants[1].users[0].id"
    assert export_document(store, [ACME, GLOBEX]) == before
    assert store.revisions() == revisions


@pytest.mark.parametrize(
    ("mutate", "error", "field"),
    [
        (lambda d: d["tenants"][1].update(users=[{"id": "x", "company": "acme-corp"}]),
         Unprocessable, "tenants[1].users[0].company"),
        (lambda d: d["tenants"][0]["groups"][0].update(members=["ghost"]),
         Unprocessable, "tenants[0].groups[0].members"),
        (lambda d: d["tenants"][0]["users"][1].update(colour="red"),
         InvalidRequest, "tenants[0].users[1].colour"),
        (lambda d: d["tenants"][1].update(id="nope"), InvalidRequest, "tenants[1].id"),
        (lambda d: d["tenants"][1].update(timezone="Mars/Base"),
         InvalidRequest, "tenants[1].timezone"),
        (lambda d: d["tenants"][1].update(name="acme"), InvalidRequest, "tenants[1].name"),
        (lambda d: d["tenants"][1].update(clients=[{"id": "alice-sub"}]),
         InvalidRequest, "tenants[1].clients[0].id"),
        (lambda d: d["tenants"][0]["users"][0]["attributes"].update(since=__import__("datetime").date(2020, 1, 1)),
         InvalidRequest, "tenants[0].users[0].attributes.since"),
    ],
)  # fmt: skip
def test_invalid_documents_name_the_path(
    store: DirectoryStore, document: dict[str, Any], mutate: Any, error: type, field: str
) -> None:
    mutate(document)
    with pytest.raises(error) as failure:
        import_document(store, document)
    assert failure.value.field == field
    assert store.tenant_ids() == []


def test_export_round_trip_and_filter(store: DirectoryStore, document: dict[str, Any]) -> None:
    import_document(store, document)
    exported = export_document(store)
    assert exported == normalize_document(document)
    assert exported["tenants"][0]["users"][1] == {
        "id": "bob-sub",
        "email": None,
        "company": None,
        "roles": [],
        "attributes": {},
    }
    only = export_document(store, [GLOBEX.upper()])
    assert [t["name"] for t in only["tenants"]] == ["globex"]
    with pytest.raises(NotFound):
        export_document(store, ["4f1c2d3e-0000-4000-8000-0000000000ff"])
    # What export wrote, import accepts as a no-op.
    assert not import_document(store, exported).changed


def test_load_document_yaml_and_json(tmp_path, document: dict[str, Any]) -> None:
    yaml_file = tmp_path / "directory.yaml"
    yaml_file.write_text(DOCUMENT_YAML)
    json_file = tmp_path / "directory.json"
    json_file.write_text(json.dumps(document))
    assert load_document(yaml_file) == load_document(json_file) == document
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("tenants: [\n  - id: x\n")
    with pytest.raises(InvalidRequest, match=r"not valid YAML.*line"):
        load_document(bad_yaml)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"tenants": [}')
    with pytest.raises(InvalidRequest, match=r"not valid JSON.*line 1"):
        load_document(bad_json)
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- a\n")
    with pytest.raises(InvalidRequest, match="mapping"):
        load_document(not_mapping)
    with pytest.raises(InvalidRequest, match="cannot read"):
        load_document(tmp_path / "missing.yaml")


# --- property: export(import(doc)) == normalize(doc), and re-import changes nothing ---------

_ids = st.text(alphabet="abcdefghij-_.0123456789", min_size=1, max_size=8)
_roles = st.lists(st.sampled_from(["viewer", "editor", "admin", "auditor"]), max_size=3)
# Storable text: no NUL (PostgreSQL cannot hold it) and no lone surrogate (UTF-8 cannot).
_chars = st.characters(codec="utf-8", exclude_characters="\x00")
_json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(_chars, max_size=5)
)
_attributes = st.dictionaries(
    st.text(_chars, min_size=1, max_size=5),
    st.recursive(
        _json_scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(_chars, max_size=3), inner)
        ),
        max_leaves=4,
    ),
    max_size=3,
)


@st.composite
def _documents(draw: st.DrawFn, prefix: str) -> dict[str, Any]:
    """Subject ids carry `prefix`, so two documents never claim one id in different tenants."""
    ids = draw(st.lists(_ids, unique=True, min_size=12, max_size=12))
    subject_ids = iter(f"{prefix}{subject_id}" for subject_id in ids)
    tenants = []
    for index in range(draw(st.integers(0, 3))):
        companies = draw(st.lists(_ids, unique=True, max_size=2))
        users = [
            {
                "id": next(subject_ids),
                "email": draw(st.none() | st.just("someone@example.test")),
                "company": draw(st.none() | st.sampled_from(companies)) if companies else None,
                "roles": draw(_roles),
                "attributes": draw(_attributes),
            }
            for _ in range(draw(st.integers(0, 2)))
        ]
        clients = [
            {"id": next(subject_ids), "roles": draw(_roles)} for _ in range(draw(st.integers(0, 2)))
        ]
        members = [s["id"] for s in users + clients]
        groups = [
            {
                "id": group_id,
                "roles": draw(_roles),
                "members": draw(st.lists(st.sampled_from(members), unique=True)) if members else [],
            }
            for group_id in draw(st.lists(_ids, unique=True, max_size=2))
        ]
        tenants.append(
            {
                "id": f"00000000-0000-4000-8000-{index:012d}",
                "name": f"tenant-{index}",
                "timezone": draw(st.sampled_from(["UTC", "Europe/Warsaw", "Asia/Tokyo"])),
                "attributes": draw(_attributes),
                "companies": [
                    {"id": c, "roles": draw(_roles), "attributes": draw(_attributes)}
                    for c in companies
                ],
                "groups": groups,
                "users": users,
                "clients": clients,
            }
        )
    return {"tenants": tenants}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_documents("a-"), second=_documents("b-"))
def test_property_round_trip_and_idempotence(first: dict[str, Any], second: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = DirectoryStore(f"sqlite:///{directory}/pdp.db")
        try:
            # Importing `second` over `first` exercises updates and deletions too.
            for doc in (first, second):
                import_document(store, doc)
                exported = export_document(store, [t["id"] for t in doc["tenants"]])
                assert exported == normalize_document(doc)
                revisions = store.revisions()
                assert not import_document(store, doc).changed
                assert store.revisions() == revisions
        finally:
            store.close()

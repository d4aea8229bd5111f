"""The snapshot kept up to date from the change log: after any sequence of writes, the facts a
replica serves equal a snapshot built from scratch, and a write reloads only what it touched."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from pdp.directory import store as store_module
from pdp.directory.document import import_document
from pdp.directory.models import DirectoryChange
from pdp.directory.schemas import (
    ClientCreate,
    CompanyCreate,
    CompanyUpdate,
    GroupCreate,
    GroupUpdate,
    RoleBindingCreate,
    TenantCreate,
    TenantUpdate,
    UserCreate,
    UserUpdate,
)
from pdp.directory.snapshot import DirectorySnapshot
from pdp.directory.store import DirectoryStore
from pdp.errors import PDPError

T1 = "00000000-0000-4000-8000-000000000001"
T2 = "00000000-0000-4000-8000-000000000002"
SUBJECTS = ["u1", "u2", "u3", "c1"]
GROUPS = ["g1", "g2"]
COMPANIES = ["k1", "k2"]


def served(snapshot: DirectorySnapshot) -> dict[str, Any]:
    """Everything a decision can read from the snapshot."""
    tenants = {
        tenant_id: (
            snapshot.tenant(tenant_id),
            snapshot.tenant_revision(tenant_id),
            sorted(snapshot.subjects(tenant_id), key=lambda facts: facts.id),
        )
        for tenant_id in snapshot.tenant_ids()
    }
    subjects = {subject_id: snapshot.subject(subject_id) for subject_id in SUBJECTS}
    return {"tenants": tenants, "subjects": subjects}


_tenant = st.sampled_from([T1, T1, T2])  # mostly the tenant that holds most
_subject = st.sampled_from(SUBJECTS)
_group = st.sampled_from(GROUPS)
_company = st.sampled_from(COMPANIES)
_roles = st.lists(st.sampled_from(["viewer", "editor", "admin"]), max_size=2)
_attributes = st.dictionaries(st.sampled_from(["dept", "level"]), st.integers(0, 2), max_size=2)
_members = st.lists(_subject, max_size=3)


WRITES: dict[str, Callable[..., Any]] = {}


def _op(name: str, call: Callable[..., Any], *args: st.SearchStrategy[Any]) -> st.SearchStrategy:
    """A write drawn as (name, tenant, arguments...), which reads well in a falsifying example."""
    WRITES[name] = call
    return st.tuples(st.just(name), _tenant, *args)


_OPS = st.one_of(
    _op(
        "create user",
        lambda s, t, i, c, r, a: s.create_user(
            t, UserCreate(id=i, company=c, roles=r, attributes=a)
        ),
        _subject.filter(lambda i: i != "c1"),
        st.none() | _company,
        _roles,
        _attributes,
    ),
    _op("create client", lambda s, t, r: s.create_client(t, ClientCreate(id="c1", roles=r)), _roles),
    _op("update user roles", lambda s, t, i, r: s.update_user(t, i, UserUpdate(roles=r)), _subject, _roles),
    _op(
        "move user to company",
        lambda s, t, i, c: s.update_user(t, i, UserUpdate(company=c)),
        _subject,
        st.none() | _company,
    ),
    _op("user attributes", lambda s, t, i, a: s.update_user(t, i, UserUpdate(attributes=a)), _subject, _attributes),
    _op("delete user", lambda s, t, i: s.delete_user(t, i), _subject),
    _op("delete client", lambda s, t: s.delete_client(t, "c1")),
    _op(
        "create group",
        lambda s, t, g, r, m: s.create_group(t, GroupCreate(id=g, roles=r, members=m)),
        _group,
        _roles,
        _members,
    ),
    _op("group roles", lambda s, t, g, r: s.update_group(t, g, GroupUpdate(roles=r)), _group, _roles),
    _op("group members", lambda s, t, g, m: s.update_group(t, g, GroupUpdate(members=m)), _group, _members),
    _op("delete group", lambda s, t, g: s.delete_group(t, g), _group),
    _op("add member", lambda s, t, g, i: s.add_member(t, g, i), _group, _subject),
    _op("remove member", lambda s, t, g, i: s.remove_member(t, g, i), _group, _subject),
    _op(
        "create company",
        lambda s, t, c, r, a: s.create_company(t, CompanyCreate(id=c, roles=r, attributes=a)),
        _company,
        _roles,
        _attributes,
    ),
    _op(
        "company roles",
        lambda s, t, c, r: s.update_company(t, c, CompanyUpdate(roles=r)),
        _company,
        _roles,
    ),
    _op("delete company", lambda s, t, c: s.delete_company(t, c), _company),
    _op(
        "bind role",
        lambda s, t, k, i, r: s.create_role_binding(
            t, RoleBindingCreate(subject_type=k, subject_id=i, role=r)
        ),
        st.sampled_from(["user", "client", "group", "company"]),
        st.sampled_from([*SUBJECTS, *GROUPS, *COMPANIES]),
        st.sampled_from(["auditor", "owner"]),
    ),
    _op(
        "unbind role",
        lambda s, t, n: s.delete_role_binding(t, _nth_binding(s, t, n)),
        st.integers(0, 3),
    ),
    _op(
        "tenant timezone",
        lambda s, t, z: s.update_tenant(t, TenantUpdate(timezone=z)),
        st.sampled_from(["UTC", "Europe/Warsaw"]),
    ),
    _op("delete tenant", lambda s, t: s.delete_tenant(t)),
    _op("create tenant", lambda s, t: s.create_tenant(TenantCreate(id=t, name=t[-4:]))),
)  # fmt: skip


def _nth_binding(store: DirectoryStore, tenant_id: str, n: int) -> str:
    items = store.list_role_bindings(tenant_id).items
    return items[n % len(items)].id if items else "none"


def _fresh_store(directory: str) -> DirectoryStore:
    """Two tenants with something in them, so that most drawn writes succeed."""
    store = DirectoryStore(f"sqlite:///{directory}/pdp.db")
    for tenant_id, name in ((T1, "one"), (T2, "two")):
        store.create_tenant(TenantCreate(id=tenant_id, name=name))
        store.create_company(tenant_id, CompanyCreate(id="k1", roles=["viewer"]))
    store.create_user(T1, UserCreate(id="u1", company="k1", roles=["viewer"]))
    store.create_user(T1, UserCreate(id="u2", company="k1"))
    store.create_client(T1, ClientCreate(id="c1"))
    store.create_user(T2, UserCreate(id="u3", company="k1"))
    store.create_group(T1, GroupCreate(id="g1", members=["u1", "c1"]))
    store.create_group(T2, GroupCreate(id="g1", members=["u3"]))
    return store


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_OPS, max_size=25), polls=st.sets(st.integers(0, 24)))
def test_property_incremental_snapshot_equals_a_fresh_one(
    ops: list[tuple[Any, ...]], polls: set[int]
) -> None:
    """`local` catches up after each write as the admin API does; `replica` only polls, at
    random points. Both must serve what a snapshot loaded from scratch serves."""
    with tempfile.TemporaryDirectory() as directory:
        store = _fresh_store(directory)
        try:
            local, replica = DirectorySnapshot(store), DirectorySnapshot(store)
            for index, (name, tenant_id, *args) in enumerate(ops):
                # A refused write changes nothing; catching up must agree.
                with contextlib.suppress(PDPError):
                    WRITES[name](store, tenant_id, *args)
                local.refresh(tenant_id)
                if index in polls:
                    replica.refresh_if_changed()
            replica.refresh_if_changed()
            expected = served(DirectorySnapshot(store))
            assert served(local) == expected
            assert served(replica) == expected
        finally:
            store.close()


@pytest.fixture
def populated(store: DirectoryStore) -> DirectoryStore:
    store.create_tenant(TenantCreate(id=T1, name="one"))
    store.create_company(T1, CompanyCreate(id="k1", roles=["viewer"]))
    for subject_id in ("u1", "u2", "u3"):
        store.create_user(T1, UserCreate(id=subject_id, company="k1"))
    store.create_group(T1, GroupCreate(id="g1", members=["u1", "u2"]))
    return store


def test_a_write_reloads_only_the_subjects_it_touches(populated: DirectoryStore) -> None:
    snapshot = DirectorySnapshot(populated)
    before = {s: snapshot.subject(s) for s in ("u1", "u2", "u3")}
    revision = snapshot.tenant_revision(T1)
    populated.create_role_binding(
        T1, RoleBindingCreate(subject_type="group", subject_id="g1", role="editor")
    )
    assert snapshot.refresh(T1)
    assert snapshot.tenant_revision(T1) == revision + 1
    assert snapshot.subject("u1").groups[0].roles == ("editor",)  # type: ignore[union-attr]
    assert snapshot.subject("u2") is not before["u2"]
    assert snapshot.subject("u3") is before["u3"]  # not in g1: the very same facts object
    assert not snapshot.refresh(T1)
    populated.update_company(T1, "k1", CompanyUpdate(roles=["auditor"]))
    snapshot.refresh(T1)
    assert all(snapshot.subject(s).company.roles == ("auditor",) for s in before)  # type: ignore[union-attr]


def test_a_replica_behind_a_pruned_log_reloads_the_tenant(populated: DirectoryStore) -> None:
    replica = DirectorySnapshot(populated)
    populated.update_user(T1, "u3", UserUpdate(roles=["owner"]))
    populated.delete_user(T1, "u2")
    with populated.engine.begin() as connection:
        connection.execute(delete(DirectoryChange).where(DirectoryChange.tenant_id == T1))
    unchanged = replica.subject("u1")
    assert replica.refresh_if_changed() == [T1]
    assert replica.subject("u3").roles == ("owner",)  # type: ignore[union-attr]
    assert replica.subject("u2") is None
    assert replica.subject("u1") == unchanged
    assert replica.subject("u1") is not unchanged  # loaded again: the log could not tell
    assert served(replica) == served(DirectorySnapshot(populated))


def test_a_write_touching_many_subjects_logs_a_whole_tenant_reload(
    populated: DirectoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    replica = DirectorySnapshot(populated)
    monkeypatch.setattr(store_module, "MAX_LOGGED_SUBJECTS", 2)
    populated.update_company(T1, "k1", CompanyUpdate(roles=["editor"]))  # three users
    with populated.reader() as reader:
        changes = reader.changes_since(T1, replica.tenant_revision(T1))
    assert [change.scope for change in changes] == ["all"]
    replica.refresh_if_changed()
    assert replica.subject("u3").company.roles == ("editor",)  # type: ignore[union-attr]


def test_a_replica_follows_an_import_subject_by_subject(store: DirectoryStore) -> None:
    """An import logs the subjects it changed, so a replica reloads just those."""
    users = [{"id": f"u{n}", "company": "k1", "roles": ["viewer"]} for n in range(6)]
    tenant = {
        "id": T1,
        "name": "one",
        "companies": [{"id": "k1"}, {"id": "k2", "roles": ["auditor"]}],
        "groups": [{"id": "g1", "roles": ["editor"], "members": ["u0", "u1"]}],
        "users": users,
    }
    import_document(store, {"tenants": [tenant]})
    replica = DirectorySnapshot(store)
    untouched = replica.subject("u5")
    tenant["users"] = [
        {**users[0], "roles": ["owner"]},  # changed roles
        users[1],  # leaves g1 below
        {**users[2], "company": "k2"},  # moves company
        users[3],
        users[5],  # u4 is deleted
        {"id": "u6"},  # new
    ]
    tenant["groups"] = [{"id": "g1", "roles": ["editor"], "members": ["u0", "u3"]}]
    import_document(store, {"tenants": [tenant]})
    with store.reader() as reader:
        changes = reader.changes_since(T1, replica.tenant_revision(T1))
    assert sorted(c.subject_id for c in changes) == ["u0", "u1", "u2", "u3", "u4", "u6"]
    assert replica.refresh_if_changed() == [T1]
    assert replica.subject("u5") is untouched
    assert replica.subject("u2").company.roles == ("auditor",)  # type: ignore[union-attr]
    assert replica.subject("u4") is None
    assert served(replica) == served(DirectorySnapshot(store))

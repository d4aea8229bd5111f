"""The PIP snapshot: resolved facts, synchronous invalidation, and following other replicas."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from pdp.directory.schemas import (
    ClientCreate,
    CompanyCreate,
    GroupCreate,
    TenantCreate,
    TenantUpdate,
    UserCreate,
    UserUpdate,
)
from pdp.directory.snapshot import CompanyFacts, DirectorySnapshot, GroupFacts, TenantInfo
from pdp.directory.store import DirectoryStore


@pytest.fixture
def replica(database_url: str, store: DirectoryStore) -> Iterator[DirectoryStore]:
    """Another PDP replica's store on the same database."""
    directory = DirectoryStore(database_url)
    yield directory
    directory.close()


@pytest.fixture
def tenant(store: DirectoryStore) -> str:
    tenant_id = store.create_tenant(
        TenantCreate(name="acme", timezone="Europe/Warsaw", attributes={"plan": "pro"})
    ).id
    store.create_company(
        tenant_id, CompanyCreate(id="acme-corp", roles=["viewer"], attributes={"country": "PL"})
    )
    store.create_user(
        tenant_id,
        UserCreate(
            id="alice",
            email="alice@acme.test",
            company="acme-corp",
            roles=["auditor"],
            attributes={"department": "engineering"},
        ),
    )
    store.create_client(tenant_id, ClientCreate(id="svc", roles=["reporting-service"]))
    store.create_group(tenant_id, GroupCreate(id="ops", members=["alice", "svc"]))
    store.create_group(tenant_id, GroupCreate(id="eng", roles=["editor"], members=["alice"]))
    return tenant_id


def test_subject_facts(store: DirectoryStore, tenant: str) -> None:
    snapshot = DirectorySnapshot(store)
    alice = snapshot.subject("alice")
    assert alice is not None
    assert alice.type == "user"
    assert alice.email == "alice@acme.test"
    assert alice.groups == (GroupFacts("eng", ("editor",)), GroupFacts("ops", ()))
    assert alice.company == CompanyFacts("acme-corp", ("viewer",), {"country": "PL"})
    assert alice.to_input() == {
        "id": "alice",
        "type": "user",
        "tenant_id": tenant,
        "roles": ["auditor"],
        "groups": [{"id": "eng", "roles": ["editor"]}, {"id": "ops", "roles": []}],
        "company": {"id": "acme-corp", "roles": ["viewer"]},
        "attributes": {"department": "engineering"},
    }
    svc = snapshot.subject("svc")
    assert svc is not None
    assert svc.to_input()["company"] is None
    assert (svc.type, svc.roles, svc.email) == ("client", ("reporting-service",), None)
    assert snapshot.subject("nobody") is None
    assert snapshot.tenant(tenant) == TenantInfo(tenant, "acme", "Europe/Warsaw", {"plan": "pro"})
    assert sorted(s.id for s in snapshot.subjects(tenant)) == ["alice", "svc"]


def test_to_input_is_a_copy(store: DirectoryStore, tenant: str) -> None:
    snapshot = DirectorySnapshot(store)
    facts = snapshot.subject("alice")
    assert facts is not None
    document = facts.to_input()
    document["attributes"]["department"] = "sales"
    document["roles"].append("admin")
    assert facts.to_input()["attributes"] == {"department": "engineering"}
    assert facts.roles == ("auditor",)


def test_invalidate_reloads_synchronously(store: DirectoryStore, tenant: str) -> None:
    snapshot = DirectorySnapshot(store)
    store.update_user(tenant, "alice", UserUpdate(roles=["owner"]))
    assert snapshot.subject("alice").roles == ("auditor",)  # type: ignore[union-attr]
    snapshot.invalidate(tenant)
    assert snapshot.subject("alice").roles == ("owner",)  # type: ignore[union-attr]
    store.delete_user(tenant, "alice")
    store.update_tenant(tenant, TenantUpdate(timezone="UTC"))
    snapshot.invalidate()
    assert snapshot.subject("alice") is None
    assert snapshot.tenant(tenant).timezone == "UTC"  # type: ignore[union-attr]
    store.delete_tenant(tenant)
    snapshot.invalidate(tenant)
    assert snapshot.subject("svc") is None
    assert snapshot.tenant(tenant) is None


def test_refresh_follows_another_replica(
    store: DirectoryStore, replica: DirectoryStore, tenant: str
) -> None:
    snapshot = DirectorySnapshot(store)
    assert snapshot.refresh_if_changed() == []
    replica.update_user(tenant, "alice", UserUpdate(roles=["owner"]))
    other = replica.create_tenant(TenantCreate(name="globex")).id
    replica.create_user(other, UserCreate(id="bob"))
    assert snapshot.refresh_if_changed() == sorted([tenant, other])
    assert snapshot.subject("alice").roles == ("owner",)  # type: ignore[union-attr]
    assert snapshot.subject("bob").tenant_id == other  # type: ignore[union-attr]
    assert snapshot.refresh_if_changed() == []
    # A subject moving between tenants, and a tenant deleted elsewhere.
    replica.delete_user(other, "bob")
    replica.create_user(tenant, UserCreate(id="bob"))
    replica.delete_tenant(other)
    assert snapshot.refresh_if_changed() == sorted([tenant, other])
    assert snapshot.subject("bob").tenant_id == tenant  # type: ignore[union-attr]
    assert snapshot.tenant(other) is None
    assert snapshot.refresh_if_changed() == []


def test_readers_never_see_half_a_tenant(store: DirectoryStore, tenant: str) -> None:
    """While one thread swaps roles back and forth, readers see either version, never none."""
    snapshot = DirectorySnapshot(store)
    versions = [("a1", "a2"), ("b1", "b2")]
    seen: set[tuple[str, ...]] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            facts = snapshot.subject("alice")
            seen.add(facts.roles if facts else ())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(10):
            store.update_user(tenant, "alice", UserUpdate(roles=list(versions[n % 2])))
            snapshot.invalidate(tenant)
    finally:
        stop.set()
        reader.join()
    assert seen <= {("auditor",), *versions}

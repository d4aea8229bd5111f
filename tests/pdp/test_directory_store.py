"""DirectoryStore on SQLite and PostgreSQL: CRUD, pagination, uniqueness, cascades, revisions."""

from __future__ import annotations

import threading
import uuid

import pytest
from pydantic import ValidationError

from pdp.directory.schemas import (
    ClientCreate,
    ClientUpdate,
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
from pdp.directory.store import USER, DirectoryStore, normalize_database_url
from pdp.errors import Conflict, InvalidRequest, NotFound, Unprocessable


@pytest.fixture
def tenant(store: DirectoryStore) -> str:
    return store.create_tenant(TenantCreate(name="acme", timezone="Europe/Warsaw")).id


def test_normalize_database_url() -> None:
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///./var/pdp.db") == "sqlite:///./var/pdp.db"


def test_sqlite_parent_directory_is_created(tmp_path) -> None:
    DirectoryStore(f"sqlite:///{tmp_path}/nested/dir/pdp.db").close()
    assert (tmp_path / "nested" / "dir" / "pdp.db").exists()


def test_tenant_crud(store: DirectoryStore) -> None:
    tenant_id = str(uuid.uuid4())
    created = store.create_tenant(
        TenantCreate(id=tenant_id.upper(), name="acme", attributes={"tier": "gold"})
    )
    assert created.id == tenant_id
    assert created.timezone == "UTC"
    assert store.get_tenant(tenant_id) == created
    updated = store.update_tenant(tenant_id, TenantUpdate(timezone="America/New_York"))
    assert (updated.name, updated.timezone, updated.attributes) == (
        "acme",
        "America/New_York",
        {"tier": "gold"},
    )
    with pytest.raises(Conflict) as duplicate:
        store.create_tenant(TenantCreate(id=tenant_id, name="other"))
    assert duplicate.value.field == "id"
    with pytest.raises(Conflict) as name_taken:
        store.create_tenant(TenantCreate(name="acme"))
    assert name_taken.value.field == "name"
    store.delete_tenant(tenant_id)
    with pytest.raises(NotFound):
        store.get_tenant(tenant_id)
    with pytest.raises(NotFound):
        store.delete_tenant(tenant_id)
    with pytest.raises(InvalidRequest) as bad:
        store.get_tenant("not-a-uuid")
    assert bad.value.field == "tenant_id"


def test_schema_validation() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        TenantCreate(name="x", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="extra"):
        UserCreate(id="a", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        UserCreate(id="a/b")
    with pytest.raises(ValidationError, match="may not be null"):
        UserUpdate(roles=None)
    assert UserUpdate(company=None).changes() == {"company": None}
    assert UserCreate(id="a", roles=["b", "a", "b"]).roles == ["a", "b"]


def test_user_crud_with_roles_and_company(store: DirectoryStore, tenant: str) -> None:
    store.create_company(tenant, CompanyCreate(id="acme-corp", roles=["viewer"]))
    user = store.create_user(
        tenant,
        UserCreate(
            id="alice",
            email="alice@acme.test",
            company="acme-corp",
            roles=["editor", "auditor"],
            attributes={"department": "engineering", "levels": [1, 2]},
        ),
    )
    assert user.roles == ["auditor", "editor"]
    assert store.get_user(tenant, "alice") == user
    updated = store.update_user(tenant, "alice", UserUpdate(roles=["auditor", "owner"]))
    assert updated.roles == ["auditor", "owner"]
    assert updated.email == "alice@acme.test"  # PATCH leaves the rest alone
    cleared = store.update_user(tenant, "alice", UserUpdate(company=None, email=None))
    assert (cleared.company, cleared.email) == (None, None)
    with pytest.raises(Unprocessable) as missing:
        store.update_user(tenant, "alice", UserUpdate(company="nope"))
    assert missing.value.field == "company"
    bindings = store.list_role_bindings(tenant, subject_type="user", subject_id="alice")
    assert sorted(b.role for b in bindings.items) == ["auditor", "owner"]
    store.delete_user(tenant, "alice")
    with pytest.raises(NotFound):
        store.get_user(tenant, "alice")
    assert store.list_role_bindings(tenant, subject_type="user").items == []


def test_clients_groups_companies(store: DirectoryStore, tenant: str) -> None:
    store.create_user(tenant, UserCreate(id="alice"))
    client = store.create_client(tenant, ClientCreate(id="svc", roles=["reporting"]))
    assert client.roles == ["reporting"]
    assert store.update_client(tenant, "svc", ClientUpdate(attributes={"a": 1})).attributes == {
        "a": 1
    }
    group = store.create_group(tenant, GroupCreate(id="eng", roles=["editor"], members=["svc"]))
    assert group.members == ["svc"]
    group = store.update_group(tenant, "eng", GroupUpdate(members=["alice", "svc"]))
    assert group.members == ["alice", "svc"]
    with pytest.raises(Unprocessable) as bad_member:
        store.update_group(tenant, "eng", GroupUpdate(members=["ghost"]))
    assert bad_member.value.field == "members"
    company = store.create_company(tenant, CompanyCreate(id="c1", attributes={"size": 3}))
    assert store.update_company(tenant, "c1", CompanyUpdate(roles=["x"])).roles == ["x"]
    assert company.attributes == {"size": 3}
    # A user's id is not a client's: each kind only sees its own.
    with pytest.raises(NotFound):
        store.get_client(tenant, "alice")
    with pytest.raises(NotFound):
        store.get_user(tenant, "svc")
    assert [c.id for c in store.list_clients(tenant).items] == ["svc"]
    assert [g.id for g in store.list_groups(tenant).items] == ["eng"]
    assert [c.id for c in store.list_companies(tenant).items] == ["c1"]
    store.delete_group(tenant, "eng")
    store.delete_client(tenant, "svc")
    assert store.list_role_bindings(tenant).items == [
        b for b in store.list_role_bindings(tenant).items if b.subject_type == "company"
    ]


def test_subject_ids_are_unique_across_tenants_and_types(
    store: DirectoryStore, tenant: str
) -> None:
    other = store.create_tenant(TenantCreate(name="globex")).id
    store.create_user(tenant, UserCreate(id="alice"))
    with pytest.raises(Conflict, match="another tenant") as taken:
        store.create_user(other, UserCreate(id="alice"))
    assert taken.value.field == "id"
    with pytest.raises(Conflict):
        store.create_client(other, ClientCreate(id="alice"))
    with pytest.raises(Conflict):
        store.create_client(tenant, ClientCreate(id="alice"))
    # Group and company ids are per tenant.
    store.create_group(tenant, GroupCreate(id="eng"))
    store.create_group(other, GroupCreate(id="eng"))
    store.create_company(tenant, CompanyCreate(id="corp"))
    store.create_company(other, CompanyCreate(id="corp"))
    with pytest.raises(Conflict):
        store.create_group(tenant, GroupCreate(id="eng"))
    # A member must belong to the group's tenant.
    with pytest.raises(Unprocessable):
        store.add_member(other, "eng", "alice")
    with pytest.raises(NotFound):
        store.get_user(other, "alice")


def test_missing_tenant(store: DirectoryStore) -> None:
    ghost = str(uuid.uuid4())
    with pytest.raises(Unprocessable):
        store.create_user(ghost, UserCreate(id="alice"))
    with pytest.raises(NotFound):
        store.list_users(ghost)
    with pytest.raises(NotFound):
        store.get_group(ghost, "eng")


def test_members(store: DirectoryStore, tenant: str) -> None:
    store.create_user(tenant, UserCreate(id="alice"))
    store.create_client(tenant, ClientCreate(id="svc"))
    store.create_group(tenant, GroupCreate(id="eng"))
    assert store.add_member(tenant, "eng", "svc").subject_type == "client"
    store.add_member(tenant, "eng", "alice")
    with pytest.raises(Conflict):
        store.add_member(tenant, "eng", "alice")
    with pytest.raises(Unprocessable):
        store.add_member(tenant, "eng", "ghost")
    page = store.list_members(tenant, "eng", limit=1)
    assert [m.subject_id for m in page.items] == ["alice"]
    rest = store.list_members(tenant, "eng", limit=1, page_token=page.next_page_token)
    assert [(m.subject_id, m.subject_type) for m in rest.items] == [("svc", "client")]
    assert rest.next_page_token is None
    store.remove_member(tenant, "eng", "svc")
    with pytest.raises(NotFound):
        store.remove_member(tenant, "eng", "svc")
    store.delete_user(tenant, "alice")
    assert store.get_group(tenant, "eng").members == []


def test_role_bindings_resource_matches_roles_lists(store: DirectoryStore, tenant: str) -> None:
    store.create_user(tenant, UserCreate(id="alice", roles=["viewer"]))
    store.create_company(tenant, CompanyCreate(id="corp"))
    binding = store.create_role_binding(
        tenant, RoleBindingCreate(subject_type="user", subject_id="alice", role="editor")
    )
    assert store.get_user(tenant, "alice").roles == ["editor", "viewer"]
    with pytest.raises(Conflict):
        store.create_role_binding(
            tenant, RoleBindingCreate(subject_type="user", subject_id="alice", role="editor")
        )
    with pytest.raises(Unprocessable) as wrong_type:
        store.create_role_binding(
            tenant, RoleBindingCreate(subject_type="client", subject_id="alice", role="x")
        )
    assert wrong_type.value.field == "subject_id"
    store.create_role_binding(
        tenant, RoleBindingCreate(subject_type="company", subject_id="corp", role="viewer")
    )
    viewers = store.list_role_bindings(tenant, role="viewer").items
    assert sorted((b.subject_type, b.subject_id) for b in viewers) == [
        ("company", "corp"),
        ("user", "alice"),
    ]
    # Replacing the roles list keeps the bindings that stay, ids included.
    store.update_user(tenant, "alice", UserUpdate(roles=["editor"]))
    (kept,) = store.list_role_bindings(tenant, subject_id="alice").items
    assert kept.id == binding.id
    store.delete_role_binding(tenant, binding.id)
    assert store.get_user(tenant, "alice").roles == []
    with pytest.raises(NotFound):
        store.delete_role_binding(tenant, binding.id)


def test_delete_company_detaches_users(store: DirectoryStore, tenant: str) -> None:
    store.create_company(tenant, CompanyCreate(id="corp", roles=["viewer"]))
    store.create_user(tenant, UserCreate(id="alice", company="corp"))
    store.delete_company(tenant, "corp")
    assert store.get_user(tenant, "alice").company is None
    assert store.list_role_bindings(tenant).items == []


def test_delete_tenant_cascades(store: DirectoryStore, tenant: str) -> None:
    store.create_company(tenant, CompanyCreate(id="corp", roles=["viewer"]))
    store.create_user(tenant, UserCreate(id="alice", company="corp", roles=["a"]))
    store.create_group(tenant, GroupCreate(id="eng", roles=["b"], members=["alice"]))
    store.delete_tenant(tenant)
    assert store.load_tenant(tenant) is None
    # The subject id is free again, in any tenant.
    other = store.create_tenant(TenantCreate(name="globex")).id
    assert store.create_user(other, UserCreate(id="alice")).roles == []


def test_pagination_is_stable_under_writes(store: DirectoryStore, tenant: str) -> None:
    for n in range(25):
        store.create_user(tenant, UserCreate(id=f"user-{n:02d}"))
    seen: list[str] = []
    token = None
    while True:
        page = store.list_users(tenant, limit=7, page_token=token)
        seen += [u.id for u in page.items]
        if len(seen) == 7:
            # Writes behind and ahead of the cursor neither repeat nor skip the rest.
            store.delete_user(tenant, "user-00")
            store.create_user(tenant, UserCreate(id="user-99"))
        token = page.next_page_token
        if token is None:
            break
    assert seen == [f"user-{n:02d}" for n in range(25)] + ["user-99"]
    with pytest.raises(InvalidRequest) as bad_token:
        store.list_users(tenant, page_token="garbage!")
    assert bad_token.value.field == "page_token"
    with pytest.raises(InvalidRequest) as bad_limit:
        store.list_users(tenant, limit=0)
    assert bad_limit.value.field == "limit"
    tenants = store.list_tenants(limit=1000)
    assert [t.id for t in tenants.items] == [tenant]


def test_role_binding_pagination(store: DirectoryStore, tenant: str) -> None:
    store.create_user(tenant, UserCreate(id="alice", roles=[f"r{n}" for n in range(5)]))
    store.create_client(tenant, ClientCreate(id="svc", roles=["r0", "r1"]))
    seen = []
    token = None
    while True:
        page = store.list_role_bindings(tenant, limit=2, page_token=token)
        seen += [(b.subject_type, b.subject_id, b.role) for b in page.items]
        token = page.next_page_token
        if token is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == 7


def test_failed_write_leaves_nothing_behind(store: DirectoryStore, tenant: str) -> None:
    before = store.revisions()
    with pytest.raises(Unprocessable):
        # The group's bindings would be written before its members are checked.
        store.create_group(tenant, GroupCreate(id="eng", roles=["x"], members=["ghost"]))
    assert store.list_groups(tenant).items == []
    assert store.list_role_bindings(tenant).items == []
    assert store.revisions() == before
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.create_object(USER, tenant, UserCreate(id="alice", roles=["a"]))
        tx.create_object(USER, tenant, UserCreate(id="alice"))
    assert store.list_users(tenant).items == []
    assert store.revisions() == before


def test_revisions_bump_once_per_write(store: DirectoryStore, tenant: str) -> None:
    other = store.create_tenant(TenantCreate(name="globex")).id
    start = store.revisions()
    store.create_user(tenant, UserCreate(id="alice", roles=["a", "b"]))
    after = store.revisions()
    assert after[tenant] == start[tenant] + 1
    assert after[other] == start[other]
    store.delete_tenant(tenant)
    # A deleted tenant keeps counting, so a replica notices it is gone.
    assert store.revisions()[tenant] == after[tenant] + 1


def test_second_store_sees_the_same_database(database_url: str, store: DirectoryStore) -> None:
    tenant_id = store.create_tenant(TenantCreate(name="acme")).id
    replica = DirectoryStore(database_url)
    try:
        replica.create_user(tenant_id, UserCreate(id="alice"))
        state = store.load_tenant(tenant_id)
        assert state is not None
        assert [u.id for u in state.users] == ["alice"]
        assert state.revision == replica.revisions()[tenant_id]
    finally:
        replica.close()


def test_concurrent_writers_from_two_replicas(
    database_url: str, store: DirectoryStore, tenant: str
) -> None:
    """Writers on two stores never lose an update of the shared revision counter."""
    replica = DirectoryStore(database_url)
    start = store.revisions()[tenant]
    errors: list[BaseException] = []

    def write(directory: DirectoryStore, prefix: str) -> None:
        try:
            for n in range(10):
                directory.create_user(tenant, UserCreate(id=f"{prefix}-{n}"))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(directory, prefix))
        for directory, prefix in ((store, "a"), (replica, "b"), (store, "c"))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        replica.close()
    assert errors == []
    assert len(store.list_users(tenant).items) == 30
    assert store.revisions()[tenant] == start + 30


def test_driver_errors_do_not_quote_row_values(store: DirectoryStore) -> None:
    """Errors reach logs; the values in the failing statement (attributes, inputs) must not."""
    import sqlalchemy as sa

    with pytest.raises(sa.exc.SQLAlchemyError) as caught, store.engine.connect() as conn:
        conn.execute(sa.text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "s3cret-value"})
    assert "s3cret-value" not in str(caught.value)

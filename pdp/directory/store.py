"""DirectoryStore: the directory's tables on SQLite or PostgreSQL.

Every write runs in one transaction that also bumps the tenant's row in `directory_revisions`,
so replicas sharing the database notice the change by polling `revisions()`. Users, clients,
groups and companies share one generic implementation driven by a `Kind`; the typed methods
(`create_user`, ...) are thin entry points to it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, create_engine, delete, event, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from pdp.directory.models import (
    Company,
    CompanyIdentityProvider,
    DirectoryChange,
    DirectoryRevision,
    Group,
    GroupMember,
    RoleBinding,
    Subject,
    Tenant,
)
from pdp.directory.rows import DirectoryReader
from pdp.directory.schemas import (
    ClientCreate,
    ClientRead,
    ClientUpdate,
    CompanyCreate,
    CompanyRead,
    CompanyUpdate,
    GroupCreate,
    GroupRead,
    GroupUpdate,
    IdentityProviderRef,
    MemberRead,
    Page,
    RoleBindingCreate,
    RoleBindingRead,
    TenantCreate,
    TenantRead,
    TenantUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
    text_problem,
)
from pdp.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PDPError,
    StoreUnavailable,
    Unprocessable,
)

DEFAULT_PAGE_SIZE = 100
# Connect, statement, pool-wait and lock-wait bound of every call (PDP_DATABASE_TIMEOUT_SECONDS).
DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_PAGE_SIZE = 1000
_TABLES = [
    model.__table__  # type: ignore[attr-defined]
    for model in (
        Tenant,
        Company,
        CompanyIdentityProvider,
        Subject,
        Group,
        GroupMember,
        RoleBinding,
        DirectoryRevision,
        DirectoryChange,
    )
]
# A write touching more subjects than this logs "reload the whole tenant" instead of each one.
MAX_LOGGED_SUBJECTS = 5000
# Revisions of change log kept per tenant; a replica further behind reloads the whole tenant.
CHANGE_LOG_REVISIONS = 1000
# Serializes schema creation when several replicas start at once on a fresh PostgreSQL.
_SCHEMA_LOCK_KEY = 0x5D1D12EC7

ReadT = TypeVar("ReadT", bound=BaseModel)
ObjectRow = Subject | Group | Company


@dataclass(frozen=True)
class Kind(Generic[ReadT]):
    """What differs between users, clients, groups and companies, and nothing more."""

    name: str  # also the `subject_type` of its role bindings
    model: type[ObjectRow]
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[ReadT]
    fields: tuple[str, ...]  # scalar columns, named as in the request and response models
    has_members: bool = False

    @property
    def is_subject(self) -> bool:
        return self.model is Subject


USER = Kind("user", Subject, UserCreate, UserUpdate, UserRead, ("email", "company", "attributes"))
CLIENT = Kind("client", Subject, ClientCreate, ClientUpdate, ClientRead, ("attributes",))
GROUP = Kind("group", Group, GroupCreate, GroupUpdate, GroupRead, (), has_members=True)
COMPANY = Kind("company", Company, CompanyCreate, CompanyUpdate, CompanyRead, ("attributes",))
KINDS: dict[str, Kind[Any]] = {kind.name: kind for kind in (USER, CLIENT, GROUP, COMPANY)}


@dataclass(frozen=True)
class TenantState:
    """Everything the directory holds about one tenant, read in one consistent transaction."""

    tenant: TenantRead
    revision: int
    users: tuple[UserRead, ...]
    clients: tuple[ClientRead, ...]
    groups: tuple[GroupRead, ...]
    companies: tuple[CompanyRead, ...]


def normalize_database_url(url: str) -> str:
    """Accept the usual PostgreSQL spellings and always drive them with psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def canonical_tenant_id(tenant_id: str) -> str:
    try:
        return str(uuid.UUID(str(tenant_id)))
    except ValueError:
        raise InvalidRequest(f"tenant id {tenant_id!r} is not a UUID", field="tenant_id") from None


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level, so `_sqlite_on_begin` alone decides where a transaction
    # starts (pysqlite would otherwise start it lazily, after the reads of a read-modify-write).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA foreign_keys=ON",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Writers take the write lock up front: two deferred writers could otherwise deadlock
    # upgrading their read locks, and one would fail with "database is locked".
    immediate = connection.get_execution_options().get("directory_write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _postgres_connect_args(url: URL, timeout: float) -> dict[str, Any]:
    """Bound every call: the connection attempt, each statement and lock wait (server side),
    and a peer that stops acknowledging (keepalives, TCP user timeout) on a dead network.

    Settings already in the URL win; its `options` are kept and extended.
    """
    millis = max(1, int(timeout * 1000))
    options = " ".join(
        part
        for part in (
            url.query.get("options"),
            f"-c statement_timeout={millis}",
            f"-c lock_timeout={millis}",
        )
        if part
    )
    defaults = {
        "connect_timeout": max(2, round(timeout)),
        "keepalives": 1,
        "keepalives_idle": max(1, round(timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": millis,
    }
    return {**defaults, **{k: v for k, v in url.query.items() if k in defaults}, "options": options}


def _create_engine(database_url: str, timeout: float) -> Engine:
    url = make_url(normalize_database_url(database_url))
    # hide_parameters: driver errors must not quote rows (decision inputs, attributes) into logs.
    if url.get_backend_name() != "sqlite":
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_timeout=timeout,
            connect_args=_postgres_connect_args(url, timeout),
            hide_parameters=True,
        )
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    # `timeout` is SQLite's busy timeout: how long a statement waits for another writer's lock.
    engine = create_engine(
        url,
        pool_timeout=timeout,
        connect_args={"check_same_thread": False, "timeout": timeout},
        hide_parameters=True,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _encode_token(key: Sequence[str]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, width: int) -> list[str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if (
        not isinstance(key, list)
        or len(key) != width
        or not all(isinstance(k, str) and text_problem(k) is None for k in key)
    ):
        raise InvalidRequest("page_token is not a token this API returned", field="page_token")
    return key


def _paginate(
    session: Session,
    stmt: Select[Any],
    key_columns: Sequence[Any],
    key_of: Callable[[Any], Sequence[str]],
    limit: int,
    page_token: str | None,
) -> tuple[list[Any], str | None]:
    """Keyset pagination: stable under concurrent inserts and deletes, unlike offsets."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit")
    if page_token:
        after = _decode_token(page_token, len(key_columns))
        stmt = stmt.where(tuple_(*key_columns) > tuple_(*after))
    rows = list(session.execute(stmt.order_by(*key_columns).limit(limit + 1)).scalars())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, _encode_token(key_of(rows[-1]))


def _tenant_read(row: Tenant) -> TenantRead:
    return TenantRead(id=row.id, name=row.name, timezone=row.timezone, attributes=row.attributes)


def _rows_of(kind: Kind[Any], tenant_id: str) -> Select[Any]:
    stmt = select(kind.model).where(kind.model.tenant_id == tenant_id)
    if kind.is_subject:
        stmt = stmt.where(Subject.type == kind.name)
    return stmt


def _assemble(
    session: Session,
    kind: Kind[ReadT],
    tenant_id: str,
    rows: Sequence[ObjectRow],
    *,
    whole_tenant: bool = False,
) -> list[ReadT]:
    """Build read models for `rows` with two bulk queries (roles, members), never one per row."""
    ids = [row.id for row in rows]
    roles: dict[str, list[str]] = defaultdict(list)
    stmt = select(RoleBinding.subject_id, RoleBinding.role).where(
        RoleBinding.tenant_id == tenant_id, RoleBinding.subject_type == kind.name
    )
    if not whole_tenant:
        stmt = stmt.where(RoleBinding.subject_id.in_(ids))  # type: ignore[attr-defined]
    for subject_id, role in session.execute(stmt):
        roles[subject_id].append(role)
    members: dict[str, list[str]] = defaultdict(list)
    if kind.has_members:
        member_stmt = select(GroupMember.group_id, GroupMember.subject_id).where(
            GroupMember.tenant_id == tenant_id
        )
        if not whole_tenant:
            member_stmt = member_stmt.where(GroupMember.group_id.in_(ids))  # type: ignore[attr-defined]
        for group_id, subject_id in session.execute(member_stmt):
            members[group_id].append(subject_id)
    providers = (
        _identity_providers(session, tenant_id, None if whole_tenant else ids)
        if kind is COMPANY
        else {}
    )
    reads = []
    for row in rows:
        values: dict[str, Any] = {field: getattr(row, field) for field in kind.fields}
        if kind.has_members:
            values["members"] = sorted(members[row.id])
        if kind is COMPANY:
            values["identity_providers"] = providers.get(row.id, [])
        reads.append(
            kind.read(id=row.id, tenant_id=row.tenant_id, roles=sorted(roles[row.id]), **values)
        )
    return reads


def _identity_providers(
    session: Session, tenant_id: str, company_ids: Sequence[str] | None
) -> dict[str, list[IdentityProviderRef]]:
    """The identity providers of the tenant's companies (or of those named), by company."""
    stmt = select(CompanyIdentityProvider).where(CompanyIdentityProvider.tenant_id == tenant_id)
    if company_ids is not None:
        stmt = stmt.where(CompanyIdentityProvider.company_id.in_(company_ids))  # type: ignore[attr-defined]
    found: dict[str, list[IdentityProviderRef]] = defaultdict(list)
    for row in session.execute(stmt).scalars():
        found[row.company_id].append(IdentityProviderRef(issuer=row.issuer, provider=row.provider))
    return {company: sorted(refs, key=lambda ref: ref.key) for company, refs in found.items()}


class DirectoryTransaction:
    """The write operations, inside one open transaction (see `DirectoryStore.transaction`).

    Records which tenants it changed, so the store bumps exactly those revisions on commit.
    The store's reads use its lookups too, on a read-only session.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        # tenant -> the users and clients whose facts may have changed; None: all of them.
        self._changes: dict[str, set[str] | None] = {}

    def connection(self) -> Connection:
        """The transaction's connection, for set-based statements (the directory file)."""
        return self._session.connection()

    @property
    def changed_tenants(self) -> set[str]:
        return set(self._changes)

    def note(self, tenant_id: str, subject_ids: Iterable[str] = ()) -> None:
        """Record that the tenant changed, and which of its subjects' facts did."""
        listed = self._changes.setdefault(tenant_id, set())
        if listed is not None:
            listed.update(subject_ids)

    def note_all(self, tenant_id: str) -> None:
        self._changes[tenant_id] = None

    def affected_subjects(self, kind: Kind[Any], tenant_id: str, object_id: str) -> list[str]:
        """The users and clients whose facts include this object: itself, a group's members,
        a company's users."""
        if kind.is_subject:
            return [object_id]
        if kind is GROUP:
            stmt = select(GroupMember.subject_id).where(
                GroupMember.tenant_id == tenant_id, GroupMember.group_id == object_id
            )
        else:
            stmt = select(Subject.id).where(
                Subject.tenant_id == tenant_id, Subject.company == object_id
            )
        return list(self._session.execute(stmt).scalars())

    # -- tenants ---------------------------------------------------------------------------

    def get_tenant(self, tenant_id: str) -> TenantRead:
        return _tenant_read(self._tenant_row(tenant_id))

    def create_tenant(self, data: TenantCreate) -> TenantRead:
        tenant_id = data.id or str(uuid.uuid4())
        if self._session.get(Tenant, tenant_id) is not None:
            raise Conflict(f"tenant {tenant_id} already exists", field="id")
        self._check_tenant_name(data.name, tenant_id)
        row = Tenant(
            id=tenant_id, name=data.name, timezone=data.timezone, attributes=data.attributes
        )
        self._session.add(row)
        self._session.flush()
        self.note_all(tenant_id)
        return _tenant_read(row)

    def update_tenant(self, tenant_id: str, data: TenantUpdate) -> TenantRead:
        row = self._tenant_row(tenant_id)
        changes = data.changes()
        if "name" in changes:
            self._check_tenant_name(changes["name"], row.id)
        for field, value in changes.items():
            setattr(row, field, value)
        self._session.flush()
        self.note(row.id)
        return _tenant_read(row)

    def delete_tenant(self, tenant_id: str) -> None:
        """Deletes the tenant and, through ON DELETE CASCADE, everything in it."""
        row = self._tenant_row(tenant_id)
        self._session.execute(delete(Tenant).where(Tenant.id == row.id))
        self._session.expunge_all()
        self.note_all(row.id)

    # -- users, clients, groups, companies -------------------------------------------------

    def get_object(self, kind: Kind[ReadT], tenant_id: str, object_id: str) -> ReadT:
        tenant = self._tenant_row(tenant_id).id
        row = self._object_row(kind, tenant, object_id)
        return _assemble(self._session, kind, tenant, [row])[0]

    def create_object(self, kind: Kind[ReadT], tenant_id: str, data: BaseModel) -> ReadT:
        tenant = self._tenant_row(tenant_id, missing=Unprocessable).id
        object_id: str = data.id  # type: ignore[attr-defined]
        self._check_new_id(kind, tenant, object_id)
        values = {field: getattr(data, field) for field in kind.fields}
        members = getattr(data, "members", None)
        self._check_references(tenant, values.get("company"), members)
        extra = {"type": kind.name} if kind.is_subject else {}
        self._session.add(kind.model(id=object_id, tenant_id=tenant, **values, **extra))
        self._session.flush()
        self._set_roles(kind, tenant, object_id, data.roles)  # type: ignore[attr-defined]
        if members is not None:
            self._set_members(tenant, object_id, members)
        if kind is COMPANY:
            self._set_identity_providers(tenant, object_id, data.identity_providers)  # type: ignore[attr-defined]
        self.note(tenant, self.affected_subjects(kind, tenant, object_id))
        return self.get_object(kind, tenant, object_id)

    def update_object(
        self, kind: Kind[ReadT], tenant_id: str, object_id: str, data: BaseModel
    ) -> ReadT:
        """PATCH: only the fields set in `data` change. `roles` and `members` are set to the
        lists given: the bindings (and their ids) of roles that stay are kept."""
        tenant = self._tenant_row(tenant_id).id
        row = self._object_row(kind, tenant, object_id)
        changes = data.model_dump(exclude_unset=True)
        self._check_references(tenant, changes.get("company"), changes.get("members"))
        self.note(tenant, self.affected_subjects(kind, tenant, object_id))
        for field in kind.fields:
            if field in changes:
                setattr(row, field, changes[field])
        self._session.flush()
        if "roles" in changes:
            self._set_roles(kind, tenant, object_id, changes["roles"])
        if "members" in changes:
            self._set_members(tenant, object_id, changes["members"])
            self.note(tenant, changes["members"])
        if "identity_providers" in changes:
            self._set_identity_providers(tenant, object_id, data.identity_providers)  # type: ignore[attr-defined]
        return self.get_object(kind, tenant, object_id)

    def delete_object(self, kind: Kind[Any], tenant_id: str, object_id: str) -> None:
        """Deletes the object with its role bindings and memberships; a deleted company's
        users are detached from it (they keep existing, without the company's roles)."""
        tenant = self._tenant_row(tenant_id).id
        self._object_row(kind, tenant, object_id)
        self.note(tenant, self.affected_subjects(kind, tenant, object_id))
        session = self._session
        if kind is COMPANY:
            session.execute(
                update(Subject)
                .where(Subject.tenant_id == tenant, Subject.company == object_id)
                .values(company=None)
            )
        session.execute(
            delete(RoleBinding).where(
                RoleBinding.tenant_id == tenant,
                RoleBinding.subject_type == kind.name,
                RoleBinding.subject_id == object_id,
            )
        )
        stmt = delete(kind.model).where(kind.model.tenant_id == tenant, kind.model.id == object_id)
        session.execute(stmt)
        session.expunge_all()

    # -- group members ---------------------------------------------------------------------

    def add_member(self, tenant_id: str, group_id: str, subject_id: str) -> MemberRead:
        tenant = self._tenant_row(tenant_id).id
        self._object_row(GROUP, tenant, group_id)
        subject = self._session.get(Subject, subject_id)
        if subject is None or subject.tenant_id != tenant:
            raise Unprocessable(
                f"no user or client {subject_id!r} in tenant {tenant}", field="subject_id"
            )
        if self._session.get(GroupMember, (tenant, group_id, subject_id)) is not None:
            raise Conflict(f"{subject_id!r} is already a member of group {group_id!r}")
        self._session.add(GroupMember(tenant_id=tenant, group_id=group_id, subject_id=subject_id))
        self._session.flush()
        self.note(tenant, [subject_id])
        return MemberRead(group_id=group_id, subject_id=subject_id, subject_type=subject.type)

    def remove_member(self, tenant_id: str, group_id: str, subject_id: str) -> None:
        tenant = self._tenant_row(tenant_id).id
        self._object_row(GROUP, tenant, group_id)
        member = self._session.get(GroupMember, (tenant, group_id, subject_id))
        if member is None:
            raise NotFound(f"{subject_id!r} is not a member of group {group_id!r}")
        self._session.delete(member)
        self._session.flush()
        self.note(tenant, [subject_id])

    # -- role bindings ---------------------------------------------------------------------

    def create_role_binding(self, tenant_id: str, data: RoleBindingCreate) -> RoleBindingRead:
        tenant = self._tenant_row(tenant_id, missing=Unprocessable).id
        try:
            self._object_row(KINDS[data.subject_type], tenant, data.subject_id)
        except NotFound as exc:
            raise Unprocessable(exc.message, field="subject_id") from None
        existing = self._session.execute(
            select(RoleBinding.id).where(
                RoleBinding.tenant_id == tenant,
                RoleBinding.subject_type == data.subject_type,
                RoleBinding.subject_id == data.subject_id,
                RoleBinding.role == data.role,
            )
        ).first()
        if existing is not None:
            raise Conflict(
                f"{data.subject_type} {data.subject_id!r} already has role {data.role!r}",
                field="role",
            )
        row = RoleBinding(id=str(uuid.uuid4()), tenant_id=tenant, **data.model_dump())
        self._session.add(row)
        self._session.flush()
        self.note(tenant, self.affected_subjects(KINDS[data.subject_type], tenant, data.subject_id))
        return RoleBindingRead.model_validate(row, from_attributes=True)

    def delete_role_binding(self, tenant_id: str, binding_id: str) -> None:
        tenant = self._tenant_row(tenant_id).id
        row = self._session.get(RoleBinding, binding_id)
        if row is None or row.tenant_id != tenant:
            raise NotFound(f"role binding {binding_id!r} not found in tenant {tenant}")
        self.note(tenant, self.affected_subjects(KINDS[row.subject_type], tenant, row.subject_id))
        self._session.delete(row)
        self._session.flush()

    def load_tenant(self, tenant_id: str) -> TenantState | None:
        tenant_id = canonical_tenant_id(tenant_id)
        session = self._session
        revision = session.get(DirectoryRevision, tenant_id)
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            return None

        def load(kind: Kind[ReadT]) -> tuple[ReadT, ...]:
            rows = session.execute(_rows_of(kind, tenant_id).order_by(kind.model.id)).scalars()
            return tuple(_assemble(session, kind, tenant_id, list(rows), whole_tenant=True))

        return TenantState(
            tenant=_tenant_read(tenant),
            revision=revision.revision if revision else 0,
            users=load(USER),
            clients=load(CLIENT),
            groups=load(GROUP),
            companies=load(COMPANY),
        )

    # -- helpers ---------------------------------------------------------------------------

    def _tenant_row(self, tenant_id: str, missing: type[PDPError] = NotFound) -> Tenant:
        canonical = canonical_tenant_id(tenant_id)
        row = self._session.get(Tenant, canonical)
        if row is None:
            raise missing(f"tenant {canonical} does not exist", field="tenant_id")
        return row

    def _check_tenant_name(self, name: str, tenant_id: str) -> None:
        owner = self._session.execute(select(Tenant.id).where(Tenant.name == name)).scalar()
        if owner is not None and owner != tenant_id:
            raise Conflict(f"tenant name {name!r} is taken", field="name")

    def _object_row(self, kind: Kind[Any], tenant_id: str, object_id: str) -> ObjectRow:
        key = object_id if kind.is_subject else (tenant_id, object_id)
        row = self._session.get(kind.model, key)
        if (
            row is None
            or row.tenant_id != tenant_id
            or getattr(row, "type", kind.name) != kind.name
        ):
            raise NotFound(f"{kind.name} {object_id!r} not found in tenant {tenant_id}")
        return row

    def _check_new_id(self, kind: Kind[Any], tenant_id: str, object_id: str) -> None:
        if kind.is_subject:
            existing = self._session.get(Subject, object_id)
            if existing is not None and existing.tenant_id != tenant_id:
                raise Conflict(f"subject id {object_id!r} is taken in another tenant", field="id")
            if existing is not None:
                raise Conflict(f"a {existing.type} {object_id!r} already exists", field="id")
        elif self._session.get(kind.model, (tenant_id, object_id)) is not None:
            raise Conflict(f"{kind.name} {object_id!r} already exists", field="id")

    def _check_references(
        self, tenant_id: str, company: str | None, members: list[str] | None
    ) -> None:
        if company is not None and self._session.get(Company, (tenant_id, company)) is None:
            raise Unprocessable(f"company {company!r} does not exist in tenant", field="company")
        if members:
            found = set(
                self._session.execute(
                    select(Subject.id).where(
                        Subject.tenant_id == tenant_id,
                        Subject.id.in_(members),  # type: ignore[attr-defined]
                    )
                ).scalars()
            )
            missing = sorted(set(members) - found)
            if missing:
                raise Unprocessable(
                    f"members are not users or clients of the tenant: {', '.join(missing)}",
                    field="members",
                )

    def _set_roles(
        self, kind: Kind[Any], tenant_id: str, subject_id: str, roles: list[str]
    ) -> None:
        """Make the bindings match `roles`, keeping the ids of the ones that stay."""
        where = (
            RoleBinding.tenant_id == tenant_id,
            RoleBinding.subject_type == kind.name,
            RoleBinding.subject_id == subject_id,
        )
        current = set(self._session.execute(select(RoleBinding.role).where(*where)).scalars())
        wanted = set(roles)
        if current - wanted:
            self._session.execute(
                delete(RoleBinding).where(*where, RoleBinding.role.in_(current - wanted))  # type: ignore[attr-defined]
            )
        for role in sorted(wanted - current):
            self._session.add(
                RoleBinding(
                    id=str(uuid.uuid4()),
                    tenant_id=tenant_id,
                    subject_type=kind.name,
                    subject_id=subject_id,
                    role=role,
                )
            )
        self._session.flush()

    def _set_members(self, tenant_id: str, group_id: str, members: list[str]) -> None:
        where = (GroupMember.tenant_id == tenant_id, GroupMember.group_id == group_id)
        current = set(self._session.execute(select(GroupMember.subject_id).where(*where)).scalars())
        wanted = set(members)
        if current - wanted:
            self._session.execute(
                delete(GroupMember).where(
                    *where,
                    GroupMember.subject_id.in_(current - wanted),  # type: ignore[attr-defined]
                )
            )
        for subject_id in sorted(wanted - current):
            self._session.add(
                GroupMember(tenant_id=tenant_id, group_id=group_id, subject_id=subject_id)
            )
        self._session.flush()

    def _set_identity_providers(
        self, tenant_id: str, company_id: str, refs: list[IdentityProviderRef]
    ) -> None:
        """Make the company's identity providers `refs`; one another company has is a 409."""
        session = self._session
        rows = session.execute(
            select(CompanyIdentityProvider).where(
                CompanyIdentityProvider.tenant_id == tenant_id,
                CompanyIdentityProvider.company_id == company_id,
            )
        ).scalars()
        current = {(row.issuer, row.provider): row for row in rows}
        wanted = {ref.key for ref in refs}
        for key in sorted(current.keys() - wanted):
            session.delete(current[key])
        session.flush()
        for index, ref in enumerate(refs):
            if ref.key in current:
                continue
            if session.get(CompanyIdentityProvider, ref.key) is not None:
                raise Conflict(
                    f"identity provider {ref.provider!r} of {ref.issuer} belongs to another company",
                    field=f"identity_providers[{index}]",
                )
            session.add(
                CompanyIdentityProvider(
                    issuer=ref.issuer,
                    provider=ref.provider,
                    tenant_id=tenant_id,
                    company_id=company_id,
                )
            )
        session.flush()

    def bump_revisions(self) -> None:
        """Bump the counter of every changed tenant (sorted, so concurrent writers never
        deadlock on each other's rows) and log what changed under the new revision."""
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for tenant_id in sorted(self._changes):
            stmt = insert(DirectoryRevision).values(tenant_id=tenant_id, revision=1)
            revision = self._session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["tenant_id"],
                    set_={"revision": DirectoryRevision.revision + 1},
                ).returning(DirectoryRevision.revision)
            ).scalar_one()
            self._log_change(tenant_id, revision, self._changes[tenant_id])

    def _log_change(self, tenant_id: str, revision: int, subjects: set[str] | None) -> None:
        if subjects is None or len(subjects) > MAX_LOGGED_SUBJECTS:
            rows = [{"scope": "all", "subject_id": ""}]
        elif subjects:
            rows = [{"scope": "subject", "subject_id": s} for s in sorted(subjects)]
        else:
            rows = [{"scope": "tenant", "subject_id": ""}]
        for row in rows:
            row.update(tenant_id=tenant_id, revision=revision)
        table = DirectoryChange.__table__  # type: ignore[attr-defined]
        self._session.execute(table.insert(), rows)
        self._session.execute(
            delete(DirectoryChange).where(
                DirectoryChange.tenant_id == tenant_id,
                DirectoryChange.revision <= revision - CHANGE_LOG_REVISIONS,
            )
        )


@contextmanager
def store_errors() -> Iterator[None]:
    """Map the driver's failures to the PDP's errors, so no engine internals reach a client:
    a value the database refuses is a 400, a database that does not answer in time a 503."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(
            "the change conflicts with the current directory (a concurrent write?)"
        ) from exc
    except DataError as exc:
        raise InvalidRequest("a value in the request cannot be stored") from exc
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        raise StoreUnavailable("the directory store did not answer in time") from exc


class DirectoryStore:
    """The directory's database. Thread-safe; every write is one transaction.

    Every call is bounded by `timeout` seconds (connect, statement, pool wait, SQLite lock
    wait). Each store has its own connection pool: open a second one on the same URL
    (`create_schema=False`) for work that must not queue behind another's.
    """

    def __init__(
        self,
        database_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        create_schema: bool = True,
    ) -> None:
        self._engine = _create_engine(database_url, timeout)
        self._write_engine = self._engine.execution_options(directory_write=True)
        is_postgres = self._engine.dialect.name == "postgresql"
        # A bulk load must see one consistent state even while other replicas write.
        self._load_engine = (
            self._engine.execution_options(isolation_level="REPEATABLE READ")
            if is_postgres
            else self._engine
        )
        if not create_schema:
            return
        with store_errors(), self._engine.begin() as connection:
            if is_postgres:
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK_KEY})")
            Tenant.metadata.create_all(connection, tables=_TABLES)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[DirectoryTransaction]:
        """One all-or-nothing write: commits (and bumps revisions) only if the block succeeds."""
        with (
            store_errors(),
            Session(self._write_engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            tx = DirectoryTransaction(session)
            yield tx
            tx.bump_revisions()

    @contextmanager
    def reader(self) -> Iterator[DirectoryReader]:
        """Bulk reads of one consistent state of the store, for the snapshot."""
        with store_errors(), self._load_engine.connect() as connection, connection.begin():
            yield DirectoryReader(connection)

    @contextmanager
    def _read(self, engine: Engine | None = None) -> Iterator[Session]:
        with store_errors(), Session(engine or self._engine) as session, session.begin():
            yield session

    # -- tenants ---------------------------------------------------------------------------

    def create_tenant(self, data: TenantCreate) -> TenantRead:
        with self.transaction() as tx:
            return tx.create_tenant(data)

    def get_tenant(self, tenant_id: str) -> TenantRead:
        with self._read() as session:
            return DirectoryTransaction(session).get_tenant(tenant_id)

    def list_tenants(
        self, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[TenantRead]:
        with self._read() as session:
            rows, token = _paginate(
                session, select(Tenant), [Tenant.id], lambda r: [r.id], limit, page_token
            )
            return Page[TenantRead](items=[_tenant_read(r) for r in rows], next_page_token=token)

    def update_tenant(self, tenant_id: str, data: TenantUpdate) -> TenantRead:
        with self.transaction() as tx:
            return tx.update_tenant(tenant_id, data)

    def delete_tenant(self, tenant_id: str) -> None:
        with self.transaction() as tx:
            tx.delete_tenant(tenant_id)

    # -- generic object operations (users, clients, groups, companies) -----------------------

    def create_object(self, kind: Kind[ReadT], tenant_id: str, data: BaseModel) -> ReadT:
        with self.transaction() as tx:
            return tx.create_object(kind, tenant_id, data)

    def get_object(self, kind: Kind[ReadT], tenant_id: str, object_id: str) -> ReadT:
        with self._read() as session:
            return DirectoryTransaction(session).get_object(kind, tenant_id, object_id)

    def list_objects(
        self,
        kind: Kind[ReadT],
        tenant_id: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[ReadT]:
        with self._read() as session:
            tenant = DirectoryTransaction(session).get_tenant(tenant_id).id
            rows, token = _paginate(
                session,
                _rows_of(kind, tenant),
                [kind.model.id],
                lambda r: [r.id],
                limit,
                page_token,
            )
            items = _assemble(session, kind, tenant, rows)
            return Page[kind.read](items=items, next_page_token=token)  # type: ignore[name-defined]

    def update_object(
        self, kind: Kind[ReadT], tenant_id: str, object_id: str, data: BaseModel
    ) -> ReadT:
        with self.transaction() as tx:
            return tx.update_object(kind, tenant_id, object_id, data)

    def delete_object(self, kind: Kind[Any], tenant_id: str, object_id: str) -> None:
        with self.transaction() as tx:
            tx.delete_object(kind, tenant_id, object_id)

    # -- typed entry points ----------------------------------------------------------------

    def create_user(self, tenant_id: str, data: UserCreate) -> UserRead:
        return self.create_object(USER, tenant_id, data)

    def get_user(self, tenant_id: str, user_id: str) -> UserRead:
        return self.get_object(USER, tenant_id, user_id)

    def list_users(
        self, tenant_id: str, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[UserRead]:
        return self.list_objects(USER, tenant_id, limit=limit, page_token=page_token)

    def update_user(self, tenant_id: str, user_id: str, data: UserUpdate) -> UserRead:
        return self.update_object(USER, tenant_id, user_id, data)

    def delete_user(self, tenant_id: str, user_id: str) -> None:
        self.delete_object(USER, tenant_id, user_id)

    def create_client(self, tenant_id: str, data: ClientCreate) -> ClientRead:
        return self.create_object(CLIENT, tenant_id, data)

    def get_client(self, tenant_id: str, client_id: str) -> ClientRead:
        return self.get_object(CLIENT, tenant_id, client_id)

    def list_clients(
        self, tenant_id: str, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[ClientRead]:
        return self.list_objects(CLIENT, tenant_id, limit=limit, page_token=page_token)

    def update_client(self, tenant_id: str, client_id: str, data: ClientUpdate) -> ClientRead:
        return self.update_object(CLIENT, tenant_id, client_id, data)

    def delete_client(self, tenant_id: str, client_id: str) -> None:
        self.delete_object(CLIENT, tenant_id, client_id)

    def create_group(self, tenant_id: str, data: GroupCreate) -> GroupRead:
        return self.create_object(GROUP, tenant_id, data)

    def get_group(self, tenant_id: str, group_id: str) -> GroupRead:
        return self.get_object(GROUP, tenant_id, group_id)

    def list_groups(
        self, tenant_id: str, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[GroupRead]:
        return self.list_objects(GROUP, tenant_id, limit=limit, page_token=page_token)

    def update_group(self, tenant_id: str, group_id: str, data: GroupUpdate) -> GroupRead:
        return self.update_object(GROUP, tenant_id, group_id, data)

    def delete_group(self, tenant_id: str, group_id: str) -> None:
        self.delete_object(GROUP, tenant_id, group_id)

    def create_company(self, tenant_id: str, data: CompanyCreate) -> CompanyRead:
        return self.create_object(COMPANY, tenant_id, data)

    def get_company(self, tenant_id: str, company_id: str) -> CompanyRead:
        return self.get_object(COMPANY, tenant_id, company_id)

    def list_companies(
        self, tenant_id: str, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[CompanyRead]:
        return self.list_objects(COMPANY, tenant_id, limit=limit, page_token=page_token)

    def update_company(self, tenant_id: str, company_id: str, data: CompanyUpdate) -> CompanyRead:
        return self.update_object(COMPANY, tenant_id, company_id, data)

    def delete_company(self, tenant_id: str, company_id: str) -> None:
        self.delete_object(COMPANY, tenant_id, company_id)

    # -- group members ---------------------------------------------------------------------

    def list_members(
        self,
        tenant_id: str,
        group_id: str,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[MemberRead]:
        with self._read() as session:
            tenant = DirectoryTransaction(session).get_object(GROUP, tenant_id, group_id).tenant_id
            stmt = (
                select(Subject)
                .join(
                    GroupMember,
                    (GroupMember.tenant_id == Subject.tenant_id)
                    & (GroupMember.subject_id == Subject.id),
                )
                .where(GroupMember.tenant_id == tenant, GroupMember.group_id == group_id)
            )
            rows, token = _paginate(
                session, stmt, [Subject.id], lambda r: [r.id], limit, page_token
            )
            items = [
                MemberRead(group_id=group_id, subject_id=r.id, subject_type=r.type) for r in rows
            ]
            return Page[MemberRead](items=items, next_page_token=token)

    def add_member(self, tenant_id: str, group_id: str, subject_id: str) -> MemberRead:
        with self.transaction() as tx:
            return tx.add_member(tenant_id, group_id, subject_id)

    def remove_member(self, tenant_id: str, group_id: str, subject_id: str) -> None:
        with self.transaction() as tx:
            tx.remove_member(tenant_id, group_id, subject_id)

    # -- role bindings ---------------------------------------------------------------------

    def list_role_bindings(
        self,
        tenant_id: str,
        *,
        subject_type: str | None = None,
        subject_id: str | None = None,
        role: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[RoleBindingRead]:
        with self._read() as session:
            tenant = DirectoryTransaction(session).get_tenant(tenant_id).id
            stmt = select(RoleBinding).where(RoleBinding.tenant_id == tenant)
            filters = {"subject_type": subject_type, "subject_id": subject_id, "role": role}
            for name, value in filters.items():
                if value is not None:
                    stmt = stmt.where(getattr(RoleBinding, name) == value)
            key = [RoleBinding.subject_type, RoleBinding.subject_id, RoleBinding.role]
            rows, token = _paginate(
                session,
                stmt,
                key,
                lambda r: [r.subject_type, r.subject_id, r.role],
                limit,
                page_token,
            )
            items = [RoleBindingRead.model_validate(r, from_attributes=True) for r in rows]
            return Page[RoleBindingRead](items=items, next_page_token=token)

    def create_role_binding(self, tenant_id: str, data: RoleBindingCreate) -> RoleBindingRead:
        with self.transaction() as tx:
            return tx.create_role_binding(tenant_id, data)

    def delete_role_binding(self, tenant_id: str, binding_id: str) -> None:
        with self.transaction() as tx:
            tx.delete_role_binding(tenant_id, binding_id)

    # -- bulk reads for the snapshot and the directory file ----------------------------------

    def revisions(self) -> dict[str, int]:
        """Change counters of every tenant ever written (deleted tenants keep theirs)."""
        with self._read() as session:
            rows = session.execute(select(DirectoryRevision.tenant_id, DirectoryRevision.revision))
            return {tenant_id: revision for tenant_id, revision in rows}

    def tenant_ids(self) -> list[str]:
        with self._read() as session:
            return list(session.execute(select(Tenant.id).order_by(Tenant.id)).scalars())

    def load_tenant(self, tenant_id: str) -> TenantState | None:
        """The whole tenant in one consistent read and a fixed number of queries."""
        with self._read(self._load_engine) as session:
            return DirectoryTransaction(session).load_tenant(tenant_id)

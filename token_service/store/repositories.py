"""Database access: the engine, transactions, and one query method per question the services ask."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, delete, event, func, inspect, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from token_service.errors import ConcurrentModification
from token_service.store.models import (
    AuthorizationCode,
    Base,
    Client,
    FederatedIdentity,
    FederationTrip,
    Group,
    HostedSession,
    IdentityProvider,
    Membership,
    OutboxMessage,
    Pool,
    RefreshToken,
    ResourceServer,
    RetiredRefreshToken,
    SignInFailures,
    SigningKey,
    TotpFactor,
    UsedNonce,
    User,
    VerificationCode,
)


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        # Plain postgresql:// URLs use psycopg 3, the driver this project ships with.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                url = "postgresql+psycopg://" + url[len(plain) :]
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: error messages (and so logs) never carry stored values.
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # WAL lets the CLI provision while the server reads; foreign keys are off by default.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # Transactions are begun explicitly below, not by the driver.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        # Take the write lock up front: a deferred transaction that read, then tries to
        # write after another writer committed, fails at once with "database is locked".
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Bring a database made by an earlier release up to the models, additively.

    New tables come from `create_all`; columns added to existing tables since are all
    nullable, so adding them changes no row's meaning (None is the old behaviour).
    """
    missing = []
    with engine.connect() as connection:
        existing = inspect(connection)
        tables = set(existing.get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name not in tables:
                continue
            present = {column["name"] for column in existing.get_columns(table.name)}
            missing += [(table.name, c) for c in table.columns if c.name not in present]
    if not missing:
        return
    with engine.begin() as connection:
        for table_name, column in missing:
            if not column.nullable:
                raise RuntimeError(f"column {table_name}.{column.name} must be nullable")
            kind = column.type.compile(dialect=engine.dialect)
            connection.exec_driver_sql(
                f'ALTER TABLE "{table_name}" ADD COLUMN "{column.name}" {kind}'
            )


class Store:
    """Owns the engine; hands out one `Repository` per transaction."""

    def __init__(self, database_url: str) -> None:
        self.engine = _make_engine(database_url)
        _add_missing_columns(self.engine)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Repository]:
        """Commit on success, roll back on any exception: an error changes nothing."""
        try:
            with self._sessions() as session, session.begin():
                yield Repository(session)
        except (IntegrityError, StaleDataError):
            raise ConcurrentModification("Conflicting concurrent change; retry.") from None

    def dispose(self) -> None:
        self.engine.dispose()


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: Base) -> None:
        self.session.add(row)
        self.session.flush()

    def delete(self, row: Base) -> None:
        self.session.delete(row)
        self.session.flush()

    # pools
    def pool(self, pool_id: str) -> Pool | None:
        return self.session.get(Pool, pool_id)

    def pools(self) -> Sequence[Pool]:
        return self.session.scalars(select(Pool).order_by(Pool.created_at)).all()

    def count_users(self, pool_id: str) -> int:
        query = select(func.count()).select_from(User).where(User.pool_id == pool_id)
        return int(self.session.scalar(query) or 0)

    def delete_pool(self, pool: Pool) -> None:
        """The pool and every row of it: rows of its users (tables keyed by `user_sub`
        only), then each table's rows with its `pool_id`, dependents first."""
        subs = select(User.sub).where(User.pool_id == pool.id).scalar_subquery()
        tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name != Pool.__tablename__]
        for table in tables:
            if "pool_id" not in table.c and "user_sub" in table.c:
                self.session.execute(delete(table).where(table.c.user_sub.in_(subs)))
        for table in tables:
            if "pool_id" in table.c:
                self.session.execute(delete(table).where(table.c.pool_id == pool.id))
        self.delete(pool)

    # clients and resource servers
    def client(self, client_id: str) -> Client | None:
        return self.session.get(Client, client_id)

    def clients(self, pool_id: str) -> Sequence[Client]:
        query = select(Client).where(Client.pool_id == pool_id).order_by(Client.created_at)
        return self.session.scalars(query).all()

    def resource_server(self, pool_id: str, identifier: str) -> ResourceServer | None:
        return self.session.get(ResourceServer, (pool_id, identifier))

    def resource_servers(self, pool_id: str) -> Sequence[ResourceServer]:
        query = select(ResourceServer).where(ResourceServer.pool_id == pool_id)
        return self.session.scalars(query.order_by(ResourceServer.identifier)).all()

    def delete_client(self, client: Client) -> None:
        """The client and the sign-ins made through it."""
        for table in (RefreshToken, RetiredRefreshToken):
            self.session.execute(delete(table).where(table.client_id == client.id))
        self.delete(client)

    # users
    def user_by_username(self, pool_id: str, username: str) -> User | None:
        query = select(User).where(User.pool_id == pool_id, User.username_key == username.lower())
        return self.session.scalars(query).first()

    def user_by_sub(self, sub: str) -> User | None:
        return self.session.get(User, sub)

    def users(self, pool_id: str) -> Sequence[User]:
        query = select(User).where(User.pool_id == pool_id).order_by(User.username_key)
        return self.session.scalars(query).all()

    def delete_user(self, user: User) -> None:
        owned = (
            Membership,
            RefreshToken,
            TotpFactor,
            VerificationCode,
            HostedSession,
            FederatedIdentity,
        )
        for table in (*owned, AuthorizationCode, RetiredRefreshToken):
            self.session.execute(delete(table).where(table.user_sub == user.sub))
        self.delete(user)

    def users_with_email(self, pool_id: str, email: str) -> Sequence[User]:
        """Users whose `email` attribute equals `email`, ignoring case (linking by email)."""
        column = func.lower(User.attributes["email"].as_string())
        query = select(User).where(User.pool_id == pool_id, column == email.lower())
        return self.session.scalars(query.order_by(User.created_at)).all()

    # identity providers and the partner identities linked to users
    def identity_provider(self, pool_id: str, name: str) -> IdentityProvider | None:
        return self.session.get(IdentityProvider, (pool_id, name))

    def identity_providers(self, pool_id: str) -> Sequence[IdentityProvider]:
        query = select(IdentityProvider).where(IdentityProvider.pool_id == pool_id)
        return self.session.scalars(query.order_by(IdentityProvider.created_at)).all()

    def delete_identity_provider(self, provider: IdentityProvider) -> None:
        """The provider and its links; the users it created stay (they sign in through it no more)."""
        self.session.execute(
            delete(FederatedIdentity).where(
                FederatedIdentity.pool_id == provider.pool_id,
                FederatedIdentity.provider_name == provider.name,
            )
        )
        self.delete(provider)

    def federated_identity(
        self, pool_id: str, provider_name: str, subject: str, *, lock: bool = False
    ) -> FederatedIdentity | None:
        return self.session.get(
            FederatedIdentity,
            (pool_id, provider_name, subject),
            with_for_update=lock,
            populate_existing=lock,
        )

    def federated_identities_of(self, user_sub: str) -> Sequence[FederatedIdentity]:
        query = select(FederatedIdentity).where(FederatedIdentity.user_sub == user_sub)
        return self.session.scalars(query.order_by(FederatedIdentity.created_at)).all()

    def provider_identities(self, pool_id: str, provider_name: str) -> Sequence[FederatedIdentity]:
        """Every partner identity of one provider (its users' `identities` follow its deletion)."""
        query = select(FederatedIdentity).where(
            FederatedIdentity.pool_id == pool_id, FederatedIdentity.provider_name == provider_name
        )
        return self.session.scalars(query).all()

    # groups
    def group(self, pool_id: str, name: str) -> Group | None:
        return self.session.get(Group, (pool_id, name))

    def groups(self, pool_id: str) -> Sequence[Group]:
        query = select(Group).where(Group.pool_id == pool_id).order_by(Group.name)
        return self.session.scalars(query).all()

    def membership(self, pool_id: str, group: str, sub: str) -> Membership | None:
        return self.session.get(Membership, (pool_id, group, sub))

    def members(self, group: Group) -> Sequence[User]:
        """The group's users, by username."""
        query = (
            select(User)
            .join(Membership, Membership.user_sub == User.sub)
            .where(Membership.pool_id == group.pool_id, Membership.group_name == group.name)
        )
        return self.session.scalars(query.order_by(User.username_key)).all()

    def delete_group(self, group: Group) -> None:
        """The group and its memberships."""
        self.session.execute(
            delete(Membership).where(
                Membership.pool_id == group.pool_id, Membership.group_name == group.name
            )
        )
        self.delete(group)

    def groups_of(self, user: User) -> Sequence[Group]:
        """The user's groups, by precedence (lowest first, as Cognito orders cognito:groups)."""
        query = (
            select(Group)
            .join(
                Membership,
                (Membership.pool_id == Group.pool_id) & (Membership.group_name == Group.name),
            )
            .where(Membership.user_sub == user.sub)
        )
        groups = self.session.scalars(query).all()
        return sorted(groups, key=lambda g: (g.precedence is None, g.precedence or 0, g.name))

    # signing keys
    def signing_key(self, pool_id: str, kid: str) -> SigningKey | None:
        key = self.session.get(SigningKey, kid)
        return key if key is not None and key.pool_id == pool_id else None

    def active_key(self, pool_id: str) -> SigningKey | None:
        query = select(SigningKey).where(SigningKey.pool_id == pool_id, SigningKey.active)
        return self.session.scalars(query).first()

    def published_keys(self, pool_id: str, now: float) -> Sequence[SigningKey]:
        """Keys whose signatures may still be valid: the signer and those not yet retired."""
        query = select(SigningKey).where(
            SigningKey.pool_id == pool_id,
            or_(SigningKey.retire_after.is_(None), SigningKey.retire_after > now),
        )
        return self.session.scalars(query.order_by(SigningKey.created_at.desc())).all()

    def keys(self, pool_id: str) -> Sequence[SigningKey]:
        query = select(SigningKey).where(SigningKey.pool_id == pool_id)
        return self.session.scalars(query.order_by(SigningKey.created_at)).all()

    # refresh tokens (one row per sign-in)
    def refresh_token(self, token_hash: str, *, lock: bool = False) -> RefreshToken | None:
        """The sign-in of a refresh token; `lock` holds it until the transaction ends, so
        two refreshes of one sign-in (which rotation rewrites) run one after the other."""
        return self.session.get(
            RefreshToken, token_hash, with_for_update=lock, populate_existing=lock
        )

    def sign_in(self, origin_jti: str) -> RefreshToken | None:
        query = select(RefreshToken).where(RefreshToken.origin_jti == origin_jti)
        return self.session.scalars(query).first()

    def rotated_from(self, token_hash: str) -> RefreshToken | None:
        """The sign-in whose refresh token replaced this one at the last rotation."""
        query = select(RefreshToken).where(RefreshToken.previous_hash == token_hash)
        return self.session.scalars(query.with_for_update()).first()

    def retired_refresh_token(self, token_hash: str) -> RetiredRefreshToken | None:
        return self.session.get(RetiredRefreshToken, token_hash)

    def retire_refresh_token(self, session: RefreshToken, now: float) -> None:
        """Keep the hash of a rotated-out token until its sign-in ends; drop the ended ones."""
        self.session.execute(
            delete(RetiredRefreshToken).where(RetiredRefreshToken.expires_at <= now)
        )
        self.add(
            RetiredRefreshToken(
                token_hash=session.token_hash,
                origin_jti=session.origin_jti,
                pool_id=session.pool_id,
                client_id=session.client_id,
                user_sub=session.user_sub,
                expires_at=session.expires_at,
            )
        )

    def revoke_refresh_tokens(self, user_sub: str, now: float) -> None:
        """End every sign-in of the user: refresh tokens and hosted-login sessions alike."""
        self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_sub == user_sub, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        self.session.execute(
            update(HostedSession)
            .where(HostedSession.user_sub == user_sub, HostedSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # lockout
    def failures(self, pool_id: str, username: str) -> SignInFailures:
        """The username's failure count, row-locked until the transaction ends.

        The row is created first if missing (a no-op when another transaction holds it), so
        there is always a row to lock: concurrent sign-ins for one username run one after the
        other, each seeing the count and lock the previous one committed.
        """
        key = {"pool_id": pool_id, "username_key": username.lower()}
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        self.session.execute(
            insert(SignInFailures)
            .values(**key, count=0, locked_until=0.0)
            .on_conflict_do_nothing(index_elements=list(key))
        )
        failures = self.session.get(
            SignInFailures, tuple(key.values()), with_for_update=True, populate_existing=True
        )
        assert failures is not None
        return failures

    # single-use values
    def use_nonce(self, nonce: str, expires_at: float, now: float) -> bool:
        """Record `nonce` as used; False when it was used before (a replay).

        Expired entries are dropped on the way, so the table holds only live ones.
        """
        self.session.execute(delete(UsedNonce).where(UsedNonce.expires_at <= now))
        if self.session.get(UsedNonce, nonce) is not None:
            return False
        self.add(UsedNonce(nonce=nonce, expires_at=expires_at))
        return True

    def take_federation_trip(self, state_hash: str, now: float) -> FederationTrip | None:
        """The trip with this state, removed so it is used once; expired trips go on the way."""
        self.session.execute(delete(FederationTrip).where(FederationTrip.expires_at <= now))
        trip = self.session.get(FederationTrip, state_hash, with_for_update=True)
        if trip is not None:
            self.delete(trip)
        return trip

    # one-time codes and the outbox
    def verification_code(self, user_sub: str, purpose: str) -> VerificationCode | None:
        """The user's live code for `purpose`, row-locked so parallel guesses count one by one."""
        return self.session.get(
            VerificationCode, (user_sub, purpose), with_for_update=True, populate_existing=True
        )

    def outbox(
        self, pool_id: str | None, destination: str | None, limit: int
    ) -> Sequence[OutboxMessage]:
        """Messages, newest first, optionally of one pool and to one address."""
        query = select(OutboxMessage)
        if pool_id is not None:
            query = query.where(OutboxMessage.pool_id == pool_id)
        if destination is not None:
            query = query.where(func.lower(OutboxMessage.destination) == destination.lower())
        query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        return self.session.scalars(query.limit(limit)).all()

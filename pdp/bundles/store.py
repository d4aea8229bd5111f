"""The bundle store: published bundles with their history, and which revision is active.

Bundles are kept forever (an audit trail and the targets of rollbacks); `bundle_activations`
is append-only, and the active revision of a name is its newest activation. Each activation
remembers the one a rollback returns to, so successive rollbacks walk back through history
instead of toggling between the last two revisions.

Writes that read the current activation first are serialized (an advisory lock on
PostgreSQL, the write lock taken up front on SQLite), so two admins activating at once
cannot both build on the same predecessor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pdp.errors import Conflict, InvalidRequest, NotFound

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
NAME_MAX = 128
REVISION_MAX = 256
# Serializes schema creation and activations across replicas sharing one PostgreSQL.
_LOCK_KEY = 0xB0D1E5

metadata = sa.MetaData()
bundles_table = sa.Table(
    "bundles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False),
    sa.Column("revision", sa.String(REVISION_MAX), nullable=False),
    sa.Column("digest", sa.String(80), nullable=False),
    sa.Column("archive", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("published_by", sa.String(256), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("signature_status", sa.String(32), nullable=False),
    sa.Column("signature_key_id", sa.String(256)),
    sa.Column("manifest", sa.JSON, nullable=False),
    sa.UniqueConstraint("name", "revision", name="uq_bundles_name_revision"),
)
activations_table = sa.Table(
    "bundle_activations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False),
    sa.Column("revision", sa.String(REVISION_MAX), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # "activate" or "rollback"
    sa.Column("activated_by", sa.String(256), nullable=False),
    sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
    # The activation a rollback from this one restores (None: nothing to roll back to).
    sa.Column("previous_id", sa.Integer, sa.ForeignKey("bundle_activations.id")),
    sa.ForeignKeyConstraint(
        ["name", "revision"], ["bundles.name", "bundles.revision"], name="fk_activation_bundle"
    ),
    sa.Index("ix_bundle_activations_name_id", "name", "id"),
)
# Every column but the archive itself: listings never read megabytes of tarballs.
_RECORD_COLUMNS = [c for c in bundles_table.c if c.name != "archive"]


@dataclass(frozen=True)
class BundleRecord:
    """A published bundle as the admin API shows it (the archive bytes are fetched apart)."""

    name: str
    revision: str
    digest: str
    size: int
    published_by: str
    published_at: datetime
    signature_status: str
    signature_key_id: str | None
    manifest: dict[str, Any]
    active: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": self.revision,
            "digest": self.digest,
            "size": self.size,
            "published_by": self.published_by,
            "published_at": _iso(self.published_at),
            "signature": {"status": self.signature_status, "key_id": self.signature_key_id},
            "manifest": self.manifest,
            "active": self.active,
        }


@dataclass(frozen=True)
class Activation:
    """One entry of a name's activation history."""

    id: int
    name: str
    revision: str
    action: str
    activated_by: str
    activated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": self.revision,
            "action": self.action,
            "activated_by": self.activated_by,
            "activated_at": _iso(self.activated_at),
        }


@dataclass(frozen=True)
class ActiveBundle:
    """What a replica polls: the active revision of a name, identified down to its bytes."""

    activation_id: int
    revision: str
    digest: str


@dataclass(frozen=True)
class NewBundle:
    """A validated bundle ready to be stored."""

    name: str
    revision: str
    digest: str
    archive: bytes
    published_by: str
    signature_status: str
    signature_key_id: str | None
    manifest: dict[str, Any]


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat().replace("+00:00", "Z")


def _utc(moment: datetime) -> datetime:
    # SQLite forgets the zone; only UTC is ever written.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_name(name: str) -> str:
    """Bundle names travel in URLs (`/bundles/{name}`): a short, path-safe word."""
    if not 1 <= len(name) <= NAME_MAX or not all(c.isalnum() or c in "-_." for c in name):
        raise InvalidRequest(
            f"bundle name must be 1 to {NAME_MAX} letters, digits, '-', '_' or '.'", field="name"
        )
    return name


def _page_after(page_token: str | None, limit: int) -> int | None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit")
    if page_token is None or page_token == "":
        return None
    if not page_token.isdigit() or len(page_token) > 18:
        raise InvalidRequest("page_token is not a token this API returned", field="page_token")
    return int(page_token)


class BundleStore:
    """Bundle tables in the PDP database (SQLite or PostgreSQL); thread-safe.

    `engine` is the PDP store's engine (`DirectoryStore.engine`): on SQLite its
    `directory_write` execution option begins a transaction with the write lock held.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._write_engine = engine.execution_options(directory_write=True)
        with self._write() as conn:
            metadata.create_all(conn)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction serialized against every other bundle write, on every replica."""
        with self._write_engine.begin() as conn:
            if self._postgres:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield conn

    # -- bundles -----------------------------------------------------------------------------

    def add(self, bundle: NewBundle) -> tuple[BundleRecord, bool]:
        """Store `bundle`; (record, True) when new, (existing, False) for the same bytes again.

        The same (name, revision) with other bytes is a Conflict: a revision names one content.
        """
        with self._write() as conn:
            existing = self._find(conn, bundle.name, bundle.revision)
            if existing is None:
                conn.execute(
                    bundles_table.insert().values(
                        name=bundle.name,
                        revision=bundle.revision,
                        digest=bundle.digest,
                        archive=bundle.archive,
                        size=len(bundle.archive),
                        published_by=bundle.published_by,
                        published_at=datetime.now(UTC),
                        signature_status=bundle.signature_status,
                        signature_key_id=bundle.signature_key_id,
                        manifest=bundle.manifest,
                    )
                )
                return self._find(conn, bundle.name, bundle.revision), True  # type: ignore[return-value]
        if existing.digest != bundle.digest:
            raise Conflict(
                f"bundle {bundle.name} revision {bundle.revision} already exists "
                f"with other content ({existing.digest})",
                field="body",
            )
        return existing, False

    def get(self, name: str, revision: str) -> BundleRecord | None:
        with self._engine.connect() as conn:
            return self._find(conn, name, revision)

    def list(
        self, name: str, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> tuple[list[BundleRecord], str | None]:
        """Published bundles of `name`, newest first."""
        after = _page_after(page_token, limit)
        t = bundles_table
        stmt = sa.select(*_RECORD_COLUMNS).where(t.c.name == name)
        if after is not None:
            stmt = stmt.where(t.c.id < after)
        stmt = stmt.order_by(t.c.id.desc()).limit(limit + 1)
        with self._engine.connect() as conn:
            rows = list(conn.execute(stmt))
            active = self._active_revision(conn, name)
        more = len(rows) > limit
        rows = rows[:limit]
        records = [_record(row._mapping, active) for row in rows]
        return records, str(rows[-1].id) if more else None

    def archive(self, name: str, revision: str) -> bytes:
        with self._engine.connect() as conn:
            data = conn.execute(
                sa.select(bundles_table.c.archive).where(
                    bundles_table.c.name == name, bundles_table.c.revision == revision
                )
            ).scalar()
        if data is None:
            raise NotFound(f"bundle {name} has no revision {revision}", field="revision")
        return bytes(data)

    # -- activations -------------------------------------------------------------------------

    def active(self, name: str) -> ActiveBundle | None:
        """The active revision of `name` and its digest: one indexed read, cheap to poll."""
        a, b = activations_table, bundles_table
        stmt = (
            sa.select(a.c.id, a.c.revision, b.c.digest)
            .join(b, sa.and_(b.c.name == a.c.name, b.c.revision == a.c.revision))
            .where(a.c.name == name)
            .order_by(a.c.id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return ActiveBundle(row.id, row.revision, row.digest) if row else None

    def active_record(self, name: str) -> BundleRecord | None:
        with self._engine.connect() as conn:
            revision = self._active_revision(conn, name)
            return self._find(conn, name, revision) if revision is not None else None

    def activate(self, name: str, revision: str, by: str) -> BundleRecord:
        """Make `revision` the active one; activating the active revision changes nothing."""
        with self._write() as conn:
            record = self._find(conn, name, revision)
            if record is None:
                raise NotFound(f"bundle {name} has no revision {revision}", field="revision")
            current = self._current(conn, name)
            if current is not None and current.revision == revision:
                return record
            self._append(conn, name, revision, "activate", by, current.id if current else None)
        return _with_active(record)

    def rollback(self, name: str, by: str, *, expected: str | None = None) -> BundleRecord:
        """Reactivate the revision that was active before the current one; with `expected`,
        only if that is still the revision a confirmation showed (else Conflict)."""
        with self._write() as conn:
            current = self._current(conn, name)
            if current is None or current.previous_id is None:
                raise Conflict(f"bundle {name} has no earlier activation to roll back to")
            target = conn.execute(
                sa.select(activations_table).where(activations_table.c.id == current.previous_id)
            ).one()
            if expected is not None and target.revision != expected:
                raise Conflict(
                    f"a rollback of bundle {name} now returns to {target.revision}, not {expected}:"
                    " the activations changed since the confirmation"
                )
            self._append(conn, name, target.revision, "rollback", by, target.previous_id)
            record = self._find(conn, name, target.revision)
        return _with_active(record)  # type: ignore[arg-type]

    def rollback_target(self, name: str) -> str | None:
        """The revision a rollback would reactivate now (None: there is nothing to roll back
        to), so a confirmation can show it before anything changes."""
        with self._engine.connect() as conn:
            current = self._current(conn, name)
            if current is None or current.previous_id is None:
                return None
            a = activations_table
            return conn.execute(
                sa.select(a.c.revision).where(a.c.id == current.previous_id)
            ).scalar()

    def activations(
        self, name: str, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> tuple[list[Activation], str | None]:
        """The activation history of `name`, newest first."""
        after = _page_after(page_token, limit)
        a = activations_table
        stmt = sa.select(a).where(a.c.name == name)
        if after is not None:
            stmt = stmt.where(a.c.id < after)
        with self._engine.connect() as conn:
            rows = list(conn.execute(stmt.order_by(a.c.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        items = [
            Activation(r.id, r.name, r.revision, r.action, r.activated_by, _utc(r.activated_at))
            for r in rows[:limit]
        ]
        return items, str(items[-1].id) if more else None

    # -- helpers -----------------------------------------------------------------------------

    def _find(self, conn: Connection, name: str, revision: str) -> BundleRecord | None:
        t = bundles_table
        row = conn.execute(
            sa.select(*_RECORD_COLUMNS).where(t.c.name == name, t.c.revision == revision)
        ).first()
        return _record(row._mapping, self._active_revision(conn, name)) if row else None

    @staticmethod
    def _current(conn: Connection, name: str) -> Any:
        a = activations_table
        return conn.execute(
            sa.select(a).where(a.c.name == name).order_by(a.c.id.desc()).limit(1)
        ).first()

    def _active_revision(self, conn: Connection, name: str) -> str | None:
        current = self._current(conn, name)
        return current.revision if current else None

    @staticmethod
    def _append(
        conn: Connection, name: str, revision: str, action: str, by: str, previous: int | None
    ) -> None:
        conn.execute(
            activations_table.insert().values(
                name=name,
                revision=revision,
                action=action,
                activated_by=by,
                activated_at=datetime.now(UTC),
                previous_id=previous,
            )
        )


def _record(row: Any, active_revision: str | None) -> BundleRecord:
    return BundleRecord(
        name=row["name"],
        revision=row["revision"],
        digest=row["digest"],
        size=row["size"],
        published_by=row["published_by"],
        published_at=_utc(row["published_at"]),
        signature_status=row["signature_status"],
        signature_key_id=row["signature_key_id"],
        manifest=row["manifest"],
        active=row["revision"] == active_revision,
    )


def _with_active(record: BundleRecord) -> BundleRecord:
    return dataclasses.replace(record, active=True)

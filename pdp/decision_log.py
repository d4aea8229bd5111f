"""The decision log: every decision recorded, off the request path.

`DecisionLog.record` only enqueues; a writer thread batches records into the database. When
the queue is full or the database fails, records are dropped and counted in the metrics, and
the decision that produced them is not slowed down or failed.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pdp.errors import InvalidRequest
from pdp.metrics import Metrics

logger = logging.getLogger("pdp.decision_log")

BATCH_SIZE = 500
BATCH_LINGER_SECONDS = 0.05

metadata = sa.MetaData()
decisions_table = sa.Table(
    "decision_log",
    metadata,
    sa.Column("decision_id", sa.String(36), primary_key=True),
    sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("tenant_id", sa.String(64), index=True),
    sa.Column("pep_client_id", sa.String(256)),
    sa.Column("subject_id", sa.String(256), index=True),
    sa.Column("subject_type", sa.String(16)),
    sa.Column("action", sa.String(256)),
    sa.Column("resource_type", sa.String(256)),
    sa.Column("resource_id", sa.String(512), index=True),
    sa.Column("resource_tenant_id", sa.String(64)),
    sa.Column("allow", sa.Boolean, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("bundle_revision", sa.String(256)),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("endpoint", sa.String(64)),
    sa.Column("input", sa.JSON),
    sa.Column("path", sa.Text),
    sa.Column("input_source", sa.String(8)),
)
# Columns added after the first release: a store opened on an older table gains them.
_ADDED_COLUMNS = ("path", "input_source")


@dataclass(frozen=True)
class DecisionRecord:
    """What the audit trail keeps of one decision. Never a raw token."""

    decision_id: str
    timestamp: datetime
    tenant_id: str | None
    pep_client_id: str | None
    subject_id: str | None
    subject_type: str | None
    action: str | None
    resource_type: str | None
    resource_id: str | None
    resource_tenant_id: str | None
    allow: bool
    reasons: list[str]
    bundle_revision: str | None
    latency_ms: float
    endpoint: str = "decide"
    input: dict[str, Any] | None = field(default=None)
    # How to evaluate the record again (`pdp replay`); None on records from before they were
    # kept. `path` is the document evaluated, `authz/decision` or `authz` ("" for `data`).
    path: str | None = None
    # Where `input` came from: "pip" (built by the PDP from the directory, as for /decide),
    # "caller" (the Data API input as given) or "none" (a Data API query without input).
    input_source: str | None = None

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["timestamp"] = self.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return body


@dataclass(frozen=True)
class DecisionQuery:
    subject_id: str | None = None
    tenant_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    allow: bool | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    page_token: str | None = None


class DecisionLogStore:
    """Reads and writes decision records in the PDP's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)
        _add_missing_columns(engine)

    def write(self, records: list[DecisionRecord]) -> None:
        # Shallow rows: dataclasses.asdict would deep-copy every input document.
        rows = [{f.name: getattr(r, f.name) for f in fields(r)} for r in records]
        for row in rows:
            row["timestamp"] = _utc(row["timestamp"])
        with self._engine.begin() as conn:
            conn.execute(decisions_table.insert(), rows)

    def get(self, decision_id: str) -> DecisionRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(decisions_table).where(decisions_table.c.decision_id == decision_id)
            ).first()
        return _record(row._mapping) if row else None

    def query(self, q: DecisionQuery) -> tuple[list[DecisionRecord], str | None]:
        """Newest first, keyset-paginated on (timestamp, decision_id)."""
        t = decisions_table
        stmt = sa.select(t)
        for column, value in (
            (t.c.subject_id, q.subject_id),
            (t.c.tenant_id, q.tenant_id),
            (t.c.resource_type, q.resource_type),
            (t.c.resource_id, q.resource_id),
            (t.c.action, q.action),
            (t.c.allow, q.allow),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if q.since is not None:
            stmt = stmt.where(t.c.timestamp >= _utc(q.since))
        if q.until is not None:
            stmt = stmt.where(t.c.timestamp < _utc(q.until))
        if q.page_token:
            after_time, after_id = _decode_page_token(q.page_token)
            after_time = _utc(after_time)
            stmt = stmt.where(
                sa.or_(
                    t.c.timestamp < after_time,
                    sa.and_(t.c.timestamp == after_time, t.c.decision_id < after_id),
                )
            )
        stmt = stmt.order_by(t.c.timestamp.desc(), t.c.decision_id.desc()).limit(q.limit + 1)
        with self._engine.connect() as conn:
            rows = [_record(r._mapping) for r in conn.execute(stmt)]
        next_token = None
        if len(rows) > q.limit:
            rows = rows[: q.limit]
            last = rows[-1]
            next_token = _encode_page_token(last.timestamp, last.decision_id)
        return rows, next_token

    def iter_all(self, q: DecisionQuery) -> Iterator[DecisionRecord]:
        """Every record matching `q`, page by page (for exports)."""
        page: str | None = None
        while True:
            records, page = self.query(
                DecisionQuery(**{**asdict(q), "limit": 1000, "page_token": page})
            )
            yield from records
            if page is None:
                return


def _add_missing_columns(engine: Engine) -> None:
    """Give a decision log table created by an older release the columns added since, so its
    writes do not fail; another replica adding one at the same moment is not an error."""
    table = decisions_table.name
    for name in set(_ADDED_COLUMNS) - _columns(engine, table):
        kind = decisions_table.c[name].type.compile(dialect=engine.dialect)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))
        except sa.exc.DBAPIError:
            if name not in _columns(engine, table):
                raise


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns(table)}


def _utc(moment: datetime) -> datetime:
    """Every stored and compared time is UTC: SQLite keeps the wall clock and drops the zone."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _record(row: Any) -> DecisionRecord:
    values = dict(row)
    stamp = values["timestamp"]
    if stamp.tzinfo is None:  # SQLite forgets the zone; we only ever write UTC
        values["timestamp"] = stamp.replace(tzinfo=UTC)
    return DecisionRecord(**values)


def _encode_page_token(stamp: datetime, decision_id: str) -> str:
    raw = json.dumps([stamp.astimezone(UTC).isoformat(), decision_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str) -> tuple[datetime, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        stamp, decision_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(stamp), str(decision_id)
    except (ValueError, TypeError):
        raise InvalidRequest("page_token is not valid", field="page_token") from None


class DecisionLog:
    """Asynchronous, bounded writer in front of a DecisionLogStore."""

    def __init__(self, store: DecisionLogStore, metrics: Metrics, *, capacity: int) -> None:
        self.store = store
        self._metrics = metrics
        self._queue: queue.Queue[DecisionRecord | None] = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def record(self, record: DecisionRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._metrics.log_dropped.labels(cause="queue_full").inc()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record has been handled (for tests and shutdown)."""
        done = threading.Event()
        waiter = threading.Thread(target=lambda: (self._queue.join(), done.set()), daemon=True)
        waiter.start()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._queue.task_done()
                return
            batch = [first]
            # Under load, wait a moment for more records: one transaction per batch costs far
            # less than one per record. The wait only delays the log, never a decision.
            deadline = time.monotonic() + BATCH_LINGER_SECONDS
            while len(batch) < BATCH_SIZE:
                try:
                    item = self._queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put_nowait(None)  # handled after this batch
                    self._queue.task_done()
                    break
                batch.append(item)
            self._metrics.log_queue.set(self._queue.qsize())
            try:
                self.store.write(batch)
                self._metrics.log_written.inc(len(batch))
            except Exception as exc:
                # The sink failing must never reach a decision; count it and move on. Only the
                # error's type is logged: driver messages can quote the rows.
                logger.error(
                    "decision log write failed (%s); %d records dropped",
                    type(exc).__name__,
                    len(batch),
                )
                self._metrics.log_dropped.labels(cause="sink_error").inc(len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

"""The decision log: every decision recorded, off the request path, and none lost.

`DecisionLog.record` only enqueues. A spool thread appends queued records to a local spool
file (pdp/decision_spool.py); a shipper thread writes the spool into the database in order,
idempotently by decision_id. A database outage only delays the log: the spool keeps the records
and the shipper retries. A record the database refuses is written repaired (pdp/decision_codec
.py) or, failing that, quarantined with its id; it never costs the others in its batch. Only
a full queue or a full spool drops records, and both are counted. docs/reliability.md.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pdp import decision_codec as codec
from pdp.decision_spool import DecisionSpool, Pending
from pdp.errors import InvalidRequest
from pdp.metrics import Metrics

logger = logging.getLogger("pdp.decision_log")

BATCH_SIZE = 500
BATCH_LINGER_SECONDS = 0.05
# Waits between attempts while the database is unavailable: from the first to the last.
RETRY_SECONDS = (0.1, 5.0)
QUARANTINE = "$quarantine"
# How long the spool thread waits for records before it fsyncs what it wrote.
SPOOL_IDLE_SECONDS = 0.5

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
    sa.Column("sanitised", sa.JSON),
)
# Columns added after the first release: a store opened on an older table gains them.
_ADDED_COLUMNS = ("path", "input_source", "sanitised")
# Records the database refused even repaired, kept as the raw spool line.
quarantine_table = sa.Table(
    "decision_log_quarantine",
    metadata,
    sa.Column("decision_id", sa.Text, primary_key=True),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)
_TEXT_FIELDS = tuple(
    c.name for c in decisions_table.columns if isinstance(c.type, sa.String | sa.Text)
)
_JSON_FIELDS = tuple(c.name for c in decisions_table.columns if isinstance(c.type, sa.JSON))


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
    # Repairs made so the database could store the record, as "field:kind" ("input:nul",
    # "input:non_finite"); None when it was stored as decided.
    sanitised: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        # Shallow: dataclasses.asdict recurses into the input, and a deep one overflows it.
        body = {f.name: getattr(self, f.name) for f in fields(self)}
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
    bundle_revision: str | None = None
    # Records one of whose reasons contains this text (`tenant_mismatch`, `role:editor`).
    reason: str | None = None
    limit: int = 100
    page_token: str | None = None


class DecisionLogStore:
    """Reads and writes decision records in the PDP's database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)
        _add_missing_columns(engine)

    def write(self, records: list[DecisionRecord]) -> None:
        """Store `records` directly (no spool), repaired where the database needs it."""
        self.insert_rows([storable_row(r) for r in records])

    def insert_rows(self, rows: list[dict[str, Any]]) -> None:
        """Insert rows of `storable_row`; a decision_id already stored is skipped, so the
        spool can be replayed after a crash without duplicates."""
        if rows:
            with self._engine.begin() as conn:
                conn.execute(self._insert_ignoring_duplicates(decisions_table), rows)

    def quarantine(self, decision_id: str, reason: str, raw: str) -> None:
        row = {
            "decision_id": codec.sanitise_text(decision_id)[0],
            "quarantined_at": datetime.now(UTC),
            "reason": codec.sanitise_text(reason)[0],
            "record": codec.sanitise_text(raw)[0],
        }
        with self._engine.begin() as conn:
            conn.execute(self._insert_ignoring_duplicates(quarantine_table), [row])

    def quarantined(self) -> list[dict[str, Any]]:
        """Every quarantined record, oldest first (for operators and tests)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(quarantine_table).order_by(quarantine_table.c.quarantined_at)
            )
            return [dict(r._mapping) for r in rows]

    def reachable(self) -> bool:
        """Whether the log table can be read: tells an outage (no database, a lock held, the
        table missing) from a record the database refuses."""
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.select(decisions_table.c.decision_id).limit(1))
        except Exception:
            return False
        return True

    def _insert_ignoring_duplicates(self, table: sa.Table) -> Any:
        name = self._engine.dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            return table.insert()
        return insert(table).on_conflict_do_nothing(index_elements=list(table.primary_key))

    def get(self, decision_id: str) -> DecisionRecord | None:
        stmt = _select_for_reading().where(decisions_table.c.decision_id == decision_id)
        with self._engine.connect() as conn:
            row = conn.execute(stmt).first()
        return _record(row._mapping) if row else None

    def query(self, q: DecisionQuery) -> tuple[list[DecisionRecord], str | None]:
        """Newest first, keyset-paginated on (timestamp, decision_id)."""
        t = decisions_table
        stmt = _select_for_reading()
        for column, value in (
            (t.c.subject_id, q.subject_id),
            (t.c.tenant_id, q.tenant_id),
            (t.c.resource_type, q.resource_type),
            (t.c.resource_id, q.resource_id),
            (t.c.action, q.action),
            (t.c.allow, q.allow),
            (t.c.bundle_revision, q.bundle_revision),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if q.reason:
            # The reasons are a JSON array of strings: match within its stored text, with the
            # LIKE wildcards of the search text taken literally.
            pattern = q.reason.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(sa.cast(t.c.reasons, sa.Text).like(f"%{pattern}%", escape="\\"))
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

    def recent_reasons(self, *, allow: bool, limit: int) -> list[list[str]]:
        """The reasons of the `limit` newest decisions with this result, reading nothing
        else (the console's deny-reasons chart)."""
        t = decisions_table
        stmt = (
            sa.select(sa.cast(t.c.reasons, sa.Text))
            .where(t.c.allow == allow)
            .order_by(t.c.timestamp.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            stored = [codec.decode_stored(row[0]) for row in conn.execute(stmt)]
        return [[str(r) for r in reasons] for reasons in stored if isinstance(reasons, list)]

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


def storable_row(record: DecisionRecord, *, check_json: bool = True) -> dict[str, Any]:
    """The row for `record`, with what Postgres refuses (NUL in text, NaN in JSON) repaired and
    each repair named in `sanitised`. Shallow unless a repair is needed. Without `check_json`
    the JSON columns are left as they are, for a caller that encodes them anyway."""
    row = {f.name: getattr(record, f.name) for f in fields(record)}
    row["timestamp"] = _utc(row["timestamp"])
    repairs = list(row["sanitised"] or [])
    for name in _TEXT_FIELDS:
        row[name], changed = codec.sanitise_text(row[name])
        if changed:
            repairs.append(f"{name}:nul")
    for name in _JSON_FIELDS:
        if check_json and name != "sanitised" and _needs_repair(row[name]):
            row[name], kinds = codec.sanitise_json(row[name])
            repairs += [f"{name}:{kind}" for kind in sorted(kinds)]
    if not math.isfinite(row["latency_ms"]):
        row["latency_ms"] = -1.0
        repairs.append("latency_ms:non_finite")
    row["sanitised"] = repairs or None
    return row


def _needs_repair(value: Any) -> bool:
    if value is None:
        return False
    try:
        return "\\u0000" in codec.encode(value)
    except ValueError:  # NaN or Infinity
        return True


def _select_for_reading() -> sa.Select:
    """JSON columns as their stored text, decoded by `_record`: the driver's own decoding
    raises on a value nested too deep, failing every page that holds it."""
    return sa.select(
        *(
            sa.cast(c, sa.Text).label(c.name) if c.name in _JSON_FIELDS else c
            for c in decisions_table.columns
        )
    )


def _record(row: Any) -> DecisionRecord:
    values = dict(row)
    stamp = values["timestamp"]
    if stamp.tzinfo is None:  # SQLite forgets the zone; we only ever write UTC
        values["timestamp"] = stamp.replace(tzinfo=UTC)
    for name in _JSON_FIELDS:
        values[name] = codec.decode_stored(values[name])
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


class DatabaseUnavailable(Exception):
    """The decision log database does not answer: keep the records and try again later."""


class DecisionLog:
    """Asynchronous, bounded, durable writer in front of a DecisionLogStore."""

    def __init__(
        self,
        store: DecisionLogStore,
        metrics: Metrics,
        *,
        capacity: int,
        spool: DecisionSpool,
    ) -> None:
        self.store = store
        self._metrics = metrics
        self._spool = spool
        self._queue: queue.Queue[DecisionRecord | None] = queue.Queue(maxsize=capacity)
        self._spooled = threading.Event()
        self._closing = threading.Event()
        # Set on close: retry at once rather than sit out a back-off the database may be over.
        self._draining = threading.Event()
        self._spooler = threading.Thread(target=self._spool_queue, name="decision-spool")
        self._shipper = threading.Thread(target=self._ship, name="decision-log")
        for thread in (self._spooler, self._shipper):
            thread.daemon = True
            thread.start()

    def record(self, record: DecisionRecord) -> None:
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._metrics.log_dropped.labels(cause="queue_full").inc()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is in the database (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks or self._spool.pending_bytes:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Spool what is queued, ship what the database takes within `timeout`; the spool
        keeps the rest for the next process started on it."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._spooler.join(max(deadline - time.monotonic(), 0.0))
        self._draining.set()
        self.flush(max(deadline - time.monotonic(), 0.0))
        self._closing.set()
        self._spooled.set()
        self._shipper.join(max(deadline - time.monotonic(), 0.1))
        self._spool.close()

    def _spool_queue(self) -> None:
        """Queue -> spool: one write per batch, so kill -9 loses only what is still queued."""
        while True:
            try:
                batch = [self._queue.get(timeout=SPOOL_IDLE_SECONDS)]
            except queue.Empty:
                self._spool.sync()
                continue
            while len(batch) < BATCH_SIZE:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [r for r in batch if r is not None]
            lines = [_spool_line(r) for r in records]
            try:
                kept = self._spool.append(lines)
            except OSError as exc:
                logger.error("decision spool write failed (%s)", exc.strerror)
                self._metrics.log_dropped.labels(cause="spool_error").inc(len(lines))
            else:
                if kept < len(lines):
                    self._metrics.log_dropped.labels(cause="spool_full").inc(len(lines) - kept)
            self._metrics.log_queue.set(self._queue.qsize())
            self._metrics.log_spool_bytes.set(self._spool.pending_bytes)
            self._spooled.set()
            for _ in batch:
                self._queue.task_done()
            if len(records) < len(batch):
                return

    def _ship(self) -> None:
        """Spool -> database, in order. An outage waits and retries the same records."""
        retry = RETRY_SECONDS[0]
        while True:
            try:
                pending = self._spool.read(BATCH_SIZE)
            except OSError as exc:
                logger.error("decision spool read failed (%s)", exc.strerror)
                pending = None
            if pending is None:
                if self._closing.is_set():
                    return
                self._spooled.wait(1.0)
                self._spooled.clear()
                # Wait a moment for more: one transaction per batch costs far less than one per
                # record. The wait only delays the log, never a decision.
                time.sleep(BATCH_LINGER_SECONDS)
                continue
            try:
                self._store(pending)
            except Exception as exc:
                self._metrics.log_sink_errors.inc()
                cause = exc.__cause__ if isinstance(exc, DatabaseUnavailable) else exc
                logger.warning(
                    "decision log write failed (%s); records kept in the spool",
                    type(cause).__name__,
                )
                if self._closing.is_set():
                    return
                self._draining.wait(retry)
                retry = (
                    RETRY_SECONDS[0]
                    if self._draining.is_set()
                    else min(retry * 2, RETRY_SECONDS[1])
                )
                continue
            retry = RETRY_SECONDS[0]
            self._spool.acknowledge(pending)
            self._metrics.log_spool_bytes.set(self._spool.pending_bytes)

    def _store(self, pending: Pending) -> None:
        if pending.torn:
            self._metrics.log_dropped.labels(cause="spool_torn").inc()
            return
        rows: list[tuple[dict[str, Any], bytes]] = []
        refused: list[tuple[str, str, bytes]] = []
        for line in pending.lines:
            try:
                row = _row_from_line(line)
            except (ValueError, RecursionError) as exc:
                refused.append((_decision_id(line), type(exc).__name__, line))
                continue
            if QUARANTINE in row:
                refused.append((row["decision_id"], row[QUARANTINE], line))
            else:
                rows.append((row, line))
        try:
            self._attempt(self.store.insert_rows, [row for row, _ in rows])
            written = len(rows)
        except DatabaseUnavailable:
            raise
        except Exception:
            # One refused record must not cost the others their place in the log.
            written = 0
            for row, line in rows:
                try:
                    self._attempt(self.store.insert_rows, [row])
                    written += 1
                except DatabaseUnavailable:
                    raise
                except Exception as exc:
                    refused.append((row["decision_id"], type(exc).__name__, line))
        self._metrics.log_written.inc(written)
        for decision_id, reason, line in refused:
            self._attempt(self.store.quarantine, decision_id, reason, line.decode())
            self._metrics.log_quarantined.inc()
            logger.error("decision record %s quarantined (%s)", decision_id, reason)
        self._metrics.log_sanitised.inc(sum(1 for row, _ in rows if row["sanitised"]))

    def _attempt(self, write: Any, *args: Any) -> None:
        """Run `write`; a failure while the database does not answer is an outage. Only the
        error's type is logged: driver messages can quote the rows."""
        try:
            write(*args)
        except Exception as exc:
            if not self.store.reachable():
                raise DatabaseUnavailable from exc
            raise


def _spool_line(record: DecisionRecord) -> bytes:
    """One spool line; a record that cannot even be encoded becomes a quarantine line."""
    try:
        # Encoded once when nothing in the JSON columns needs repair: the usual case.
        text = _clean_line(storable_row(record, check_json=False))
        if text is None:
            text = codec.encode(_line_row(storable_row(record)))
        return (text + "\n").encode()
    except (ValueError, TypeError, RecursionError) as exc:
        stub = {"decision_id": record.decision_id, QUARANTINE: type(exc).__name__}
        stub["tenant_id"] = record.tenant_id
        stub["timestamp"] = record.timestamp.isoformat()
        return (json.dumps(stub, default=str) + "\n").encode()


def _line_row(row: dict[str, Any]) -> dict[str, Any]:
    row["timestamp"] = row["timestamp"].isoformat()
    return row


def _clean_line(row: dict[str, Any]) -> str | None:
    """`row` encoded, or None if it holds NaN, Infinity or an escaped NUL."""
    try:
        text = codec.encode(_line_row(row))
    except ValueError:
        return None
    return None if "\\u0000" in text else text


def _row_from_line(line: bytes) -> dict[str, Any]:
    row = json.loads(line)
    row["timestamp"] = datetime.fromisoformat(row["timestamp"])
    return row


def _decision_id(line: bytes) -> str:
    """The decision_id of a spool line that does not decode (it is the line's first field)."""
    head = line[: line.find(b",")].decode(errors="replace")
    return head.partition(":")[2].strip('"') or "unknown"

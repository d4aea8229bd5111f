"""The decision log writer: a poisoned record costs no other, an outage loses nothing, a
restart replays what the spool holds, and only a full queue or spool drops (counted)."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from pdp.decision_log import (
    DecisionLog,
    DecisionLogStore,
    DecisionQuery,
    decisions_table,
    storable_row,
)
from pdp.decision_spool import DecisionSpool
from pdp.directory.store import DirectoryStore
from pdp.metrics import Metrics
from tests.pdp.decision_log_env import metric, nested, open_log, record

NUL = "\x00"


def _stored_ids(database_url: str) -> set[str]:
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    return {r.decision_id for r in store.iter_all(DecisionQuery())}


def _poisoned() -> list:
    """Records Postgres refuses as they are: NUL in text and JSON (strings and keys), NaN and
    Infinity in JSON, an input 300 objects deep."""
    return [
        dataclasses.replace(record(), subject_id=f"ali{NUL}ce"),
        record(input={"resource": {"attributes": {"note": f"a{NUL}b"}}}),
        record(input={"resource": {"attributes": {f"k{NUL}": 1}}}),
        record(input={"resource": {"attributes": {"score": float("nan")}}}),
        record(input={"resource": {"attributes": {"limit": float("inf"), "l": float("-inf")}}}),
        record(input={"resource": {"attributes": nested(300)}}),
    ]


def test_poisoned_records_are_repaired_and_cost_no_other_record(database_url, tmp_path):
    good = [record(f"user-{i}") for i in range(40)]
    poisoned = _poisoned()
    log, metrics = open_log(database_url, tmp_path / "spool")
    for item in good[:20] + poisoned + good[20:]:
        log.record(item)
    assert log.flush(timeout=30)
    log.close()
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    for item in good:
        assert store.get(item.decision_id) == item
    stored = [store.get(p.decision_id) for p in poisoned]
    assert stored[0].subject_id == "ali\ufffdce" and stored[0].sanitised == ["subject_id:nul"]
    assert stored[1].input["resource"]["attributes"] == {"note": "a\ufffdb"}
    assert stored[2].input["resource"]["attributes"] == {"k\ufffd": 1}
    assert stored[2].sanitised == ["input:nul"]
    assert stored[3].input["resource"]["attributes"] == {"score": "NaN"}
    assert stored[3].sanitised == ["input:non_finite"]
    assert stored[4].input["resource"]["attributes"] == {"limit": "Infinity", "l": "-Infinity"}
    assert stored[5].input == poisoned[5].input and stored[5].sanitised is None
    assert metric(metrics, "pdp_decision_log_written_total") == 46
    assert metric(metrics, "pdp_decision_log_sanitised_total") == 5
    assert metric(metrics, "pdp_decision_log_quarantined_total") == 0


def test_a_record_the_database_refuses_is_quarantined_alone(database_url, tmp_path):
    """Beyond repair: an input nested deeper than JSON encoders go, a value JSON has no form
    for, and (on Postgres) a decision id longer than its column."""
    good = [record(f"user-{i}") for i in range(30)]
    refused = [record(input={"deep": nested(5000)}), record(input={"tags": {"a", "b"}})]
    if database_url.startswith("postgresql"):
        refused.append(dataclasses.replace(record(), decision_id="x" * 100))
    log, metrics = open_log(database_url, tmp_path / "spool")
    for item in good[:15] + refused + good[15:]:
        log.record(item)
    assert log.flush(timeout=30)
    log.close()
    assert _stored_ids(database_url) == {g.decision_id for g in good}
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    quarantined = store.quarantined()
    assert [q["decision_id"] for q in quarantined] == [r.decision_id for r in refused]
    assert quarantined[0]["reason"] == "RecursionError"
    assert quarantined[1]["reason"] == "TypeError"
    assert metric(metrics, "pdp_decision_log_quarantined_total") == len(refused)
    assert metric(metrics, "pdp_decision_log_written_total") == 30


def test_writing_the_same_records_twice_stores_them_once(database_url):
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    rows = [storable_row(record()) for _ in range(3)]
    store.insert_rows(rows)
    store.insert_rows([*rows[1:], storable_row(record())])
    assert len(list(store.iter_all(DecisionQuery()))) == 4


def _break_table(database: Path) -> None:
    with sqlite3.connect(database) as conn:
        conn.execute("DROP TABLE decision_log")


def _mend_table(database_url: str) -> None:
    DecisionLogStore(DirectoryStore(database_url).engine)


def test_an_unavailable_database_keeps_records_until_it_returns(tmp_path):
    database = tmp_path / "pdp.db"
    database_url = f"sqlite:///{database}"
    log, metrics = open_log(database_url, tmp_path / "spool")
    _break_table(database)
    records = [record(f"user-{i}") for i in range(25)]
    for item in records:
        log.record(item)
    assert not log.flush(timeout=1)
    assert metric(metrics, "pdp_decision_log_sink_errors_total") >= 1
    assert metric(metrics, "pdp_decision_log_quarantined_total") == 0
    _mend_table(database_url)
    assert log.flush(timeout=30)
    log.close()
    assert _stored_ids(database_url) == {r.decision_id for r in records}
    assert metric(metrics, "pdp_decision_log_dropped_total", cause="spool_full") == 0


def test_a_full_spool_drops_and_counts_the_rest(tmp_path):
    database = tmp_path / "pdp.db"
    database_url = f"sqlite:///{database}"
    one_line = len(f"{storable_row(record())}") * 3  # room for a few records only
    log, metrics = open_log(database_url, tmp_path / "spool", max_bytes=one_line)
    _break_table(database)
    for i in range(20):
        log.record(record(f"user-{i}"))
    assert not log.flush(timeout=1)
    _mend_table(database_url)
    assert log.flush(timeout=30)
    log.close()
    dropped = metric(metrics, "pdp_decision_log_dropped_total", cause="spool_full")
    assert dropped > 0
    assert dropped + len(_stored_ids(database_url)) == 20


def _left_in_spool(tmp_path: Path, records: list) -> tuple[str, Path]:
    """A log closed while its table was missing: `records` wait in its spool (the table is
    back afterwards). Returns the database URL and the spool directory."""
    database = tmp_path / "pdp.db"
    database_url = f"sqlite:///{database}"
    spool = tmp_path / "spool"
    log, _ = open_log(database_url, spool)
    _break_table(database)
    for item in records:
        log.record(item)
    log.close(timeout=1)
    _mend_table(database_url)
    return database_url, spool


def test_a_restart_replays_the_spool_in_order(tmp_path):
    """Records a closed log could not ship wait on disk; the next log on the spool directory
    writes them, oldest first, before its own."""
    database_url, spool = _left_in_spool(tmp_path, earlier := [record(f"u{i}") for i in range(10)])
    assert len(list(spool.glob("*.spool"))) == 1
    second, metrics = open_log(database_url, spool)
    later = record("later")
    second.record(later)
    assert second.flush(timeout=30)
    second.close()
    engine = DirectoryStore(database_url).engine
    with engine.connect() as conn:  # SQLite's rowid is the order of insertion
        order = conn.execute(
            sa.select(decisions_table.c.decision_id).order_by(sa.text("rowid"))
        ).scalars()
        assert list(order) == [r.decision_id for r in [*earlier, later]]
    assert metric(metrics, "pdp_decision_log_written_total") == 11
    assert not spool.exists()  # nothing left to replay: the directory is removed


def test_a_torn_last_write_of_a_dead_process_costs_only_that_record(tmp_path):
    database_url, spool = _left_in_spool(tmp_path, records := [record(f"u{i}") for i in range(3)])
    (left,) = spool.glob("*.spool")
    with left.open("r+b") as cut:
        cut.truncate(left.stat().st_size - 10)
    second, metrics = open_log(database_url, spool)
    assert second.flush(timeout=30)
    second.close()
    assert _stored_ids(database_url) == {r.decision_id for r in records[:2]}
    assert metric(metrics, "pdp_decision_log_dropped_total", cause="spool_torn") == 1


@pytest.mark.parametrize("levels", [1, 300, 2000])
def test_spool_lines_never_hold_a_newline_or_nul(levels):
    """One record is one line: the spool is split on newlines."""
    from pdp.decision_log import _spool_line

    line = _spool_line(record(input={"text": "a\nb\x00", "deep": nested(levels)}))
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\x00" not in line


def test_every_record_is_stored_or_counted_as_dropped(tmp_path):
    """A queue of one, flooded: what does not fit is counted, never silently lost."""
    database_url = f"sqlite:///{tmp_path / 'pdp.db'}"
    metrics = Metrics()
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    spool = DecisionSpool(tmp_path / "spool", max_bytes=1 << 24)
    log = DecisionLog(store, metrics, capacity=1, spool=spool)
    for i in range(2000):
        log.record(record(f"user-{i}"))
    assert log.flush(timeout=60)
    log.close()
    dropped = metric(metrics, "pdp_decision_log_dropped_total", cause="queue_full")
    assert dropped + len(_stored_ids(database_url)) == 2000

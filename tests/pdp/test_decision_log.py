"""The decision log: written off the request path, queryable, and never in a decision's way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pdp.decision_log import DecisionLogStore, DecisionQuery
from pdp.directory.store import DirectoryStore
from tests.pdp.decision_log_env import record


def test_store_round_trip_filters_and_time_range(database_url):
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    records = [
        record("alice", at=start + timedelta(minutes=i), allow=i % 2 == 0) for i in range(10)
    ]
    records.append(record("bob", at=start))
    store.write(records)
    assert store.get(records[3].decision_id) == records[3]
    denied, _ = store.query(DecisionQuery(subject_id="alice", allow=False, limit=100))
    assert len(denied) == 5 and all(not r.allow for r in denied)
    window, _ = store.query(
        DecisionQuery(since=start + timedelta(minutes=2), until=start + timedelta(minutes=5))
    )
    assert [r.timestamp for r in window] == [start + timedelta(minutes=m) for m in (4, 3, 2)]


def test_pages_cover_everything_once_newest_first(database_url):
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    same_time = datetime(2026, 11, 1, tzinfo=UTC)
    store.write([record(at=same_time) for _ in range(7)])
    seen, token = [], None
    while True:
        page, token = store.query(DecisionQuery(limit=3, page_token=token))
        seen += page
        if token is None:
            break
    assert len(seen) == 7 == len({r.decision_id for r in seen})
    assert [r.decision_id for r in seen] == sorted((r.decision_id for r in seen), reverse=True)


@pytest.mark.parametrize("token", ["", "abc", "e30", "W10"])
def test_bad_page_tokens_are_invalid_requests(tmp_path, token):
    from pdp.errors import InvalidRequest

    store = DecisionLogStore(DirectoryStore(f"sqlite:///{tmp_path}/pdp.db").engine)
    if token == "":
        assert store.query(DecisionQuery(page_token=token))[0] == []
        return
    with pytest.raises(InvalidRequest):
        store.query(DecisionQuery(page_token=token))


def test_times_in_other_zones_are_stored_and_compared_as_utc(database_url):
    from datetime import timezone

    store = DecisionLogStore(DirectoryStore(database_url).engine)
    warsaw_noon = datetime(2026, 11, 23, 12, 0, tzinfo=timezone(timedelta(hours=1)))
    written = record(at=warsaw_noon)
    store.write([written])
    assert store.get(written.decision_id).timestamp == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    inside, _ = store.query(
        DecisionQuery(
            since=datetime(2026, 11, 23, 6, 0, tzinfo=timezone(timedelta(hours=-5))),
            until=datetime(2026, 11, 23, 11, 0, 1, tzinfo=UTC),
        )
    )
    assert [r.decision_id for r in inside] == [written.decision_id]


def test_a_table_from_before_replay_paths_gains_the_columns(database_url):
    """A decision log created without `path` and `input_source` keeps its rows (read back with
    neither) and takes records that have them; a second store opening it changes nothing."""
    import dataclasses

    import sqlalchemy as sa

    from pdp.decision_log import _ADDED_COLUMNS, decisions_table

    engine = DirectoryStore(database_url).engine
    older = sa.MetaData()
    sa.Table(
        decisions_table.name,
        older,
        *(c._copy() for c in decisions_table.columns if c.name not in _ADDED_COLUMNS),
    )
    older.create_all(engine)
    before = record("before")
    row = {k: v for k, v in dataclasses.asdict(before).items() if k not in _ADDED_COLUMNS}
    with engine.begin() as conn:
        conn.execute(older.tables[decisions_table.name].insert(), [row])
    store = DecisionLogStore(engine)
    DecisionLogStore(engine)
    after = dataclasses.replace(record("after"), path="authz", input_source="caller")
    store.write([after])
    assert store.get(before.decision_id) == before
    assert store.get(after.decision_id) == after

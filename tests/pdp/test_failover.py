"""A replica dies or stops under load behind nginx run with the shipped deploy/nginx.conf:
no decision fails, and the decision log keeps every answered decision (a kill -9 may lose
only the killed replica's last second). Real `pdp serve` processes on a private PostgreSQL
database; nginx from Debian's packages (scripts/test installs it)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.decision_faults import (
    database_url,
    decide_body,
    private_database,
    stored_ids,
)
from tests.support.failover import (
    nginx_binary,
    start_replica,
    stop_replica_under_load,
)

TOTAL = 2_000
CONNECTIONS = 16


@pytest.fixture
def nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (scripts/test installs it as root): failover skipped")
    return binary


@pytest.fixture
def database() -> Iterator[str]:
    with private_database() as name:
        yield name


def test_kill_9_of_a_replica_fails_no_decision(nginx: str, database: str, tmp_path: Path) -> None:
    run = stop_replica_under_load(
        nginx, database, tmp_path, signal.SIGKILL, total=TOTAL, connections=CONNECTIONS
    )
    assert run.load.failed == []
    assert len(run.load.answered) == TOTAL
    # What the killed replica had queued but not spooled: answered in its last second.
    print(f"kill -9: {len(run.lost)} lost of {len(run.last_second)} answered since a second before")
    assert run.lost <= run.last_second, sorted(run.lost - run.last_second)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_of_a_replica_fails_and_loses_no_decision(
    nginx: str, database: str, tmp_path: Path, workers: int
) -> None:
    run = stop_replica_under_load(
        nginx,
        database,
        tmp_path,
        signal.SIGTERM,
        total=TOTAL,
        connections=CONNECTIONS,
        workers=workers,
    )
    assert run.load.failed == []
    assert len(run.load.answered) == TOTAL
    assert run.lost == set()


def test_draining_replica_answers_health_503_and_keeps_deciding(
    database: str, tmp_path: Path
) -> None:
    """With a drain delay, SIGTERM first turns /health to 503 while decisions are still
    answered and logged; a second SIGTERM stops at once."""
    replica = start_replica(
        database_url(database), tmp_path / "spool", tmp_path / "pdp.log", drain_seconds=600
    )
    try:
        assert httpx.get(replica.url + "/health").status_code == 200
        replica.process.send_signal(signal.SIGTERM)
        while (health := httpx.get(replica.url + "/health")).status_code == 200:
            pass
        assert health.status_code == 503
        assert health.json() == {"status": "draining"}
        during = httpx.post(replica.url + "/decide", json=decide_body())
        assert during.status_code == 200, during.text
        replica.process.send_signal(signal.SIGTERM)
        replica.process.wait(60)
    finally:
        replica.stop()
    assert during.json()["decision_id"] in stored_ids(database)

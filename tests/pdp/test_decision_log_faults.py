"""The decision log under faults, on real processes and a PostgreSQL database of their own:
`kill -9` loses at most the last second of records, SIGTERM none, a database outage none,
and poisoned records among concurrent decisions cost no other tenant's record."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.support.decision_faults import (
    POSTGRES,
    Load,
    database_url,
    decide_body,
    private_database,
    start_pdp,
    stored_ids,
    wait_until_stored,
)
from tests.support.issuer import TestIssuer
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def database() -> Iterator[str]:
    try:
        with private_database() as name:
            yield name
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432: skipped")


def _kill_under_load(database: str, issuer: TestIssuer, tmp_path, how: signal.Signals):
    """Decide under load, stop the server with `how` mid-load, start it again on the same
    spool, stop it cleanly; returns (ids answered, ids answered in the last second, stored)."""
    url = database_url(database)
    server = start_pdp(url, issuer, tmp_path / "spool", tmp_path / "first.log")
    load = Load(server.url, issuer.machine_token("pep-faults"))
    load.wait_for(300)
    stopped_at = time.monotonic()
    server.process.send_signal(how)
    server.process.wait(30)
    answered = load.stop()
    last_second = load.answered_since(stopped_at - 1.0)
    server.stop()
    again = start_pdp(url, issuer, tmp_path / "spool", tmp_path / "second.log")
    again.stop()
    return answered, last_second, stored_ids(database)


def test_kill_9_loses_at_most_the_last_second(database, issuer, tmp_path):
    answered, last_second, stored = _kill_under_load(database, issuer, tmp_path, signal.SIGKILL)
    assert len(answered) >= 300
    assert len(answered - stored) <= last_second


def test_sigterm_loses_nothing(database, issuer, tmp_path):
    answered, _, stored = _kill_under_load(database, issuer, tmp_path, signal.SIGTERM)
    assert answered and answered <= stored


def test_a_database_outage_loses_nothing(database, issuer, tmp_path):
    proxy = TcpProxy(POSTGRES)
    server = start_pdp(
        database_url(database, proxy.port), issuer, tmp_path / "spool", tmp_path / "pdp.log"
    )
    try:
        load = Load(server.url, issuer.machine_token("pep-outage"))
        load.wait_for(100)
        proxy.cut()
        during = len(load.answered)
        load.wait_for(during + 300)  # decisions keep being answered with no database
        outage = len(load.answered) - during
        assert outage >= 300
        proxy.restore()
        load.wait_for(len(load.answered) + 100)
        answered = load.stop()
        assert answered <= wait_until_stored(database, answered)
        metrics = httpx.get(server.url + "/metrics").text
        assert "pdp_decision_log_sink_errors_total 0.0" not in metrics
    finally:
        server.stop()
        proxy.close()


def test_poisoned_decisions_cost_no_other_record(database, issuer, tmp_path):
    """400 concurrent decisions, 10 of them with a NUL character or NaN in an attribute."""
    server = start_pdp(database_url(database), issuer, tmp_path / "spool", tmp_path / "pdp.log")
    headers = {
        "Authorization": f"Bearer {issuer.machine_token('pep-poison')}",
        "Content-Type": "application/json",
    }
    # The PEP's JSON as sent: NUL escaped as \u0000, NaN as the bare token Python accepts.
    poisons = [{"note": "a\x00b"}, {"score": float("nan")}]
    bodies = [
        json.dumps(decide_body(poisons[i // 40 % 2] if i % 40 == 0 else {"n": i}))
        for i in range(400)
    ]

    def decide(body: str) -> str:
        with httpx.Client(timeout=30.0) as client:
            response = client.post(server.url + "/decide", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["decision_id"]

    try:
        with ThreadPoolExecutor(8) as pool:
            answered = set(pool.map(decide, bodies))
        assert answered <= wait_until_stored(database, answered)
        metrics = httpx.get(server.url + "/metrics").text
        assert "pdp_decision_log_sanitised_total 10.0" in metrics
        assert "pdp_decision_log_quarantined_total 0.0" in metrics
    finally:
        server.stop()

"""The directory store under faults.

A database that holds a lock past the timeout makes admin writes answer 503 with
Retry-After (SQLite and PostgreSQL, in process). A database that goes silent (a TCP proxy
that stops forwarding, between a real `pdp serve` and a PostgreSQL database of its own)
makes 45 concurrent admin requests answer 503, while `/health` and `/decide` for PEP tokens
never verified before keep answering; once the link resumes, admin works again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from pdp.api.app import create_app
from pdp.services import Services
from pdp.settings import Settings
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess
from tests.support.store_faults import admin_client, silent_pdp, stalled_burst, users_url
from tests.support.tcp_proxy import TcpProxy

TENANTS = "/admin/v1/tenants"


def _assert_store_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    body = response.json()
    assert body["error"] == "store_unavailable" and body["message"]


# -- a lock held past the timeout, in process ------------------------------------------------


def _hold_write_lock(url: str) -> sqlite3.Connection | psycopg.Connection:
    """Another client of the database holding the lock every directory write needs."""
    if url.startswith("sqlite:///"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        return holder
    holder = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))
    holder.execute("LOCK TABLE directory_revisions IN ACCESS EXCLUSIVE MODE")
    return holder


def test_a_lock_held_past_the_timeout_is_a_503(database_url: str, tmp_path: Path):
    settings = Settings(
        database_url=database_url,
        require_pep_auth=False,
        decision_log_spool_dir=tmp_path / "spool",
        database_timeout_seconds=1.0,
    )
    services = Services.build(settings)
    try:
        with TestClient(create_app(services=services)) as client:
            holder = _hold_write_lock(database_url)
            try:
                _assert_store_unavailable(client.post(TENANTS, json={"name": "locked"}))
            finally:
                holder.close()
            assert client.post(TENANTS, json={"name": "free"}).status_code == 201
    finally:
        services.close()


# -- a silent database, on real processes ----------------------------------------------------


@pytest.fixture
def silent_link(issuer: TestIssuer, tmp_path: Path) -> Iterator[tuple[ServerProcess, TcpProxy]]:
    try:
        with silent_pdp(issuer, tmp_path, timeout_seconds=4) as link:
            yield link
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432: skipped")


def test_a_silent_database_starves_nothing_and_admin_answers_503(silent_link, issuer):
    server, proxy = silent_link
    with admin_client(issuer) as client:
        assert client.get(users_url(server)).status_code == 200
        stall = stalled_burst(server, proxy, client, issuer, requests=45)
        for _, health in stall.health:
            assert health.status_code == 200 and health.json()["status"] == "ok"
        for _, decision in stall.decisions:
            assert decision.status_code == 200, decision.text
            assert decision.json()["allow"] is True, decision.text
        # They answered while admin requests were still waiting on the silent database.
        assert stall.unfinished > 0
        for _, answer in stall.admin:
            _assert_store_unavailable(answer)
        assert stall.recovered.status_code == 200, stall.recovered.text
        created = client.post(users_url(server), json={"id": "after-the-fault"})
        assert created.status_code == 201, created.text

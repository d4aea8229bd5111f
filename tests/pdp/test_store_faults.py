"""The directory store under faults.

A database that holds a lock past the timeout makes admin writes answer 503 with
Retry-After (SQLite and PostgreSQL, in process). A database that goes silent (a TCP proxy
that stops forwarding, between a real `pdp serve` and a PostgreSQL database of its own)
makes 45 concurrent admin requests answer 503 within the timeout, while `/health` and
`/decide` for PEP tokens never verified before keep answering; once the link resumes, admin
works again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from pdp.api.app import create_app
from pdp.services import Services
from pdp.settings import Settings
from tests.support.decision_faults import (
    ACME,
    POSTGRES,
    database_url,
    decide_body,
    private_database,
)
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess
from tests.support.tcp_proxy import TcpProxy

TIMEOUT_SECONDS = 4
ADMIN_REQUESTS = 45
TENANTS = "/admin/v1/tenants"
# Far above anything the server should take; only a hang reaches it.
CLIENT_TIMEOUT = 60.0


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
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    holder = psycopg.connect(conninfo)
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
    """`pdp serve` on a private PostgreSQL database reached through a TcpProxy."""
    with ExitStack() as stack:
        try:
            name = stack.enter_context(private_database())
        except psycopg.OperationalError:
            pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432: skipped")
        proxy = TcpProxy(POSTGRES)
        stack.callback(proxy.close)
        env = {
            "PDP_DATABASE_URL": database_url(name, proxy.port),
            "PDP_DATABASE_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
            "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
            # Every new PEP token needs a JWKS fetch on a worker thread, the path that starved.
            "PDP_JWKS_CACHE_SECONDS": "0.001",
            "PDP_BUNDLE": str(REPO / "policies"),
            "PDP_DECISION_LOG_SPOOL_DIR": str(tmp_path / "spool"),
        }
        server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "pdp.log")
        stack.callback(server.stop)
        stack.callback(proxy.resume)
        yield server, proxy


def _decide(server: ServerProcess, issuer: TestIssuer) -> httpx.Response:
    """A decision for a PEP token this server has never seen (a new jti)."""
    token = issuer.machine_token("pep-under-fault")
    return httpx.post(
        server.url + "/decide",
        json=decide_body(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=CLIENT_TIMEOUT,
    )


def test_a_silent_database_starves_nothing_and_admin_answers_503(silent_link, issuer):
    server, proxy = silent_link
    admin = {"Authorization": f"Bearer {issuer.machine_token('ops', scope='pdp/admin')}"}
    users = f"{server.url}{TENANTS}/{ACME}/users"
    with httpx.Client(headers=admin, timeout=CLIENT_TIMEOUT) as client:
        assert client.get(users).status_code == 200
        proxy.stall()
        with ThreadPoolExecutor(ADMIN_REQUESTS) as pool:
            pending: list[Future[httpx.Response]] = [
                pool.submit(client.get, users)
                if i % 2
                else pool.submit(client.post, users, json={"id": f"stalled-{i}"})
                for i in range(ADMIN_REQUESTS)
            ]
            health = httpx.get(server.url + "/health", timeout=CLIENT_TIMEOUT)
            decisions = [_decide(server, issuer) for _ in range(5)]
            unfinished = sum(not future.done() for future in pending)
            admin_answers = [future.result() for future in pending]
        assert health.status_code == 200 and health.json()["status"] == "ok"
        for decision in decisions:
            assert decision.status_code == 200, decision.text
            assert decision.json()["allow"] is True, decision.text
        # They answered while admin requests were still waiting on the silent database.
        assert unfinished > 0
        for answer in admin_answers:
            _assert_store_unavailable(answer)
        proxy.resume()
        deadline = time.monotonic() + CLIENT_TIMEOUT
        while (answer := client.get(users)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer.status_code == 200, answer.text
        created = client.post(users, json={"id": "after-the-fault"})
        assert created.status_code == 201, created.text

"""A silent database under a real `pdp serve`: a private PostgreSQL database reached
through a TcpProxy that can stall, and a burst of admin requests fired while it does, timed.
Used by tests/pdp/test_store_faults.py and bench/store_faults_bench.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

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

# Far above anything the server should take; only a hang reaches it.
CLIENT_TIMEOUT = 60.0


@contextmanager
def silent_pdp(
    issuer: TestIssuer, tmp: Path, timeout_seconds: float
) -> Iterator[tuple[ServerProcess, TcpProxy]]:
    """`pdp serve` on a private PostgreSQL database reached through a TcpProxy (raises
    psycopg.OperationalError when PostgreSQL is not reachable)."""
    with ExitStack() as stack:
        name = stack.enter_context(private_database())
        proxy = TcpProxy(POSTGRES)
        stack.callback(proxy.close)
        env = {
            "PDP_DATABASE_URL": database_url(name, proxy.port),
            "PDP_DATABASE_TIMEOUT_SECONDS": str(timeout_seconds),
            "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
            # Every new PEP token needs a JWKS fetch on a worker thread, the path that starved.
            "PDP_JWKS_CACHE_SECONDS": "0.001",
            "PDP_BUNDLE": str(REPO / "policies"),
            "PDP_DECISION_LOG_SPOOL_DIR": str(tmp / "spool"),
        }
        server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp / "pdp.log")
        stack.callback(server.stop)
        stack.callback(proxy.resume)
        yield server, proxy


def users_url(server: ServerProcess) -> str:
    return f"{server.url}/admin/v1/tenants/{ACME}/users"


def admin_client(issuer: TestIssuer) -> httpx.Client:
    token = issuer.machine_token("ops", scope="pdp/admin")
    return httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=CLIENT_TIMEOUT)


def decide(server: ServerProcess, issuer: TestIssuer) -> httpx.Response:
    """A decision for a PEP token this server has never seen (a new jti)."""
    token = issuer.machine_token("pep-under-fault")
    return httpx.post(
        server.url + "/decide",
        json=decide_body(),
        headers={"Authorization": f"Bearer {token}"},
        timeout=CLIENT_TIMEOUT,
    )


def _timed(call: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = call()
    return time.monotonic() - started, response


@dataclass
class Stall:
    """What a stalled link did to a burst of admin requests and the calls made meanwhile."""

    admin: list[tuple[float, httpx.Response]]  # (seconds to answer, answer), per request
    health: list[tuple[float, httpx.Response]]
    decisions: list[tuple[float, httpx.Response]]
    # Admin requests not yet answered when the last /health and /decide had answered.
    unfinished: int
    recovery_seconds: float  # from resume() to the first admin 200
    recovered: httpx.Response


def stalled_burst(
    server: ServerProcess,
    proxy: TcpProxy,
    client: httpx.Client,
    issuer: TestIssuer,
    *,
    requests: int = 45,
    probes: int = 5,
) -> Stall:
    """Stall the link, fire `requests` concurrent admin requests (lists and creates), probe
    /health and /decide meanwhile, then resume and wait for admin to answer 200 again."""
    users = users_url(server)
    proxy.stall()
    with ThreadPoolExecutor(requests) as pool:
        pending: list[Future[tuple[float, httpx.Response]]] = [
            pool.submit(_timed, lambda i=i: client.post(users, json={"id": f"stalled-{i}"}))
            if i % 2 == 0
            else pool.submit(_timed, lambda: client.get(users))
            for i in range(requests)
        ]
        health = [
            _timed(lambda: httpx.get(server.url + "/health", timeout=CLIENT_TIMEOUT))
            for _ in range(probes)
        ]
        decisions = [_timed(lambda: decide(server, issuer)) for _ in range(probes)]
        unfinished = sum(not future.done() for future in pending)
        admin = [future.result() for future in pending]
    proxy.resume()
    resumed = time.monotonic()
    deadline = resumed + CLIENT_TIMEOUT
    while (answer := client.get(users)).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    return Stall(admin, health, decisions, unfinished, time.monotonic() - resumed, answer)

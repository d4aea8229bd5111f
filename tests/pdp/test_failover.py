"""A replica dies or stops under load behind nginx run with the shipped deploy/nginx.conf:
no decision fails, and the decision log keeps every answered decision (a kill -9 may lose
only the killed replica's last second). Real `pdp serve` processes on a private PostgreSQL
database; nginx from Debian's packages (scripts/test installs it)."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.responses import JSONResponse
from uvicorn.server import ServerState

from pdp.one_write import OneWriteHttpTools
from tests.pdp.pdp_env import ACME, BOB
from tests.support.decision_faults import (
    database_url,
    decide_body,
    private_database,
    stored_ids,
)
from tests.support.failover import (
    DiesMidRequest,
    LoadBalancer,
    nginx_binary,
    render_nginx_conf,
    start_replica,
    stop_replica_under_load,
)
from tests.support.processes import free_port

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


class RecordingTransport(asyncio.Transport):
    """The socket end of one connection: keeps each write uvicorn's protocol makes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8181)}.get(
            name, default
        )


@pytest.mark.parametrize("keep_alive", [True, False])
def test_a_response_leaves_in_one_write(keep_alive: bool) -> None:
    """Header and body in one send (also when the connection closes right after): a replica
    killed mid-response never sent half of one, which nginx could neither complete nor retry."""

    async def exchange() -> RecordingTransport:
        config = uvicorn.Config(JSONResponse({"allow": True}), log_level="warning")
        config.load()
        transport = RecordingTransport()
        protocol = OneWriteHttpTools(config, ServerState(), {}, _loop=asyncio.get_running_loop())
        protocol.connection_made(transport)
        connection = b"keep-alive" if keep_alive else b"close"
        protocol.data_received(
            b"POST /decide HTTP/1.1\r\nHost: pdp\r\nContent-Length: 2\r\n"
            b"Connection: " + connection + b"\r\n\r\n{}"
        )
        while not transport.writes or (not keep_alive and not transport.closed):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        protocol.connection_lost(None)
        return transport

    transport = asyncio.run(exchange())
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert json.loads(body) == {"allow": True}


def _through_fresh_balancer(
    nginx: str, upstream_ports: list[int], prefix: Path, send: Callable[[httpx.Client, str], int]
) -> list[int]:
    """Four requests through a new nginx (so no earlier failure has taken a replica out)."""
    port = free_port()
    balancer = LoadBalancer(nginx, render_nginx_conf(upstream_ports, port), prefix, port)
    try:
        with httpx.Client(timeout=30.0) as client:
            return [send(client, balancer.url) for _ in range(4)]
    finally:
        balancer.stop()


def test_nginx_retries_a_decision_a_replica_died_on_but_not_an_admin_write(
    nginx: str, database: str, tmp_path: Path
) -> None:
    """One upstream reads each request and resets the connection: the shipped config sends a
    decision on to the live replica, and answers 502 to an admin write rather than send it
    twice."""
    dying = DiesMidRequest()
    replica = start_replica(database_url(database), tmp_path / "spool", tmp_path / "pdp.log")
    ports = [dying.port, replica.port]
    binding = {"subject_type": "user", "subject_id": BOB, "role": "commenter"}
    try:
        decided = _through_fresh_balancer(
            nginx,
            ports,
            tmp_path / "nginx-decide",
            lambda client, url: client.post(url + "/decide", json=decide_body()).status_code,
        )
        decisions_at_dying = len(dying.requests)
        written = _through_fresh_balancer(
            nginx,
            ports,
            tmp_path / "nginx-admin",
            lambda client, url: (
                client.post(
                    f"{url}/admin/v1/tenants/{ACME}/role-bindings", json=binding
                ).status_code
            ),
        )
    finally:
        replica.stop()
        dying.close()
    writes_at_dying = dying.requests[decisions_at_dying:]
    assert decisions_at_dying >= 1
    assert decided == [200] * 4
    assert writes_at_dying and all(line.startswith("POST /admin/") for line in writes_at_dying)
    assert written.count(502) == len(writes_at_dying)

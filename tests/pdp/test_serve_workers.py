"""`pdp serve --workers 2`: one port, two processes, and an admin write through either one is
seen by the next decision on both (their pollers are slowed down so they cannot explain it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from tests.pdp.pdp_env import ACME, BOB, DEMO_DIRECTORY, POLICIES, document_request
from tests.support.processes import ServerProcess

# Fresh connections, so the kernel spreads them over both workers' accept queues.
ROUNDS = 24


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("workers")
    database_url = f"sqlite:///{workdir / 'pdp.db'}"
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    env = {
        "PDP_DATABASE_URL": database_url,
        "PDP_BUNDLE": str(POLICIES),
        "PDP_REQUIRE_PEP_AUTH": "false",
        "PDP_DIRECTORY_POLL_SECONDS": "600",
    }
    running = ServerProcess(
        "pdp.cli", ["serve", "--workers", "2"], env, log_path=workdir / "server.log"
    )
    yield running
    running.stop()


def decisions(server: ServerProcess) -> set[bool]:
    body = document_request({"id": BOB}, "document:comment")
    return {httpx.post(server.url + "/decide", json=body).json()["allow"] for _ in range(ROUNDS)}


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def test_two_worker_processes_serve_the_port(server: ServerProcess) -> None:
    assert len(children(server.process.pid)) >= 2
    assert {httpx.get(server.url + "/health").status_code for _ in range(ROUNDS)} == {200}


def test_an_admin_write_is_seen_by_the_next_decision_on_every_worker(
    server: ServerProcess,
) -> None:
    bindings = f"{server.url}/admin/v1/tenants/{ACME}/role-bindings"
    assert decisions(server) == {False}
    made = httpx.post(
        bindings, json={"subject_type": "user", "subject_id": BOB, "role": "commenter"}
    )
    assert made.status_code == 201, made.text
    assert decisions(server) == {True}
    gone = httpx.delete(f"{bindings}/{made.json()['id']}")
    assert gone.status_code == 204
    assert decisions(server) == {False}


def test_both_workers_write_every_decision_to_the_shared_log(server: ServerProcess) -> None:
    """Two SQLite writers (WAL, busy timeout): no decision-log record is lost to a lock."""
    body = document_request({"id": BOB}, "document:read", id="logged-by-both")
    made = {
        httpx.post(server.url + "/decide", json=body).json()["decision_id"] for _ in range(ROUNDS)
    }
    deadline = time.monotonic() + 20
    logged: set[str] = set()
    while logged != made and time.monotonic() < deadline:
        page = httpx.get(
            server.url + "/admin/v1/decisions",
            params={"resource_id": "logged-by-both", "limit": 1000},
        ).json()
        logged = {item["decision_id"] for item in page["items"]}
        time.sleep(0.2)
    assert logged == made

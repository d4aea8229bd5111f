"""Faults for the decision log, on real processes: a private PostgreSQL database, `pdp serve`
on it (directly or through a TcpProxy), and PEP load that keeps the decision ids it was given.
Used by tests/pdp/test_decision_log_faults.py and bench/reliability_bench.py."""

from __future__ import annotations

import json
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess
from tests.support.tcp_proxy import TcpProxy

POSTGRES = ("127.0.0.1", 5432)
ADMIN_CONNINFO = "postgresql://postgres@127.0.0.1:5432/test"
DEMO_DIRECTORY = REPO / "policies/examples/directory.yaml"
ACME = "4f1c2d3e-0000-4000-8000-000000000001"
ALICE = "6f0b2c1e-0000-4000-8000-00000000a11c"


@contextmanager
def private_database() -> Iterator[str]:
    """A new PostgreSQL database holding the demo directory (dropped afterwards); yields its
    name."""
    name = f"pdp_faults_{secrets.token_hex(5)}"
    with psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        directory = DirectoryStore(database_url(name))
        import_document(directory, load_document(DEMO_DIRECTORY))
        directory.close()
        yield name
    finally:
        with psycopg.connect(ADMIN_CONNINFO, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def database_url(name: str, port: int = POSTGRES[1]) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{name}?connect_timeout=3"


def stored_ids(name: str) -> set[str]:
    with psycopg.connect(ADMIN_CONNINFO.rsplit("/", 1)[0] + f"/{name}") as conn:
        return {row[0] for row in conn.execute("SELECT decision_id FROM decision_log")}


def wait_until_stored(name: str, ids: set[str], timeout: float = 60.0) -> set[str]:
    """The stored decision ids, once they include `ids` or `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while not ids <= (stored := stored_ids(name)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return stored


def start_pdp(url: str, issuer: TestIssuer, spool: Path, log_path: Path) -> ServerProcess:
    env = {
        "PDP_DATABASE_URL": url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(REPO / "policies"),
        "PDP_DECISION_LOG_SPOOL_DIR": str(spool),
    }
    return ServerProcess("pdp.cli", ["serve"], env, log_path=log_path)


def decide_body(attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    resource = {"type": "document", "id": "d1", "tenant_id": ACME, "attributes": attributes or {}}
    return {"subject": {"id": ALICE}, "action": "document:read", "resource": resource}


class Load:
    """PEP threads deciding against `url` until stopped or the server goes away; keeps each
    decision id with the moment its answer arrived."""

    def __init__(self, url: str, token: str, *, threads: int = 4) -> None:
        self._url = url + "/decide"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.answered: list[tuple[float, str]] = []
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    response = client.post(self._url, json=decide_body(), headers=self._headers)
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    with self._lock:
                        self.answered.append((time.monotonic(), response.json()["decision_id"]))

    def wait_for(self, count: int) -> None:
        while len(self.answered) < count:
            time.sleep(0.01)

    def stop(self) -> set[str]:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        return {decision_id for _, decision_id in self.answered}

    def answered_since(self, moment: float) -> int:
        return sum(1 for at, _ in self.answered if at >= moment)


@dataclass(frozen=True)
class Outcome:
    """What the PEPs were answered and what the decision log holds afterwards."""

    answered: set[str]
    stored: set[str]
    # Answers in the last second before the fault, and during it (an outage; the poisoned
    # requests answered, for a poison burst).
    last_second: int = 0
    during: int = 0
    metrics: str = ""
    # From the database's return to the last answered record stored (an outage).
    catch_up_seconds: float = 0.0

    @property
    def lost(self) -> int:
        return len(self.answered - self.stored)


def stop_under_load(
    name: str, issuer: TestIssuer, workdir: Path, how: signal.Signals, *, warmup: int = 300
) -> Outcome:
    """Decide under load, stop the server with `how` after `warmup` answers, start it again on
    the same spool (it replays what is there) and stop it cleanly."""
    url = database_url(name)
    server = start_pdp(url, issuer, workdir / "spool", workdir / "first.log")
    load = Load(server.url, issuer.machine_token("pep-faults"))
    load.wait_for(warmup)
    stopped_at = time.monotonic()
    server.process.send_signal(how)
    server.process.wait(30)
    answered = load.stop()
    server.stop()
    start_pdp(url, issuer, workdir / "spool", workdir / "second.log").stop()
    return Outcome(answered, stored_ids(name), last_second=load.answered_since(stopped_at - 1))


def outage_under_load(
    name: str, issuer: TestIssuer, workdir: Path, hold: Callable[[Load], None]
) -> Outcome:
    """Decide under load through a TcpProxy to PostgreSQL; cut it while `hold(load)` runs,
    restore it, and wait for the log to catch up."""
    proxy = TcpProxy(POSTGRES)
    server = start_pdp(
        database_url(name, proxy.port), issuer, workdir / "spool", workdir / "pdp.log"
    )
    try:
        load = Load(server.url, issuer.machine_token("pep-outage"))
        load.wait_for(100)
        proxy.cut()
        before = len(load.answered)
        hold(load)
        during = len(load.answered) - before
        proxy.restore()
        restored_at = time.monotonic()
        load.wait_for(len(load.answered) + 100)
        answered = load.stop()
        stored = wait_until_stored(name, answered, timeout=120)
        catch_up = time.monotonic() - restored_at
        metrics = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
        proxy.close()
    return Outcome(answered, stored, during=during, metrics=metrics, catch_up_seconds=catch_up)


def poisoned_burst(
    name: str, issuer: TestIssuer, workdir: Path, *, total: int, every: int
) -> Outcome:
    """`total` concurrent decisions, one in `every` with a NUL character (in a value or a key)
    or NaN in an attribute, as a PEP sends them: NUL escaped as \\u0000, NaN as the bare
    token. A poisoned request the PDP refuses at the door is not answered, so not counted;
    `during` is the number of poisoned ones answered."""
    server = start_pdp(database_url(name), issuer, workdir / "spool", workdir / "pdp.log")
    headers = {
        "Authorization": f"Bearer {issuer.machine_token('pep-poison')}",
        "Content-Type": "application/json",
    }
    poisons = [{"note": "a\x00b"}, {"k\x00": 1}, {"score": float("nan")}]
    bodies = [
        (json.dumps(decide_body(poisons[i // every % 3] if i % every == 0 else {"n": i})), i)
        for i in range(total)
    ]

    def decide(body: tuple[str, int]) -> tuple[str | None, bool]:
        with httpx.Client(timeout=30.0) as client:
            response = client.post(server.url + "/decide", content=body[0], headers=headers)
        poisoned = body[1] % every == 0
        if response.status_code == 400 and poisoned:
            return None, poisoned
        response.raise_for_status()
        return response.json()["decision_id"], poisoned

    try:
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(decide, bodies))
        answered = {decision_id for decision_id, _ in results if decision_id}
        stored = wait_until_stored(name, answered)
        metrics = httpx.get(server.url + "/metrics").text
    finally:
        server.stop()
    poisoned = sum(1 for decision_id, bad in results if decision_id and bad)
    return Outcome(answered, stored, during=poisoned, metrics=metrics)

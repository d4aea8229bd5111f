"""Replica failure behind the shipped load balancer, on real processes: two `pdp serve`
replicas on one private PostgreSQL database, nginx run with deploy/nginx.conf (ports
substituted), and a PEP client sending a fixed number of decisions while a replica is
stopped. Used by tests/pdp/test_failover.py and bench/failover_bench.py."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.decision_faults import database_url, decide_body, stored_ids
from tests.support.processes import REPO, ServerProcess, free_port

NGINX_CONF = REPO / "deploy/nginx.conf"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("/usr/sbin/nginx")


def render_nginx_conf(upstream_ports: list[int], port: int, *, retry_posts: bool = True) -> str:
    """The shipped config with the replicas and the listener on local ports; without
    `retry_posts`, as it was before decisions were retried (for the bench's comparison)."""
    text = NGINX_CONF.read_text()
    for index, upstream in enumerate(upstream_ports, start=1):
        text, found = re.subn(rf"server pdp-{index}:8181", f"server 127.0.0.1:{upstream}", text)
        assert found == 1, f"deploy/nginx.conf has no upstream pdp-{index}:8181"
    text, found = re.subn(r"listen 8181;", f"listen 127.0.0.1:{port};", text)
    assert found == 1, "deploy/nginx.conf does not listen on 8181"
    if not retry_posts:
        text = text.replace(" non_idempotent;", ";")
    return text


class LoadBalancer:
    """nginx in the foreground with its pid file, logs and temp files under `prefix`."""

    def __init__(self, binary: str, conf: str, prefix: Path, port: int) -> None:
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        conf_path = prefix / "nginx.conf"
        conf_path.write_text(conf)
        self.url = f"http://127.0.0.1:{port}"
        self.error_log = prefix / "error.log"
        self.process = subprocess.Popen(
            [
                binary,
                *("-p", str(prefix), "-c", str(conf_path)),
                *("-g", f"daemon off; pid {prefix / 'nginx.pid'}; error_log {self.error_log};"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not _accepts(port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start:\n{self.errors()}")
            time.sleep(0.05)

    def errors(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class DiesMidRequest:
    """An upstream that reads each request whole and then resets the connection without a
    word, as a replica killed while deciding; keeps the request lines it was sent."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.requests: list[str] = []
        threading.Thread(target=self._serve, name="dies-mid-request", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                request = _read_request(conn)
                if request:
                    self.requests.append(request.split(b"\r\n", 1)[0].decode())
                # Linger 0: close with a reset, as the kernel does for a killed process.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self._listener.close()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    while length and len(body) < int(length.group(1)):
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return data


def start_replica(
    url: str, spool: Path, log_path: Path, *, workers: int = 1, drain_seconds: float = 0.0
) -> ServerProcess:
    env = {
        "PDP_DATABASE_URL": url,
        "PDP_BUNDLE": str(REPO / "policies"),
        "PDP_REQUIRE_PEP_AUTH": "false",
        "PDP_DECISION_LOG_SPOOL_DIR": str(spool),
    }
    return ServerProcess(
        "pdp.cli",
        ["serve", "--workers", str(workers), "--drain-seconds", str(drain_seconds)],
        env,
        log_path=log_path,
    )


@dataclass
class LoadResult:
    """Every answer the PEP got: decision ids with the moment they arrived, and failures."""

    answered: list[tuple[float, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    fault_at: float = 0.0

    def ids(self) -> set[str]:
        return {decision_id for _, decision_id in self.answered}

    def answered_since(self, moment: float) -> set[str]:
        return {decision_id for at, decision_id in self.answered if at >= moment}


def decide_under_fault(
    url: str, *, total: int, connections: int, fault_after: int, fault: Callable[[], None]
) -> LoadResult:
    """`total` decisions over `connections` keep-alive connections; `fault` runs (on its own
    thread) once `fault_after` were answered. A failure is any answer but a 200 decision."""
    result = LoadResult()
    lock = threading.Lock()
    remaining = iter(range(total))
    fault_thread = threading.Thread(target=fault, daemon=True)

    def pep() -> None:
        with httpx.Client(timeout=30.0) as client:
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                outcome = _decide(client, url + "/decide")
                with lock:
                    if outcome.startswith("failed: "):
                        result.failed.append(outcome)
                    else:
                        result.answered.append((time.monotonic(), outcome))
                    if len(result.answered) == fault_after:
                        result.fault_at = time.monotonic()
                        fault_thread.start()

    peps = [threading.Thread(target=pep) for _ in range(connections)]
    for thread in peps:
        thread.start()
    for thread in peps:
        thread.join()
    if fault_thread.ident is not None:  # not started when too few decisions were answered
        fault_thread.join()
    return result


def _decide(client: httpx.Client, url: str) -> str:
    """The decision id, or "failed: " and why."""
    try:
        response = client.post(url, json=decide_body())
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    if response.status_code != 200:
        return f"failed: HTTP {response.status_code}"
    body = response.json()
    if not isinstance(body.get("allow"), bool) or not body.get("decision_id"):
        return f"failed: no decision in {response.text[:80]}"
    return body["decision_id"]


def stop(server: ServerProcess, how: signal.Signals) -> Callable[[], None]:
    """A fault: send `how` to the replica (its supervisor, with --workers) and wait for it."""

    def fault() -> None:
        server.process.send_signal(how)
        server.process.wait(60)

    return fault


@dataclass(frozen=True)
class Failover:
    """One run: the PEP's answers and failures, and what the decision log holds afterwards."""

    load: LoadResult
    stored: set[str]

    @property
    def lost(self) -> set[str]:
        return self.load.ids() - self.stored

    @property
    def last_second(self) -> set[str]:
        """Answers from the second before the fault on: what a kill -9 may lose (the
        replica that stays up loses nothing)."""
        return self.load.answered_since(self.load.fault_at - 1.0)


def stop_replica_under_load(
    nginx: str,
    database: str,
    workdir: Path,
    how: signal.Signals,
    *,
    total: int,
    connections: int = 16,
    workers: int = 1,
    retry_posts: bool = True,
) -> Failover:
    """Two replicas on the PostgreSQL `database` behind nginx; stop the first with `how` halfway through `total` decisions.
    Then the second stops cleanly and, after a kill -9, the first is started again on its
    spool (it replays what reached it) and stopped, so the log holds all it will ever hold."""
    url = database_url(database)
    spool = workdir / "spool"
    first = start_replica(url, spool, workdir / "first.log", workers=workers)
    second = start_replica(url, spool, workdir / "second.log")
    port = free_port()
    balancer = LoadBalancer(
        nginx,
        render_nginx_conf([first.port, second.port], port, retry_posts=retry_posts),
        workdir / "nginx",
        port,
    )
    try:
        load = decide_under_fault(
            balancer.url,
            total=total,
            connections=connections,
            fault_after=total // 2,
            fault=stop(first, how),
        )
    finally:
        balancer.stop()
        second.stop()
        first.stop()
    if how == signal.SIGKILL:
        start_replica(url, spool, workdir / "restarted.log").stop()
    return Failover(load, stored_ids(database))

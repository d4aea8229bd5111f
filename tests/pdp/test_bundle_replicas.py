"""End to end with real `pdp serve` processes: the bundle lifecycle through the `pdp bundle`
CLI, and two replicas on one PostgreSQL switching revisions together without a failed decision.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pdp.bundles.archive import read_archive, write_archive
from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from tests.pdp.pdp_env import ALICE, DEMO_DIRECTORY, POLICIES, document_request
from tests.pdp.test_bundle_publish import CRASHING_POLICY, new_key_pair
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess

pytestmark = pytest.mark.e2e

# The bound for every replica to serve a new activation; not a speed claim.
SWITCH_SECONDS = 5.0


def pdp_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pdp.cli", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def server_env(database_url: str, issuer: TestIssuer, **extra: str) -> dict[str, str]:
    return {
        "PDP_DATABASE_URL": database_url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": "",  # follow the store, not a bundle on disk
        "PDP_BUNDLE_POLL_SECONDS": "0.5",
        **extra,
    }


def served_revision(server: ServerProcess) -> str | None:
    return httpx.get(server.url + "/health", timeout=5).json()["bundle_revision"]


def wait_for_revision(servers: list[ServerProcess], revision: str) -> float:
    """Seconds until every server reports `revision`; fails after SWITCH_SECONDS."""
    started = time.monotonic()
    while time.monotonic() - started < SWITCH_SECONDS:
        if all(served_revision(s) == revision for s in servers):
            return time.monotonic() - started
        time.sleep(0.05)
    seen = [served_revision(s) for s in servers]
    raise AssertionError(f"not all replicas serve {revision} after {SWITCH_SECONDS}s: {seen}")


# --- the lifecycle through the CLI ------------------------------------------------------------


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = new_key_pair()
    private_path, public_path = tmp_path / "signing.pem", tmp_path / "public.pem"
    private_path.write_bytes(private)
    public_path.write_text(public)
    return private_path, public_path


def build(directory: Path, output: Path, revision: str, key: Path) -> Path:
    result = pdp_cli(
        "bundle", "build", str(directory), "-o", str(output), "--revision", revision,
        "--include-tests", "--signing-key", str(key), "--key-id", "release",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return output


def test_build_sign_verify_push_activate_decide_roll_back(tmp_path, issuer, keys) -> None:
    private, public = keys
    database_url = f"sqlite:///{tmp_path / 'pdp.db'}"
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    verification = json.dumps({"release": public.read_text()})
    env = server_env(database_url, issuer, PDP_BUNDLE_VERIFICATION_KEYS=verification)
    server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "pdp.log")
    admin = {"PDP_URL": server.url, "PDP_ADMIN_TOKEN": issuer.machine_token("rel", "pdp/admin")}
    pep = {"Authorization": f"Bearer {issuer.machine_token('pep', 'pdp/decide')}"}

    def decide() -> dict:
        body = document_request({"id": ALICE}, "document:read")
        response = httpx.post(server.url + "/decide", json=body, headers=pep, timeout=10)
        assert response.status_code == 200
        return response.json()

    def push(path: Path) -> subprocess.CompletedProcess[str]:
        return pdp_cli("bundle", "push", str(path), "--json", env=admin)

    try:
        assert decide()["reasons"] == ["no_bundle"]
        r1 = build(POLICIES, tmp_path / "r1.tar.gz", "r1", private)
        r2 = build(POLICIES, tmp_path / "r2.tar.gz", "r2", private)
        verified = pdp_cli("bundle", "verify", str(r1), "--public-key", str(public))
        assert verified.returncode == 0, verified.stderr

        pushed = push(r1)
        assert pushed.returncode == 0, pushed.stderr
        record = json.loads(pushed.stdout)
        assert (record["revision"], record["published_by"]) == ("r1", "rel")
        assert record["signature"] == {"status": "verified", "key_id": "release"}
        assert pdp_cli("bundle", "activate", "r1", env=admin).returncode == 0
        assert (decide()["allow"], decide()["bundle_revision"]) == (True, "r1")

        assert push(r2).returncode == 0
        assert pdp_cli("bundle", "activate", "r2", env=admin).returncode == 0
        assert decide()["bundle_revision"] == "r2"
        rolled = pdp_cli("bundle", "rollback", "--json", env=admin)
        assert json.loads(rolled.stdout)["revision"] == "r1"
        assert decide()["bundle_revision"] == "r1"

        # Refusals: the server stays up, keeps r1, and stores none of them.
        crash_dir = tmp_path / "crash" / "authz"
        crash_dir.mkdir(parents=True)
        (crash_dir / "policy.rego").write_text(CRASHING_POLICY)
        crashing = build(crash_dir.parent, tmp_path / "crash.tar.gz", "crash", private)
        files = read_archive(r2.read_bytes())
        rego = bytearray(files["authz/decision.rego"])
        rego[-2] ^= 0x01
        tampered = tmp_path / "tampered.tar.gz"
        tampered.write_bytes(write_archive({**files, "authz/decision.rego": bytes(rego)}))
        unsigned = tmp_path / "unsigned.tar.gz"
        unsigned.write_bytes(
            write_archive({k: v for k, v in files.items() if k != ".signatures.json"})
        )
        for path, reason in [
            (crashing, "bundle_refused"),
            (tampered, "file_mismatch"),
            (unsigned, "unsigned"),
        ]:
            refused = push(path)
            assert refused.returncode == 1
            assert refused.stderr.startswith(f"error: HTTP 400 {reason}:"), refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1
        health = httpx.get(server.url + "/health?bundles").json()
        assert health == {
            "status": "ok",
            "bundle_revision": "r1",
            "bundle_mode": "store",
            "bundle_error": None,
        }
        assert decide()["bundle_revision"] == "r1"
        listed = json.loads(pdp_cli("bundle", "list", "--json", env=admin).stdout)
        assert [(b["revision"], b["active"]) for b in listed["items"]] == [
            ("r2", False),
            ("r1", True),
        ]
        assert server.process.poll() is None
    finally:
        server.stop()


# --- two replicas on PostgreSQL -----------------------------------------------------------------


class DecisionLoop:
    """Decides over and over against one server until stopped (bounded in count and time)."""

    def __init__(self, server: ServerProcess, pep_token: str) -> None:
        self.failures: list[str] = []
        self.revisions: list[str | None] = []
        self._server = server
        self._headers = {"Authorization": f"Bearer {pep_token}"}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        body = document_request({"id": ALICE}, "document:read")
        deadline = time.monotonic() + 60
        with httpx.Client(base_url=self._server.url, headers=self._headers, timeout=10) as http:
            for _ in range(20_000):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    response = http.post("/decide", json=body)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200 or response.json()["allow"] is not True:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    self.revisions.append(response.json()["bundle_revision"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture
def replicas(database_url: str, issuer, tmp_path) -> Iterator[tuple[list[ServerProcess], dict]]:
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    env = server_env(database_url, issuer)
    started: list[ServerProcess] = []
    try:
        for index in range(2):
            log = tmp_path / f"replica-{index}.log"
            started.append(ServerProcess("pdp.cli", ["serve"], env, log_path=log))
        yield started, env
    finally:
        for server in started:
            server.stop()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_replicas_switch_together_without_a_failed_decision(replicas, issuer, tmp_path) -> None:
    servers, env = replicas
    admin = {"Authorization": f"Bearer {issuer.machine_token('rel', 'pdp/admin')}"}
    first, second = servers
    revisions = {}
    for revision in ("r1", "r2"):
        archive = tmp_path / f"{revision}.tar.gz"
        result = pdp_cli(
            "bundle", "build", str(POLICIES), "-o", str(archive), "--revision", revision,
            "--include-tests",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        revisions[revision] = archive.read_bytes()

    published = httpx.post(
        first.url + "/admin/v1/bundles", content=revisions["r1"], headers=admin, timeout=60
    )
    assert published.status_code == 201, published.text
    activated = httpx.post(first.url + "/admin/v1/bundles/r1/activate", headers=admin, timeout=60)
    assert activated.status_code == 200
    assert served_revision(first) == "r1"  # the replica that took the call swapped before answering
    wait_for_revision(servers, "r1")

    # A replica started now loads the active revision before it serves.
    late = ServerProcess(
        "pdp.cli", ["serve"], env, log_path=tmp_path / "late.log", ready_path="/health?bundles"
    )
    try:
        assert served_revision(late) == "r1"
        servers = [*servers, late]
        # Published on one replica, activated on the other; decisions run on all throughout.
        published = httpx.post(
            second.url + "/admin/v1/bundles", content=revisions["r2"], headers=admin, timeout=60
        )
        assert published.status_code == 201, published.text
        loops = [DecisionLoop(s, issuer.machine_token("pep", "pdp/decide")) for s in servers]
        time.sleep(0.5)
        response = httpx.post(first.url + "/admin/v1/bundles/r2/activate", headers=admin)
        assert response.status_code == 200
        wait_for_revision(servers, "r2")
        time.sleep(0.5)
        for loop in loops:
            loop.stop()
        for loop in loops:
            assert loop.failures == []
            # Each replica went from r1 to r2 once, and never back.
            switches = [
                r for i, r in enumerate(loop.revisions) if i == 0 or loop.revisions[i - 1] != r
            ]
            assert switches == ["r1", "r2"]
    finally:
        late.stop()


# --- a replica with verification keys beside one without ----------------------------------------


def health_of(server: ServerProcess) -> dict:
    return httpx.get(server.url + "/health", timeout=5).json()


def wait_for_health(server: ServerProcess, done: Callable[[dict], bool]) -> dict:
    """The server's /health once `done` holds for it; fails after SWITCH_SECONDS."""
    started = time.monotonic()
    while time.monotonic() - started < SWITCH_SECONDS:
        if done(health := health_of(server)):
            return health
        time.sleep(0.05)
    raise AssertionError(f"/health after {SWITCH_SECONDS}s: {health_of(server)}")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_replica_with_keys_never_serves_what_it_does_not_trust(
    database_url, issuer, tmp_path, keys
) -> None:
    private, public = keys
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    env = server_env(database_url, issuer)
    trusting = {**env, "PDP_BUNDLE_VERIFICATION_KEYS": json.dumps({"release": public.read_text()})}
    admin = {"Authorization": f"Bearer {issuer.machine_token('rel', 'pdp/admin')}"}
    pep = {"Authorization": f"Bearer {issuer.machine_token('pep', 'pdp/decide')}"}
    unsigned = tmp_path / "r1.tar.gz"
    built = pdp_cli("bundle", "build", str(POLICIES), "-o", str(unsigned), "--revision", "r1")
    assert built.returncode == 0, built.stderr
    signed = build(POLICIES, tmp_path / "r2.tar.gz", "r2", private)
    started: list[ServerProcess] = []

    def publish_and_activate(path: Path, revision: str) -> None:
        published = httpx.post(
            open_replica.url + "/admin/v1/bundles", content=path.read_bytes(), headers=admin,
            timeout=60,
        )  # fmt: skip
        assert published.status_code == 201, published.text
        url = f"{open_replica.url}/admin/v1/bundles/{revision}/activate"
        assert httpx.post(url, headers=admin, timeout=60).status_code == 200

    def decide(server: ServerProcess) -> dict:
        body = document_request({"id": ALICE}, "document:read")
        response = httpx.post(server.url + "/decide", json=body, headers=pep, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    try:
        open_replica = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "a.log")
        started.append(open_replica)
        verifying = ServerProcess("pdp.cli", ["serve"], trusting, log_path=tmp_path / "b.log")
        started.append(verifying)
        publish_and_activate(unsigned, "r1")
        assert decide(open_replica)["bundle_revision"] == "r1"
        health = wait_for_health(verifying, lambda h: h["bundle_error"] is not None)
        assert health["bundle_revision"] is None
        assert (health["bundle_error"]["revision"], health["bundle_error"]["reason"]) == (
            "r1",
            "unsigned",
        )
        assert "is not signed by a key this replica trusts" in health["bundle_error"]["message"]
        assert httpx.get(verifying.url + "/health?bundles", timeout=5).status_code == 500
        assert decide(verifying)["reasons"] == ["no_bundle"]

        publish_and_activate(signed, "r2")
        wait_for_revision([open_replica, verifying], "r2")
        assert health_of(verifying)["bundle_error"] is None
        assert [decide(s)["allow"] for s in (open_replica, verifying)] == [True, True]
    finally:
        for server in started:
            server.stop()

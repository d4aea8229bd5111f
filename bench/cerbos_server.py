"""Cerbos for the side-by-side benchmark: the binary from npm, run with a disk policy store.

The npm package `@cerbos/cerbos-linux-x64` ships Cerbos's single static binary, so no
container or Go toolchain is needed. It is installed into a cache directory (gitignored under
`.venv/`) the first time; the server runs on free loopback ports with `bench/cerbos/config.yaml`
(disk store of `bench/cerbos/policies/`, audit and telemetry off).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.processes import REPO, free_port, terminate

PACKAGE = "@cerbos/cerbos-linux-x64"
VERSION = "0.55.0"
CONFIG = REPO / "bench/cerbos/config.yaml"
POLICIES = REPO / "bench/cerbos/policies"
DEFAULT_CACHE = REPO / ".venv/cerbos"


class CerbosUnavailable(Exception):
    """Cerbos cannot run here; the message says why."""


def binary_path(cache: Path) -> Path:
    return cache / "node_modules" / PACKAGE / "cerbos-linux-x64"


def find_or_install(cache: Path) -> Path:
    """The Cerbos binary in `cache`, installed there from npm first when it is missing."""
    binary = binary_path(cache)
    if binary.exists():
        return binary
    if (sys.platform, platform.machine()) != ("linux", "x86_64"):
        raise CerbosUnavailable(
            f"{PACKAGE} is for linux x86_64, not {sys.platform} {platform.machine()}"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise CerbosUnavailable("npm is not installed, so Cerbos cannot be installed")
    print(f"installing Cerbos {VERSION} from npm ({PACKAGE}) into {cache}", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", f"{PACKAGE}@{VERSION}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not binary.exists():
        raise CerbosUnavailable(f"npm install {PACKAGE}@{VERSION} failed:\n{done.stderr.strip()}")
    return binary


def version(binary: Path) -> str:
    """`cerbos --version`'s first line: the version number."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CerbosUnavailable(f"{binary} does not run: {exc}") from None
    return out.stdout.split()[0]


@contextmanager
def cerbos_server(binary: Path, log_path: Path, timeout: float = 30.0) -> Iterator[str]:
    """`cerbos server` on free loopback ports until the block ends; yields its HTTP URL."""
    http_port, grpc_port = free_port(), free_port()
    overrides = {
        "server.httpListenAddr": f"127.0.0.1:{http_port}",
        "server.grpcListenAddr": f"127.0.0.1:{grpc_port}",
        "storage.disk.directory": str(POLICIES),
    }
    command = [str(binary), "server", f"--config={CONFIG}", "--log-level=warn"]
    command += [f"--set={key}={value}" for key, value in overrides.items()]
    url = f"http://127.0.0.1:{http_port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            env={**os.environ, "CERBOS_NO_TELEMETRY": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_serving(url, process, log_path, timeout)
            yield url
        finally:
            terminate(process)


def _wait_serving(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CerbosUnavailable(f"cerbos server exited:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/_cerbos/health", timeout=1.0).json().get("status") == "SERVING":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.1)
    raise CerbosUnavailable(f"cerbos server not serving after {timeout}s:\n{log_path.read_text()}")

"""Start real server processes on free ports and wait until they answer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A console-script server (`pdp serve`, `token-service serve`) run as a child process."""

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        env: Mapping[str, str],
        *,
        log_path: Path,
        ready_path: str = "/health",
        timeout: float = 60.0,
        inherit_env: bool = True,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        # Without inherit_env, `env` is the whole environment (tests that strip settings).
        full_env = {**os.environ, **env} if inherit_env else dict(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--port", str(self.port)],
            cwd=REPO,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready(ready_path, timeout)

    def _wait_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        terminate(self.process)
        self._log.close()


def terminate(process: subprocess.Popen[Any]) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pdp_with_directory(directory: Path, env: Mapping[str, str], *, log_path: Path) -> ServerProcess:
    """`pdp directory import` of a directory file into the store `env` names, then `pdp serve`
    on that store, as an operator brings a PDP up."""
    imported = subprocess.run(
        [sys.executable, "-m", "pdp.cli", "directory", "import", str(directory)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if imported.returncode != 0:
        raise RuntimeError(f"directory import failed:\n{imported.stderr}")
    return ServerProcess("pdp.cli", ["serve"], env, log_path=log_path)

"""The Node `oidc-provider` package run as a partner OpenID provider (tests/support/oidc_provider.mjs).

Its login form is the package's development one: the login names the account, any password
passes. `set_account` rewrites a partner user's claims; the provider reads them at the next
sign-in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.processes import REPO, free_port, terminate

SCRIPT = REPO / "tests" / "support" / "oidc_provider.mjs"
PACKAGE = REPO / ".venv" / "node" / "node_modules" / "oidc-provider"


def missing() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not PACKAGE.is_dir():
        return (
            "the npm package oidc-provider is missing under .venv/node (scripts/test installs it)"
        )
    return None


class OidcProvider:
    def __init__(self, tmp: Path, clients: list[dict[str, Any]], accounts: dict[str, Any]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = tmp / "oidc-provider.json"
        self.config = {"port": port, "issuer": self.url, "clients": clients, "accounts": accounts}
        self._write()
        self.log_path = tmp / "oidc-provider.log"
        self._log = open(self.log_path, "w+")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            ["node", str(SCRIPT), str(self.config_path)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening"):
            self.stop()
            raise RuntimeError(f"oidc-provider did not start: {line}{self.log_path.read_text()}")

    def _write(self) -> None:
        self.config_path.write_text(json.dumps(self.config))

    def set_account(self, sub: str, claims: dict[str, Any]) -> None:
        self.config["accounts"][sub] = claims
        self._write()

    def stop(self) -> None:
        terminate(self.process)
        self._log.close()

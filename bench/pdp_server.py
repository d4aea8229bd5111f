"""A real `pdp serve` for the bench scripts, set up as a deployment would run it.

SQLite holding the demo directory, the default policy set in `policies/`, and PEP
authentication on against a local JWKS issuer: every `/decide` carries a bearer token the
server verifies, as in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess

DEMO_DIRECTORY = REPO / "policies/examples/directory.yaml"


def import_demo_directory(workdir: Path) -> str:
    """A new SQLite store in `workdir` holding the demo directory; returns its URL."""
    database_url = f"sqlite:///{workdir / 'pdp.db'}"
    subprocess.run(
        [sys.executable, "-m", "pdp.cli", "directory", "import", str(DEMO_DIRECTORY)],
        env={**os.environ, "PDP_DATABASE_URL": database_url},
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return database_url


@dataclass(frozen=True)
class PdpServer:
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """What a PEP sends with every `/decide`."""
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


@contextmanager
def pdp_server(
    database_url: str, log_path: Path, serve_args: Sequence[str] = ()
) -> Iterator[PdpServer]:
    """`pdp serve [serve_args]` on a free loopback port until the block ends."""
    issuer = TestIssuer()
    env = {
        "PDP_DATABASE_URL": database_url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(REPO / "policies"),
    }
    try:
        server = ServerProcess(
            "pdp.cli", ["serve", "--log-level", "warning", *serve_args], env, log_path=log_path
        )
        try:
            token = issuer.machine_token("bench-pep", scope="pdp/decide")
            yield PdpServer(url=server.url, token=token)
        finally:
            server.stop()
    finally:
        issuer.close()

"""Throughput and latency of `POST /decide` against a trivial endpoint of the same server.

Starts a real `pdp serve` (SQLite, the default policy set, the demo directory, PEP
authentication on, against a local JWKS issuer), drives it with concurrent keep-alive
connections on loopback, and prints both endpoints' figures and their ratio. The load comes
from `wrk` when it is installed (`apt-get install wrk`: a C client leaves more CPU to the
server), else from an asyncio client in this process.

    .venv/bin/python bench/decide_bench.py [--connections 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import load  # noqa: E402
from bench.pdp_server import import_demo_directory, pdp_server  # noqa: E402

DECIDE_BODY = {
    "subject": {"id": "6f0b2c1e-0000-4000-8000-00000000a11c"},
    "action": "document:write",
    "resource": {
        "type": "document",
        "id": "d-1",
        "tenant_id": "4f1c2d3e-0000-4000-8000-000000000001",
        "attributes": {"department": "engineering", "owner": "someone-else"},
    },
    "context": {"ip": "10.1.2.3"},
}


def measure(url: str, method: str, body: str, token: str, conns: int, seconds: int) -> dict:
    """load.measure with a PEP bearer token (the form the other bench scripts call)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return load.measure(url, method, body, headers, conns, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pdp-bench-"))
    database_url = import_demo_directory(workdir)
    with pdp_server(database_url, workdir / "server.log") as server:
        body = json.dumps(DECIDE_BODY)
        check = httpx.post(server.url + "/decide", content=body, headers=server.headers)
        check.raise_for_status()
        if check.json()["allow"] is not True:
            raise RuntimeError(f"the benchmark request should be allowed: {check.json()}")
        conns, seconds = args.connections, args.seconds
        measure(server.url + "/health", "GET", "", server.token, conns, 2)  # warm-up
        trivial = measure(server.url + "/health", "GET", "", server.token, conns, seconds)
        decide = measure(server.url + "/decide", "POST", body, server.token, conns, seconds)
    machine = load.machine()
    report: dict[str, Any] = {
        "machine": f"{machine['arch']}, {machine['nproc']} cores, Python {machine['python']}",
        "client": load.load_client(),
        "connections": args.connections,
        "seconds": args.seconds,
        "trivial_GET_health": trivial,
        "decide": decide,
        "throughput_ratio": decide["throughput"] / trivial["throughput"],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

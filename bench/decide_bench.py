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
import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.issuer import TestIssuer  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402

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

WRK_SCRIPT = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
"""


def run_wrk(url: str, method: str, body: str, token: str, conns: int, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.format(method=method, body=json.dumps(body), token=token))
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(conns), "-d", f"{seconds}s", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    match = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if not match:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    requests, errors, duration, p50, p99 = match.groups()
    return {
        "requests": int(requests),
        "errors": int(errors),
        "throughput": int(requests) / float(duration),
        "p50_ms": float(p50),
        "p99_ms": float(p99),
    }


async def _python_load(
    url: str, method: str, body: str, token: str, conns: int, seconds: int
) -> dict:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = await client.request(method, url, content=body or None, headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            errors += response.status_code != 200

    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(conns)))
    duration = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput": len(latencies) / duration,
        "p50_ms": quantiles[49],
        "p99_ms": quantiles[98],
    }


def measure(url: str, method: str, body: str, token: str, conns: int, seconds: int) -> dict:
    if shutil.which("wrk"):
        return run_wrk(url, method, body, token, conns, seconds)
    return asyncio.run(_python_load(url, method, body, token, conns, seconds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    issuer = TestIssuer()
    workdir = Path(tempfile.mkdtemp(prefix="pdp-bench-"))
    database_url = f"sqlite:///{workdir / 'pdp.db'}"
    env = {
        "PDP_DATABASE_URL": database_url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(REPO / "policies"),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pdp.cli",
            "directory",
            "import",
            str(REPO / "policies/examples/directory.yaml"),
        ],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    server = ServerProcess(
        "pdp.cli", ["serve", "--log-level", "warning"], env, log_path=workdir / "server.log"
    )
    token = issuer.machine_token("bench-pep", scope="pdp/decide")
    try:
        body = json.dumps(DECIDE_BODY)
        check = httpx.post(
            server.url + "/decide",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        check.raise_for_status()
        if check.json()["allow"] is not True:
            raise RuntimeError(f"the benchmark request should be allowed: {check.json()}")
        conns, seconds = args.connections, args.seconds
        measure(server.url + "/health", "GET", "", token, conns, 2)  # warm-up
        trivial = measure(server.url + "/health", "GET", "", token, conns, seconds)
        decide = measure(server.url + "/decide", "POST", body, token, conns, seconds)
    finally:
        server.stop()
        issuer.close()
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "client": "wrk" if shutil.which("wrk") else "python asyncio",
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

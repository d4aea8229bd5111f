"""Load generation for the bench scripts: `wrk` through a Lua script, or an asyncio client.

`wrk` (a C client) leaves more of the shared cores to the server under test, so every script
uses it when it is installed; the asyncio client is the fallback for machines without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

# Every request gets `<wrk thread>-<request number>` in place of this marker in the body, so
# no two requests of a run are alike (a "new resource id per request").
FRESH_ID = "@FRESH_ID@"

JSON_HEADERS = {"Content-Type": "application/json"}

_WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
{headers}
{request}
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
"""

# setup() runs once per wrk thread in the main Lua state and numbers the threads; each thread
# has its own Lua state, so `counter` counts that thread's requests.
_FRESH_ID_REQUEST = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end
local head, tail = {head}, {tail}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, head .. thread_number .. "-" .. counter .. tail)
end
"""


def _lua(text: str) -> str:
    """A Lua string literal: JSON's escapes other than \\u are valid Lua, so keep UTF-8 raw."""
    return json.dumps(text, ensure_ascii=False)


def wrk_script(method: str, body: str, headers: Mapping[str, str]) -> str:
    """The Lua script for one run; a body holding FRESH_ID gets a new id on every request."""
    header_lines = "\n".join(f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in headers.items())
    request = ""
    if FRESH_ID in body:
        head, tail = body.split(FRESH_ID)
        request = _FRESH_ID_REQUEST.format(head=_lua(head), tail=_lua(tail))
    return _WRK_SCRIPT.format(
        method=_lua(method), body=_lua(body), headers=header_lines, request=request
    )


def run_wrk(
    url: str,
    method: str,
    body: str,
    headers: Mapping[str, str],
    conns: int,
    seconds: int,
    threads: int = 2,
) -> dict[str, Any]:
    """Drive `url` with wrk for `seconds`; requests, errors, req/s, p50 and p99 in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(method, body, headers))
    command = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s", "-s", script.name]
    try:
        out = subprocess.run(
            [*command, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
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
    url: str, method: str, body: str, headers: Mapping[str, str], conns: int, seconds: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
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


def measure(
    url: str, method: str, body: str, headers: Mapping[str, str], conns: int, seconds: int
) -> dict[str, Any]:
    """wrk when installed, else the asyncio client (which sends the body as it is)."""
    if shutil.which("wrk"):
        return run_wrk(url, method, body, headers, conns, seconds)
    return asyncio.run(_python_load(url, method, body, headers, conns, seconds))


def load_client() -> str:
    return "wrk" if shutil.which("wrk") else "python asyncio"


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean little without it."""
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.exists() else ""
    models = re.findall(r"^model name\s*:\s*(.+)$", text, re.M)
    return {
        "arch": platform.machine(),
        "nproc": os.cpu_count(),
        "cpu": models[0] if models else "unknown",
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }

"""The directory at scale: one tenant with 100,000 users and 5,000 groups.

Generates the tenant as a directory file (users with email, company, roles and attributes,
each in 1-3 groups; groups with roles; a few hundred companies), then measures on SQLite (and
on PostgreSQL with `--database-url postgresql://...`):

- `pdp directory import` of the file into an empty store, and a second import of the same file
- `pdp serve` until ready: `/health` answers and the first decision for a user of the big
  tenant is correct (allowed, through a group role and an attribute condition)
- the server's RSS once ready
- `/decide` latency for a user of the big tenant and for a demo user (`wrk`, or an asyncio
  client when wrk is missing)
- an admin-API change (a role binding that flips a deny to an allow) until the next decision
  sees it: on the replica that took the write, and on a second replica on the same database

    .venv/bin/python bench/scale_bench.py [--users 100000] [--groups 5000] [--json]
        [--database-url postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.decide_bench import DECIDE_BODY, measure  # noqa: E402
from tests.support.issuer import TestIssuer  # noqa: E402
from tests.support.processes import ServerProcess  # noqa: E402

TENANT = "5ca1e000-0000-4000-8000-000000000001"
DEPARTMENTS = ["engineering", "sales", "finance", "support", "marketing", "legal", "it", "hr"]
COUNTRIES = ["PL", "DE", "US", "FR", "GB", "NL", "ES", "SE"]
# No role of the generated directory grants payroll:read, so binding `auditor` flips it.
ROLE_POOL = ["viewer", "commenter", "editor"]
CHANGE_ROLE = "auditor"


def user_id(index: int) -> str:
    return f"5ca1e000-0000-4000-8000-{index:012d}"


def generate(users: int, groups: int, companies: int, seed: int = 7) -> dict[str, Any]:
    """The big tenant as `pdp directory import` reads it. User 0 is the probe: in group
    g-00000 (role editor) and in engineering, so it may write engineering documents."""
    rng = random.Random(seed)
    company_ids = [f"company-{c:04d}" for c in range(companies)]
    group_ids = [f"g-{g:05d}" for g in range(groups)]
    members: dict[str, list[str]] = {g: [] for g in group_ids}
    user_list = []
    for i in range(users):
        uid = user_id(i)
        for group in rng.sample(group_ids[1:], rng.randint(1, 3)):
            members[group].append(uid)
        user_list.append(
            {
                "id": uid,
                "email": f"user{i}@scale.test",
                "company": company_ids[i % companies],
                "roles": rng.sample(ROLE_POOL, rng.randint(0, 2)),
                "attributes": {
                    "department": "engineering" if i == 0 else rng.choice(DEPARTMENTS),
                    "country": rng.choice(COUNTRIES),
                    "employee_number": i,
                },
            }
        )
    members[group_ids[0]].append(user_id(0))
    group_list = [
        {
            "id": g,
            "roles": ["editor"] if g == group_ids[0] else rng.sample(ROLE_POOL, rng.randint(0, 1)),
            "members": members[g],
        }
        for g in group_ids
    ]
    company_list = [
        {"id": c, "roles": rng.sample(ROLE_POOL, rng.randint(0, 1)), "attributes": {"tier": "b"}}
        for c in company_ids
    ]
    clients = [{"id": f"scale-client-{c}", "roles": ["viewer"]} for c in range(10)]
    tenant = {"id": TENANT, "name": "scale", "timezone": "Europe/Berlin"}
    sections = {"companies": company_list, "groups": group_list, "users": user_list}
    return {"tenants": [{**tenant, **sections, "clients": clients}]}


def pdp_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, Any]]:
    """Run `pdp ARGS --json`; returns the wall time, the CPU time and its JSON output (the
    machine is shared, so the CPU time is the steadier figure)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pdp.cli", *args, "--json"],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"pdp {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu, json.loads(done.stdout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def decide_body(subject: str, action: str, resource_type: str) -> dict[str, Any]:
    resource = {**DECIDE_BODY["resource"], "type": resource_type, "tenant_id": TENANT}
    return {**DECIDE_BODY, "subject": {"id": subject}, "action": action, "resource": resource}


PROBE = decide_body(user_id(0), "document:write", "document")


def allowed(client: httpx.Client, url: str, body: dict[str, Any]) -> bool:
    response = client.post(url + "/decide", json=body)
    response.raise_for_status()
    return response.json()["allow"] is True


def start_server(
    env: dict[str, str], pep: str, log: Path, probe: dict[str, Any] = PROBE
) -> tuple[ServerProcess, float]:
    """Start `pdp serve`; ready = /health answers and the probe decision is allowed."""
    started = time.perf_counter()
    server = ServerProcess(
        "pdp.cli", ["serve", "--log-level", "warning"], env, log_path=log, timeout=180
    )
    with httpx.Client(headers={"Authorization": f"Bearer {pep}"}, timeout=120) as client:
        while not allowed(client, server.url, probe):
            time.sleep(0.05)
    return server, time.perf_counter() - started


def change_visible(
    writer: ServerProcess, reader: ServerProcess, admin: str, pep: str, subject: str, delay: float
) -> float:
    """Seconds from an admin-API role binding on `writer` to the first decision on `reader`
    that sees it (payroll:read flips from deny to allow). The write waits `delay` first, so
    successive writes do not fall at the same point of the other replica's poll cycle."""
    body = decide_body(subject, "payroll:read", "payroll")
    with httpx.Client(headers={"Authorization": f"Bearer {pep}"}, timeout=120) as client:
        if allowed(client, reader.url, body):
            raise RuntimeError(f"{subject} should not read payroll before the change")
        time.sleep(delay)
        started = time.perf_counter()
        response = client.post(
            f"{writer.url}/admin/v1/tenants/{TENANT}/role-bindings",
            json={"subject_type": "user", "subject_id": subject, "role": CHANGE_ROLE},
            headers={"Authorization": f"Bearer {admin}"},
        )
        response.raise_for_status()
        while not allowed(client, reader.url, body):
            time.sleep(0.005)
        return time.perf_counter() - started


def postgres_schema(url: str) -> tuple[str, Any]:
    """A fresh schema on the server of `url` (dropped by the caller), as the tests do."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    schema = f"scale_{secrets.token_hex(4)}"
    admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}", (admin, schema)


def run_store(
    name: str, database_url: str, doc_path: Path, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    issuer = TestIssuer()
    pep = issuer.machine_token("bench-pep", scope="pdp/decide")
    admin = issuer.machine_token("bench-admin", scope="pdp/admin")
    env = {
        "PDP_DATABASE_URL": database_url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(workdir / "policies"),
        "PDP_DIRECTORY_POLL_SECONDS": str(args.poll_seconds),
    }
    result: dict[str, Any] = {"store": name}
    pdp_cli(["directory", "import", str(REPO / "policies/examples/directory.yaml")], env)
    demo = json.dumps(DECIDE_BODY)
    conns, seconds = args.connections, args.seconds
    # The same demo decision on a server that holds only the demo directory, for comparison.
    demo_only, _ = start_server(env, pep, workdir / f"{name}-demo.log", probe=DECIDE_BODY)
    try:
        result["rss_demo_only_mb"] = rss_mb(demo_only.process.pid)
        measure(demo_only.url + "/decide", "POST", demo, pep, conns, 2)  # warm-up
        result["decide_demo_only"] = measure(
            demo_only.url + "/decide", "POST", demo, pep, conns, seconds
        )
    finally:
        demo_only.stop()
    result["import_s"], result["import_cpu_s"], report = pdp_cli(
        ["directory", "import", str(doc_path)], env
    )
    result["created_users"] = report["created"]["users"]
    result["reimport_s"], result["reimport_cpu_s"], report = pdp_cli(
        ["directory", "import", str(doc_path)], env
    )
    result["reimport_changed"] = report["changed_tenants"]
    first, result["ready_s"] = start_server(env, pep, workdir / f"{name}-1.log")
    result["ready_cpu_s"] = cpu_seconds(first.process.pid)
    second = None
    try:
        result["rss_mb"] = rss_mb(first.process.pid)
        big = json.dumps(PROBE)
        measure(first.url + "/decide", "POST", demo, pep, conns, 2)  # warm-up
        result["decide_demo_user"] = measure(
            first.url + "/decide", "POST", demo, pep, conns, seconds
        )
        result["decide_big_tenant_user"] = measure(
            first.url + "/decide", "POST", big, pep, conns, seconds
        )
        second, result["ready_second_s"] = start_server(env, pep, workdir / f"{name}-2.log")
        rng = random.Random(1)
        same, other = [], []
        for n in range(args.changes):
            delay = rng.uniform(0, args.poll_seconds)
            same.append(change_visible(first, first, admin, pep, user_id(1 + n), delay))
            other.append(change_visible(first, second, admin, pep, user_id(1000 + n), delay))
        result["change_same_replica_ms"] = _summary(same)
        result["change_other_replica_ms"] = _summary(other)
        result["rss_after_changes_mb"] = rss_mb(first.process.pid)
    finally:
        first.stop()
        if second is not None:
            second.stop()
        issuer.close()
    return result


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"median": statistics.median(ms), "max": max(ms)}


def print_table(results: list[dict[str, Any]]) -> None:
    rows = [
        (
            "import (empty store)",
            lambda r: f"{r['import_s']:.1f} s ({r['import_cpu_s']:.1f} s CPU)",
        ),
        (
            "second import (no change)",
            lambda r: f"{r['reimport_s']:.1f} s ({r['reimport_cpu_s']:.1f} s CPU)",
        ),
        (
            "serve ready (first decision correct)",
            lambda r: f"{r['ready_s']:.1f} s ({r['ready_cpu_s']:.1f} s CPU)",
        ),
        ("RSS when ready", lambda r: f"{r['rss_mb']:.0f} MB"),
        ("RSS with the demo directory only", lambda r: f"{r['rss_demo_only_mb']:.0f} MB"),
        ("RSS after the changes", lambda r: f"{r['rss_after_changes_mb']:.0f} MB"),
        *(
            (f"/decide {who}", lambda r, k=key: _latency(r[k]))
            for who, key in (
                ("demo user, demo directory only", "decide_demo_only"),
                ("demo user", "decide_demo_user"),
                ("big-tenant user", "decide_big_tenant_user"),
            )
        ),
        ("change -> decision, same replica", lambda r: _change(r["change_same_replica_ms"])),
        ("change -> decision, other replica", lambda r: _change(r["change_other_replica_ms"])),
    ]
    print("| measure | " + " | ".join(r["store"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")


def _latency(figures: dict[str, float]) -> str:
    return (
        f"{figures['throughput']:.0f} req/s, p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms"
    )


def _change(figures: dict[str, float]) -> str:
    return f"median {figures['median']:.0f} ms, max {figures['max']:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--database-url", help="also measure on this PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true", help="measure PostgreSQL only")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--changes", type=int, default=5, help="admin changes per replica")
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="pdp-scale-"))
    # The default policy set without a manifest: a bundle that opts in to the decision cache
    # would answer these repeated requests from it, and the directory's cost would not show.
    shutil.copytree(REPO / "policies", workdir / "policies", ignore=shutil.ignore_patterns(".*"))
    doc_path = workdir / "directory.json"
    doc_path.write_text(json.dumps(generate(args.users, args.groups, args.companies)))
    results = []
    if not args.no_sqlite:
        results.append(
            run_store("sqlite", f"sqlite:///{workdir / 'pdp.db'}", doc_path, workdir, args)
        )
    if args.database_url:
        url, (admin, schema) = postgres_schema(args.database_url)
        try:
            results.append(run_store("postgres", url, doc_path, workdir, args))
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
            admin.close()
    load = os.getloadavg()
    if args.json:
        report = {"users": args.users, "groups": args.groups, "load_average": load}
        print(json.dumps({**report, "results": results}, indent=2))
    else:
        print_table(results)
        print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

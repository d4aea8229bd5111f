"""Replay throughput (decisions re-evaluated per second) and `pdp check` time on the default policy.

Records real decisions with the decision service in process (SQLite, the default policy set,
the demo directory), exports them as `pdp decisions export` does, then replays them against the
same policy set: once in process (evaluation only) and once through the `pdp replay` command
(process start, candidate compile and file reading included). Then times `pdp check policies/`.

    .venv/bin/python bench/replay_bench.py [--decisions 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pdp.authn import Principal  # noqa: E402
from pdp.bundles.loader import load_policy_source  # noqa: E402
from pdp.decision import DecisionRequest  # noqa: E402
from pdp.directory.document import import_document, load_document  # noqa: E402
from pdp.directory.store import DirectoryStore  # noqa: E402
from pdp.metrics import Metrics  # noqa: E402
from pdp.policy import PolicyRuntime  # noqa: E402
from pdp.replay import read_jsonl, replay  # noqa: E402
from pdp.services import Services  # noqa: E402
from pdp.settings import Settings  # noqa: E402

POLICIES = REPO / "policies"
DIRECTORY = POLICIES / "examples" / "directory.yaml"
ACME = "4f1c2d3e-0000-4000-8000-000000000001"
SUBJECTS = [
    "6f0b2c1e-0000-4000-8000-00000000a11c",
    "6f0b2c1e-0000-4000-8000-000000000b0b",
    "6f0b2c1e-0000-4000-8000-0000000ca201",
    "6f0b2c1e-0000-4000-8000-00000000da7e",
    "demo-reporting-service",
]
ACTIONS = ["document:read", "document:write", "document:delete", "payroll:read", "invoice:read"]
IPS = ["10.1.2.3", "172.16.0.9", "203.0.113.5", "2001:db8:1::5"]


def record(database_url: str, count: int) -> None:
    services = Services.build(Settings(database_url=database_url, bundle=POLICIES))
    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    combos = itertools.cycle(itertools.product(SUBJECTS, ACTIONS, IPS))
    try:
        for n in range(count):
            subject, action, ip = next(combos)
            request = DecisionRequest.model_validate(
                {
                    "subject": {"id": subject},
                    "action": action,
                    "resource": {
                        "type": action.split(":")[0],
                        "id": f"r{n % 97}",
                        "tenant_id": ACME,
                        "attributes": {"department": "engineering", "owner": subject},
                    },
                    "context": {"ip": ip},
                }
            )
            moment = start + timedelta(minutes=7 * n)
            services.decisions.decide(request, Principal.anonymous(), now=moment)
        services.decision_log.flush(timeout=120)
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp, 'pdp.db')}"
        import_document(DirectoryStore(database_url), load_document(DIRECTORY))
        record(database_url, args.decisions)
        export = Path(tmp, "decisions.jsonl")
        subprocess.run(
            [
                python,
                "-m",
                "pdp.cli",
                "decisions",
                "export",
                "--database-url",
                database_url,
                "-o",
                str(export),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        records = list(read_jsonl(export))
        runtime = PolicyRuntime("data.authz.decision", Metrics())
        policy = runtime.prepare(load_policy_source(POLICIES, include_tests=False))
        rates = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            report = replay(records, policy, runtime.decision_entrypoint)
            rates.append(report.replayed / (time.perf_counter() - started))
        assert report.changed == 0, report.to_json()
        started = time.perf_counter()
        subprocess.run(
            [
                python,
                "-m",
                "pdp.cli",
                "replay",
                "--bundle",
                str(POLICIES),
                "--decisions",
                str(export),
                "--json",
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        command_seconds = time.perf_counter() - started
    check_times = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        subprocess.run(
            [python, "-m", "pdp.cli", "check", str(POLICIES)],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        check_times.append(time.perf_counter() - started)
    print(
        json.dumps(
            {
                "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
                "decisions": len(records),
                "replayed": report.replayed,
                "skipped": sum(report.skipped.values()),
                "replay_in_process_decisions_per_second": round(statistics.median(rates)),
                "pdp_replay_command_seconds": round(command_seconds, 2),
                "pdp_replay_command_decisions_per_second": round(report.replayed / command_seconds),
                "pdp_check_default_policy_seconds_median": round(statistics.median(check_times), 2),
                "pdp_check_default_policy_seconds_max": round(max(check_times), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

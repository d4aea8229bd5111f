"""Failed decisions and lost decision-log records per replica stop, through nginx run with the
shipped deploy/nginx.conf: two `pdp serve` replicas on a private PostgreSQL database, a PEP
client sending `--total` decisions over `--connections` keep-alive connections, and one replica
stopped (kill -9 or SIGTERM) halfway. Failed = answers that are not a 200 decision; lost =
answered decision ids missing from decision_log afterwards (after a restart on the killed
replica's spool). `--without-non-idempotent` runs the config as it was before decisions were
retried, for comparison.

    .venv/bin/python bench/failover_bench.py [--runs 3] [--total 20000] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.decision_faults import private_database  # noqa: E402
from tests.support.failover import nginx_binary, stop_replica_under_load  # noqa: E402

FAULTS = {"kill": signal.SIGKILL, "term": signal.SIGTERM}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per fault")
    parser.add_argument("--total", type=int, default=20_000, help="decisions per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="--workers of the stopped replica")
    parser.add_argument("--faults", nargs="+", choices=sorted(FAULTS), default=["kill", "term"])
    parser.add_argument("--without-non-idempotent", action="store_true")
    args = parser.parse_args()
    nginx = nginx_binary()
    if nginx is None:
        print("nginx is not installed", file=sys.stderr)
        return 1
    for fault in args.faults:
        for run in range(args.runs):
            with private_database() as name, tempfile.TemporaryDirectory() as work:
                outcome = stop_replica_under_load(
                    nginx,
                    name,
                    Path(work),
                    FAULTS[fault],
                    total=args.total,
                    connections=args.connections,
                    # kill -9 of a supervisor would orphan its workers; kill one process.
                    workers=args.workers if fault == "term" else 1,
                    retry_posts=not args.without_non_idempotent,
                )
            load = outcome.load
            before = load.answered_since(load.fault_at - 1.0) - load.answered_since(load.fault_at)
            result = {
                "fault": fault,
                "run": run + 1,
                "answered": len(load.answered),
                "failed": len(load.failed),
                "failures": sorted(set(load.failed)),
                "lost": len(outcome.lost),
                "lost_before_last_second": len(outcome.lost - outcome.last_second),
                "answered_in_last_second": len(before),
            }
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

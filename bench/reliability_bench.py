"""Decision records lost per fault, on real `pdp serve` processes and a private PostgreSQL
database: kill -9 under load (several runs), SIGTERM under load, a database outage of
`--outage-seconds` under load (a TCP proxy between the PDP and PostgreSQL, cut and restored),
and a burst of concurrent decisions with NUL/NaN attributes among them. Records lost = decision
ids the PEPs were answered minus the ids in the decision_log table afterwards.

    .venv/bin/python bench/reliability_bench.py [--kills 5] [--outage-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import platform
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.decision_faults import (  # noqa: E402
    outage_under_load,
    poisoned_burst,
    private_database,
    stop_under_load,
)
from tests.support.issuer import TestIssuer  # noqa: E402


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5, help="kill -9 runs")
    parser.add_argument("--outage-seconds", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=2000, help="decisions in the poison burst")
    args = parser.parse_args()
    issuer = TestIssuer()
    results: dict[str, object] = {"python": platform.python_version()}
    try:
        kills = []
        for run in range(args.kills):
            with private_database() as name, tempfile.TemporaryDirectory() as work:
                outcome = stop_under_load(name, issuer, Path(work), signal.SIGKILL, warmup=2000)
            kills.append(
                {
                    "answered": len(outcome.answered),
                    "lost": outcome.lost,
                    "answered_last_second": outcome.last_second,
                }
            )
            print(f"kill -9 run {run + 1}: {kills[-1]}", flush=True)
        results["kill_9"] = kills
        with private_database() as name, tempfile.TemporaryDirectory() as work:
            outcome = stop_under_load(name, issuer, Path(work), signal.SIGTERM, warmup=2000)
        results["sigterm"] = {"answered": len(outcome.answered), "lost": outcome.lost}
        print(f"SIGTERM: {results['sigterm']}", flush=True)

        def hold(_load: object) -> None:
            time.sleep(args.outage_seconds)

        with private_database() as name, tempfile.TemporaryDirectory() as work:
            outcome = outage_under_load(name, issuer, Path(work), hold)
        results["outage"] = {
            "seconds": args.outage_seconds,
            "answered": len(outcome.answered),
            "answered_during_outage": outcome.during,
            "lost": outcome.lost,
            "seconds_to_catch_up": round(outcome.catch_up_seconds, 1),
        }
        print(f"outage: {results['outage']}", flush=True)
        with private_database() as name, tempfile.TemporaryDirectory() as work:
            every = max(args.burst // 10, 1)
            outcome = poisoned_burst(name, issuer, Path(work), total=args.burst, every=every)
        results["poison"] = {
            "answered": len(outcome.answered),
            "poisoned": len(range(0, args.burst, every)),
            "poisoned_answered": outcome.during,  # the others were refused at the door
            "lost": outcome.lost,
            "sanitised": _metric(outcome.metrics, "pdp_decision_log_sanitised_total"),
            "quarantined": _metric(outcome.metrics, "pdp_decision_log_quarantined_total"),
        }
        print(f"poison: {results['poison']}", flush=True)
    finally:
        issuer.close()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

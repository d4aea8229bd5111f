"""A silent database under a real `pdp serve` (PostgreSQL behind a stalled TCP proxy): how
long 45 concurrent admin requests take to answer 503, how long /health and /decide (PEP
tokens never seen before) take meanwhile, and how long admin takes to answer 200 again once
the link resumes.

    .venv/bin/python bench/store_faults_bench.py [--timeout-seconds 5] [--requests 45]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.issuer import TestIssuer  # noqa: E402
from tests.support.store_faults import admin_client, silent_pdp, stalled_burst  # noqa: E402


def _seconds(timed: list) -> dict[str, float]:
    values = [seconds for seconds, _ in timed]
    return {
        "min": round(min(values), 3),
        "median": round(statistics.median(values), 3),
        "max": round(max(values), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout-seconds", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=45)
    args = parser.parse_args()
    issuer = TestIssuer()
    with (
        tempfile.TemporaryDirectory() as tmp,
        silent_pdp(issuer, Path(tmp), args.timeout_seconds) as (server, proxy),
        admin_client(issuer) as client,
    ):
        client.get(f"{server.url}/admin/v1/tenants")
        stall = stalled_burst(server, proxy, client, issuer, requests=args.requests, probes=20)
    report = {
        "machine": f"{platform.machine()} {platform.python_version()}",
        "timeout_seconds": args.timeout_seconds,
        "admin_requests": args.requests,
        "admin_statuses": dict(Counter(r.status_code for _, r in stall.admin)),
        "admin_seconds": _seconds(stall.admin),
        "health_statuses": dict(Counter(r.status_code for _, r in stall.health)),
        "health_seconds": _seconds(stall.health),
        "decide_statuses": dict(Counter(r.status_code for _, r in stall.decisions)),
        "decide_seconds": _seconds(stall.decisions),
        "admin_unanswered_when_probes_done": stall.unfinished,
        "recovery_seconds": round(stall.recovery_seconds, 3),
    }
    print(json.dumps(report, indent=2))
    issuer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

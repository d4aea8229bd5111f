"""Wall time of `pdp test`: the default policy set alone and with `--opa`, and a set whose module
breaks the engine (the static scan's error path, and the probing path the scan cannot see).

Usage: .venv/bin/python bench/pdp_test_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CRASH = REPO / "tests" / "pdp" / "fixtures" / "policytest" / "crash"
# A shadowing of `bits` through a function parameter: the engine fails on every query of the
# set, and only probing the modules one by one names the file.
UNSCANNED = (
    "package lib\n\nimport rego.v1\n\nshift(bits) := bits.lsh(1, 3)\n\nwide if shift(1) == 8\n"
)


def wall(args: list[str], runs: int) -> tuple[float, float]:
    """Median and max wall seconds of `pdp test ARGS` over `runs` runs."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pdp.cli", "test", *args],
            cwd=REPO,
            capture_output=True,
            check=False,
        )
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), max(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as workdir:
        unscanned = Path(workdir, "unscanned")
        shutil.copytree(CRASH, unscanned)
        (unscanned / "lib.rego").write_text(UNSCANNED)
        cases = {
            "pdp test policies": ["policies"],
            "pdp test --opa policies": ["--opa", "policies"],
            "pdp test crash fixture (scan names lib.rego)": [str(CRASH)],
            "pdp test crash fixture (probing names lib.rego)": [str(unscanned)],
        }
        for label, args in cases.items():
            median, worst = wall(args, runs)
            print(f"{label}: {median:.2f} s median, {worst:.2f} s max ({runs} runs)")


if __name__ == "__main__":
    main()

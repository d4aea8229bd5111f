"""What serving the JSON artifact costs: bundle load per thread, evaluation, compile + guard.

For the default policy set (`policies/`, every rule an entrypoint as the PDP serves it):
- loading the saved bundle into a fresh interpreter (each decision thread does it once), JSON
  (served) against the binary format (unsafe in regopy 1.5.2);
- one decision evaluated on each loaded form (the smoke input);
- `PolicyRuntime.compile` in the child (build, smoke, save, load, differential), with the
  JSON and the binary artifact, and with the Rego tests as publishing runs it.

    .venv/bin/python bench/artifact_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pdp.bundles.loader import load_policy_source  # noqa: E402
from pdp.engine import artifact, compile_policy  # noqa: E402
from pdp.engine.native import query  # noqa: E402
from pdp.metrics import Metrics  # noqa: E402
from pdp.policy import SMOKE_INPUT, PolicyRuntime, served_entrypoints  # noqa: E402

POLICIES = REPO / "policies"
EVALUATIONS = 2000


def median_ms(rounds: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def evaluate(loaded: tuple[Any, Any]) -> None:
    for _ in range(EVALUATIONS):
        query(*loaded, "authz/decision", SMOKE_INPUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    serving = load_policy_source(POLICIES, include_tests=False)
    tested = load_policy_source(POLICIES, include_tests=True)
    runtime = PolicyRuntime("data.authz.decision", Metrics())
    entrypoints = served_entrypoints(runtime.decision_entrypoint, serving)
    print(f"{platform.machine()}, Python {platform.python_version()}, rounds {args.rounds}")
    with tempfile.TemporaryDirectory() as workdir:
        for name in ("json", "binary"):
            compiled = compile_policy(serving, entrypoints, artifact_format=name)
            directory = Path(workdir, name)
            artifact.write_files(compiled.artifact, directory)
            size = sum(len(content) for content in compiled.artifact.values())
            load_ms = median_ms(args.rounds, partial(artifact.load, directory, name))
            eval_us = median_ms(args.rounds, partial(evaluate, artifact.load(directory, name)))
            eval_us *= 1000 / EVALUATIONS
            print(f"{name}: {size:,} bytes, load {load_ms:.1f} ms, one decision {eval_us:.0f} µs")
    serve_ms = median_ms(args.rounds, lambda: runtime.compile(serving))
    binary_ms = median_ms(
        args.rounds, lambda: compile_policy(serving, entrypoints, artifact_format="binary")
    )
    publish_ms = median_ms(args.rounds, lambda: runtime.compile(serving, tested=tested))
    print(f"compile + guard in the child: {serve_ms:.0f} ms (binary artifact: {binary_ms:.0f} ms)")
    print(f"compile + guard with the Rego tests (publishing): {publish_ms:.0f} ms")


if __name__ == "__main__":
    main()

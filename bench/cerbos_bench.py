"""`POST /decide` side by side with Cerbos's check API: equivalent policies, same requests, same load.

Starts Cerbos (`cerbos server`, disk store of `bench/cerbos/policies/`, installed from npm into
`.venv/cerbos` when missing) and a real `pdp serve` (SQLite, the default policy set, the demo
directory, PEP authentication on), one after the other, never both under load at once. Before
any timing it asks both the decisions of `bench/cerbos_cases.py` and refuses to go on if they
decide apart. Then each server is warmed up and driven by wrk in two scenarios:

- uncached: a new resource id on every request (a decision cache cannot answer it);
- repeated: the same request every time.

It prints the machine, then per scenario Cerbos's and our req/s, p50 and p99, and the ratio
(ours / Cerbos). Without Cerbos (no npm, no network, not linux x86_64) it says why and still
reports our figures. `--pdp-args` (repeatable) measures `pdp serve` variants in the same run;
`--rounds N` repeats the whole sequence and prints the medians (for a noisy machine).

    .venv/bin/python bench/cerbos_bench.py [--seconds 10] [--connections 16] [--json]
        [--pdp-args="--workers 1" --pdp-args="--workers 2"] [--rounds 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import load  # noqa: E402
from bench.cerbos_cases import (  # noqa: E402
    CASES,
    cerbos_answers,
    cerbos_check,
    directory_subjects,
    disagreements,
    pdp_answers,
)
from bench.cerbos_server import (  # noqa: E402
    DEFAULT_CACHE,
    CerbosUnavailable,
    cerbos_server,
    find_or_install,
    version,
)
from bench.decide_bench import DECIDE_BODY  # noqa: E402
from bench.pdp_server import import_demo_directory, pdp_server  # noqa: E402
from pdp.directory.snapshot import SubjectFacts  # noqa: E402


def scenario_bodies(body: dict[str, Any]) -> dict[str, str]:
    """The request body per scenario: a fresh resource id per request, or always the same."""
    fresh = copy.deepcopy(body)
    fresh["resource"]["id"] = f"d-{load.FRESH_ID}"
    return {"uncached": json.dumps(fresh), "repeated": json.dumps(body)}


def run_scenarios(
    url: str, bodies: dict[str, str], headers: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """A warm-up, then each scenario with the same wrk settings."""
    wrk = {"conns": args.connections, "threads": args.threads}
    load.run_wrk(url, "POST", bodies["uncached"], headers, seconds=args.warmup, **wrk)
    return {
        name: load.run_wrk(url, "POST", body, headers, seconds=args.seconds, **wrk)
        for name, body in bodies.items()
    }


def cerbos_decisions(
    binary: Path,
    subjects: dict[str, SubjectFacts],
    database_url: str,
    workdir: Path,
    first_variant: str,
) -> dict[str, bool]:
    """Cerbos's answers to the cases, checked against the first `pdp serve` variant before
    anything is timed (the two servers one after the other)."""
    with cerbos_server(binary, workdir / "cerbos-check.log") as url:
        answers = cerbos_answers(url, subjects)
    with pdp_server(database_url, workdir / "pdp-check.log", shlex.split(first_variant)) as server:
        refuse_if_apart(pdp_answers(server.url, server.headers), answers)
    return answers


def cerbos_bodies(facts: SubjectFacts) -> dict[str, str]:
    """The benchmark request per scenario, as Cerbos's check API takes it."""
    return {
        name: json.dumps(cerbos_check(json.loads(body), facts))
        for name, body in scenario_bodies(DECIDE_BODY).items()
    }


def measure_cerbos(
    binary: Path, bodies: dict[str, str], log: Path, args: argparse.Namespace
) -> dict[str, Any]:
    with cerbos_server(binary, log) as url:
        return run_scenarios(url + "/api/check/resources", bodies, load.JSON_HEADERS, args)


def refuse_if_apart(ours: dict[str, bool], cerbos: dict[str, bool] | None) -> None:
    """Stop the run when the two would not be deciding the same thing."""
    name = next(iter(CASES))
    problems = disagreements(ours, cerbos) if cerbos is not None else []
    if not ours[name]:
        problems.append(f"{name}: /decide should allow it")
    if problems:
        raise SystemExit("not benchmarking, the decisions differ:\n  " + "\n  ".join(problems))


def measure_pdp(
    variant: str,
    cerbos: dict[str, bool] | None,
    database_url: str,
    log: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One `pdp serve` variant: checked against Cerbos's answers, then its figures."""
    with pdp_server(database_url, log, shlex.split(variant)) as server:
        refuse_if_apart(pdp_answers(server.url, server.headers), cerbos)
        bodies = scenario_bodies(DECIDE_BODY)
        return run_scenarios(server.url + "/decide", bodies, server.headers, args)


def measure_round(
    logs: Path,
    cerbos: tuple[Path, dict[str, str]] | None,
    answers: dict[str, bool] | None,
    database_url: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Cerbos (when it runs here), then every `pdp serve` variant, one server at a time."""
    return {
        "cerbos": measure_cerbos(*cerbos, logs.with_suffix(".cerbos.log"), args)
        if cerbos
        else None,
        "pdp": [
            measure_pdp(variant, answers, database_url, logs.with_suffix(f".pdp-{i}.log"), args)
            for i, variant in enumerate(args.pdp_args)
        ],
    }


def median_round(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per scenario, the figures of the round with the median throughput (of an even number
    of rounds, the lower middle one)."""
    medians = {}
    for name in rounds[0]:
        ordered = sorted((r[name] for r in rounds), key=lambda figures: figures["throughput"])
        medians[name] = ordered[(len(ordered) - 1) // 2]
    return medians


def summarize(report: dict[str, Any], variants: list[str]) -> None:
    """The median figures of the rounds, and per variant the median of the rounds' ratios
    (each ratio taken within one round, so slow spells of the machine hit both sides)."""
    rounds = report["rounds"]
    if rounds[0]["cerbos"] is not None:
        report["cerbos"] = median_round([r["cerbos"] for r in rounds])
    for number, variant in enumerate(variants):
        run: dict[str, Any] = {
            "pdp_args": variant,
            "figures": median_round([r["pdp"][number] for r in rounds]),
        }
        if report["cerbos"] is not None:
            run["ratios"] = {
                name: statistics.median(
                    r["pdp"][number][name]["throughput"] / r["cerbos"][name]["throughput"]
                    for r in rounds
                )
                for name in run["figures"]
            }
        report["pdp"].append(run)


def _cell(figures: dict[str, Any] | None) -> str:
    if figures is None:
        return "not measured | -"
    return f"{figures['throughput']:,.0f} | {figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} ms"


def print_table(report: dict[str, Any]) -> None:
    m, s = report["machine"], report["settings"]
    print(
        f"machine: {m['nproc']} cores ({m['cpu']}, {m['arch']}), Python {m['python']}, "
        f"Cerbos {report['cerbos_version'] or 'not available'}, load average "
        f"{m['load_average']} at the start, {report['load_average_end']} at the end"
    )
    print(
        f"wrk: {s['connections']} connections, {s['threads']} threads, "
        f"{s['seconds']} s per scenario after a {s['warmup']} s warm-up, "
        f"{s['rounds']} round(s)" + (" (medians)" if s["rounds"] > 1 else "")
    )
    print()
    print("| scenario | pdp serve | Cerbos req/s | p50 / p99 | /decide req/s | p50 / p99 | ratio |")
    print("|---|---|---|---|---|---|---|")
    for run in report["pdp"]:
        for scenario, ours in run["figures"].items():
            theirs = report["cerbos"][scenario] if report["cerbos"] else None
            ratio = f"{run['ratios'][scenario]:.2f}x" if theirs else "-"
            print(
                f"| {scenario} | {run['pdp_args'] or '(default)'} | {_cell(theirs)} "
                f"| {_cell(ours)} | {ratio} |"
            )
    errors = [
        f"round {number + 1}, {who} {scenario}: {f['errors']} errors"
        for number, r in enumerate(report["rounds"])
        for who, figures in [("Cerbos", r["cerbos"] or {}), *enumerate(r["pdp"])]
        for scenario, f in figures.items()
        if f["errors"]
    ]
    for line in errors:
        print(f"warning: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seconds", type=int, default=10, help="per scenario")
    parser.add_argument("--warmup", type=int, default=2, help="seconds, per server")
    parser.add_argument(
        "--pdp-args",
        action="append",
        help='extra `pdp serve` arguments, e.g. --pdp-args="--workers 2"; repeat to measure '
        "several variants (default: one run without extra arguments)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat Cerbos then /decide this many times; print the medians",
    )
    parser.add_argument("--cerbos-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    args.pdp_args = args.pdp_args or [""]
    if shutil.which("wrk") is None:
        parser.error("needs wrk (apt-get install wrk): the uncached scenario is a wrk Lua script")

    workdir = Path(tempfile.mkdtemp(prefix="pdp-cerbos-bench-"))
    database_url = import_demo_directory(workdir)
    report: dict[str, Any] = {
        "machine": load.machine(),
        "settings": {
            k: getattr(args, k) for k in ("connections", "threads", "seconds", "warmup", "rounds")
        },
        "cerbos_version": None,
        "cerbos": None,
        "pdp": [],
        "rounds": [],
    }
    answers, cerbos = None, None
    try:
        binary = find_or_install(args.cerbos_cache)
        report["cerbos_version"] = version(binary)
        subjects = directory_subjects(database_url)
        answers = cerbos_decisions(binary, subjects, database_url, workdir, args.pdp_args[0])
        cerbos = (binary, cerbos_bodies(subjects[DECIDE_BODY["subject"]["id"]]))
    except CerbosUnavailable as exc:
        print(f"Cerbos not measured, only /decide: {exc}", file=sys.stderr)
    for number in range(1, args.rounds + 1):
        round_run = measure_round(workdir / f"round-{number}", cerbos, answers, database_url, args)
        report["rounds"].append(round_run)
    summarize(report, args.pdp_args)
    report["load_average_end"] = load.machine()["load_average"]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

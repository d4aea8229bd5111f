"""`pdp check`: compile policy sets without running tests; every problem as file:line:col."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pdp.cli.common import CommandError, emit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="compile policy sets and report every problem (exit 2 on any error)",
        description="Compiles in a child process, so a policy that crashes the engine is "
        "reported, not fatal. Warnings (valid OPA this engine mishandles) are printed and do "
        "not change the exit code. Fast enough for a pre-commit hook.",
    )
    parser.add_argument(
        "paths", nargs="*", type=Path, help="policy directories or bundles (default policies/)"
    )
    parser.add_argument("--json", action="store_true", help="print the problems as JSON")
    parser.add_argument(
        "--entrypoint", help="decision entrypoint to smoke-test (env PDP_DECISION_ENTRYPOINT)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pdp.policytest import check_path
    from pdp.settings import Settings

    paths = args.paths or [Path("policies")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CommandError(f"no such policy directory or bundle: {', '.join(missing)}", 2)
    entrypoint = args.entrypoint or Settings.from_env().decision_entrypoint
    results = [check_path(path, entrypoint=entrypoint) for path in paths]
    problems = [p for r in results for p in r.problems]
    errors = [p for p in problems if p.severity == "error"]
    warnings = len(problems) - len(errors)
    seconds = sum(r.seconds for r in results)
    if args.json:
        emit(
            {
                "ok": not errors,
                "problems": [p.to_json() for p in problems],
                "modules": sum(r.modules for r in results),
                "rules": sum(r.rules for r in results),
                "seconds": round(seconds, 3),
            },
            as_json=True,
        )
    else:
        for problem in problems:
            message = " ".join(str(problem).split("\n"))
            print(message, file=sys.stdout)
        modules = sum(r.modules for r in results)
        verdict = f"{len(errors)} problem(s)" if errors else "ok"
        if warnings:
            verdict += f", {warnings} warning(s)"
        print(f"{verdict}: {modules} modules checked in {seconds:.2f} s")
    return 2 if errors else 0

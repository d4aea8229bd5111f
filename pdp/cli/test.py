"""`pdp test`: run the Rego tests and decision tables of policy sets, as `opa test` does."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pdp.cli.common import CommandError

if TYPE_CHECKING:
    from pdp.policytest.opa import CrossCheck


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "test",
        help="run Rego test_* rules and *.cases.yaml|json decision tables (todo_test_* skipped)",
        description="Exit 0 when every test passes, 1 when any fails, 2 on errors.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="policy directories or bundles, each its own set, and .rego, data.json|yaml and"
        " *.cases.yaml|json files, together one more set (default policies/)",
    )
    parser.add_argument(
        "-r", "--run", metavar="REGEX", help="only tests whose id matches (re.search)"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every test, with its duration"
    )
    parser.add_argument(
        "--format", choices=["text", "json", "junit"], default="text", help="report format"
    )
    parser.add_argument(
        "-o", "--output", type=Path, help="write the json/junit report here (text still printed)"
    )
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument(
        "--entrypoint", help="decision entrypoint of the cases (env PDP_DECISION_ENTRYPOINT)"
    )
    parser.add_argument(
        "--opa",
        action="store_true",
        help="also run every test and case in OPA's own engine and fail on each disagreement"
        " (needs the opa extra: pip install --ignore-requires-python 'pdp-suite[opa]')",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pdp.policytest import run_tests
    from pdp.policytest.report import FORMATS, text_report
    from pdp.settings import Settings

    report_format = "json" if args.json else args.format
    if args.output is not None and report_format == "text":
        raise CommandError("--output needs --format json or junit", 2)
    if args.run:
        try:
            re.compile(args.run)
        except re.error as exc:
            raise CommandError(f"--run: not a regular expression: {exc}", 2) from None
    paths = args.paths or [Path("policies")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CommandError(f"no such policy directory or bundle: {', '.join(missing)}", 2)
    entrypoint = args.entrypoint or Settings.from_env().decision_entrypoint
    cross_check = _cross_check() if args.opa else None
    result = run_tests(paths, pattern=args.run, entrypoint=entrypoint, cross_check=cross_check)
    if report_format == "text" or args.output is not None:
        sys.stdout.write(text_report(result, verbose=args.verbose))
    if report_format != "text":
        document = FORMATS[report_format](result)
        if args.output is None:
            sys.stdout.write(document)
        else:
            try:
                args.output.write_text(document, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot write {args.output}: {exc.strerror}", 2) from None
    if not result.outcomes:
        raise CommandError(f"no tests found in {', '.join(str(p) for p in paths)}", 2)
    return result.exit_code


def _cross_check() -> CrossCheck:
    """OPA's engine for `--opa`, or a one-line reason (exit 2) saying how to install it."""
    from pdp.policytest.opa import CrossCheck, OpaUnavailable

    try:
        return CrossCheck()
    except OpaUnavailable as exc:
        raise CommandError(str(exc), 2) from None

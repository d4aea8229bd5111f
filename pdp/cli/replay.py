"""`pdp replay`: which recorded decisions would a candidate bundle decide differently?"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pdp.cli.common import CommandError, emit
from pdp.cli.decisions import add_source_arguments, records


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="re-decide recorded decisions with a candidate bundle, each through the endpoint "
        "and path that made it, and report the flips",
        description="Reads decisions from a `pdp decisions export` file (--decisions) or a "
        "running PDP (--pdp URL --token T), or the local store otherwise.",
    )
    parser.add_argument(
        "--bundle", type=Path, required=True, help="candidate bundle dir or .tar.gz"
    )
    parser.add_argument("--decisions", type=Path, help="JSON lines from pdp decisions export")
    add_source_arguments(parser, url_flag="--pdp")
    parser.add_argument(
        "--directory",
        choices=["recorded", "current"],
        default="recorded",
        help="subject facts as logged (default) or as the directory store holds them now",
    )
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument(
        "--fail-on-change",
        action="store_const",
        const="change",
        dest="fail_on",
        help="exit 1 when any decision flips",
    )
    gate.add_argument(
        "--fail-on",
        choices=["change", "grant"],
        dest="fail_on",
        help="exit 1 on any flip (change) or on any new allow (grant)",
    )
    parser.add_argument("--examples", type=int, default=5, help="examples per kind of change")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--json", action="store_true", help="same as --format json")
    parser.add_argument(
        "--entrypoint",
        help="decision entrypoint of records that do not name theirs (env PDP_DECISION_ENTRYPOINT)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pdp.bundles.loader import BundleFormatError, load_policy_source
    from pdp.engine import CompileError
    from pdp.metrics import Metrics
    from pdp.policy import PolicyRuntime
    from pdp.replay import ReplaySourceError, read_jsonl, replay
    from pdp.settings import Settings

    if args.decisions is not None and args.url:
        raise CommandError("give --decisions FILE or --pdp URL, not both", 2)
    settings = Settings.from_env()
    runtime = PolicyRuntime(args.entrypoint or settings.decision_entrypoint, Metrics())
    try:
        policy = runtime.prepare(load_policy_source(args.bundle, include_tests=False))
    except (BundleFormatError, CompileError) as exc:
        raise CommandError(f"candidate bundle refused: {exc}", 2) from None
    snapshot = None
    if args.directory == "current":
        from pdp.directory.snapshot import DirectorySnapshot
        from pdp.directory.store import DirectoryStore

        snapshot = DirectorySnapshot(DirectoryStore(args.database_url or settings.database_url))
    source = read_jsonl(args.decisions) if args.decisions is not None else records(args)
    try:
        report = replay(
            source,
            policy,
            runtime.decision_entrypoint,
            snapshot=snapshot,
            example_limit=max(0, args.examples),
        )
    except ReplaySourceError as exc:
        raise CommandError(str(exc), 2) from None
    if args.json or args.format == "json":
        emit(report.to_json(), as_json=True)
    else:
        sys.stdout.write(report.text())
    return report.exit_code(args.fail_on)

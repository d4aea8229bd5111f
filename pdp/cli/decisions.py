"""`pdp decisions export`: the decision log as JSON lines, from the store or a running PDP."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pdp.cli.common import CommandError


def rfc3339(value: str) -> datetime:
    """An argparse type: an RFC 3339 time; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def add_source_arguments(parser: argparse.ArgumentParser, *, url_flag: str) -> None:
    """Where recorded decisions come from: the local store, or a PDP's admin API."""
    parser.add_argument("--database-url", help="decision log store URL (env PDP_DATABASE_URL)")
    parser.add_argument(url_flag, dest="url", metavar="URL", help="a running PDP to read from")
    parser.add_argument("--token", help="access token with scope pdp/admin (env PDP_ADMIN_TOKEN)")
    parser.add_argument("--since", type=rfc3339, help="decisions at or after this RFC 3339 time")
    parser.add_argument("--until", type=rfc3339, help="decisions before this RFC 3339 time")
    parser.add_argument("--subject", help="only decisions about this subject id")


def records(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """The selected records, from `--url` (admin API) or the store."""
    import os

    from pdp.decision_log import DecisionLogStore, DecisionQuery
    from pdp.replay import fetch_records, store_records

    if args.url:
        token = args.token or os.environ.get("PDP_ADMIN_TOKEN")
        if not token:
            raise CommandError("--token (or PDP_ADMIN_TOKEN) is needed to read from a PDP", 2)
        return fetch_records(
            args.url, token, since=args.since, until=args.until, subject=args.subject
        )
    from pdp.directory.store import DirectoryStore
    from pdp.settings import Settings

    store = DirectoryStore(args.database_url or Settings.from_env().database_url)
    query = DecisionQuery(subject_id=args.subject, since=args.since, until=args.until)
    return store_records(DecisionLogStore(store.engine), query)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("decisions", help="read the decision log")
    commands = parser.add_subparsers(dest="decisions_command", required=True)
    exporter = commands.add_parser(
        "export",
        help="write decisions as JSON lines (newest first), for pdp replay",
        description="Each line is one record with the full policy input the PDP built.",
    )
    add_source_arguments(exporter, url_flag="--url")
    exporter.add_argument("-o", "--output", type=Path, help="file to write (default stdout)")
    exporter.add_argument("--json", action="store_true", help="print a JSON summary on stderr")
    exporter.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from pdp.replay import ReplaySourceError

    count = 0
    try:
        out = args.output.open("w", encoding="utf-8") if args.output else sys.stdout
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror}", 2) from None
    try:
        for record in records(args):
            out.write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
            count += 1
    except ReplaySourceError as exc:
        raise CommandError(str(exc), 2) from None
    finally:
        if args.output:
            out.close()
    summary = {"exported": count, "output": str(args.output) if args.output else "-"}
    if args.json:
        print(json.dumps(summary), file=sys.stderr)
    elif args.output:
        print(f"exported {count} decisions to {args.output}")
    return 0

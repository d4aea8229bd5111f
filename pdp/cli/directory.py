"""`pdp directory import|export`: the directory as one YAML/JSON document (GitOps)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from pdp.cli.common import emit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("directory", help="import or export the directory")
    commands = parser.add_subparsers(dest="directory_command", required=True)

    importer = commands.add_parser("import", help="make the store match a directory file")
    importer.add_argument("file", type=Path, help="YAML or JSON directory document")
    importer.add_argument("--database-url", help="store URL (env PDP_DATABASE_URL)")
    importer.add_argument("--json", action="store_true", help="print the report as JSON")
    importer.set_defaults(handler=run_import)

    exporter = commands.add_parser("export", help="write the directory as one document")
    exporter.add_argument("-o", "--output", type=Path, help="file to write (default stdout)")
    exporter.add_argument("--tenant", action="append", help="only this tenant id (repeatable)")
    exporter.add_argument("--format", choices=["yaml", "json"], default="yaml")
    exporter.add_argument("--database-url", help="store URL (env PDP_DATABASE_URL)")
    exporter.add_argument("--json", action="store_true", help="same as --format json")
    exporter.set_defaults(handler=run_export)


def _store(args: argparse.Namespace):
    from pdp.directory.store import DirectoryStore
    from pdp.settings import Settings

    return DirectoryStore(args.database_url or Settings.from_env().database_url)


def run_import(args: argparse.Namespace) -> int:
    from pdp.directory.document import import_document, load_document

    report = import_document(_store(args), load_document(args.file))
    summary = report.to_dict()
    emit(summary, as_json=args.json, human=f"imported {args.file}: {report}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from pdp.directory.document import export_document

    document = export_document(_store(args), tenant_ids=args.tenant)
    if args.json or args.format == "json":
        text = json.dumps(document, indent=2, sort_keys=False) + "\n"
    else:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0

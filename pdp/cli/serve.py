"""`pdp serve`: run the decision service."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

import uvicorn

from pdp.cli.common import CommandError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the PDP HTTP service")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8181, help="port to listen on")
    parser.add_argument(
        "--bundle", type=Path, help="bundle directory or .tar.gz to serve (env PDP_BUNDLE)"
    )
    parser.add_argument("--database-url", help="directory store URL (env PDP_DATABASE_URL)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pdp.api.app import create_app
    from pdp.engine import CompileError
    from pdp.settings import Settings

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    overrides = {}
    if args.bundle is not None:
        overrides["bundle"] = args.bundle
    if args.database_url:
        overrides["database_url"] = args.database_url
    settings = dataclasses.replace(settings, **overrides)
    try:
        app = create_app(settings)
    except CompileError as exc:
        raise CommandError(f"bundle refused: {exc}") from None
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        # Access logs carry no bodies or headers, so tokens never reach them.
        access_log=args.log_level == "debug",
    )
    return 0

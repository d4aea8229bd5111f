"""`pdp serve`: run the decision service."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import logging.config
from pathlib import Path
from typing import Any

import uvicorn
from pythonjsonlogger.core import RESERVED_ATTRS

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
    parser.add_argument(
        "--json", action="store_true", help="log one JSON object per line (for log shippers)"
    )
    parser.set_defaults(handler=run)


def json_log_config(level: str) -> dict[str, Any]:
    """dictConfig for JSON lines on stderr, for our loggers and uvicorn's alike."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                # uvicorn adds an ANSI-coloured copy of some messages.
                "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            name: {"level": level} for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def run(args: argparse.Namespace) -> int:
    from pdp.api.app import create_app
    from pdp.engine import CompileError
    from pdp.settings import Settings

    if args.json:
        logging.config.dictConfig(json_log_config(args.log_level))
    else:
        logging.basicConfig(
            level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
        )
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
    # What start-up built (routes, models, the directory snapshot) lives as long as the
    # process: freeze it out of the collector, and collect young objects less often. Full
    # collections over that heap were the long tail of every request (docs/performance.md).
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=json_log_config(args.log_level) if args.json else uvicorn.config.LOGGING_CONFIG,
        # Access logs carry no bodies or headers, so tokens never reach them.
        access_log=args.log_level == "debug",
    )
    return 0

"""`pdp serve`: run the decision service."""

from __future__ import annotations

import argparse
import gc
import logging
import logging.config
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from pythonjsonlogger.core import RESERVED_ATTRS

from pdp.cli.common import CommandError
from pdp.drain import DRAIN_ENV, Draining
from pdp.one_write import OneWriteHttpTools

# On SIGTERM, in-flight requests get this long to finish before uvicorn cancels them; then the
# decision log is flushed (up to 5 s). Orchestrators should wait longer than the sum
# (docker-compose.yml: stop_grace_period).
GRACEFUL_SHUTDOWN_SECONDS = 20


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
        "--workers",
        type=int,
        help="processes serving the one port, each with its own snapshot (env PDP_WORKERS)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        help="on SIGTERM, answer /health with 503 and keep serving this long before stopping, "
        f"for load balancers that check health (env {DRAIN_ENV}, default 0)",
    )
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


def _tune_gc() -> None:
    """What start-up built (routes, models, the directory snapshot) lives as long as the
    process: freeze it out of the collector, and collect young objects less often. Full
    collections over that heap were the long tail of every request (docs/performance.md)."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


Number = TypeVar("Number", int, float)
_KINDS = {int: "an integer", float: "a number"}


def _number_from_env(name: str, kind: type[Number], default: Number) -> Number:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise CommandError(f"{name} must be {_KINDS[kind]}, not {raw!r}") from None


def worker_app() -> Any:
    """The app of one `pdp serve --workers N` process; settings come from the environment."""
    from pdp.api.app import create_app
    from pdp.settings import Settings

    app = Draining(create_app(Settings.from_env()), _number_from_env(DRAIN_ENV, float, 0.0))
    _tune_gc()
    return app


def run(args: argparse.Namespace) -> int:
    from pdp.api.app import create_app
    from pdp.engine import CompileError
    from pdp.settings import Settings
    from pdp.workers import SIGNAL_ENV, create_signal_file

    workers = args.workers if args.workers is not None else _number_from_env("PDP_WORKERS", int, 1)
    if workers < 1:
        raise CommandError("--workers must be at least 1")
    if args.json:
        logging.config.dictConfig(json_log_config(args.log_level))
    else:
        logging.basicConfig(
            level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
        )
    # Workers read their settings from the environment: the flags go there too.
    if args.bundle is not None:
        os.environ["PDP_BUNDLE"] = str(args.bundle.resolve())
    if args.database_url:
        os.environ["PDP_DATABASE_URL"] = args.database_url
    drain_seconds = (
        args.drain_seconds
        if args.drain_seconds is not None
        else _number_from_env(DRAIN_ENV, float, 0.0)
    )
    os.environ[DRAIN_ENV] = str(drain_seconds)
    settings = Settings.from_env()
    try:
        app = create_app(settings)
    except CompileError as exc:
        raise CommandError(f"bundle refused: {exc}") from None
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "log_config": json_log_config(args.log_level)
        if args.json
        else uvicorn.config.LOGGING_CONFIG,
        # Access logs carry no bodies or headers, so tokens never reach them.
        "access_log": args.log_level == "debug",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        # A replica killed mid-response must not have sent half of it (pdp/one_write.py).
        "http": OneWriteHttpTools,
    }
    if workers == 1:
        _tune_gc()
        uvicorn.run(Draining(app, drain_seconds), **options)
        return 0
    # The app built above proved the bundle and the store; each worker builds its own.
    app.state.services.close()
    # Each worker evaluates on its share of the cores: more threads only contend for them
    # (docs/performance.md).
    os.environ.setdefault("PDP_DECISION_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    shared = Path(tempfile.mkdtemp(prefix="pdp-workers-"))
    os.environ[SIGNAL_ENV] = str(create_signal_file(shared / "changes"))
    try:
        uvicorn.run("pdp.cli.serve:worker_app", factory=True, workers=workers, **options)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    return 0

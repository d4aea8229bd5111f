"""The `pdp` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pdp import __version__
from pdp.cli import bundle, check, decisions, directory, eval, replay, serve, test
from pdp.cli.common import CommandError, fail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pdp", description="Policy decision point: serve, test and manage Rego policy."
    )
    parser.add_argument("--version", action="version", version=f"pdp {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (serve, test, check, eval, bundle, directory, replay, decisions):
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as exc:
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`pdp ... | head`); there is nobody left to tell.
        sys.stderr.close()
        return 0
    except Exception as exc:  # every failure is one line, never a traceback
        from pdp.errors import PDPError

        if isinstance(exc, PDPError):
            return fail(exc.message)
        return fail(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    sys.exit(main())

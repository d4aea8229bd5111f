"""What every CLI command shares: JSON or human output, and a one-line reason on failure."""

from __future__ import annotations

import json
import sys
from typing import Any


class CommandError(Exception):
    """A failure to report as one line on stderr with a non-zero exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def emit(result: Any, *, as_json: bool, human: str | None = None) -> None:
    """Print `result` as JSON with --json, else the human line (or JSON when there is none)."""
    if as_json or human is None:
        json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        print(human)


def fail(message: str, exit_code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return exit_code

"""Errors the engine raises: a refused bundle, or an evaluation that produced no answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy, located as precisely as the engine reports it.

    A "warning" (valid OPA this engine may mishandle) is reported without refusing anything.
    """

    file: str | None
    line: int | None
    col: int | None
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line, self.col) if part is not None)
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where}: {message}" if where else message

    def to_json(self) -> dict[str, Any]:
        """As `pdp check --json` and the playground report it."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "message": self.message,
        }


class CompileError(EngineError):
    """A bundle was refused: parse/compile error, engine crash, timeout or failed smoke test."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "policy refused"
        more = len(self.problems) - 1
        summary = f"{first} (and {more} more)" if more > 0 else first
        super().__init__(summary.replace("\n", " "))


class EvaluationError(EngineError):
    """An evaluation produced no answer; `reason` is a stable code the PDP uses as deny reason."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason)
        self.reason = reason

"""What a test run produces: one outcome per test, and the counts and exit code CI reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "skipped", "errored"]
# The summary lines `opa test` prints, in its order: `PASS: 3/4`, `SKIPPED: 1/4`.
_SUMMARY = (("PASS", "passed"), ("FAIL", "failed"), ("SKIPPED", "skipped"), ("ERROR", "errored"))

# `pdp test` exit codes: every test passed, a test failed, something could not be run.
EXIT_PASSED, EXIT_FAILED, EXIT_ERRORED = 0, 1, 2


@dataclass(frozen=True)
class Outcome:
    """One test: a Rego `test_*` rule (`todo_test_*` ones are skipped), a decision-table case,
    a file that could not run, or a disagreement between this engine and OPA's.

    `suite` groups outcomes the way JUnit does: the Rego package, or the case file.
    """

    kind: Literal["rego", "case", "file", "opa"]
    file: str
    suite: str
    name: str
    status: Status
    duration_seconds: float = 0.0
    message: str | None = None

    @property
    def id(self) -> str:
        """What `--run REGEX` is searched in: `package.test_name` or `file::case name`."""
        separator = "." if self.kind == "rego" else "::"
        return f"{self.suite}{separator}{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "suite": self.suite,
            "name": self.name,
            "status": self.status,
            "duration_seconds": round(self.duration_seconds, 6),
            "message": self.message,
        }


@dataclass
class TestRun:
    """Every outcome of one `pdp test`, in the order they ran, and the static check's warnings
    (`file:line:col: message`), which fail nothing."""

    __test__ = False  # not a pytest test class

    outcomes: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    # How many tests and case decisions `--opa` compared with OPA's engine (None: not asked).
    opa_compared: int | None = None

    @property
    def opa_disagreed(self) -> int:
        return sum(o.kind == "opa" for o in self.outcomes)

    def cross_check(self) -> str | None:
        """`OPA: 60 compared, 0 disagreed` after `--opa`."""
        if self.opa_compared is None:
            return None
        return f"OPA: {self.opa_compared} compared, {self.opa_disagreed} disagreed"

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        if self.count("errored"):
            return EXIT_ERRORED
        return EXIT_FAILED if self.count("failed") else EXIT_PASSED

    def summary(self) -> list[str]:
        """The closing lines as `opa test` prints them: `PASS: 3/4`, `SKIPPED: 1/4`, ..."""
        total = len(self.outcomes)
        return [
            f"{label}: {count}/{total}"
            for label, status in _SUMMARY
            if (count := self.count(status))  # type: ignore[arg-type]
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {
                **{status: self.count(status) for _, status in _SUMMARY},  # type: ignore[arg-type]
                "duration_seconds": round(self.duration_seconds, 6),
            },
            "warnings": self.warnings,
            **(
                {"opa": {"compared": self.opa_compared, "disagreed": self.opa_disagreed}}
                if self.opa_compared is not None
                else {}
            ),
            "tests": [o.to_json() for o in self.outcomes],
        }

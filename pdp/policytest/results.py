"""What a test run produces: one outcome per test, and the counts and exit code CI reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "errored"]

# `pdp test` exit codes: every test passed, a test failed, something could not be run.
EXIT_PASSED, EXIT_FAILED, EXIT_ERRORED = 0, 1, 2


@dataclass(frozen=True)
class Outcome:
    """One test: a Rego `test_*` rule, a decision-table case, or a file that could not run.

    `suite` groups outcomes the way JUnit does: the Rego package, or the case file.
    """

    kind: Literal["rego", "case", "file"]
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
    """Every outcome of one `pdp test`, in the order they ran."""

    __test__ = False  # not a pytest test class

    outcomes: list[Outcome] = field(default_factory=list)
    duration_seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def exit_code(self) -> int:
        if self.count("errored"):
            return EXIT_ERRORED
        return EXIT_FAILED if self.count("failed") else EXIT_PASSED

    def summary(self) -> str:
        """The closing line: `N passed, N failed`, with `, N errored` when any errored."""
        line = f"{self.count('passed')} passed, {self.count('failed')} failed"
        errored = self.count("errored")
        return f"{line}, {errored} errored" if errored else line

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {
                "passed": self.count("passed"),
                "failed": self.count("failed"),
                "errored": self.count("errored"),
                "duration_seconds": round(self.duration_seconds, 6),
            },
            "tests": [o.to_json() for o in self.outcomes],
        }

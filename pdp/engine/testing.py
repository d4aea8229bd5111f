"""Run the Rego unit tests (`test_*` rules) of a policy source, in a child process."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pdp.engine.compiler import run_child
from pdp.engine.source import PolicySource

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", re.M)
# A test is a rule whose head starts a line; `test_x(a)` is a function, not a test.
_TEST_HEAD = re.compile(r"^(test_[A-Za-z0-9_]*)\b(?!\s*\()", re.M)
_COMMENT = re.compile(r"#[^\n]*")


@dataclass(frozen=True)
class RegoTestResult:
    package: str
    name: str
    file: str
    passed: bool
    error: str | None
    duration_seconds: float


@dataclass(frozen=True)
class _Test:
    package: str
    name: str
    file: str

    @property
    def entrypoint(self) -> str:
        return f"{self.package.replace('.', '/')}/{self.name}"


def discover_tests(source: PolicySource, pattern: str | None = None) -> list[_Test]:
    """Find test rules by reading each module's package and rule heads.

    `pattern` is a regular expression searched in `package.name`, like `opa test --run`.
    """
    selector = re.compile(pattern) if pattern else None
    tests: dict[str, _Test] = {}
    for file, text in sorted(source.modules.items()):
        stripped = _COMMENT.sub("", text)
        package = _PACKAGE.search(stripped)
        if package is None:
            continue
        for head in _TEST_HEAD.finditer(stripped):
            test = _Test(package.group(1), head.group(1), file)
            if selector is None or selector.search(f"{test.package}.{test.name}"):
                tests.setdefault(test.entrypoint, test)
    return list(tests.values())


def run_rego_tests(
    source: PolicySource, *, pattern: str | None = None, timeout: float = 120.0
) -> list[RegoTestResult]:
    """Evaluate every test rule with an empty input: true passes, false or undefined fails.

    A compile error or an engine crash raises CompileError: no test result can be trusted.
    """
    tests = discover_tests(source, pattern)
    if not tests:
        return []
    answer = run_child(
        {
            "task": "test",
            "modules": source.modules,
            "data": source.data,
            "tests": [{"entrypoint": t.entrypoint} for t in tests],
        },
        action="running tests",
        timeout=timeout,
    )
    return [
        RegoTestResult(
            package=test.package,
            name=test.name,
            file=test.file,
            passed=result["passed"],
            error=result["error"],
            duration_seconds=result["duration_seconds"],
        )
        for test, result in zip(tests, answer["results"], strict=True)
    ]

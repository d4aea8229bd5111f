"""Run the Rego unit tests (`test_*` rules) of a policy source, and check it, in a child process."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pdp.engine.compiler import run_child
from pdp.engine.errors import CompileError
from pdp.engine.modules import PACKAGE
from pdp.engine.source import PolicySource

_COMMENT = re.compile(r"#[^\n]*")
# Any rule head that starts a line (`default` allowed); a `(` after the name makes a function.
_RULE_HEAD = re.compile(r"^(?:default\s+)?([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()", re.M)
_NOT_RULES = frozenset({"package", "import", "default", "else"})


@dataclass(frozen=True)
class RegoTestResult:
    package: str
    name: str
    file: str
    passed: bool
    error: str | None
    duration_seconds: float
    # The rule's value as JSON ("false", "undefined", ...) when it did not pass; None on error.
    actual: str | None = None


@dataclass(frozen=True)
class _Rule:
    package: str
    name: str
    file: str
    line: int
    col: int

    @property
    def entrypoint(self) -> str:
        return f"{self.package.replace('.', '/')}/{self.name}"


def discover_rules(source: PolicySource) -> list[_Rule]:
    """Every rule (not function) of every module, located at its first head."""
    rules: dict[str, _Rule] = {}
    for file, text in sorted(source.modules.items()):
        stripped = _COMMENT.sub("", text)
        package = PACKAGE.search(stripped)
        if package is None:
            continue
        for head in _RULE_HEAD.finditer(stripped):
            if head.group(1) in _NOT_RULES:
                continue
            line = stripped.count("\n", 0, head.start(1)) + 1
            col = head.start(1) - (stripped.rfind("\n", 0, head.start(1)) + 1) + 1
            rule = _Rule(package.group(1), head.group(1), file, line, col)
            rules.setdefault(rule.entrypoint, rule)
    return list(rules.values())


def discover_tests(
    source: PolicySource, pattern: str | None = None, *, prefix: str = "test_"
) -> list[_Rule]:
    """The test rules (`test_*`; `test_x(a)` is a function, not a test) of every module.

    `pattern` is a regular expression searched in `package.name`, like `opa test --run`;
    `prefix="todo_test_"` finds the tests `opa test` reports as skipped.
    """
    selector = re.compile(pattern) if pattern else None
    return [
        rule
        for rule in discover_rules(source)
        if rule.name.startswith(prefix)
        and (selector is None or selector.search(f"{rule.package}.{rule.name}"))
    ]


def _result(test: _Rule, raw: dict[str, Any]) -> RegoTestResult:
    return RegoTestResult(
        package=test.package,
        name=test.name,
        file=test.file,
        passed=raw["passed"],
        error=raw["error"],
        duration_seconds=raw["duration_seconds"],
        actual=None if raw["passed"] or raw["error"] is not None else raw.get("actual"),
    )


def _run_batch(
    source: PolicySource, tests: list[_Rule], timeout: float
) -> tuple[list[RegoTestResult], str | None]:
    """Run `tests` in one child: their results, and why the child died if it did mid-run.

    A crash before the tests compiled is a CompileError: it belongs to the policy, not a test.
    """
    with tempfile.TemporaryDirectory(prefix="pdp-tests-") as workdir:
        progress = Path(workdir, "progress.jsonl")
        request = {
            "task": "test",
            "modules": source.modules,
            "data": source.data,
            "tests": [{"entrypoint": t.entrypoint} for t in tests],
            "progress": str(progress),
        }
        try:
            answer = run_child(request, action="running tests", timeout=timeout)
        except CompileError as exc:
            lines = progress.read_text(encoding="utf-8").splitlines() if progress.exists() else []
            if not lines:
                raise
            # The last line may be cut short by the crash; only whole lines are results.
            finished = []
            for line in lines[1:]:
                try:
                    finished.append(json.loads(line))
                except ValueError:
                    break
            done = [_result(t, r) for t, r in zip(tests, finished, strict=False)]
            return done, str(exc)
    return [_result(t, r) for t, r in zip(tests, answer["results"], strict=True)], None


def run_rego_tests(
    source: PolicySource, *, pattern: str | None = None, timeout: float = 120.0
) -> list[RegoTestResult]:
    """Evaluate every test rule with an empty input: true passes, false or undefined fails.

    A test that crashes the engine (or hangs past `timeout`) errors alone: the tests after it
    run in a new child. A compile error, or a crash while compiling, raises CompileError: no
    test result can be trusted then.
    """
    pending = discover_tests(source, pattern)
    results: list[RegoTestResult] = []
    while pending:
        done, died = _run_batch(source, pending, timeout)
        results.extend(done)
        if died is None:
            break
        culprit = pending[len(done)]
        results.append(
            RegoTestResult(
                package=culprit.package,
                name=culprit.name,
                file=culprit.file,
                passed=False,
                error=died,
                duration_seconds=0.0,
            )
        )
        pending = pending[len(done) + 1 :]
    return results


def check_policy(
    source: PolicySource,
    *,
    decision_entrypoint: str | None = None,
    smoke_input: dict[str, Any] | None = None,
    timeout: float = 60.0,
) -> int:
    """Compile every module and evaluate every rule but the tests once, in a child process.

    Raises CompileError with every problem found (parse and compile errors located as
    `file:line:col`, evaluation errors at the rule's head, or an engine crash); returns the
    number of rules checked. `decision_entrypoint` (a path, `authz/decision`) is also
    evaluated with `smoke_input`, as the PDP does before it serves a bundle.
    """
    rules = discover_rules(source)
    if not rules:
        return 0
    run_child(
        {
            "task": "check",
            "modules": source.modules,
            "data": source.data,
            "rules": [
                {
                    "entrypoint": r.entrypoint,
                    "name": f"data.{r.package}.{r.name}",
                    "file": r.file,
                    "line": r.line,
                    "col": r.col,
                    "skip": r.name.startswith("test_"),
                    "smoke": r.entrypoint == decision_entrypoint and smoke_input is not None,
                }
                for r in rules
            ],
            "smoke_input": smoke_input,
        },
        action="checking",
        timeout=timeout,
    )
    return len(rules)

"""`pdp test`: run a policy set's Rego tests and decision tables, and collect the outcomes.

Each PATH is one policy set (a bundle directory or `.tar.gz`), compiled on its own as the PDP
would load it. Its Rego `test_*` rules run in a child process with the tests compiled in; its
case files run against the set compiled without tests, as `pdp serve` serves it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pdp.bundles.loader import BundleFormatError, load_policy_source
from pdp.engine import CompileError, PolicySource, run_rego_tests
from pdp.metrics import Metrics
from pdp.policy import ActivePolicy, PolicyRuntime
from pdp.policytest.cases import CASE_SUFFIXES, run_case_file
from pdp.policytest.results import Outcome, TestRun


def find_case_files(root: Path) -> list[Path]:
    """Case files under a policy directory, in a stable order; hidden directories are skipped."""
    if not root.is_dir():
        return []
    found = []
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(current, n) for n in sorted(names) if n.endswith(CASE_SUFFIXES))
    return found


def _display(root: Path, name: str | None) -> str:
    return (root / name).as_posix() if name else root.as_posix()


def _compile_errors(root: Path, exc: CompileError) -> list[Outcome]:
    """One errored outcome per file with problems; a problem with no file (a crash) is the set's."""
    by_file: dict[str, list[str]] = {}
    for problem in exc.problems:
        by_file.setdefault(_display(root, problem.file), []).append(str(problem))
    return [
        Outcome("file", file, file, "compile", "errored", message="\n".join(messages))
        for file, messages in by_file.items()
    ]


def _rego_outcomes(root: Path, source: PolicySource, pattern: str | None) -> list[Outcome]:
    try:
        results = run_rego_tests(source, pattern=pattern)
    except CompileError as exc:
        return _compile_errors(root, exc)
    outcomes = []
    for result in results:
        if result.passed:
            status, message = "passed", None
        elif result.error is not None:
            status, message = "errored", result.error
        else:
            status, message = "failed", f"expected true, got {result.actual}"
        outcomes.append(
            Outcome(
                "rego",
                _display(root, result.file),
                result.package,
                result.name,
                status,  # type: ignore[arg-type]
                result.duration_seconds,
                message,
            )
        )
    return outcomes


def _case_outcomes(
    root: Path, entrypoint: str, selected: Callable[[str], bool]
) -> Iterator[Outcome]:
    case_files = find_case_files(root)
    if not case_files:
        return
    policy: ActivePolicy | None = None
    refused: str | None = None
    try:
        serving = load_policy_source(root, include_tests=False)
        policy = PolicyRuntime(entrypoint, Metrics()).prepare(serving)
    except (BundleFormatError, CompileError) as exc:
        refused = f"the policy set was refused: {exc}"
    for path in case_files:
        display = path.as_posix()
        if policy is None:
            yield Outcome("file", display, display, "load", "errored", message=refused)
            continue
        yield from run_case_file(path, display, policy, entrypoint, selected)


def run_tests(paths: Sequence[Path], *, pattern: str | None = None, entrypoint: str) -> TestRun:
    """Run every test under `paths`; `pattern` is a regular expression searched in test ids."""
    started = time.perf_counter()
    selector = re.compile(pattern) if pattern else None

    def selected(test_id: str) -> bool:
        return selector is None or selector.search(test_id) is not None

    run = TestRun()
    for root in paths:
        try:
            source = load_policy_source(root, include_tests=True)
        except BundleFormatError as exc:
            run.outcomes.append(
                Outcome(
                    "file",
                    _display(root, None),
                    _display(root, None),
                    "load",
                    "errored",
                    message=str(exc),
                )
            )
            continue
        run.outcomes.extend(_rego_outcomes(root, source, pattern))
        run.outcomes.extend(_case_outcomes(root, entrypoint, selected))
    run.duration_seconds = time.perf_counter() - started
    return run

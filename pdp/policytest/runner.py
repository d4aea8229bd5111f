"""`pdp test`: run a policy set's Rego tests and decision tables, and collect the outcomes.

Each set (see `pdp.policytest.sets`) is first scanned as `pdp check` scans it, before any
engine work: errors are reported at their file:line, warnings printed. The Rego `test_*` rules
then run in child processes, isolated so that a module which breaks the engine is named (the
files the scan found errors in are probed first) and the tests that do not need it still run
(`pdp.engine.isolation`); `todo_test_*` rules are skipped, as `opa test` skips them. The case
files run against the set compiled without tests, as `pdp serve` serves it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from pdp.bundles.loader import BundleFormatError
from pdp.engine import CompileError, PolicySource, Problem
from pdp.engine.isolation import IsolatedRun, blame, have_errors, run_isolated
from pdp.engine.testing import RegoTestResult, discover_tests
from pdp.metrics import Metrics
from pdp.policy import ActivePolicy, PolicyRuntime
from pdp.policytest.cases import run_case_file
from pdp.policytest.check import scan_source
from pdp.policytest.opa import CrossCheck, OpaPolicy
from pdp.policytest.results import Outcome, TestRun
from pdp.policytest.sets import PolicySet, policy_sets


def _file_errors(
    policy_set: PolicySet, by_file: Mapping[str | None, Sequence[Problem]], stage: str
) -> list[Outcome]:
    """One errored outcome per file with problems; problems of no file are the set's."""
    return [
        Outcome(
            "file",
            policy_set.display(file),
            policy_set.display(file),
            stage,
            "errored",
            message="\n".join(_located(policy_set, p) for p in problems),
        )
        for file, problems in by_file.items()
    ]


def _located(policy_set: PolicySet, problem: Problem) -> str:
    """`problem` as `pdp check` prints it, its file named as given on the command line."""
    file = policy_set.display(problem.file) if problem.file else None
    return str(Problem(file, problem.line, problem.col, problem.message))


def _by_file(problems: Sequence[Problem]) -> dict[str | None, list[Problem]]:
    grouped: dict[str | None, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.file, []).append(problem)
    return grouped


def _rego_outcome(policy_set: PolicySet, result: RegoTestResult) -> Outcome:
    if result.passed:
        status, message = "passed", None
    elif result.error is not None:
        status, message = "errored", result.error
    else:
        status, message = "failed", f"expected true, got {result.actual}"
    return Outcome(
        "rego",
        policy_set.display(result.file),
        result.package,
        result.name,
        status,  # type: ignore[arg-type]
        result.duration_seconds,
        message,
    )


def _static_check(policy_set: PolicySet, source: PolicySource, run: TestRun) -> set[str]:
    """Scan before any engine work: errors become outcomes, warnings are noted; the files
    with errors are returned, the first suspects should the engine fail."""
    errors: list[Problem] = []
    for problem in scan_source(source):
        if getattr(problem, "severity", "error") == "error":
            errors.append(problem)
        else:
            run.warnings.append(_located(policy_set, problem))
    by_file = _by_file(errors)
    run.outcomes.extend(_file_errors(policy_set, by_file, "check"))
    return {file for file in by_file if file is not None}


def _rego_tests(
    policy_set: PolicySet,
    source: PolicySource,
    checked: set[str],
    pattern: str | None,
    run: TestRun,
    cross_check: CrossCheck | None,
) -> IsolatedRun | None:
    """Run the Rego tests; None when the engine failed and no module could be blamed.

    A module the engine cannot load is an error of its file, unless the static check has
    already reported that file's errors."""
    try:
        isolated = run_isolated(source, pattern=pattern, suspects=checked)
    except CompileError as exc:
        run.outcomes.extend(_file_errors(policy_set, _by_file(exc.problems), "compile"))
        return None
    found = {f: p for f, p in isolated.refused.items() if f not in checked}
    run.outcomes.extend(_file_errors(policy_set, found, "compile"))  # type: ignore[arg-type]
    run.outcomes.extend(_rego_outcome(policy_set, r) for r in isolated.results)
    run.outcomes.extend(
        Outcome("rego", policy_set.display(t.file), t.package, t.name, "skipped")
        for t in discover_tests(source, pattern, prefix="todo_test_")
    )
    if cross_check is not None:
        run.outcomes.extend(
            cross_check.rego_tests(source, isolated.ran, isolated.results, policy_set.display)
        )
    return isolated


def _serving_refusal(
    policy_set: PolicySet, serving: PolicySource, exc: CompileError, checked: set[str]
) -> tuple[str, list[Outcome]]:
    """Why the served set was refused; a refusal that names no file is probed for the module
    that breaks the engine, which becomes an error of its file (unless the scan named it)."""
    culprit = None if any(p.file for p in exc.problems) else blame(serving, suspects=checked)
    if culprit is None or culprit.file is None:
        return f"the policy set was refused: {exc}", []
    outcomes = (
        []
        if culprit.file in checked
        else _file_errors(policy_set, {culprit.file: [culprit]}, "compile")
    )
    return f"the policy set was refused: {have_errors([culprit.file])}", outcomes


def _case_outcomes(
    policy_set: PolicySet,
    entrypoint: str,
    selected: Callable[[str], bool],
    refused: list[str],
    checked: set[str],
    cross_check: CrossCheck | None,
) -> Iterator[Outcome]:
    """Every case file's outcomes; none runs when the served set is known bad."""
    case_files = policy_set.case_files()
    if not case_files:
        return
    policy: ActivePolicy | None = None
    if refused:
        why = f"the policy set was refused: {have_errors(refused)}"
    else:
        try:
            serving = policy_set.source(include_tests=False)
            policy = PolicyRuntime(entrypoint, Metrics()).prepare(serving)
        except BundleFormatError as exc:
            why = f"the policy set was refused: {exc}"
        except CompileError as exc:
            why, blamed = _serving_refusal(policy_set, serving, exc, checked)
            yield from blamed
    opa = OpaPolicy(policy.compiled.source) if policy and cross_check else None
    for path in case_files:
        display = path.as_posix()
        if policy is None:
            yield Outcome("file", display, display, "load", "errored", message=why)
        elif cross_check is None or opa is None:
            yield from run_case_file(path, display, policy, entrypoint, selected)
        else:
            yield from cross_check.case_file(path, display, policy, opa, entrypoint, selected)


def run_tests(
    paths: Sequence[Path],
    *,
    pattern: str | None = None,
    entrypoint: str,
    cross_check: CrossCheck | None = None,
) -> TestRun:
    """Run every test under `paths`; `pattern` is a regular expression searched in test ids.

    With `cross_check`, every Rego test and case also runs in OPA's engine (`--opa`)."""
    started = time.perf_counter()
    selector = re.compile(pattern) if pattern else None

    def selected(test_id: str) -> bool:
        return selector is None or selector.search(test_id) is not None

    run = TestRun()
    for policy_set in policy_sets(paths):
        try:
            source = policy_set.source(include_tests=True)
        except BundleFormatError as exc:
            display = policy_set.display(None)
            run.outcomes.append(
                Outcome("file", display, display, "load", "errored", message=str(exc))
            )
            continue
        checked = _static_check(policy_set, source, run)
        isolated = _rego_tests(policy_set, source, checked, pattern, run, cross_check)
        served_refused = sorted(
            f for f in (isolated.refused if isolated else ()) if not f.endswith("_test.rego")
        )
        run.outcomes.extend(
            _case_outcomes(policy_set, entrypoint, selected, served_refused, checked, cross_check)
        )
    run.duration_seconds = time.perf_counter() - started
    if cross_check is not None:
        run.opa_compared = cross_check.compared
    return run

"""`pdp check`: compile a policy set without running its tests, and report every problem.

Three sources of problems, all located as `file:line:col` where possible:
- the engine, in a child process: parse and compile errors, and every rule evaluated once
  (rego-cpp reports an unknown function only when it is called), and the decision entrypoint
  with the PDP's smoke input, so a set that passes is one `pdp serve` accepts;
- the static scan (`pdp.policytest.lint`): Rego v0, which OPA 1.x refuses, and what regopy
  lacks or mishandles although OPA accepts it, as errors or warnings;
- the bundle's `data.networks`, which the PDP parses itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from pdp.bundles.loader import BundleFormatError, load_policy_source
from pdp.engine import CompileError, PolicySource, Problem, entrypoint_path
from pdp.engine.modules import ModuleGraph
from pdp.engine.testing import check_policy
from pdp.policy import SMOKE_INPUT, network_problems
from pdp.policytest.lint import UNSUPPORTED, WILDCARD_SYMPTOM, scan_source

__all__ = ["CheckResult", "check_path", "scan_source"]


@dataclass(frozen=True)
class CheckResult:
    path: Path
    modules: int
    rules: int
    problems: list[Problem]
    seconds: float


def _explained(problem: Problem, scanned: list[Problem]) -> bool:
    """An engine error the scan already explained as unsupported by this engine.

    Either on the same line, or (evaluation errors are located at the rule's head) an
    error carrying the very symptom the scan quoted.
    """
    return any(
        p.file == problem.file
        and UNSUPPORTED in p.message
        and (p.line == problem.line or WILDCARD_SYMPTOM in problem.message)
        for p in scanned
    )


def _key(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.file or "", problem.line or 0, problem.col or 0, problem.message)


def _engine_check(source: PolicySource, entrypoint: str) -> tuple[int, list[Problem]]:
    """The rules the engine checked and the problems it found (none checked on a problem)."""
    try:
        rules = check_policy(
            source, decision_entrypoint=entrypoint_path(entrypoint), smoke_input=SMOKE_INPUT
        )
    except CompileError as exc:
        return 0, list(exc.problems)
    return rules, []


def check_path(path: Path, *, entrypoint: str) -> CheckResult:
    """Every problem of the policy set at `path` (a directory or bundle), tests included."""
    started = time.perf_counter()
    try:
        source = load_policy_source(path, include_tests=True)
    except BundleFormatError as exc:
        problem = Problem(None, None, None, str(exc))
        return CheckResult(path, 0, 0, [problem], time.perf_counter() - started)
    scanned = scan_source(source)
    problems = network_problems(source.data)
    rules, engine = _engine_check(source, entrypoint)
    flagged = {p.file for p in scanned if p.severity == "error" and p.file}
    if flagged and any(p.file not in flagged for p in engine):
        # A module the scan refused can break every query of the interpreter it shares
        # (a shadowed namespace crashes rego-cpp), and the engine then blames innocent rules:
        # check the others again without it and what needs it.
        excluded = ModuleGraph(source.modules).dependents(flagged) | flagged
        kept = {f: t for f, t in source.modules.items() if f not in excluded}
        others = _engine_check(replace(source, modules=kept), entrypoint)[1] if kept else []
        engine = [p for p in engine if p.file in excluded] + others
    problems.extend(engine)
    located = [
        replace(p, file=(path / p.file).as_posix() if p.file else path.as_posix())
        for p in [*scanned, *(p for p in problems if not _explained(p, scanned))]
    ]
    unique = sorted(set(located), key=_key)
    return CheckResult(path, len(source.modules), rules, unique, time.perf_counter() - started)

"""Run Rego tests so that a module which breaks the engine is named, and the others still run.

One module can make rego-cpp fail every query of the interpreter it is loaded in, or crash
it (a local variable shadowing `bits`), so every test errors with a message that
names no file. The whole set first runs in one child, as before. When that fails without
naming a file, or a test errors, children probe the modules one at a time, each with what it
needs and a trivial rule next to it: the first module whose presence breaks the trivial rule
is left out, with every module that needs it, and the remaining tests run again without it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from pdp.engine.compiler import run_child
from pdp.engine.errors import CompileError, Problem
from pdp.engine.modules import ModuleGraph
from pdp.engine.source import PolicySource
from pdp.engine.testing import RegoTestResult, discover_tests, run_rego_tests

_PROBE_FILE = "pdp-isolation-probe.rego"
_PROBE = "package pdp_isolation_probe\n\nimport rego.v1\n\nalive := true\n"


@dataclass(frozen=True)
class IsolatedRun:
    """Every selected test's result, and the modules left out (file -> why), tests of
    modules that need a left-out one being errors that name it."""

    results: list[RegoTestResult]
    refused: dict[str, list[Problem]] = field(default_factory=dict)
    # The modules the tests that ran were compiled with.
    ran: frozenset[str] = frozenset()


def _only(source: PolicySource, files: Collection[str]) -> PolicySource:
    return replace(source, modules={f: t for f, t in source.modules.items() if f in files})


def _breaks_engine(source: PolicySource, timeout: float) -> str | None:
    """Why `source` breaks even a trivial rule (an error or a crash), or None when it does not.

    A compile error located in a file is that file's problem, not a broken engine.
    """
    request = {
        "task": "test",
        "modules": {**source.modules, _PROBE_FILE: _PROBE},
        "data": source.data,
        "tests": [{"entrypoint": "pdp_isolation_probe/alive"}],
    }
    try:
        answer = run_child(request, action="probing modules", timeout=timeout)
    except CompileError as exc:
        return None if any(p.file for p in exc.problems) else str(exc)
    result = answer["results"][0]
    return None if result["passed"] else result["error"] or f"got {result['actual']}"


def _breaker(
    source: PolicySource,
    graph: ModuleGraph,
    suspects: Collection[str],
    timeout: float,
    *,
    known_broken: bool,
) -> Problem | None:
    """The first module (suspects first, then in dependency order) that breaks the engine,
    as a problem of that file; None when no single module does (the engine fails on its
    own, or only some modules together)."""
    if not known_broken and _breaks_engine(source, timeout) is None:
        return None
    if _breaks_engine(_only(source, ()), timeout) is not None:
        return None
    ordered = graph.in_order(source.modules)
    for file in sorted(ordered, key=lambda f: f not in suspects):
        reason = _breaks_engine(_only(source, graph.closure([file])), timeout)
        if reason is not None:
            message = (
                "the engine cannot load this module: with it, every query fails or the engine"
                f" dies, even for rules that do not use it: {reason}"
            )
            return Problem(file, None, None, message)
    return None


def blame(
    source: PolicySource, *, suspects: Collection[str] = (), timeout: float = 60.0
) -> Problem | None:
    """The module of `source` that breaks the engine, if one does (children probe it)."""
    return _breaker(source, ModuleGraph(source.modules), suspects, timeout, known_broken=False)


def _located(problems: Sequence[Problem], modules: Collection[str]) -> dict[str, list[Problem]]:
    by_file: dict[str, list[Problem]] = {}
    for problem in problems:
        if problem.file in modules:
            by_file.setdefault(problem.file, []).append(problem)
    return by_file


def have_errors(files: Sequence[str]) -> str:
    """`lib.rego has errors`, `a.rego, b.rego have errors`."""
    return f"{', '.join(files)} {'has' if len(files) == 1 else 'have'} errors"


def run_isolated(
    source: PolicySource,
    *,
    pattern: str | None = None,
    suspects: Collection[str] = (),
    timeout: float = 120.0,
) -> IsolatedRun:
    """Run the tests of `source` without the modules found to break it, and say which.

    `suspects` (modules a static check found errors in) are probed first. Raises
    CompileError only when the engine fails and no module can be blamed.
    """
    graph = ModuleGraph(source.modules)
    left: dict[str, list[Problem]] = {}
    while True:
        kept = _only(source, set(source.modules) - graph.dependents(left))
        try:
            results = run_rego_tests(kept, pattern=pattern, timeout=timeout)
        except CompileError as exc:
            located = _located(exc.problems, kept.modules)
            if located:
                left.update(located)
                continue
            blamed = _breaker(kept, graph, suspects, timeout, known_broken=True)
            if blamed is None:
                raise
        else:
            if all(r.error is None for r in results):
                break
            blamed = _breaker(kept, graph, suspects, timeout, known_broken=False)
            if blamed is None:
                break
        left[blamed.file or ""] = [blamed]
    blocked = [
        RegoTestResult(
            package=test.package,
            name=test.name,
            file=test.file,
            passed=False,
            error=f"not run: {have_errors(sorted(graph.closure([test.file]) & left.keys()))}",
            duration_seconds=0.0,
        )
        for test in discover_tests(_only(source, graph.dependents(left)), pattern)
    ]
    order = {(t.package, t.name): n for n, t in enumerate(discover_tests(source, pattern))}
    ordered = sorted(results + blocked, key=lambda r: order.get((r.package, r.name), len(order)))
    return IsolatedRun(ordered, left, frozenset(kept.modules))

"""`pdp check`: compile a policy set without running its tests, and report every problem.

Three sources of problems, all located as `file:line:col` where possible:
- the engine, in a child process: parse and compile errors, and every rule evaluated once
  (rego-cpp reports an unknown function only when it is called), and the decision entrypoint
  with the PDP's smoke input, so a set that passes is one `pdp serve` accepts;
- a scan of the source for what regopy lacks or mishandles (policies/README.md): calls of
  functions it does not have (`net.*`, `print`, ...), a local variable shadowing a built-in
  namespace (crashes rego-cpp), and `with input as` (aborts it);
- the bundle's `data.networks`, which the PDP parses itself.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from regopy import Interpreter

from pdp.bundles.loader import BundleFormatError, load_policy_source
from pdp.engine import CompileError, PolicySource, Problem, entrypoint_path
from pdp.engine.testing import check_policy
from pdp.policy import SMOKE_INPUT, parse_networks

_KEYWORDS = frozenset(
    {"if", "not", "some", "every", "in", "with", "as", "else", "default", "package", "import"}
)
_CALL = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\s*\(")
_FUNCTION_HEAD = re.compile(r"^([A-Za-z_]\w*)\s*\(", re.M)
_WHOLE_INPUT = re.compile(r"\bwith\s+input\s+as\b")
# What to use instead, for the built-ins OPA has and regopy 1.5.2 lacks or breaks.
_HINTS = {
    "net.": "regopy has no net.* built-ins: use input.context.networks, the named networks "
    "(data.networks) the PDP found containing context.ip",
    "print": "regopy has no print: remove it",
    "trace": "regopy has no trace: remove it",
    "http.send": "regopy has no http.send: a decision may not call out; put the data in the bundle",
    "time.parse_rfc3339_ns": "time.parse_rfc3339_ns is undefined in regopy 1.5.2: "
    "use input.context.time_ns",
}
_BROKEN = frozenset({"time.parse_rfc3339_ns"})


@dataclass(frozen=True)
class CheckResult:
    path: Path
    modules: int
    rules: int
    problems: list[Problem]
    seconds: float


def _blank(text: str) -> str:
    """`text` with comments and string contents replaced by spaces (offsets stay valid)."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "#":
            end = text.find("\n", i)
            start, end = i, (n if end < 0 else end)
            following = end
        elif char in '"`':
            j = i + 1
            while j < n and text[j] != char and not (char == '"' and text[j] == "\n"):
                j += 2 if char == '"' and text[j] == "\\" else 1
            start, end = i + 1, min(j, n)
            following = j + 1
        else:
            i += 1
            continue
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "
        i = following
    return "".join(out)


def _where(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _hint(name: str) -> str | None:
    return next((hint for prefix, hint in _HINTS.items() if name.startswith(prefix)), None)


def scan_source(source: PolicySource) -> list[Problem]:
    """Static problems: unknown or broken built-ins, shadowed namespaces, whole-input `with`."""
    engine = Interpreter()  # only asked which built-ins exist; never given Rego
    blanked = {file: _blank(text) for file, text in source.modules.items()}
    user_functions = {
        m.group(1) for text in blanked.values() for m in _FUNCTION_HEAD.finditer(text)
    }
    problems: list[Problem] = []
    for file, text in sorted(blanked.items()):
        namespaces: set[str] = set()
        for call in _CALL.finditer(text):
            name = call.group(1)
            last = name.rsplit(".", 1)[-1]
            if name in _KEYWORDS or name.startswith(("data.", "input.")) or last in user_functions:
                continue
            line, col = _where(text, call.start(1))
            if engine.is_builtin(name) and name not in _BROKEN:
                if "." in name:
                    namespaces.add(name.split(".", 1)[0])
                continue
            hint = _hint(name)
            message = f"unknown function {name}" + (f": {hint}" if hint else "")
            problems.append(Problem(file, line, col, hint if name in _BROKEN else message))
        for namespace in sorted(namespaces):
            declared = re.compile(
                rf"(?<![\w.])(?:some\s+(?:\w+\s*,\s*)?){namespace}\b(?=[^\n]*\bin\b)"
                rf"|(?<![\w.]){namespace}\b(?=\s*(?:,[^\n\]]*)?\]?\s*:=)"
            )
            for match in declared.finditer(text):
                offset = match.end() - len(namespace)
                if _where(text, offset)[1] == 1:
                    continue  # a rule named like a namespace, not a local variable
                line, col = _where(text, offset)
                problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        f"local variable {namespace} shadows the built-in namespace {namespace}"
                        " (OPA refuses this; it crashes rego-cpp): rename the variable",
                    )
                )
        for match in _WHOLE_INPUT.finditer(text):
            line, col = _where(text, match.start())
            problems.append(
                Problem(
                    file,
                    line,
                    col,
                    "`with input as` replaces the whole input, which aborts regopy 1.5.2:"
                    " replace its fields (with input.subject as ... with input.action as ...)",
                )
            )
    return problems


def _key(problem: Problem) -> tuple[str, int, int, str]:
    return (problem.file or "", problem.line or 0, problem.col or 0, problem.message)


def check_path(path: Path, *, entrypoint: str) -> CheckResult:
    """Every problem of the policy set at `path` (a directory or bundle), tests included."""
    started = time.perf_counter()
    try:
        source = load_policy_source(path, include_tests=True)
    except BundleFormatError as exc:
        problem = Problem(None, None, None, str(exc))
        return CheckResult(path, 0, 0, [problem], time.perf_counter() - started)
    problems = scan_source(source)
    rules = 0
    try:
        parse_networks(source.data)
    except CompileError as exc:
        problems.extend(exc.problems)
    try:
        rules = check_policy(
            source, decision_entrypoint=entrypoint_path(entrypoint), smoke_input=SMOKE_INPUT
        )
    except CompileError as exc:
        problems.extend(exc.problems)
    located = [
        Problem((path / p.file).as_posix() if p.file else path.as_posix(), p.line, p.col, p.message)
        for p in problems
    ]
    unique = sorted(set(located), key=_key)
    return CheckResult(path, len(source.modules), rules, unique, time.perf_counter() - started)

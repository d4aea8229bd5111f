"""`pdp test --opa`: every Rego test and decision-table case also runs in OPA's own engine, and
each place where the two engines disagree is a failure.

OPA cannot tell an author that a policy behaves the same in a second engine; this can. OPA's
Go evaluator comes from the optional `opa` extra (`opa-golib-python-bindings`, a c-shared
build of OPA's `rego` library); without it `--opa` stops with a one-line reason. A Rego test
agrees when both engines pass it, fail it or error on it. A case agrees when OPA gives the
decision entrypoint, on the very input the PDP built for the case, the value this engine gave.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pdp.engine import UNDEFINED, EvaluationError, Evaluator, PolicySource
from pdp.engine.testing import RegoTestResult
from pdp.policy import ActivePolicy
from pdp.policytest.cases import CaseFileError, prepare_case, read_case_file, run_case_file
from pdp.policytest.results import Outcome

INSTALL = "pip install --ignore-requires-python 'pdp-suite[opa]'"
# What an engine answered: ("ok", value), ("undefined", None) or ("error", message).
Answer = tuple[str, Any]


class OpaUnavailable(Exception):
    """OPA's engine cannot be loaded here; the message says how to install it."""


def _bindings() -> Any:
    try:
        import opa_bindings
    except (ImportError, OSError) as exc:
        raise OpaUnavailable(
            f"--opa needs OPA's engine (opa-golib-python-bindings), which cannot be loaded"
            f" here ({exc}); install it with: {INSTALL}"
        ) from None
    return opa_bindings


def same_json(a: Any, b: Any) -> bool:
    """JSON values alike: numbers by value (1 == 1.0), never a boolean for a number."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return isinstance(a, bool) == isinstance(b, bool) and a == b
    return type(a) is type(b) and a == b


def _agree(ours: Answer, theirs: Answer) -> bool:
    return ours[0] == theirs[0] and (ours[0] != "ok" or same_json(ours[1], theirs[1]))


def _shown(answer: Answer) -> str:
    status, value = answer
    if status == "ok":
        return json.dumps(value, sort_keys=True)
    return "undefined" if status == "undefined" else f"error: {value}"


class OpaPolicy:
    """One policy source loaded into OPA's engine; a module OPA refuses to parse makes every
    answer that refusal, as OPA would refuse the whole bundle."""

    def __init__(self, source: PolicySource) -> None:
        bindings = _bindings()
        self._error = bindings.OpaError
        self._undefined = bindings.OpaUndefinedError
        self._engine = bindings.OpaEngine()
        self._refused: str | None = None
        try:
            for name, text in source.modules.items():
                self._engine.add_policy(name, text)
            self._engine.add_data(source.data)
        except self._error as exc:
            self._refused = str(exc)

    def evaluate(self, entrypoint: str, value: Any = None) -> Answer:
        """Evaluate `pkg/rule` (or `pkg.rule`) as `data.pkg.rule` on input `value`."""
        if self._refused is not None:
            return "error", self._refused
        try:
            return "ok", self._engine.eval_document(entrypoint.replace("/", "."), value)
        except self._undefined:
            return "undefined", None
        except self._error as exc:
            return "error", str(exc)


@dataclass(frozen=True)
class Comparison:
    """One question both engines answered: the entrypoint, the input and the two answers."""

    entrypoint: str
    input: dict[str, Any]
    ours: Answer
    theirs: Answer

    @property
    def agreed(self) -> bool:
        return _agree(self.ours, self.theirs)

    def __str__(self) -> str:
        return (
            f"data.{self.entrypoint.replace('/', '.')} on the input the PDP built: this engine"
            f" gave {_shown(self.ours)}, OPA gave {_shown(self.theirs)}"
        )


class ComparingEvaluator(Evaluator):
    """Serves a compiled policy as the PDP does, and asks OPA every question it answers."""

    def __init__(self, policy: ActivePolicy, opa: OpaPolicy) -> None:
        super().__init__(policy.compiled)
        self._opa = opa
        self.comparisons: list[Comparison] = []

    def evaluate(self, entrypoint: str, input: dict[str, Any]) -> Any:
        try:
            value = super().evaluate(entrypoint, input)
        except EvaluationError as exc:
            self._compare(entrypoint, input, ("error", str(exc)))
            raise
        self._compare(
            entrypoint, input, ("undefined", None) if value is UNDEFINED else ("ok", value)
        )
        return value

    def _compare(self, entrypoint: str, input: dict[str, Any], ours: Answer) -> None:
        theirs = self._opa.evaluate(entrypoint, input)
        self.comparisons.append(Comparison(entrypoint, input, ours, theirs))


def _request_key(subject_id: Any, action: Any, resource: Any) -> tuple[Any, ...]:
    return subject_id, action, resource.get("type"), resource.get("id")


def _case_keys(path: Path, display: str, selected: Callable[[str], bool]) -> list[tuple[Any, str]]:
    """(request key, name) of the cases of a file that reach the engine, in file order."""
    try:
        case_file = read_case_file(path)
    except CaseFileError:
        return []
    keys = []
    for index, case in enumerate(case_file.cases):
        if not selected(f"{display}::{case.name}"):
            continue
        try:
            ready, _ = prepare_case(case, index, inline=case_file.directory is None)
        except CaseFileError:
            continue
        request = ready.request
        keys.append(
            (
                _request_key(request.subject.id, request.action, request.resource.model_dump()),
                case.name,
            )
        )
    return keys


def _case_names(comparisons: Sequence[Comparison], keys: list[tuple[Any, str]]) -> list[str]:
    """The case each comparison was made for. Cases decide in file order and a case whose
    subject does not resolve never reaches the engine, so each comparison is the next case
    with its subject, action and resource."""
    names = []
    pending = list(keys)
    for comparison in comparisons:
        given = comparison.input
        key = _request_key(given["subject"]["id"], given["action"], given["resource"])
        found = next((n for n, (k, _) in enumerate(pending) if k == key), None)
        if found is None:
            names.append("a case of this file")
            continue
        names.append(pending[found][1])
        del pending[: found + 1]
    return names


def _opa_status(answer: Answer) -> str:
    if answer[0] == "error":
        return "errored"
    return "passed" if answer[0] == "ok" and answer[1] is True else "failed"


def _our_status(result: RegoTestResult) -> str:
    if result.passed:
        return "passed"
    return "errored" if result.error is not None else "failed"


class CrossCheck:
    """Collects the comparisons of one `pdp test --opa` run."""

    def __init__(self) -> None:
        _bindings()  # refuse before any work when OPA's engine is missing
        self.compared = 0

    def rego_tests(
        self,
        source: PolicySource,
        ran: Collection[str],
        results: Sequence[RegoTestResult],
        display: Callable[[str], str],
    ) -> list[Outcome]:
        """The tests of the modules in `ran` again in OPA, loaded with those modules; one
        failed outcome per disagreement."""
        opa = OpaPolicy(dataclasses.replace(source, modules={f: source.modules[f] for f in ran}))
        outcomes = []
        for result in (r for r in results if r.file in ran):
            self.compared += 1
            ours, theirs = _our_status(result), opa.evaluate(f"{result.package}/{result.name}")
            if ours != _opa_status(theirs):
                detail = result.error or result.actual or "true"
                message = (
                    f"this engine: {ours} (got {detail}); OPA: {_opa_status(theirs)}"
                    f" (got {_shown(theirs)})"
                )
                outcomes.append(
                    Outcome(
                        "opa",
                        display(result.file),
                        "opa",
                        f"{result.package}.{result.name}",
                        "failed",
                        message=message,
                    )
                )
        return outcomes

    def case_file(
        self,
        path: Path,
        display: str,
        policy: ActivePolicy,
        opa: OpaPolicy,
        entrypoint: str,
        selected: Callable[[str], bool],
    ) -> list[Outcome]:
        """The file's cases through the decision service, with an evaluator that also asks
        OPA; one failed outcome per disagreement, named by its case."""
        evaluator = ComparingEvaluator(policy, opa)
        comparing = dataclasses.replace(policy, evaluator=evaluator)
        outcomes = run_case_file(path, display, comparing, entrypoint, selected)
        comparisons = evaluator.comparisons
        self.compared += len(comparisons)
        names = _case_names(comparisons, _case_keys(path, display, selected))
        outcomes.extend(
            Outcome("opa", display, "opa", name, "failed", message=str(c))
            for c, name in zip(comparisons, names, strict=True)
            if not c.agreed
        )
        return outcomes

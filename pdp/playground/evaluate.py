"""Evaluate a policy someone is writing: in a child process, with a time limit.

The policy is checked as `pdp check` checks one (the static scan, `data.networks`, then the
engine), and every problem is reported at its file:line:col. Only a policy without errors is
evaluated, in the engine's child process (a policy that crashes the engine or never ends
costs that child, not the PDP); the served bundle is never read nor replaced. When the
entrypoint is the decision entrypoint, the value is also concluded as `/decide` would
(shape checked, tenant guard applied), so the playground shows the allow and the reasons.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pdp.decision import DecisionService, PolicyFailure, SubjectUnresolved, conclude_decision
from pdp.engine import UNDEFINED, CompileError, PolicySource, Problem, entrypoint_path
from pdp.engine.compiler import run_child
from pdp.errors import InvalidRequest
from pdp.policy import matching_networks, network_problems, parse_networks
from pdp.policytest.cases import (
    Case,
    CaseFileError,
    PreparedCase,
    inline_case_input,
    prepare_case,
    verdict,
)
from pdp.policytest.lint import scan_source

# A child that has not answered by then is killed: the policy loops or is too slow.
TIMEOUT_SECONDS = 10.0
MAX_MODULES = 50
_MODULE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*\.rego")
# Each evaluation takes a core for its child: one at a time per process.
_running = threading.Lock()


class PlaygroundRequest(BaseModel):
    """Rego modules (file name -> text), base data, the input and the entrypoint to query
    (default: the PDP's decision entrypoint)."""

    model_config = ConfigDict(extra="forbid")

    modules: dict[str, str] = Field(min_length=1, max_length=MAX_MODULES)
    data: dict[str, Any] = Field(default_factory=dict)
    input: dict[str, Any] | None = None
    # A decision-table case instead of an input: its subject spelled out, its expectation.
    case: Case | None = None
    entrypoint: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _input_or_case(self) -> PlaygroundRequest:
        if self.input is not None and self.case is not None:
            raise ValueError("give an input or a case, not both")
        return self

    @field_validator("modules")
    @classmethod
    def _module_names(cls, modules: dict[str, str]) -> dict[str, str]:
        for name in modules:
            if len(name) > 256 or not _MODULE_NAME.fullmatch(name) or ".." in name:
                raise ValueError(
                    f"module name {name!r} must be a relative path of letters, digits, "
                    "'_', '-' and '.' ending in .rego"
                )
        return modules


@dataclass(frozen=True)
class PlaygroundResult:
    entrypoint: str
    problems: list[Problem] = field(default_factory=list)
    # "ok", "undefined" or "error" once evaluated; None when problems stopped it first.
    status: str | None = None
    value: Any = None
    decision: dict[str, Any] | None = None
    # For a case: its name, `passed`/`failed`/`errored` and what differed.
    case: dict[str, Any] | None = None
    input: Any = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok" and not any(p.severity == "error" for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entrypoint": "data." + self.entrypoint.replace("/", "."),
            "status": self.status,
            "value": self.value,
            "decision": self.decision,
            "case": self.case,
            "input": self.input,
            "problems": [p.to_json() for p in self.problems],
            "seconds": round(self.seconds, 3),
        }


def _entrypoint(request: PlaygroundRequest, decision_entrypoint: str) -> str:
    try:
        return entrypoint_path(request.entrypoint or decision_entrypoint)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="entrypoint") from None


def _static_problems(source: PolicySource) -> list[Problem]:
    """What `pdp check` finds without the engine: the scan, then `data.networks`."""
    return [*scan_source(source), *network_problems(source.data)]


def _decision(value: Any, data: dict[str, Any], input_doc: dict[str, Any]) -> dict[str, Any]:
    """The allow and reasons `/decide` would conclude from `value`, or why there are none."""
    try:
        allow, reasons = conclude_decision(value, data, input_doc)
    except PolicyFailure as failure:
        return {"allow": False, "reasons": [failure.reason]}
    except (KeyError, TypeError):
        # An allow, and an input without the tenants the guard compares.
        return {"allow": False, "reasons": ["invalid_request"], "note": _NO_TENANTS}
    return {"allow": allow, "reasons": reasons}


_NO_TENANTS = (
    "the policy allows, but /decide always gives subject.tenant_id and resource.tenant_id"
    " and this input lacks them, so the tenant guard cannot run"
)


# A case subject with only these keys names a subject of this PDP's directory.
_REFERENCE_KEYS = frozenset({"id", "tenant_id"})


def _case_input(
    request: PlaygroundRequest, entrypoint: str, decisions: DecisionService | None
) -> tuple[PreparedCase, Any]:
    """The input `/decide` builds for the request's case: its subject spelled out (as in a
    case file without `directory:`) or, named by id, looked up in this PDP's directory;
    named networks from the request's data."""
    assert request.case is not None
    subject = request.case.request.get("subject")
    by_reference = isinstance(subject, dict) and set(subject) <= _REFERENCE_KEYS
    try:
        if by_reference and decisions is not None:
            ready, _ = prepare_case(request.case, 0, inline=False)
            facts, claims = decisions.resolve_subject(ready.request.subject)
            moment = ready.moment or datetime.now(UTC)
            built = decisions.build_input(facts, claims, ready.request, moment, None)
        else:
            ready, built = inline_case_input(request.case, entrypoint)
    except CaseFileError as exc:
        raise InvalidRequest(str(exc).replace("cases[0].", "case."), field="case") from None
    except SubjectUnresolved as exc:
        message = f"the case's subject is not usable here ({', '.join(exc.reasons)})"
        raise InvalidRequest(message, field="case.request.subject") from None
    ip = built["context"].get("ip")
    if ip:
        built["context"]["networks"] = matching_networks(parse_networks(request.data), ip)
    return ready, built


def evaluate(
    request: PlaygroundRequest,
    *,
    decision_entrypoint: str,
    decisions: DecisionService | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> PlaygroundResult:
    """Check and evaluate `request` off-process; problems are reported, never raised.
    `decisions` is the PIP that resolves a case's subject named by id."""
    started = time.perf_counter()
    entrypoint = _entrypoint(request, decision_entrypoint)
    source = PolicySource(modules=dict(request.modules), data=request.data)
    problems = _static_problems(source)
    if any(p.severity == "error" for p in problems):
        return PlaygroundResult(entrypoint, problems, seconds=time.perf_counter() - started)
    case, input_doc = None, request.input or {}
    if request.case is not None:
        case, input_doc = _case_input(request, entrypoint, decisions)
    child_request = {
        "task": "evaluate",
        "modules": source.modules,
        "data": source.data,
        "entrypoint": entrypoint,
        "input": input_doc,
    }
    try:
        with _running:
            answer = run_child(child_request, action="evaluating", timeout=timeout)
    except CompileError as exc:
        problems.extend(exc.problems)
        return PlaygroundResult(entrypoint, problems, seconds=time.perf_counter() - started)
    status, value = answer["status"], answer["value"]
    decision = outcome = None
    if entrypoint == entrypoint_path(decision_entrypoint) and status != "error":
        shown = UNDEFINED if status == "undefined" else value
        decision = _decision(shown, source.data, input_doc)
        if case is not None:
            passed, message = verdict(case, decision["allow"], decision["reasons"])
            outcome = {"name": case.name, "status": passed, "message": message}
    return PlaygroundResult(
        entrypoint,
        problems,
        status,
        value,
        decision,
        outcome,
        input_doc if case is not None else None,
        time.perf_counter() - started,
    )

"""OPA's Data API over the active bundle: the value of any `data.<path>` for an input.

regopy evaluates only entrypoints compiled at build time, so the PDP compiles every rule of
the bundle (`pdp.policy.served_entrypoints`) and answers any path from them, as OPA would:
- a path at or below a rule: evaluate the rule, then walk the rest of the path in its value;
- a path above rules (a package, `data` itself): an object of the base data under the path
  merged with every rule under it that is defined (functions are not documents; packages
  are always defined, even when all their rules are undefined);
- anything else: the base data at the path, or undefined.

An input naming a directory subject (`input.subject.id` or `input.subject.token`) is a
`/decide`-shaped request and is enriched by the PIP exactly as `/decide` does; any other
input goes to the policy untouched. Every evaluation is written to the decision log.
"""

from __future__ import annotations

import copy
import logging
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from pdp.authn import Principal
from pdp.decision import DecisionRequest, DecisionService, SubjectUnresolved
from pdp.decision_log import DecisionLog, DecisionRecord
from pdp.engine import UNDEFINED, EvaluationError
from pdp.errors import InvalidRequest
from pdp.metrics import Metrics
from pdp.policy import ActivePolicy, PolicyRuntime

# Keys whose values never reach the decision log (OPA's Envoy inputs carry headers).
_SECRET_KEYS = frozenset({"authorization", "cookie", "password", "secret", "token"})
_ENDPOINT_COLUMN = 64
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')

logger = logging.getLogger("pdp.data_api")


class DataApiError(Exception):
    """A request the Data API refuses, in OPA's error shape: `code`, `message`, `errors`.

    A malformed request (one with a `field`) also carries the PDP's `error` and `field`, so
    OPA clients and the PDP's own clients both read it.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: Sequence[dict[str, Any]] = (),
        *,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = list(errors)
        self.field = field

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        if self.field is not None:
            body["error"] = InvalidRequest.code
            body["field"] = self.field
        return body


def invalid_parameter(message: str, field: str) -> DataApiError:
    """400 naming the malformed parameter or input member."""
    return DataApiError(400, "invalid_parameter", message, field=field)


@dataclass(frozen=True)
class DataResult:
    """One Data API answer: `result` is UNDEFINED when the document is undefined."""

    decision_id: str
    result: Any
    revision: str | None
    eval_ns: int
    # Why the policy was not asked (an input whose subject could not be resolved).
    unresolved: list[str] | None = None


def split_path(path: str) -> tuple[str, ...]:
    """`authz/decision` or `/authz//decision/` -> ("authz", "decision"); "" -> ()."""
    return tuple(segment for segment in path.split("/") if segment)


def _walk(value: Any, segments: Sequence[str]) -> Any:
    for segment in segments:
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return UNDEFINED
    return value


def _place(tree: dict[str, Any], segments: Sequence[str], value: Any) -> None:
    for segment in segments[:-1]:
        child = tree.get(segment)
        if not isinstance(child, dict):
            child = tree[segment] = {}
        tree = child
    tree[segments[-1]] = value


def document(policy: ActivePolicy, path: Sequence[str], input_doc: Any) -> Any:
    """The value of `data.<path>` for `input_doc`, or UNDEFINED; raises EvaluationError."""
    path = tuple(path)
    rules = [tuple(e.split("/")) for e in policy.evaluator.entrypoints]
    owner = max((r for r in rules if path[: len(r)] == r), key=len, default=None)
    if owner is not None:
        value = policy.evaluator.evaluate("/".join(owner), input_doc)
        return UNDEFINED if value is UNDEFINED else _walk(value, path[len(owner) :])
    below = [r for r in rules if len(r) > len(path) and r[: len(path)] == path]
    base = _walk(policy.data, path)
    if not below:
        return copy.deepcopy(base)
    tree: dict[str, Any] = copy.deepcopy(base) if isinstance(base, dict) else {}
    for rule in below:
        value = policy.evaluator.evaluate("/".join(rule), input_doc)
        if value is not UNDEFINED:
            _place(tree, rule[len(path) :], value)
    return tree


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<redacted>" if str(k).lower() in _SECRET_KEYS else _redacted(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def logged_outcome(result: Any) -> tuple[bool, list[str]]:
    """What the decision log's `allow`/`reasons` say of a result: allow only for `true` or
    an object with `allow: true`."""
    if result is UNDEFINED:
        return False, ["undefined"]
    if isinstance(result, bool):
        return result, []
    if isinstance(result, dict) and isinstance(result.get("allow"), bool):
        reasons = result.get("reasons")
        listed = [str(r) for r in reasons] if isinstance(reasons, list) else []
        return result["allow"], listed
    return False, []


class DataApiService:
    """Evaluates `data.<path>` for the OPA Data API on the active policy."""

    def __init__(
        self,
        *,
        policy: PolicyRuntime,
        decisions: DecisionService,
        decision_log: DecisionLog,
        metrics: Metrics,
    ) -> None:
        self._policy = policy
        self._decisions = decisions
        self._log = decision_log
        self._metrics = metrics

    async def query(
        self, path: Sequence[str], input_doc: Any, caller: Principal, *, has_input: bool
    ) -> DataResult:
        """Enrich the input and evaluate, on the decision workers within the PDP's deadline
        (as `/decide`), then log."""
        started = time.perf_counter()
        moment = datetime.now(UTC)
        policy = self._policy.active
        try:
            request, enriched, unresolved, result, eval_ns = await self._decisions.on_workers(
                self._answer, path, input_doc, moment, policy, has_input
            )
        except TimeoutError:
            self._metrics.decision_errors.labels(reason="timeout").inc()
            raise DataApiError(
                500,
                "internal_error",
                "evaluation exceeded the PDP's deadline",
                [{"code": "eval_cancel_error", "message": "caller cancelled query execution"}],
            ) from None
        except EvaluationError as exc:
            self._metrics.decision_errors.labels(reason=exc.reason).inc()
            # The engine's text (a rego-cpp error tree) stays here, its string values masked:
            # they may be input, and input may hold credentials.
            logger.debug(
                "evaluation of data.%s failed: %s",
                ".".join(path),
                _QUOTED.sub('"…"', str(exc)),
            )
            raise DataApiError(
                500,
                "internal_error",
                f"1 error occurred: evaluation failed ({exc.reason})",
                [{"code": "eval_error", "message": exc.reason}],
            ) from None
        answer = DataResult(
            decision_id=str(uuid.uuid4()),
            result=result,
            revision=policy.revision if policy else None,
            eval_ns=eval_ns,
            unresolved=unresolved,
        )
        if policy is None:
            self._metrics.decision_errors.labels(reason="no_bundle").inc()
        self._record(answer, path, enriched, request, caller, moment, started)
        return answer

    def _answer(
        self,
        path: Sequence[str],
        input_doc: Any,
        moment: datetime,
        policy: ActivePolicy | None,
        has_input: bool,
    ) -> tuple[DecisionRequest | None, Any, list[str] | None, Any, int]:
        """(request, policy input, unresolved reasons, result, evaluation ns), off the loop:
        resolving a subject token may fetch a JWKS, and evaluation holds a core."""
        request, enriched, unresolved = self._enrich(input_doc, moment, policy, has_input)
        eval_started = time.perf_counter_ns()
        result: Any = UNDEFINED
        if policy is not None and unresolved is None:
            result = document(policy, path, enriched)
        return request, enriched, unresolved, result, time.perf_counter_ns() - eval_started

    def _enrich(
        self, input_doc: Any, moment: datetime, policy: ActivePolicy | None, has_input: bool
    ) -> tuple[DecisionRequest | None, Any, list[str] | None]:
        """(the /decide request the input is, the policy input, deny reasons if unresolved)."""
        subject = input_doc.get("subject") if isinstance(input_doc, dict) else None
        if not has_input or not isinstance(subject, dict) or not subject.keys() & {"id", "token"}:
            return None, input_doc, None
        fields = {k: input_doc[k] for k in ("action", "resource", "context") if k in input_doc}
        # The directory's facts replace the subject: what else the input says of it is dropped.
        fields["subject"] = {k: v for k, v in subject.items() if k in ("id", "token", "tenant_id")}
        try:
            request = DecisionRequest.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in ("input", *first["loc"]))
            message = str(first["msg"]).removeprefix("Value error, ")
            raise invalid_parameter(
                f"{where}: {message} (an input naming a directory subject is a /decide request)",
                where,
            ) from None
        try:
            facts, claims = self._decisions.resolve_subject(request.subject)
        except SubjectUnresolved as exc:
            for reason in exc.reasons[:1]:
                self._metrics.decision_errors.labels(reason=reason).inc()
            return request, None, exc.reasons
        enriched = self._decisions.build_input(facts, claims, request, moment, policy)
        for key, value in input_doc.items():
            enriched.setdefault(key, value)
        return request, enriched, None

    def _record(
        self,
        answer: DataResult,
        path: Sequence[str],
        input_doc: Any,
        request: DecisionRequest | None,
        caller: Principal,
        moment: datetime,
        started: float,
    ) -> None:
        allow, reasons = logged_outcome(answer.result)
        if answer.unresolved is not None:
            reasons = answer.unresolved
        elif answer.revision is None:
            reasons = ["no_bundle"]
        subject = input_doc.get("subject") if isinstance(input_doc, dict) else None
        subject = subject if isinstance(subject, dict) else {}
        resource = input_doc.get("resource") if isinstance(input_doc, dict) else None
        resource = resource if isinstance(resource, dict) else {}
        action = input_doc.get("action") if isinstance(input_doc, dict) else None
        # How replay evaluates the record again: the PIP built the input, or it came as given.
        source = "pip" if request is not None else "none" if input_doc is None else "caller"
        elapsed = time.perf_counter() - started
        self._metrics.decisions.labels(result="allow" if allow else "deny").inc()
        self._metrics.latency.observe(elapsed)
        self._log.record(
            DecisionRecord(
                decision_id=answer.decision_id,
                timestamp=moment,
                tenant_id=_text(subject.get("tenant_id"))
                or (request.subject.tenant_id if request else None),
                pep_client_id=caller.client_id,
                subject_id=_text(subject.get("id")) or (request.subject.id if request else None),
                subject_type=_text(subject.get("type")),
                action=_text(action) or (request.action if request else None),
                resource_type=_text(resource.get("type"))
                or (request.resource.type if request else None),
                resource_id=_text(resource.get("id")) or (request.resource.id if request else None),
                resource_tenant_id=_text(resource.get("tenant_id")),
                allow=allow,
                reasons=reasons,
                bundle_revision=answer.revision,
                latency_ms=elapsed * 1000.0,
                endpoint=("v1/data/" + "/".join(path))[:_ENDPOINT_COLUMN],
                input=_redacted(input_doc) if isinstance(input_doc, dict) else None,
                path="/".join(path),
                input_source=source,
            )
        )


def _text(value: Any, limit: int = 256) -> str | None:
    """A string field of a PEP's input as the decision log can hold it."""
    return value[:limit] if isinstance(value, str) and value else None

"""The decision flow: authenticate the subject -> PIP -> evaluate -> log.

Everything that can go wrong after the request was parsed becomes a deny with a reason code;
nothing here raises to the HTTP layer except `InvalidRequest` for a malformed request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pdp.authn import Authenticator, Principal
from pdp.decision_cache import (
    CacheKey,
    DecisionCache,
    bucket_start,
    cache_key,
)
from pdp.decision_log import DecisionLog, DecisionRecord
from pdp.directory.snapshot import DirectorySnapshot, SubjectFacts
from pdp.engine import UNDEFINED, EvaluationError
from pdp.errors import TokenError
from pdp.metrics import Metrics
from pdp.policy import ActivePolicy, PolicyRuntime
from pdp.workers import ChangeSignal

T = TypeVar("T")

# Context keys the PDP computes; a PEP cannot set them.
PDP_CONTEXT_KEYS = frozenset({"time", "time_ns", "networks", "tenant_time"})


def _uuid_text(value: str | None, field_name: str) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"{field_name} must be a UUID") from None


class SubjectRef(BaseModel):
    """The subject: a token to verify, or an id the PEP asserts."""

    model_config = ConfigDict(extra="forbid")

    token: str | None = Field(default=None, min_length=1, max_length=16_384)
    id: str | None = Field(default=None, min_length=1, max_length=256)
    tenant_id: str | None = None

    @field_validator("tenant_id")
    @classmethod
    def _tenant_is_uuid(cls, value: str | None) -> str | None:
        return _uuid_text(value, "tenant_id")

    @model_validator(mode="after")
    def _one_form(self) -> SubjectRef:
        if (self.token is None) == (self.id is None):
            raise ValueError("give either subject.token or subject.id, not both or neither")
        if self.token is not None and self.tenant_id is not None:
            raise ValueError("subject.tenant_id goes with subject.id, not with a token")
        return self


class ResourceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=256)
    id: str = Field(min_length=1, max_length=512)
    tenant_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("tenant_id")
    @classmethod
    def _tenant_is_uuid(cls, value: str | None) -> str | None:
        return _uuid_text(value, "tenant_id")


class RequestContext(BaseModel):
    """What the PEP knows about the request; anything beyond `ip` passes to the policy."""

    model_config = ConfigDict(extra="allow")

    ip: str | None = Field(default=None, max_length=64)

    @field_validator("ip")
    @classmethod
    def _ip_is_valid(cls, ip: str | None) -> str | None:
        if ip is None:
            return None
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address") from None
        # The policy sees it as the PEP wrote it; networks match the parsed address (pdp.policy).
        return ip

    def to_input(self) -> dict[str, Any]:
        values = self.model_dump()
        if values["ip"] is None:
            del values["ip"]
        return values


class DecisionRequest(BaseModel):
    """A `/decide` body."""

    model_config = ConfigDict(extra="forbid")

    subject: SubjectRef
    action: str = Field(min_length=1, max_length=256)
    resource: ResourceRef
    context: RequestContext = Field(default_factory=RequestContext)


@dataclass(frozen=True)
class Decision:
    decision_id: str
    allow: bool
    reasons: list[str]
    bundle_revision: str | None
    # Not part of the response; kept for the log and for callers that build on decisions.
    subject: SubjectFacts | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "allow": self.allow,
            "reasons": self.reasons,
            "bundle_revision": self.bundle_revision,
        }


class SubjectUnresolved(Exception):
    """The subject is not a usable directory subject; `reasons` are the deny reasons."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(reasons[0])
        self.reasons = reasons


class _Deny(Exception):
    """Internal: stop the flow with a deny and these reasons."""

    def __init__(self, *reasons: str) -> None:
        super().__init__(reasons[0])
        self.reasons = list(reasons)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def tenant_time(moment: datetime, timezone: str) -> dict[str, Any]:
    """The request time as the tenant's wall clock shows it (Rego has no zone database here)."""
    local = moment.astimezone(ZoneInfo(timezone))
    return {
        "timezone": timezone,
        "weekday": local.strftime("%A"),
        "hour": local.hour,
        "minute": local.minute,
        "date": local.date().isoformat(),
    }


class _DecisionIds:
    """Random (version 4) UUIDs from the OS's random bytes, read 4 KiB at a time: reading 16
    bytes per decision (`uuid.uuid4`) released the GIL in the system call and, under load,
    waited to take it back (about a tenth of a cached decision, docs/performance.md)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def next(self) -> str:
        with self._lock:
            if self._at >= len(self._pool):
                self._pool, self._at = os.urandom(4096), 0
            chunk = self._pool[self._at : self._at + 16]
            self._at += 16
        return str(uuid.UUID(bytes=chunk, version=4))


@dataclass(frozen=True)
class _Outcome:
    """A decision before it has an id: what the flow concluded, and from what."""

    allow: bool
    reasons: list[str]
    revision: str | None
    facts: SubjectFacts | None = None
    input_doc: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Pending:
    """A decision that needs the engine: what to evaluate, and its cache key if cacheable."""

    policy: ActivePolicy
    facts: SubjectFacts
    input_doc: dict[str, Any]
    key: CacheKey | None


class DecisionService:
    """Turns a parsed request into a decision, and records it."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        snapshot: DirectorySnapshot,
        policy: PolicyRuntime,
        decision_log: DecisionLog,
        metrics: Metrics,
        eval_timeout: float = 1.0,
        cache_entries: int = 0,
        threads: int = 0,
    ) -> None:
        self._authenticator = authenticator
        self._snapshot = snapshot
        self._policy = policy
        self._log = decision_log
        self._metrics = metrics
        self._eval_timeout = eval_timeout
        self.cache = DecisionCache(cache_entries, metrics)
        self._ids = _DecisionIds()
        self._signal: ChangeSignal | None = None
        # Decisions run here, so each worker thread keeps its own interpreter warm and the
        # event loop never waits on the engine.
        self._executor = ThreadPoolExecutor(
            max_workers=threads or max(4, 2 * (os.cpu_count() or 1)),
            thread_name_prefix="decide",
        )

    def decide(
        self,
        request: DecisionRequest,
        caller: Principal,
        *,
        endpoint: str = "decide",
        now: datetime | None = None,
    ) -> Decision:
        """Decide in the calling thread (CLI, tests, replay): no deadline."""
        started = time.perf_counter()
        moment = now or datetime.now(UTC)
        outcome = self._outcome(request, moment)
        return self._conclude(outcome, request, caller, endpoint, moment, started)

    async def decide_async(
        self, request: DecisionRequest, caller: Principal, *, endpoint: str = "decide"
    ) -> Decision:
        """Decide with the engine on a worker thread; past the deadline, answer a deny with
        reason `timeout` (the caller's decision id is the only one logged).

        For a subject asserted by id, what comes before the engine (an in-memory lookup, the
        input, the cache) runs on the event loop, so a cached decision never changes thread.
        """
        started = time.perf_counter()
        moment = datetime.now(UTC)
        try:
            if request.subject.token is None and not self._catch_up_due():
                step = self._prepare(request, moment)
                outcome = (
                    await self.on_workers(self._complete, step)
                    if isinstance(step, _Pending)
                    else step
                )
            else:
                outcome = await self.on_workers(self._outcome, request, moment)
        except TimeoutError:
            self._metrics.decision_errors.labels(reason="timeout").inc()
            outcome = _Outcome(False, ["timeout"], self._policy.revision)
        return self._conclude(outcome, request, caller, endpoint, moment, started)

    async def on_workers(self, fn: Callable[..., T], *args: Any) -> T:
        """Run engine work (PIP, token checks, evaluation) on the decision workers, so the
        event loop never waits on it; raise TimeoutError past the evaluation deadline.

        rego-cpp cannot be interrupted: an abandoned call finishes in the background and
        its result is dropped.
        """
        future = self._executor.submit(fn, *args)
        return await asyncio.wait_for(asyncio.wrap_future(future), self._eval_timeout)

    def follow_changes(self, signal: ChangeSignal) -> None:
        """Catch the snapshot up before a decision whenever a sibling worker wrote to the store."""
        self._signal = signal

    def _catch_up_due(self) -> bool:
        return self._signal is not None and self._signal.pending()

    def _outcome(self, request: DecisionRequest, moment: datetime) -> _Outcome:
        if self._signal is not None:
            self._signal.catch_up(self._snapshot.refresh_if_changed)
        step = self._prepare(request, moment)
        return self._complete(step) if isinstance(step, _Pending) else step

    def _prepare(self, request: DecisionRequest, moment: datetime) -> _Outcome | _Pending:
        """Everything before the engine: a concluded outcome (a deny, a cached answer) or
        what the engine must evaluate."""
        policy = self._policy.active
        facts: SubjectFacts | None = None
        input_doc: dict[str, Any] | None = None
        try:
            facts, claims = self._resolve_subject(request.subject)
            tenant_revision = self._snapshot.tenant_revision(facts.tenant_id)
            input_doc = self.build_input(facts, claims, request, moment, policy)
            if policy is None:
                raise _Deny("no_bundle")
            key = self._cache_key(policy, tenant_revision, input_doc)
            cached = self.cache.get(policy, key) if key is not None else None
            if cached is None:
                return _Pending(policy, facts, input_doc, key)
            return _Outcome(cached[0], list(cached[1]), policy.revision, facts, input_doc)
        except _Deny as deny:
            self._metrics.decision_errors.labels(reason=deny.reasons[0]).inc()
            return _Outcome(
                False, deny.reasons, policy.revision if policy else None, facts, input_doc
            )

    def _complete(self, pending: _Pending) -> _Outcome:
        """Evaluate a pending decision, and remember the answer when it is cacheable."""
        policy = pending.policy
        try:
            allow, reasons = self._evaluate(policy, pending.input_doc)
        except _Deny as deny:
            self._metrics.decision_errors.labels(reason=deny.reasons[0]).inc()
            allow, reasons = False, deny.reasons
        else:
            if pending.key is not None:
                self.cache.put(policy, pending.key, (allow, tuple(reasons)))
        return _Outcome(allow, reasons, policy.revision, pending.facts, pending.input_doc)

    def _conclude(
        self,
        outcome: _Outcome,
        request: DecisionRequest,
        caller: Principal,
        endpoint: str,
        moment: datetime,
        started: float,
    ) -> Decision:
        facts = outcome.facts
        decision = Decision(
            decision_id=self._ids.next(),
            allow=outcome.allow,
            reasons=outcome.reasons,
            bundle_revision=outcome.revision,
            subject=facts,
        )
        elapsed = time.perf_counter() - started
        self._metrics.decisions.labels(result="allow" if outcome.allow else "deny").inc()
        self._metrics.latency.observe(elapsed)
        self._log.record(
            DecisionRecord(
                decision_id=decision.decision_id,
                timestamp=moment,
                tenant_id=facts.tenant_id if facts else request.subject.tenant_id,
                pep_client_id=caller.client_id,
                subject_id=facts.id if facts else request.subject.id,
                subject_type=facts.type if facts else None,
                action=request.action,
                resource_type=request.resource.type,
                resource_id=request.resource.id,
                resource_tenant_id=request.resource.tenant_id
                or (facts.tenant_id if facts else None),
                allow=outcome.allow,
                reasons=outcome.reasons,
                bundle_revision=outcome.revision,
                latency_ms=elapsed * 1000.0,
                endpoint=endpoint,
                input=outcome.input_doc,
                path=self._policy.decision_entrypoint,
                input_source="pip",
            )
        )
        return decision

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def resolve_subject(self, ref: SubjectRef) -> tuple[SubjectFacts, dict[str, Any] | None]:
        """The subject's directory facts and verified claims, resolved exactly as for a
        decision (for APIs that build their own input); SubjectUnresolved says why not."""
        try:
            return self._resolve_subject(ref)
        except _Deny as deny:
            raise SubjectUnresolved(deny.reasons) from None

    def _resolve_subject(self, ref: SubjectRef) -> tuple[SubjectFacts, dict[str, Any] | None]:
        claims: dict[str, Any] | None = None
        if ref.token is not None:
            try:
                claims = self._authenticator.verify(ref.token)
            except TokenError as exc:
                raise _Deny("invalid_token", exc.reason) from None
            subject_id = claims["sub"]
        else:
            subject_id = ref.id
        facts = self._snapshot.subject(subject_id) if isinstance(subject_id, str) else None
        if facts is None and claims is not None:
            # A partner's user the directory does not list yet (pdp.directory.federated).
            facts = self._snapshot.federated_subject(claims)
        if facts is None:
            raise _Deny("unknown_subject")
        if ref.tenant_id is not None and ref.tenant_id != facts.tenant_id:
            raise _Deny("subject_tenant_mismatch")
        if claims is not None:
            tenant_claim = claims.get("custom:tenant_id")
            if tenant_claim is not None and str(tenant_claim).lower() != facts.tenant_id:
                raise _Deny("tenant_claim_mismatch")
        return facts, claims

    def build_input(
        self,
        facts: SubjectFacts,
        claims: dict[str, Any] | None,
        request: DecisionRequest,
        moment: datetime,
        policy: ActivePolicy | None,
    ) -> dict[str, Any]:
        """The policy input of the contract (policies/README.md), with the PIP's facts and the
        computed context.

        A bundle that declares a decision-cache time granularity sees the request time rounded
        down to it (pdp.decision_cache), whether or not this replica caches.
        """
        granularity = policy.time_granularity if policy else None
        if granularity is not None:
            moment = bucket_start(moment, granularity)
        subject = facts.to_input()
        if claims is not None:
            subject["claims"] = claims
        tenant = self._snapshot.tenant(facts.tenant_id)
        context = {k: v for k, v in request.context.to_input().items() if k not in PDP_CONTEXT_KEYS}
        context["time"] = _format_time(moment)
        context["time_ns"] = int(moment.timestamp() * 1_000_000) * 1000
        context["tenant_time"] = tenant_time(moment, tenant.timezone if tenant else "UTC")
        ip = context.get("ip")
        context["networks"] = policy.networks_containing(ip) if policy and ip else []
        resource = request.resource.model_dump()
        if resource["tenant_id"] is None:
            # A resource that names no tenant is in the subject's tenant.
            resource["tenant_id"] = facts.tenant_id
        return {
            "subject": subject,
            "action": request.action,
            "resource": resource,
            "context": context,
        }

    def _cache_key(
        self, policy: ActivePolicy, tenant_revision: int, input_doc: dict[str, Any]
    ) -> CacheKey | None:
        """The decision's cache key, or None when this replica or the bundle does not cache."""
        if not self.cache.enabled or policy.time_granularity is None:
            return None
        return cache_key(tenant_revision, input_doc)

    def _evaluate(self, policy: ActivePolicy, input_doc: dict[str, Any]) -> tuple[bool, list[str]]:
        try:
            return evaluate_decision(policy, self._policy.decision_entrypoint, input_doc)
        except PolicyFailure as failure:
            raise _Deny(failure.reason) from None


class PolicyFailure(Exception):
    """The policy gave no usable answer; `reason` is the deny reason code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def evaluate_decision(
    policy: ActivePolicy, entrypoint: str, input_doc: dict[str, Any]
) -> tuple[bool, list[str]]:
    """The policy's answer for a built input, checked for shape, with the tenant guard applied.

    Shared by `/decide` and `pdp replay`, so a replayed decision is concluded exactly as the
    service concludes it. Raises PolicyFailure when there is no usable answer.
    """
    try:
        value = policy.evaluator.evaluate(entrypoint, input_doc)
    except EvaluationError as exc:
        raise PolicyFailure(exc.reason) from None
    return conclude_decision(value, policy.data, input_doc)


def conclude_decision(
    value: Any, data: dict[str, Any], input_doc: dict[str, Any]
) -> tuple[bool, list[str]]:
    """What the decision entrypoint's `value` means (shape checked, tenant guard applied with
    the bundle's `data`); also what the console's playground shows. Raises PolicyFailure."""
    if value is UNDEFINED:
        raise PolicyFailure("policy_undefined")
    allow = value.get("allow") if isinstance(value, dict) else None
    reasons = value.get("reasons", []) if isinstance(value, dict) else None
    if not isinstance(allow, bool) or not isinstance(reasons, list):
        raise PolicyFailure("invalid_policy_output")
    reasons = [r if isinstance(r, str) else str(r) for r in reasons]
    if allow and not _tenant_guard(data, input_doc):
        return False, ["tenant_mismatch"]
    return allow, reasons


def _tenant_guard(data: dict[str, Any], input_doc: dict[str, Any]) -> bool:
    """Cross-tenant allows stand only when the bundle's data grants that tenant pair."""
    subject_tenant = input_doc["subject"]["tenant_id"]
    resource_tenant = input_doc["resource"]["tenant_id"]
    if subject_tenant == resource_tenant:
        return True
    grants = data.get("cross_tenant_grants", [])
    return isinstance(grants, list) and any(
        isinstance(g, dict)
        and g.get("subject_tenant") == subject_tenant
        and g.get("resource_tenant") == resource_tenant
        for g in grants
    )

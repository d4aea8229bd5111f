"""OpenID AuthZEN Authorization API 1.0 over the PDP's own decision path.

Every AuthZEN evaluation becomes a `/decide` request (`DecisionRequest`) and is decided by
`DecisionService` like any other: PIP, engine, fail-closed reasons, decision log. The mapping:
- `subject.id` is the directory subject (user `sub` or client id); roles and attributes come
  from the directory only. `subject.properties.tenant_id`, when sent, must agree with the
  directory. `subject.type` and `subject.properties` are what the PEP asserts, unverified:
  they reach the policy as `input.context.authzen.subject`, never as directory facts.
- `action.name` is the action; `action.properties` reach the policy as
  `input.context.authzen.action.properties`.
- `resource.type`/`id` as they are; `resource.properties.tenant_id` is the resource's tenant
  (without one, the resource is in the subject's tenant); the other properties are the
  resource's `attributes`.
- `context` is the request context (`context.ip` is the client IP).

Searches enumerate candidates (the tenant's subjects; the directory's users and clients or
the resources the request names; the bundle's actions) and let the policy decide each.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from pdp.authn import Principal
from pdp.decision import Decision, DecisionRequest, DecisionService
from pdp.directory.snapshot import DirectorySnapshot
from pdp.errors import InvalidRequest
from pdp.policy import PolicyRuntime

Semantic = Literal["execute_all", "deny_on_first_deny", "permit_on_first_permit"]
MAX_EVALUATIONS = 1000
DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
# Directory kinds a subject search or a resource search can enumerate.
DIRECTORY_TYPES = frozenset({"user", "client"})

Text = Field(min_length=1, max_length=512)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subject(_Strict):
    type: str = Text
    id: str = Text
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class Resource(_Strict):
    type: str = Text
    id: str = Text
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class Action(_Strict):
    name: str = Text
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class EvaluationRequest(_Strict):
    """`POST /access/v1/evaluation`."""

    subject: Subject
    action: Action
    resource: Resource
    context: dict[str, JsonValue] = Field(default_factory=dict)


class EvaluationItem(_Strict):
    """One item of `evaluations`: what it does not give, the request's top level gives."""

    subject: dict[str, Any] | None = None
    action: dict[str, Any] | None = None
    resource: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class EvaluationsOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    evaluations_semantic: Semantic = "execute_all"


class EvaluationsRequest(EvaluationItem):
    """`POST /access/v1/evaluations`: top-level defaults, items, options."""

    evaluations: list[EvaluationItem] | None = Field(default=None, max_length=MAX_EVALUATIONS)
    options: EvaluationsOptions = Field(default_factory=EvaluationsOptions)


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")

    token: str | None = Field(default=None, max_length=1024)
    limit: int | None = Field(default=None, ge=1, le=MAX_PAGE_LIMIT)


class SearchEntity(_Strict):
    """A search names the entity searched for by `type` only; its `id` is ignored."""

    type: str = Text
    id: str | None = Field(default=None, max_length=512)
    properties: dict[str, JsonValue] = Field(default_factory=dict)


class SubjectSearch(_Strict):
    subject: SearchEntity
    action: Action
    resource: Resource
    context: dict[str, JsonValue] = Field(default_factory=dict)
    page: Page = Field(default_factory=Page)


class ResourceSearch(_Strict):
    subject: Subject
    action: Action
    resource: SearchEntity
    context: dict[str, JsonValue] = Field(default_factory=dict)
    page: Page = Field(default_factory=Page)


class ActionSearch(_Strict):
    subject: Subject
    action: SearchEntity | None = None
    resource: Resource
    context: dict[str, JsonValue] = Field(default_factory=dict)
    page: Page = Field(default_factory=Page)


# Where a DecisionRequest field comes from in an AuthZEN request, for error messages.
_FIELD_ORIGIN = {
    ("subject", "id"): "subject.id",
    ("subject", "tenant_id"): "subject.properties.tenant_id",
    ("action",): "action.name",
    ("resource", "type"): "resource.type",
    ("resource", "id"): "resource.id",
    ("resource", "tenant_id"): "resource.properties.tenant_id",
    ("resource", "attributes"): "resource.properties",
    ("context", "ip"): "context.ip",
}


def _validation_problem(
    exc: ValidationError, prefix: str = "", *, of_decide_request: bool = False
) -> tuple[str, str]:
    """(field, message) of the first problem of a pydantic error; the error of a
    DecisionRequest names the AuthZEN field it came from."""
    first = exc.errors()[0]
    location = tuple(str(p) for p in first["loc"])
    field = None
    if of_decide_request:
        field = _FIELD_ORIGIN.get(location[:2]) or _FIELD_ORIGIN.get(location[:1])
    field = field or ".".join(location) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{prefix}{field}", message


def to_decision_request(
    subject: Subject, action: Action, resource: Resource, context: dict[str, Any], where: str = ""
) -> DecisionRequest:
    """The `/decide` request an AuthZEN evaluation is; InvalidRequest names the AuthZEN field."""
    attributes = dict(resource.properties)
    resource_tenant = attributes.pop("tenant_id", None)
    request_context = dict(context)
    request_context["authzen"] = {
        "subject": {"type": subject.type, "properties": subject.properties},
        "action": {"properties": action.properties},
    }
    try:
        return DecisionRequest.model_validate(
            {
                "subject": {"id": subject.id, "tenant_id": subject.properties.get("tenant_id")},
                "action": action.name,
                "resource": {
                    "type": resource.type,
                    "id": resource.id,
                    "tenant_id": resource_tenant,
                    "attributes": attributes,
                },
                "context": request_context,
            }
        )
    except ValidationError as exc:
        field, message = _validation_problem(exc, where, of_decide_request=True)
        raise InvalidRequest(message, field=field) from None


def evaluation_response(decision: Decision) -> dict[str, Any]:
    """`{"decision", "context"}`: the reasons (also as `reason_admin`) and our decision id."""
    return {
        "decision": decision.allow,
        "context": {
            "decision_id": decision.decision_id,
            "reason_admin": {"en": ", ".join(decision.reasons)},
            "reasons": decision.reasons,
            "bundle_revision": decision.bundle_revision,
        },
    }


def _item_error(message: str) -> dict[str, Any]:
    """An evaluation that could not be made: a deny whose context says why (AuthZEN 1.0)."""
    return {"decision": False, "context": {"error": {"status": 400, "message": message}}}


def _fingerprint(search: BaseModel) -> str:
    """Identifies a search apart from its page, so a page token cannot move to another."""
    body = search.model_dump(exclude={"page"}, mode="json")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def encode_page_token(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str) -> int:
    """The candidate offset a `page.token` resumes at; InvalidRequest if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        offset, owner = body["o"], body["q"]
    except (ValueError, TypeError, KeyError):
        raise InvalidRequest(
            "page.token is not a token this PDP issued", field="page.token"
        ) from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidRequest("page.token is not a token this PDP issued", field="page.token")
    if owner != fingerprint:
        raise InvalidRequest("page.token belongs to a different search", field="page.token")
    return offset


class AuthZenService:
    """AuthZEN evaluations and searches, each decision made by `DecisionService`."""

    def __init__(
        self,
        decisions: DecisionService,
        snapshot: DirectorySnapshot,
        policy: PolicyRuntime,
    ) -> None:
        self._decisions = decisions
        self._snapshot = snapshot
        self._policy = policy

    async def _decide(self, request: DecisionRequest, caller: Principal, endpoint: str) -> Decision:
        return await self._decisions.decide_async(request, caller, endpoint=endpoint)

    async def evaluate(self, body: EvaluationRequest, caller: Principal) -> dict[str, Any]:
        request = to_decision_request(body.subject, body.action, body.resource, body.context)
        return evaluation_response(await self._decide(request, caller, "authzen/evaluation"))

    async def evaluations(self, body: EvaluationsRequest, caller: Principal) -> dict[str, Any]:
        """Items in request order; the short-circuit semantics stop at the first deny (or
        permit) and answer the results so far, that one included."""
        if not body.evaluations:
            # AuthZEN 1.0: without items, the request is a single evaluation.
            try:
                single = EvaluationRequest.model_validate(self._merged(body, EvaluationItem()))
            except ValidationError as exc:
                field, message = _validation_problem(exc)
                raise InvalidRequest(message, field=field) from None
            return await self.evaluate(single, caller)
        semantic = body.options.evaluations_semantic
        if semantic == "execute_all":
            results = await asyncio.gather(
                *(self._item(body, item, i, caller) for i, item in enumerate(body.evaluations))
            )
            return {"evaluations": list(results)}
        stop_on = semantic == "permit_on_first_permit"
        answered = []
        for index, item in enumerate(body.evaluations):
            result = await self._item(body, item, index, caller)
            answered.append(result)
            if result["decision"] is stop_on:
                break
        return {"evaluations": answered}

    @staticmethod
    def _merged(defaults: EvaluationItem, item: EvaluationItem) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for name in ("subject", "action", "resource", "context"):
            value = getattr(item, name)
            value = getattr(defaults, name) if value is None else value
            if value is not None:
                merged[name] = value
        return merged

    async def _item(
        self, body: EvaluationsRequest, item: EvaluationItem, index: int, caller: Principal
    ) -> dict[str, Any]:
        where = f"evaluations[{index}]."
        try:
            evaluation = EvaluationRequest.model_validate(self._merged(body, item))
            request = to_decision_request(
                evaluation.subject,
                evaluation.action,
                evaluation.resource,
                evaluation.context,
                where,
            )
        except ValidationError as exc:
            field, message = _validation_problem(exc, where)
            return _item_error(f"{field}: {message}")
        except InvalidRequest as exc:
            return _item_error(f"{exc.field}: {exc.message}")
        return evaluation_response(await self._decide(request, caller, "authzen/evaluations"))

    # --- search ------------------------------------------------------------------------------

    async def _search(
        self,
        search: BaseModel,
        page: Page,
        candidates: Sequence[Any],
        request_for: Any,
        result_for: Any,
        caller: Principal,
    ) -> dict[str, Any]:
        """Decide candidates in order from the page token's offset until `limit` are allowed."""
        fingerprint = _fingerprint(search)
        offset = decode_page_token(page.token, fingerprint) if page.token else 0
        limit = page.limit or DEFAULT_PAGE_LIMIT
        results: list[dict[str, Any]] = []
        position = offset
        while position < len(candidates) and len(results) < limit:
            candidate = candidates[position]
            position += 1
            decision = await self._decide(request_for(candidate), caller, "authzen/search")
            if decision.allow:
                results.append(result_for(candidate))
        next_token = encode_page_token(position, fingerprint) if position < len(candidates) else ""
        return {"page": {"next_token": next_token, "count": len(results)}, "results": results}

    def _only_tenant(self) -> str:
        """The tenant a subject search means when it names none: the only one there is."""
        tenants = self._snapshot.tenant_ids()
        if len(tenants) == 1:
            return tenants[0]
        raise InvalidRequest(
            "name the tenant to search: the directory has several tenants",
            field="resource.properties.tenant_id",
        )

    async def search_subjects(self, body: SubjectSearch, caller: Principal) -> dict[str, Any]:
        """The subjects of the resource's tenant (users or clients, by `subject.type`; any
        other type means both) that may do the action on the resource."""
        wanted = body.subject.type
        # A malformed resource or context is a 400 before anything is decided.
        probe = to_decision_request(
            Subject(type=wanted, id="-"), body.action, body.resource, body.context
        )
        tenant = probe.resource.tenant_id or self._only_tenant()
        candidates = sorted(
            facts.id
            for facts in self._snapshot.subjects(tenant)
            if wanted not in DIRECTORY_TYPES or facts.type == wanted
        )

        def request_for(subject_id: str) -> DecisionRequest:
            subject = Subject(type=wanted, id=subject_id, properties=body.subject.properties)
            return to_decision_request(subject, body.action, body.resource, body.context)

        return await self._search(
            body, body.page, candidates, request_for, lambda i: {"type": wanted, "id": i}, caller
        )

    async def search_resources(self, body: ResourceSearch, caller: Principal) -> dict[str, Any]:
        """Resources of `resource.type` the subject may act on: the directory's users or
        clients of the subject's tenant, or the ids listed in `resource.properties.candidates`."""
        properties = dict(body.resource.properties)
        named = properties.pop("candidates", None)
        if named is not None:
            if not isinstance(named, list) or not all(
                isinstance(c, str) and 0 < len(c) <= 512 for c in named
            ):
                raise InvalidRequest(
                    "must be a list of resource ids", field="resource.properties.candidates"
                )
            candidates = list(dict.fromkeys(named))
        elif body.resource.type in DIRECTORY_TYPES:
            facts = self._snapshot.subject(body.subject.id)
            candidates = sorted(
                s.id
                for s in (self._snapshot.subjects(facts.tenant_id) if facts else [])
                if s.type == body.resource.type
            )
        else:
            candidates = []
        kind = body.resource.type

        def request_for(resource_id: str) -> DecisionRequest:
            resource = Resource(type=kind, id=resource_id, properties=properties)
            return to_decision_request(body.subject, body.action, resource, body.context)

        if candidates:
            request_for(candidates[0])  # a malformed request is a 400, not a page of denies
        return await self._search(
            body, body.page, candidates, request_for, lambda i: {"type": kind, "id": i}, caller
        )

    async def search_actions(self, body: ActionSearch, caller: Principal) -> dict[str, Any]:
        """Actions the subject may do on the resource, among the bundle's actions."""
        candidates = self.known_actions(body.resource.type)

        def request_for(name: str) -> DecisionRequest:
            return to_decision_request(body.subject, Action(name=name), body.resource, body.context)

        if candidates:
            request_for(candidates[0])
        return await self._search(
            body, body.page, candidates, request_for, lambda n: {"name": n}, caller
        )

    def known_actions(self, resource_type: str) -> list[str]:
        """`data.actions` of the bundle (a list, or an object: resource type -> list);
        without it, the concrete actions of `data.roles` permissions on `<type>:...`."""
        policy = self._policy.active
        data = policy.data if policy is not None else {}
        declared = data.get("actions")
        if isinstance(declared, dict):
            declared = declared.get(resource_type, [])
        if isinstance(declared, list):
            return sorted({a for a in declared if isinstance(a, str) and a})
        found: set[str] = set()
        roles = data.get("roles")
        for role in roles.values() if isinstance(roles, dict) else ():
            permissions = role.get("permissions", []) if isinstance(role, dict) else []
            for permission in permissions if isinstance(permissions, list) else []:
                action = permission.get("action") if isinstance(permission, dict) else permission
                if (
                    isinstance(action, str)
                    and "*" not in action
                    and action.startswith(f"{resource_type}:")
                ):
                    found.add(action)
        return sorted(found)

"""Why a subject was (or would be) allowed or denied: its effective roles, each with the
binding it came from, and the decision with every reason.

Roles come from the policy input: bound to the subject itself (direct), to one of its groups,
to its company, or inherited through a role that includes another (the bundle's
`data.roles[*].includes`). A request is explained by building the input exactly as /decide
does and evaluating it on the active bundle; a logged decision by the input it kept, with its
recorded outcome and what the active bundle answers today. Nothing is logged: an explanation
is not a decision.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pdp.decision import (
    DecisionRequest,
    PolicyFailure,
    SubjectUnresolved,
    evaluate_decision,
)
from pdp.decision_log import DecisionRecord
from pdp.directory.store import MAX_PAGE_SIZE
from pdp.errors import NotFound, Unprocessable
from pdp.services import Services


@dataclass(frozen=True)
class RoleSource:
    """One way the subject holds `role`. `binding` names what the role is bound to
    (`user:<id>`, `group:<id>`, `company:<id>`); `path` is the inclusion chain from the bound
    role to `role` when it is inherited."""

    role: str
    via: str  # direct | group | company | inherited
    binding: str
    path: tuple[str, ...] = ()
    # Whether this role's own permissions name a pattern matching the action.
    grants_action: bool = False
    # False when the bundle defines no such role (a binding the policy cannot use).
    defined: bool = True
    # The directory's role binding behind it (`/admin/v1/tenants/{t}/role-bindings`), when the
    # directory holds it now; None for a binding removed since a logged decision.
    binding_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    allow: bool
    reasons: list[str]
    bundle_revision: str | None


@dataclass(frozen=True)
class Explanation:
    subject: dict[str, Any] | None
    action: str | None
    resource: dict[str, Any] | None
    roles: list[RoleSource]
    # The decision explained: as logged, or as the active bundle answers now.
    decision: Outcome
    # For a logged decision, the active bundle's answer on the same input today.
    today: Outcome | None = None
    decision_id: str | None = None
    logged_at: datetime | None = None
    # Roles of the active bundle whose permissions would grant the action.
    roles_granting_action: list[str] = field(default_factory=list)
    # The subject's email in the directory now, to tell people apart from their ids.
    subject_email: str | None = None
    input: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        if self.logged_at is not None:
            body["logged_at"] = self.logged_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return body


def action_matches(pattern: str, action: str) -> bool:
    """`type:verb` patterns where `*` matches one whole segment (the default policy's rule)."""
    wanted, asked = pattern.split(":"), action.split(":")
    return len(wanted) == len(asked) and all(
        w in ("*", a) for w, a in zip(wanted, asked, strict=True)
    )


def _permission_actions(definition: Any) -> list[str]:
    permissions = definition.get("permissions", []) if isinstance(definition, dict) else []
    actions = []
    for permission in permissions if isinstance(permissions, list) else []:
        action = permission.get("action") if isinstance(permission, dict) else permission
        if isinstance(action, str):
            actions.append(action)
    return actions


def _includes(definition: Any) -> list[str]:
    included = definition.get("includes", []) if isinstance(definition, dict) else []
    return [r for r in included if isinstance(r, str)] if isinstance(included, list) else []


def _bound(subject: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(role, via, binding) for every role bound to the subject, its groups and company."""
    kind = "client" if subject.get("type") == "client" else "user"
    found = [(r, "direct", f"{kind}:{subject.get('id')}") for r in subject.get("roles") or []]
    for group in subject.get("groups") or []:
        found += [(r, "group", f"group:{group.get('id')}") for r in group.get("roles") or []]
    company = subject.get("company")
    if isinstance(company, dict):
        found += [
            (r, "company", f"company:{company.get('id')}") for r in company.get("roles") or []
        ]
    return [(r, via, b) for r, via, b in found if isinstance(r, str)]


def effective_roles(
    subject: dict[str, Any],
    roles: dict[str, Any],
    action: str | None,
    binding_ids: Mapping[tuple[str, str], str] | None = None,
) -> list[RoleSource]:
    """Every role the subject holds and how: bound ones first, then those they include
    (breadth first, so each inherited role shows its shortest chain, once per binding).
    `binding_ids` maps (binding, bound role) to the directory's binding id."""
    ids = binding_ids or {}

    def source(role: str, via: str, binding: str, path: tuple[str, ...], bound: str) -> RoleSource:
        grants = action is not None and any(
            action_matches(p, action) for p in _permission_actions(roles.get(role))
        )
        return RoleSource(
            role, via, binding, path, grants, role in roles, ids.get((binding, bound))
        )

    result: list[RoleSource] = []
    for role, via, binding in _bound(subject):
        result.append(source(role, via, binding, (), role))
        seen, queue = {role}, deque([(role, (role,))])
        while queue:
            current, path = queue.popleft()
            for included in _includes(roles.get(current)):
                if included not in seen:
                    seen.add(included)
                    chain = (*path, included)
                    result.append(source(included, "inherited", binding, chain, role))
                    queue.append((included, chain))
    return result


def roles_granting(roles: dict[str, Any], action: str | None) -> list[str]:
    """Roles of the bundle that grant `action`, their included roles' permissions counted."""
    if action is None:
        return []

    def grants(role: str, seen: set[str]) -> bool:
        if role in seen:
            return False
        seen.add(role)
        own = any(action_matches(p, action) for p in _permission_actions(roles.get(role)))
        return own or any(grants(r, seen) for r in _includes(roles.get(role)))

    return sorted(role for role in roles if grants(role, set()))


class Explainer:
    """Explanations over one PDP's services (its snapshot, active bundle and decision log)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def _roles_data(self) -> dict[str, Any]:
        policy = self._services.policy.active
        roles = policy.data.get("roles") if policy is not None else None
        return roles if isinstance(roles, dict) else {}

    def _evaluate(self, input_doc: dict[str, Any]) -> Outcome:
        runtime = self._services.policy
        policy = runtime.active
        if policy is None:
            return Outcome(False, ["no_bundle"], None)
        try:
            allow, reasons = evaluate_decision(policy, runtime.decision_entrypoint, input_doc)
        except PolicyFailure as failure:
            return Outcome(False, [failure.reason], policy.revision)
        return Outcome(allow, reasons, policy.revision)

    def _email(self, subject_id: Any) -> str | None:
        facts = self._services.snapshot.subject(subject_id) if isinstance(subject_id, str) else None
        return facts.email if facts is not None else None

    def _binding_ids(self, subject: dict[str, Any]) -> dict[tuple[str, str], str]:
        """(binding, role) -> id of the directory's role bindings behind the subject's roles."""
        tenant = subject.get("tenant_id")
        if not isinstance(tenant, str):
            return {}
        ids: dict[tuple[str, str], str] = {}
        for binding in {b for _, _, b in _bound(subject)}:
            kind, _, object_id = binding.partition(":")
            try:
                page = self._services.directory.list_role_bindings(
                    tenant, subject_type=kind, subject_id=object_id, limit=MAX_PAGE_SIZE
                )
            except NotFound:  # the tenant is gone since a logged decision
                return {}
            ids.update({(binding, item.role): item.id for item in page.items})
        return ids

    def _explained(self, input_doc: dict[str, Any], decision: Outcome, **extra: Any) -> Explanation:
        roles = self._roles_data()
        action = input_doc.get("action") if isinstance(input_doc.get("action"), str) else None
        subject = input_doc.get("subject") if isinstance(input_doc.get("subject"), dict) else {}
        return Explanation(
            subject=subject,
            action=action,
            resource=input_doc.get("resource"),
            roles=effective_roles(subject, roles, action, self._binding_ids(subject)),
            decision=decision,
            roles_granting_action=roles_granting(roles, action),
            input=input_doc,
            subject_email=self._email(subject.get("id")),
            **extra,
        )

    def request(self, request: DecisionRequest, now: datetime | None = None) -> Explanation:
        """A request as /decide would decide it now, without logging a decision."""
        decisions = self._services.decisions
        moment = now or datetime.now(UTC)
        try:
            facts, claims = decisions.resolve_subject(request.subject)
        except SubjectUnresolved as unresolved:
            revision = self._services.policy.revision
            return Explanation(
                subject=None,
                action=request.action,
                resource=request.resource.model_dump(),
                roles=[],
                decision=Outcome(False, unresolved.reasons, revision),
            )
        input_doc = decisions.build_input(
            facts, claims, request, moment, self._services.policy.active
        )
        return self._explained(input_doc, self._evaluate(input_doc))

    def decision(self, decision_id: str) -> Explanation:
        """A logged decision: the roles in the input it kept, its recorded outcome, and what
        the active bundle answers on that input today."""
        record = self._services.decision_log.store.get(decision_id)
        if record is None:
            raise NotFound(f"no decision {decision_id}", field="decision_id")
        return self.record(record)

    def record(self, record: DecisionRecord) -> Explanation:
        # Records from before `input_source` was kept hold the PIP's input too.
        built = record.input_source in ("pip", None) and isinstance(record.input, dict)
        if not built or not isinstance(record.input.get("subject"), dict):
            raise Unprocessable(
                "this decision kept no directory-built input to explain", field="decision_id"
            )
        recorded = Outcome(record.allow, list(record.reasons), record.bundle_revision)
        return self._explained(
            record.input,
            recorded,
            today=self._evaluate(record.input),
            decision_id=record.decision_id,
            logged_at=record.timestamp,
        )

"""The Why page's question, read from its form: a subject, an action and a resource (with
optional resource attributes and client IP), checked by the very model /decide uses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from pdp.decision import DecisionRequest
from pdp.directory.snapshot import DirectorySnapshot
from pdp.errors import InvalidRequest
from pdp.explain import Explanation

FIELDS = (
    "subject_id",
    "subject_tenant_id",
    "action",
    "resource_type",
    "resource_id",
    "resource_tenant_id",
    "resource_attributes",
    "ip",
)
# Form field of each part of a /decide body, to name the culprit of a refusal.
_FIELD_OF = {
    ("subject", "id"): "subject_id",
    ("subject", "tenant_id"): "subject_tenant_id",
    ("action",): "action",
    ("resource", "type"): "resource_type",
    ("resource", "id"): "resource_id",
    ("resource", "tenant_id"): "resource_tenant_id",
    ("resource", "attributes"): "resource_attributes",
    ("context", "ip"): "ip",
}
SUGGESTED_SUBJECTS = 200


def shown(params: Mapping[str, str]) -> dict[str, str]:
    return {name: params.get(name, "").strip() for name in FIELDS}


def asked(values: dict[str, str]) -> bool:
    """Whether the form was submitted (a subject, an action or a resource was given)."""
    return any(values[name] for name in ("subject_id", "action", "resource_type", "resource_id"))


def decision_request(values: dict[str, str]) -> DecisionRequest:
    """The /decide body the form describes; InvalidRequest names the form field at fault."""
    attributes: Any = {}
    if values["resource_attributes"]:
        try:
            attributes = json.loads(values["resource_attributes"])
        except ValueError:
            raise InvalidRequest(
                "resource attributes must be a JSON object", field="resource_attributes"
            ) from None
    body = {
        "subject": {
            "id": values["subject_id"] or None,
            "tenant_id": values["subject_tenant_id"] or None,
        },
        "action": values["action"],
        "resource": {
            "type": values["resource_type"],
            "id": values["resource_id"],
            "tenant_id": values["resource_tenant_id"] or None,
            "attributes": attributes,
        },
        "context": {"ip": values["ip"]} if values["ip"] else {},
    }
    try:
        return DecisionRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = tuple(str(part) for part in first.get("loc", ()))
        field = next((f for loc, f in _FIELD_OF.items() if location[: len(loc)] == loc), None)
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        raise InvalidRequest(message, field=field or "subject_id") from None


def suggested_subjects(snapshot: DirectorySnapshot) -> list[tuple[str, str]]:
    """Up to SUGGESTED_SUBJECTS (id, label) pairs for the subject field's suggestions."""
    found: list[tuple[str, str]] = []
    for tenant_id in snapshot.tenant_ids():
        for facts in snapshot.subjects(tenant_id):
            found.append((facts.id, f"{facts.email or facts.type} ({tenant_id})"))
            if len(found) >= SUGGESTED_SUBJECTS:
                return found
    return found


def values_of(explanation: Explanation) -> dict[str, str]:
    """The form filled with an explained decision's question, to change and ask again."""
    subject, resource = explanation.subject or {}, explanation.resource or {}
    attributes = resource.get("attributes")
    return {
        "subject_id": str(subject.get("id") or ""),
        "subject_tenant_id": str(subject.get("tenant_id") or ""),
        "action": explanation.action or "",
        "resource_type": str(resource.get("type") or ""),
        "resource_id": str(resource.get("id") or ""),
        "resource_tenant_id": str(resource.get("tenant_id") or ""),
        "resource_attributes": json.dumps(attributes) if attributes else "",
        "ip": str((explanation.input or {}).get("context", {}).get("ip") or ""),
    }

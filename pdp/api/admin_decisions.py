"""`GET /admin/v1/decisions`: the audit trail, filtered and paginated.

Answers are encoded here rather than by FastAPI, whose serializer stops at a fixed depth: a
stored input nested too deep for it must not fail every page that holds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from pdp.api.deps import get_services, require_admin
from pdp.decision_codec import encode
from pdp.decision_log import DecisionQuery
from pdp.errors import NotFound
from pdp.services import Services

router = APIRouter(prefix="/admin/v1", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get("/decisions")
def list_decisions(
    subject_id: str | None = None,
    tenant_id: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    action: str | None = None,
    allow: bool | None = None,
    since: datetime | None = Query(default=None, description="RFC 3339, inclusive"),
    until: datetime | None = Query(default=None, description="RFC 3339, exclusive"),
    bundle_revision: str | None = Query(default=None, max_length=256),
    reason: str | None = Query(default=None, max_length=256, description="text in a reason"),
    limit: int = Query(default=100, ge=1, le=1000),
    page_token: str | None = None,
    services: Services = Depends(get_services),
) -> Response:
    records, next_token = services.decision_log.store.query(
        DecisionQuery(
            subject_id=subject_id,
            tenant_id=tenant_id,
            resource_type=resource_type,
            resource_id=resource_id,
            action=action,
            allow=allow,
            since=since,
            until=until,
            bundle_revision=bundle_revision,
            reason=reason,
            limit=limit,
            page_token=page_token,
        )
    )
    return _json({"items": [r.to_json() for r in records], "next_page_token": next_token})


@router.get("/decisions/{decision_id}")
def get_decision(decision_id: str, services: Services = Depends(get_services)) -> Response:
    record = services.decision_log.store.get(decision_id)
    if record is None:
        raise NotFound(f"no decision {decision_id}")
    return _json(record.to_json())


def _json(body: dict[str, Any]) -> Response:
    return Response(encode(body), media_type="application/json")

"""`/admin/v1/bundles`: publish, list, activate and roll back policy bundles (scope pdp/admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from pdp.api.deps import get_services, require_admin
from pdp.authn import Principal
from pdp.services import Services

router = APIRouter(prefix="/admin/v1", tags=["bundles"])

NAME = Query(default="main", description="the bundle name (what `PDP_BUNDLE_NAME` serves)")


def caller_of(principal: Principal) -> str:
    """Who a bundle record names as its publisher or activator: the client id, else the sub."""
    return principal.client_id or principal.subject or "anonymous"


# The body is read raw (a tarball), so the OpenAPI document is told its shape here.
_ARCHIVE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/bundles", status_code=201, openapi_extra=_ARCHIVE_BODY)
async def publish_bundle(
    request: Request,
    response: Response,
    name: str = NAME,
    principal: Principal = Depends(require_admin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Body: the bundle `.tar.gz`. 201 when stored; 200 with `stored: false` when these bytes
    were already published (nothing new is stored)."""
    data = await request.body()
    published = await run_in_threadpool(services.bundles.publish, name, data, caller_of(principal))
    if not published.created:
        response.status_code = 200
    return published.to_json()


@router.get("/bundles", dependencies=[Depends(require_admin)])
def list_bundles(
    name: str = NAME,
    limit: int = Query(default=100, ge=1, le=1000),
    page_token: str | None = None,
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Published bundles of `name`, newest first."""
    records, token = services.bundles.list(name, limit=limit, page_token=page_token)
    return {"items": [r.to_json() for r in records], "next_page_token": token}


@router.post("/bundles/rollback")
def rollback_bundle(
    name: str = NAME,
    principal: Principal = Depends(require_admin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Reactivate the revision active before the current one; 409 when there is none.
    `bundle_mode`, `served_revision` and `warning` say whether this replica now serves it."""
    record = services.bundles.rollback(name, caller_of(principal))
    return {**record.to_json(), **services.bundles.replica_view(name)}


@router.post("/bundles/{revision:path}/activate")
def activate_bundle(
    revision: str,
    name: str = NAME,
    principal: Principal = Depends(require_admin),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Make `revision` active on every replica that follows the store; 404 when it was never
    published. `bundle_mode`, `served_revision` and `warning` say whether this replica serves it."""
    record = services.bundles.activate(name, revision, caller_of(principal))
    return {**record.to_json(), **services.bundles.replica_view(name)}


@router.get("/bundle-activations", dependencies=[Depends(require_admin)])
def list_activations(
    name: str = NAME,
    limit: int = Query(default=100, ge=1, le=1000),
    page_token: str | None = None,
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Who activated or rolled back which revision, and when; newest first."""
    items, token = services.bundles.activations(name, limit=limit, page_token=page_token)
    return {"items": [a.to_json() for a in items], "next_page_token": token}

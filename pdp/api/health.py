"""`GET /health` (OPA-style) and `GET /metrics` (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from pdp.api.deps import get_services
from pdp.services import Services

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    """200 while the process serves; with `?bundles`, 200 only once a bundle is active (as OPA).

    Async and in memory only: it never waits for a worker thread or the database, so it
    answers while admin work is stuck on a database that does not."""
    revision = services.policy.revision
    failure = services.policy.last_failure
    body = {
        "status": "ok",
        "bundle_revision": revision,
        # `fixed`: a bundle from disk (PDP_BUNDLE, development), activations do not apply here;
        # `store`: the store's active revision, followed.
        "bundle_mode": services.bundles.mode,
        # A newer active revision this replica refused to load, with the reason code (a
        # signature its keys do not accept, an invalid bundle, one that cannot serve); it
        # keeps serving the old one, or none.
        "bundle_error": failure.to_json() if failure else None,
    }
    if "bundles" in request.query_params and revision is None:
        body["status"] = "no_bundle"
        return JSONResponse(body, status_code=500)
    return JSONResponse(body)


@router.get("/metrics")
def metrics(services: Services = Depends(get_services)) -> Response:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)

"""`GET /bundles/{name}`: the active bundle of a name, as an OPA bundle service serves it.

OPA agents poll it with the ETag of what they hold; an unchanged bundle costs one indexed
read and a 304, never the archive bytes.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from pdp.api.deps import get_services, require_bundle_reader
from pdp.errors import NotFound
from pdp.services import Services

router = APIRouter(tags=["bundles"], dependencies=[Depends(require_bundle_reader)])


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of `If-None-Match` (a list of tags, or `*`) with `etag`."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


@router.get(
    "/bundles/{name}",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}}, 304: {"description": "unchanged"}},
)
def get_bundle(name: str, request: Request, services: Services = Depends(get_services)) -> Response:
    """The active archive of `name` with `ETag: "<digest>"`; 304 for a matching If-None-Match."""
    active = services.bundles.active(name)
    if active is None:
        raise NotFound(f"bundle {name} has no active revision", field="name")
    headers = {"ETag": f'"{active.digest}"', "Cache-Control": "no-cache"}
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    data = services.bundles.archive(name, active.revision)
    return Response(data, media_type="application/gzip", headers=headers)

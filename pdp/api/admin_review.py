"""Reviewing a bundle revision before it serves: its diff with another, its replay impact.

`GET /admin/v1/bundle-diff?from=A&to=B` compares two stored revisions (revisions are query
parameters: they may hold a `/`); `POST /admin/v1/bundles/{revision}/replay` replays recent
decisions against a stored revision without activating it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from pdp.api.deps import get_services, require_admin
from pdp.bundles.impact import DEFAULT_DECISIONS, MAX_DECISIONS, ImpactRequest
from pdp.bundles.store import check_name
from pdp.services import Services

router = APIRouter(prefix="/admin/v1", tags=["bundles"], dependencies=[Depends(require_admin)])

NAME = Query(default="main", description="the bundle name")


@router.get("/bundle-diff")
def bundle_diff(
    base: str = Query(alias="from", min_length=1, max_length=256, description="older revision"),
    target: str = Query(alias="to", min_length=1, max_length=256, description="newer revision"),
    name: str = NAME,
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Per `.rego` a unified diff; data as JSON paths added, removed or changed."""
    return services.bundle_diff(check_name(name), base, target).to_json()


@router.post("/bundles/{revision:path}/replay")
def bundle_replay(
    revision: str,
    name: str = NAME,
    decisions: int = Query(
        default=DEFAULT_DECISIONS, ge=1, le=MAX_DECISIONS, description="newest decisions replayed"
    ),
    since: datetime | None = Query(default=None, description="RFC 3339: only decisions since"),
    directory: Literal["recorded", "current"] = Query(
        default="recorded", description="subject facts as logged, or as the directory is now"
    ),
    examples: int = Query(default=5, ge=0, le=50, description="examples of each kind of change"),
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """How many recent decisions `revision` would flip, with examples; nothing is activated."""
    request = ImpactRequest(decisions, since, directory, examples)
    return services.bundle_impact(check_name(name), revision, request).to_json()

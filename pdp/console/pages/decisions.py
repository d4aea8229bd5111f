"""Decisions: the decision log, filtered and paginated; one decision's full record; the
live charts (an htmx fragment the page polls)."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pdp.api.deps import get_services
from pdp.console.auth import Viewer, require_reader
from pdp.console.decision_views import live_charts, parse_filters, pretty_json
from pdp.console.registry import Page
from pdp.console.rendering import render
from pdp.console.state import console_of
from pdp.errors import NotFound
from pdp.services import Services

PAGE = Page(title="Decisions", path="/console/decisions", order=10)
router = APIRouter(prefix="/console/decisions", include_in_schema=False)


@router.get("")
async def decisions(
    request: Request,
    viewer: Viewer = Depends(require_reader),
    services: Services = Depends(get_services),
) -> Response:
    query, shown = parse_filters(request.query_params)
    records, next_token = await services.admin_work.run(
        partial(services.decision_log.store.query, query)
    )
    following = request.query_params.multi_items()
    next_params = [(k, v) for k, v in following if k != "page_token" and v]
    return render(
        request,
        "pages/decisions.html",
        viewer,
        records=records,
        filters=shown,
        next_params=[*next_params, ("page_token", next_token)] if next_token else None,
        first_params=next_params if query.page_token else None,
    )


@router.get("/live")
async def live(
    request: Request,
    viewer: Viewer = Depends(require_reader),
    services: Services = Depends(get_services),
) -> Response:
    charts = await services.admin_work.run(
        partial(live_charts, console_of(request).live, services.decision_log.store)
    )
    return render(request, "fragments/live.html", viewer, charts=charts)


@router.get("/{decision_id}")
async def decision(
    request: Request,
    decision_id: str,
    viewer: Viewer = Depends(require_reader),
    services: Services = Depends(get_services),
) -> Response:
    record = await services.admin_work.run(
        partial(services.decision_log.store.get, decision_id[:64])
    )
    if record is None:
        raise NotFound(f"There is no decision {decision_id[:64]} in the log.")
    return render(
        request, "pages/decision.html", viewer, record=record, input_json=pretty_json(record.input)
    )

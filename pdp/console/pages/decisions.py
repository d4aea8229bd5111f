"""Decisions: the decision log, filtered and paginated; one decision's full record; the
live charts (an htmx fragment the page polls)."""

from __future__ import annotations

from functools import partial

from fastapi.responses import Response

from pdp.console.decision_views import live_charts, parse_filters, pretty_json
from pdp.console.registry import Page
from pdp.console.state import console_of
from pdp.console.visit import Reading
from pdp.errors import NotFound

PAGE = Page(title="Decisions", path="/console/decisions", order=10)
router = PAGE.router()


@router.get("")
async def decisions(visit: Reading) -> Response:
    query, shown = parse_filters(visit.request.query_params)
    store = visit.services.decision_log.store
    records, next_token = await visit.services.admin_work.run(partial(store.query, query))
    following = visit.request.query_params.multi_items()
    next_params = [(k, v) for k, v in following if k != "page_token" and v]
    return visit.render(
        "pages/decisions.html",
        records=records,
        filters=shown,
        next_params=[*next_params, ("page_token", next_token)] if next_token else None,
        first_params=next_params if query.page_token else None,
    )


@router.get("/live")
async def live(visit: Reading) -> Response:
    live = console_of(visit.request).live
    charts = await visit.services.admin_work.run(
        partial(live_charts, live, visit.services.decision_log.store)
    )
    return visit.render("fragments/live.html", charts=charts)


@router.get("/{decision_id}")
async def decision(decision_id: str, visit: Reading) -> Response:
    store = visit.services.decision_log.store
    record = await visit.services.admin_work.run(partial(store.get, decision_id[:64]))
    if record is None:
        raise NotFound(f"There is no decision {decision_id[:64]} in the log.")
    return visit.render("pages/decision.html", record=record, input_json=pretty_json(record.input))

"""Why: pick a subject, an action and a resource (or open a logged decision) and see the
subject's effective roles, where each came from, the decision and every reason."""

from __future__ import annotations

from functools import partial

from fastapi.responses import Response

from pdp.console import why_form
from pdp.console.registry import Page
from pdp.console.visit import Reading
from pdp.errors import InvalidRequest
from pdp.explain import Explainer

PAGE = Page(title="Why", path="/console/why", order=20)
router = PAGE.router()


@router.get("")
async def why(visit: Reading) -> Response:
    params, services = visit.request.query_params, visit.services
    values = why_form.shown(params)
    decision_id = params.get("decision_id", "").strip()[:64]
    explainer = Explainer(services)
    explanation, problem = None, None
    try:
        if decision_id:
            explanation = await services.admin_work.run(partial(explainer.decision, decision_id))
        elif why_form.asked(values):
            question = why_form.decision_request(values)
            explanation = await services.admin_work.run(partial(explainer.request, question))
    except InvalidRequest as exc:
        problem = exc
    if explanation is not None and decision_id:
        values = why_form.values_of(explanation)
    return visit.render(
        "pages/why.html",
        status_code=400 if problem else 200,
        values=values,
        problem=problem,
        explanation=explanation,
        subjects=why_form.suggested_subjects(services.snapshot),
    )

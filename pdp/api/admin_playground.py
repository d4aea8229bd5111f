"""`POST /admin/v1/playground/evaluate`: a policy and an input, evaluated off-process."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from pdp.api.deps import get_services, require_admin
from pdp.playground import PlaygroundRequest, evaluate
from pdp.services import Services

router = APIRouter(prefix="/admin/v1", tags=["playground"], dependencies=[Depends(require_admin)])


@router.post("/playground/evaluate")
def playground_evaluate(
    body: PlaygroundRequest, services: Services = Depends(get_services)
) -> dict[str, Any]:
    """Problems at file:line:col, or the value, and the decision for the decision entrypoint.
    The served bundle is neither read nor changed."""
    return evaluate(
        body, decision_entrypoint=services.policy.decision_entrypoint, decisions=services.decisions
    ).to_json()

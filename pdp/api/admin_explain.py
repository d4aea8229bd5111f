"""`POST /admin/v1/explain`: why a subject is (or was) allowed or denied (pdp/explain.py).

A read: admins and auditors may ask. The body names a logged decision or a request shaped
as for /decide; nothing is decided or logged.
"""

# No `from __future__ import annotations`: the admin route wrapper hands FastAPI this
# endpoint's signature, whose annotations must be the classes, not names to resolve.

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pdp.api.admin_route import AdminRoute
from pdp.api.deps import require_admin_reader, services_of
from pdp.decision import DecisionRequest
from pdp.decision_codec import encode
from pdp.explain import Explainer

router = APIRouter(
    prefix="/admin/v1",
    tags=["admin"],
    dependencies=[Depends(require_admin_reader)],
    route_class=AdminRoute,
)


class ExplainBody(BaseModel):
    """Exactly one of `decision_id` (a logged decision) and `request` (a /decide body)."""

    model_config = ConfigDict(extra="forbid")

    decision_id: str | None = Field(default=None, min_length=1, max_length=64)
    request: DecisionRequest | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "ExplainBody":
        if (self.decision_id is None) == (self.request is None):
            raise ValueError("give exactly one of decision_id and request")
        return self


@router.post("/explain")
def explain(request: Request, body: ExplainBody) -> Response:
    explainer = Explainer(services_of(request))
    if body.decision_id is not None:
        explanation = explainer.decision(body.decision_id)
    else:
        assert body.request is not None
        explanation = explainer.request(body.request)
    return _json(explanation.to_json())


def _json(body: dict[str, Any]) -> Response:
    return Response(encode(body), media_type="application/json")

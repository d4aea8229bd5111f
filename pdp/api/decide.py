"""`POST /decide` and `POST /decide/batch`: the native decision API."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pdp.api.deps import get_services, require_decide
from pdp.authn import Principal
from pdp.decision import DecisionRequest
from pdp.services import Services

router = APIRouter(tags=["decide"])

MAX_BATCH = 100


class DecisionResponse(BaseModel):
    decision_id: str
    allow: bool
    reasons: list[str]
    bundle_revision: str | None


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[DecisionRequest] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResponse(BaseModel):
    results: list[DecisionResponse]


# The handlers return JSONResponse: the response models document the API, and the decision
# is already well-typed, so validating it again on every call would only cost time.


@router.post("/decide", response_model=DecisionResponse)
async def decide(
    body: DecisionRequest,
    caller: Principal = Depends(require_decide),
    services: Services = Depends(get_services),
) -> JSONResponse:
    return JSONResponse((await services.decisions.decide_async(body, caller)).to_json())


@router.post("/decide/batch", response_model=BatchResponse)
async def decide_batch(
    body: BatchRequest,
    caller: Principal = Depends(require_decide),
    services: Services = Depends(get_services),
) -> JSONResponse:
    results = [
        (await services.decisions.decide_async(item, caller, endpoint="decide/batch")).to_json()
        for item in body.requests
    ]
    return JSONResponse({"results": results})

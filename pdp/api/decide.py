"""`POST /decide` and `POST /decide/batch`: the native decision API."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from pdp.api.deps import get_services, require_decide
from pdp.api.json_body import parse_json
from pdp.api.limits import read_body, replay
from pdp.authn import Principal
from pdp.decision import DecisionRequest
from pdp.errors import PDPError
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


class DecideFastPath:
    """ASGI middleware: a well-formed `POST /decide` from an authorised PEP is decided here,
    without FastAPI's per-request routing, dependency and validation layers (about a fifth of
    a cached decision's cost, docs/performance.md).

    Anything else (a body that is not strict JSON or does not validate, no JSON content
    type, a caller the PEP check refuses) goes on, its body replayed, to the route above, so
    every error keeps the shape and the order of checks the documented API has. The
    body-size limit sits outside; the strict-JSON guard inside, before the route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/decide":
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        request = Request(scope)
        decision = await self._decide(request, body)
        if decision is None:
            await self.app(scope, replay(body, receive), send)
            return
        payload = json.dumps(decision, separators=(",", ":")).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _decide(self, request: Request, body: bytes) -> dict[str, Any] | None:
        """The decision's JSON, or None when the routed endpoint must answer."""
        if not request.headers.get("content-type", "").startswith("application/json"):
            return None
        services: Services = request.app.state.services
        try:
            document = parse_json(body, max_depth=services.settings.max_json_depth)
            parsed = DecisionRequest.model_validate(document)
            caller = await require_decide(request)
        except (ValidationError, PDPError):
            return None
        return (await services.decisions.decide_async(parsed, caller)).to_json()

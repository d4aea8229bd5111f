"""OpenID AuthZEN Authorization API 1.0: evaluation(s), search, and the PDP metadata."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pdp.api.deps import get_services, require_decide
from pdp.authn import Principal
from pdp.authzen import (
    ActionSearch,
    AuthZenService,
    EvaluationRequest,
    EvaluationsRequest,
    ResourceSearch,
    SubjectSearch,
)
from pdp.services import Services

router = APIRouter(tags=["authzen"])

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
SEARCH = "/access/v1/search"
REQUEST_ID = "x-request-id"


class RequestIdEcho:
    """Echo a PEP's `X-Request-ID` on the response, errors included (AuthZEN 1.0)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = dict(scope.get("headers", [])).get(REQUEST_ID.encode())
        if request_id is None or len(request_id) > 256 or not request_id.isascii():
            await self.app(scope, receive, send)
            return

        async def echoing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID] = request_id.decode()
            await send(message)

        await self.app(scope, receive, echoing_send)


async def get_authzen(services: Services = Depends(get_services)) -> AuthZenService:
    return AuthZenService(services.decisions, services.snapshot, services.policy)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "malformed request; the body names the field"},
    401: {"description": "no valid PEP credentials"},
    403: {"description": "the credentials lack scope pdp/decide"},
}


@router.post(EVALUATION, responses=_RESPONSES)
async def evaluation(
    body: EvaluationRequest,
    caller: Principal = Depends(require_decide),
    authzen: AuthZenService = Depends(get_authzen),
) -> dict[str, Any]:
    """One decision: `{"decision": bool, "context": {decision_id, reasons, reason_admin}}`."""
    return await authzen.evaluate(body, caller)


@router.post(EVALUATIONS, responses=_RESPONSES)
async def evaluations(
    body: EvaluationsRequest,
    caller: Principal = Depends(require_decide),
    authzen: AuthZenService = Depends(get_authzen),
) -> dict[str, Any]:
    """Many decisions, in request order, under `options.evaluations_semantic`."""
    return await authzen.evaluations(body, caller)


@router.post(f"{SEARCH}/subject", responses=_RESPONSES)
async def search_subject(
    body: SubjectSearch,
    caller: Principal = Depends(require_decide),
    authzen: AuthZenService = Depends(get_authzen),
) -> dict[str, Any]:
    """Subjects of the tenant that may do the action on the resource."""
    return await authzen.search_subjects(body, caller)


@router.post(f"{SEARCH}/resource", responses=_RESPONSES)
async def search_resource(
    body: ResourceSearch,
    caller: Principal = Depends(require_decide),
    authzen: AuthZenService = Depends(get_authzen),
) -> dict[str, Any]:
    """Resources of a type the subject may do the action on."""
    return await authzen.search_resources(body, caller)


@router.post(f"{SEARCH}/action", responses=_RESPONSES)
async def search_action(
    body: ActionSearch,
    caller: Principal = Depends(require_decide),
    authzen: AuthZenService = Depends(get_authzen),
) -> dict[str, Any]:
    """Actions the subject may do on the resource."""
    return await authzen.search_actions(body, caller)


@router.get("/.well-known/authzen-configuration")
async def configuration(request: Request) -> dict[str, str]:
    """PDP metadata: absolute endpoint URLs, from the base URL the PEP used."""
    base = str(request.base_url).rstrip("/")
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": base + EVALUATION,
        "access_evaluations_endpoint": base + EVALUATIONS,
        "search_subject_endpoint": f"{base}{SEARCH}/subject",
        "search_resource_endpoint": f"{base}{SEARCH}/resource",
        "search_action_endpoint": f"{base}{SEARCH}/action",
    }

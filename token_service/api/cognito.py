"""`POST /` with `X-Amz-Target`: the Cognito JSON protocol (application/x-amz-json-1.1)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from token_service.api.context import request_context
from token_service.cognito import sigv4
from token_service.cognito.errors import InternalError, SerializationError, UnknownOperation
from token_service.cognito.operations import OPERATIONS
from token_service.cognito.operations.base import Operation
from token_service.errors import TokenServiceError
from token_service.identity.operations import OPERATIONS as IDENTITY_OPERATIONS
from token_service.services import Services

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
# Each X-Amz-Target prefix: its operations, and the service name their signatures are scoped to.
TARGETS: dict[str, tuple[dict[str, Operation], str]] = {
    TARGET_PREFIX: (OPERATIONS, "cognito-idp"),
    "AWSCognitoIdentityService.": (IDENTITY_OPERATIONS, "cognito-identity"),
}
CONTENT_TYPE = "application/x-amz-json-1.1"
log = logging.getLogger("token_service.cognito")
router = APIRouter()


def _response(
    body: Mapping[str, Any], status: int = 200, error_type: str | None = None
) -> Response:
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if error_type:
        headers["x-amzn-ErrorType"] = error_type
    return Response(json.dumps(body), status_code=status, media_type=CONTENT_TYPE, headers=headers)


def error_response(error: TokenServiceError) -> Response:
    body = {"__type": error.cognito_type, "message": error.message}
    return _response(body, error.status, error.cognito_type)


def _check_signature(services: Services, request: Request, body: bytes, service: str) -> None:
    settings = services.settings
    credentials = {}
    if settings.admin_access_key_id and settings.admin_secret_access_key:
        credentials[settings.admin_access_key_id] = settings.admin_secret_access_key
    received = sigv4.ReceivedRequest(
        method=request.method,
        raw_path=request.scope.get("raw_path", b"/").decode("latin-1"),
        query_string=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
        body=body,
    )
    sigv4.verify(
        received,
        credentials,
        service=service,
        now=datetime.fromtimestamp(services.core.clock(), UTC),
        max_skew_seconds=settings.sigv4_max_skew_seconds,
    )


@router.post("/")
async def dispatch(request: Request) -> Response:
    services: Services = request.app.state.services
    target = request.headers.get("x-amz-target", "")
    prefix, _, name = target.rpartition(".")
    operations, service = TARGETS.get(prefix + ".", ({}, ""))
    operation = operations.get(name)
    body = await request.body()
    try:
        if operation is None:
            raise UnknownOperation(f"Unknown operation {target or '(no X-Amz-Target)'}")
        if operation.admin:
            _check_signature(services, request, body, service)
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise SerializationError("The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise SerializationError("The request body must be a JSON object.")
        context = request_context(request)
        result = await run_in_threadpool(operation.run, services, params, context)
    except TokenServiceError as error:
        return error_response(error)
    except Exception:
        # Log the failure class and operation only: parameters may hold passwords or tokens.
        log.exception("operation %s failed", target)
        return error_response(InternalError("Internal error."))
    return _response(result)

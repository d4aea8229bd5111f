"""Exception handlers: every error leaves as JSON naming what was wrong, never a stack trace."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from pdp.errors import InvalidRequest, PDPError, StoreUnavailable, Unauthenticated

logger = logging.getLogger("pdp.api")


def _field_path(location: tuple) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


def _headers(exc: PDPError) -> dict[str, str] | None:
    if isinstance(exc, Unauthenticated):
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, StoreUnavailable):
        return {"Retry-After": str(exc.retry_after_seconds)}
    return None


def _status_code(status: int) -> str:
    """`not_found`, `method_not_allowed`...; a 400 is the documented `invalid_request`."""
    if status == InvalidRequest.status:
        return InvalidRequest.code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "http_error"
    return phrase.lower().replace(" ", "_").replace("-", "_")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PDPError)
    async def pdp_error(_: Request, exc: PDPError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=_headers(exc))

    async def store_unreachable(request: Request, exc: Exception) -> JSONResponse:
        """A driver error that escaped a store's own mapping (the bundle and decision-log
        stores): the database is unreachable or timed out, which is a 503, not a 500."""
        logger.warning("store unavailable: %s", type(exc).__name__)
        return await pdp_error(request, StoreUnavailable("the store did not answer in time"))

    for driver_error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(driver_error, store_unreachable)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
        if first.get("type") == "json_invalid":
            message, field = "the body is not valid JSON", "body"
        else:
            message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
            field = _field_path(tuple(first.get("loc", ("body",))))
        return JSONResponse(
            {"error": "invalid_request", "message": message, "field": field}, status_code=400
        )

    @app.exception_handler(HTTPException)
    async def framework_error(_: Request, exc: HTTPException) -> JSONResponse:
        """The framework's own refusals (no such route, method not allowed) in the PDP's
        shape instead of `{"detail": ...}`."""
        return JSONResponse(
            {"error": _status_code(exc.status_code), "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return JSONResponse(
            {"error": "internal_error", "message": "the PDP failed to handle this request"},
            status_code=500,
        )

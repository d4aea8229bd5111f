"""Exception handlers: every error leaves as JSON naming what was wrong, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pdp.errors import PDPError, Unauthenticated

logger = logging.getLogger("pdp.api")


def _field_path(location: tuple) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PDPError)
    async def pdp_error(_: Request, exc: PDPError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)

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

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled %s", type(exc).__name__, exc_info=exc)
        return JSONResponse(
            {"error": "internal_error", "message": "the PDP failed to handle this request"},
            status_code=500,
        )

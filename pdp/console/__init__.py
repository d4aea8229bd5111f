"""The PDP console at /console: server-rendered pages (Jinja2 + htmx) over the PDP's own
services, signed in through the token service's hosted login (docs/console.md)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from pdp.console.auth import NotAllowed, SignInRequired, current_session
from pdp.console.registry import routers
from pdp.console.rendering import render
from pdp.console.security import PREFIX, ConsoleHeaders, hide_console_queries
from pdp.console.state import ConsoleState
from pdp.errors import PDPError
from pdp.settings import Settings

Handler = Callable[[Request, Exception], Awaitable[Response]]


def _in_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def _error_page(request: Request, status: int, message: str) -> Response:
    _, session = current_session(request)
    return render(
        request,
        "error.html",
        status_code=status,
        csrf=session.csrf if session else "",
        signed_in=bool(session and session.token),
        status=status,
        message=message,
    )


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    notice = exc.notice if isinstance(exc, SignInRequired) else None
    target = f"{PREFIX}/signin" + (f"?notice={notice}" if notice else "")
    if request.headers.get("hx-request"):
        # An htmx fragment: have htmx load the sign-in page instead of swapping it in.
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return _error_page(request, 403, exc.message if isinstance(exc, NotAllowed) else "Forbidden")


def _html_in_console(fallback: Handler, message: Callable[[Exception], tuple[int, str]]) -> Handler:
    """A handler that renders an error page under /console and leaves the API's JSON as is."""

    async def handler(request: Request, exc: Exception) -> Response:
        if not _in_console(request):
            return await fallback(request, exc)
        return _error_page(request, *message(exc))

    return handler


def _pdp_error(exc: Exception) -> tuple[int, str]:
    assert isinstance(exc, PDPError)
    field = f" ({exc.field})" if exc.field else ""
    return exc.status, exc.message + field


def _http_error(exc: Exception) -> tuple[int, str]:
    assert isinstance(exc, HTTPException)
    return exc.status_code, "There is no such page." if exc.status_code == 404 else str(exc.detail)


def _invalid_input(exc: Exception) -> tuple[int, str]:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path"))
    return 400, f"{field or 'input'}: {first.get('msg', 'invalid value')}"


def install_console(app: FastAPI, settings: Settings) -> ConsoleState:
    """Mount the console's pages, static files, headers and error pages on `app` (whose
    `state.services` is set)."""
    console = ConsoleState.build(settings, app.state.services.metrics)
    app.state.console = console
    for router in routers():
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(packages=[("pdp.console", "static")]), name="console")
    app.add_exception_handler(SignInRequired, _sign_in_required)
    app.add_exception_handler(NotAllowed, _not_allowed)
    for kind, message in (
        (PDPError, _pdp_error),
        (HTTPException, _http_error),
        (RequestValidationError, _invalid_input),
    ):
        app.add_exception_handler(kind, _html_in_console(app.exception_handlers[kind], message))
    app.add_middleware(ConsoleHeaders, form_origins=console.form_origins)
    hide_console_queries(logging.getLogger("uvicorn.access"))
    return console

"""Rendering console pages: Jinja2 templates from the package, autoescaped, with what every
page needs (the navigation, the viewer, the session's CSRF token)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.templating import Jinja2Templates

from pdp.console.auth import Viewer
from pdp.console.state import console_of

templates = Jinja2Templates(
    env=Environment(
        loader=PackageLoader("pdp.console", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


def render(
    request: Request,
    template: str,
    viewer: Viewer | None = None,
    *,
    status_code: int = 200,
    csrf: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """`template` with `context`; `csrf` defaults to the viewer's session token."""
    state = console_of(request)
    body = {
        "request": request,
        "nav": state.nav,
        "viewer": viewer,
        "csrf": csrf or (viewer.session.csrf if viewer else ""),
        **context,
    }
    return templates.TemplateResponse(request, template, body, status_code=status_code)

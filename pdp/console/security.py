"""The console's browser-side defences: a strict Content-Security-Policy with the other
security headers on every console response, and the CSRF check of every console POST.

The policy allows scripts, styles and images from the PDP only (no inline script or style,
no eval), forbids framing, and lets forms go to the PDP and to the sign-in origins only.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def content_security_policy(form_origins: Iterable[str]) -> str:
    targets = " ".join(["'self'", *sorted(set(form_origins))])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"frame-ancestors 'none'; form-action {targets}; base-uri 'none'; object-src 'none'"
    )


def security_headers(form_origins: Iterable[str]) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": content_security_policy(form_origins),
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        # Not `no-referrer`: under it a browser sends `Origin: null` with every form post,
        # and the same-origin check of the CSRF defence refuses the console's own forms.
        "referrer-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    return [(name.encode(), value.encode()) for name, value in headers.items()]


class ConsoleHeaders:
    """Adds the security headers to every response under /console; pages are not cached
    (they show audit data), the vendored static files may be."""

    def __init__(self, app: ASGIApp, form_origins: Callable[[], Iterable[str]]) -> None:
        self.app = app
        self._form_origins = form_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        extra = security_headers(self._form_origins())
        if not path.startswith(PREFIX + "/static/"):
            extra.append((b"cache-control", b"no-store"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in extra}
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def presented_csrf(request: Request) -> str | None:
    """The CSRF token a POST carries: the `X-CSRF-Token` header (htmx) or the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def csrf_matches(expected: str | None, presented: str | None) -> bool:
    """Constant-time comparison of the session's CSRF secret with the one posted."""
    return bool(expected and presented) and hmac.compare_digest(
        expected.encode(), (presented or "").encode()
    )


def same_origin(request: Request) -> bool:
    """A browser's Origin, when it sends one, must be the console's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin == own


class AccessLogQueries(logging.Filter):
    """Drops the query of console requests from uvicorn's access log lines (`pdp serve
    --log-level debug`): the sign-in callback's carries the authorization code."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, _ = args[2].partition("?")
            if path == PREFIX or path.startswith(PREFIX + "/"):
                record.args = (*args[:2], path, *args[3:])
        return True


def hide_console_queries(logger: logging.Logger) -> None:
    """Install AccessLogQueries on `logger` once, however many apps the process builds."""
    if not any(isinstance(f, AccessLogQueries) for f in logger.filters):
        logger.addFilter(AccessLogQueries())

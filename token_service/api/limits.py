"""Request body size limit, enforced before a body is read.

A `Content-Length` over the limit is answered 413 at once, without reading the body; a body
without one (chunked) is counted while it streams in and cut off at the limit. Either way no
more than the limit is ever held in memory for one request. (The PDP enforces its own limit
the same way: the two services share no code.)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from token_service.api.cognito import error_response
from token_service.api.oauth2 import oauth_error_response
from token_service.errors import RequestTooLarge


class _BodyTooLarge(Exception):
    """Raised out of `receive` when a streamed body passes the limit."""


class BodyLimit:
    """ASGI middleware: bodies over `max_bytes` get a 413 in the protocol of their endpoint."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = RequestTooLarge(f"The request body is larger than {self.max_bytes} bytes.")
        oauth = str(scope.get("path", "")).startswith("/oauth2/")
        response = oauth_error_response(error) if oauth else error_response(error)
        # The rest of the body is not read: the connection is closed after the answer.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)

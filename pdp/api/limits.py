"""Request limits at the door: body size counted while it streams, then strict JSON.

Both answer in the PDP's error shape (`{"error", "message", "field"}`) before any route,
so no client sees a framework's own error body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pdp.api.json_body import parse_json
from pdp.errors import InvalidRequest


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse bodies over `max_bytes` with 413, whether or not Content-Length is honest.

    `prefix_limits` gives paths under a prefix their own limit (bundle uploads are larger
    than any decision request).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, prefix_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix_limits = dict(prefix_limits or {})

    def _limit(self, path: str) -> int:
        for prefix, limit in self.prefix_limits.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._reject(send, limit)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not response_started:
                await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        error = {
            "error": "payload_too_large",
            "message": f"the body exceeds {limit} bytes",
            "field": "body",
        }
        await send_json(send, 413, error)


class JsonBodyGuard:
    """Read every request body before the routes see it, and refuse one that is not strict
    JSON (`pdp.api.json_body`) with 400 when its route takes a JSON body.

    Reading it here, inside `BodySizeLimit`, also makes an oversized chunked body a 413 on
    every path: read later, by a route, the limit's exception would surface as that route's
    failure. Routes that read the body raw (a bundle archive; the OPA Data API, which parses
    it itself to answer in OPA's shape) and routes without a body are not `json_routes`.
    """

    def __init__(self, app: ASGIApp, max_depth: int, json_routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.max_depth = max_depth
        self.json_routes = tuple(json_routes)

    def _takes_json(self, scope: Scope) -> bool:
        return any(route.matches(scope)[0] is Match.FULL for route in self.json_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body and self._takes_json(scope):
            try:
                parse_json(body, max_depth=self.max_depth)
            except InvalidRequest as exc:
                await send_json(send, exc.status, exc.to_dict())
                return
        await self.app(scope, replay(body, receive), send)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    """Answer a request straight from the ASGI layer with a JSON body."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def read_body(receive: Receive) -> bytes:
    """The whole request body, however many messages it came in."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields `body` once, as the client sent it, then waits on the
    client's channel (for its disconnect)."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replaying

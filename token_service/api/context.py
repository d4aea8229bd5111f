"""The request context that events record: the caller's address and user agent."""

from __future__ import annotations

from fastapi import Request

from token_service.events import RequestContext


def request_context(request: Request) -> RequestContext:
    """The peer address (the proxy's, behind one) and the User-Agent header."""
    address = request.client.host if request.client is not None else ""
    return RequestContext(ip=address, user_agent=request.headers.get("user-agent", ""))

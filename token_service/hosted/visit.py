"""The browser making a hosted-login request."""

from __future__ import annotations

from dataclasses import dataclass

from token_service.events import RequestContext


@dataclass(frozen=True)
class Visit(RequestContext):
    """The browser's address and user agent, and its hosted-session cookie."""

    cookie: str | None

"""What a step of the hosted login answers: a page to show, or where to send the browser."""

from __future__ import annotations

from dataclasses import dataclass

from token_service.hosted.authorize import AuthorizationRequest
from token_service.signin.challenges import Challenge
from token_service.store.models import Pool


@dataclass(frozen=True)
class Redirect:
    """Send the browser on; `session_cookie` is the new hosted session's, when one started."""

    location: str
    session_cookie: str | None = None


@dataclass(frozen=True)
class Page:
    """A page of the sign-in: `step` is "login", a challenge's name or a self-service step."""

    step: str
    request: AuthorizationRequest
    pool: Pool
    message: str | None = None
    username: str = ""
    challenge: Challenge | None = None
    # Information that is not an error (a code was sent, a password was changed).
    notice: str | None = None


Outcome = Redirect | Page

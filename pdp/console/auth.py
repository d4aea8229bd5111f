"""Who is using the console: the session's token, checked on every call by the very check
the admin API makes (`pdp.api.deps.authorize`), plus the CSRF check of every write.

Read pages accept `pdp/admin` or `pdp/audit`; anything that changes something needs
`pdp/admin`. A token that no longer verifies (expired, revoked key) ends the session.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from pdp.api.deps import ADMIN_SCOPE, AUDIT_SCOPE, READ_METHODS, authorize, services_of
from pdp.authn import Principal
from pdp.console.security import csrf_matches, presented_csrf, same_origin
from pdp.console.sessions import COOKIE, Session
from pdp.console.state import console_of
from pdp.errors import Forbidden, TokenError, Unauthenticated


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page, told `notice` there."""

    def __init__(self, notice: str | None = None) -> None:
        super().__init__(notice or "sign in")
        self.notice = notice


class NotAllowed(Exception):
    """Signed in, but this needs a scope the token lacks (or the CSRF check failed)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """The signed-in caller of a console request."""

    principal: Principal
    session: Session

    @property
    def can_write(self) -> bool:
        return ADMIN_SCOPE in self.principal.scopes

    @property
    def role(self) -> str:
        return "admin" if self.can_write else "auditor (read-only)"

    @property
    def name(self) -> str:
        return self.session.name or self.principal.subject or self.principal.client_id or "unknown"


def current_session(request: Request) -> tuple[str | None, Session | None]:
    session_id = request.cookies.get(COOKIE)
    return session_id, console_of(request).sessions.get(session_id)


async def check_csrf(request: Request, session: Session) -> None:
    """Refuse a state-changing request that does not carry the session's CSRF token (or
    comes from another origin): a page elsewhere cannot act with the console's cookie."""
    if not same_origin(request) or not csrf_matches(session.csrf, await presented_csrf(request)):
        raise NotAllowed("The form had expired or came from another site. Reload and try again.")


async def _viewer(request: Request, scopes: tuple[str, ...]) -> Viewer:
    session_id, session = current_session(request)
    if session is None or session.token is None:
        raise SignInRequired()
    try:
        principal = await authorize(services_of(request), session.token, scopes)
    except (TokenError, Unauthenticated) as exc:
        console_of(request).sessions.drop(session_id)
        raise SignInRequired(
            "expired" if getattr(exc, "reason", "") == "token_expired" else "invalid"
        ) from None
    except Forbidden:
        raise NotAllowed(
            f"Your token lacks the scope {' or '.join(scopes)}, which this needs."
        ) from None
    if request.method not in READ_METHODS:
        await check_csrf(request, session)
    request.state.principal = principal
    return Viewer(principal, session)


async def require_reader(request: Request) -> Viewer:
    """Read pages: admins and auditors."""
    return await _viewer(request, (ADMIN_SCOPE, AUDIT_SCOPE))


async def require_writer(request: Request) -> Viewer:
    """Anything that changes the PDP: admins only."""
    return await _viewer(request, (ADMIN_SCOPE,))

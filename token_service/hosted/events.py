"""Sign-in events of the hosted login: who, which client, from where, what happened.

One row per sign-in attempt, failure, MFA step, session start and end, and partner link
(used or refused). Rows never hold a password, code, token or link: `reason` is one of a
few fixed words or the message the user was shown. Admins read them newest first, a page at
a time (`token-service events`, and Cognito's AdminListUserAuthEvents for one user).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from token_service.admin.paging import paginate
from token_service.core import Core
from token_service.store.models import SignInEvent
from token_service.store.repositories import Repository

SIGN_IN, MFA, SESSION_START, SESSION_END, LINK = (
    "sign_in",
    "mfa",
    "session_start",
    "session_end",
    "link",
)
PASS, FAIL = "pass", "fail"
MAX_USER_AGENT = 512
MAX_REASON = 256


@dataclass(frozen=True)
class Visit:
    """The browser making a request: its session cookie, address and user agent."""

    cookie: str | None
    ip: str
    user_agent: str


def record(
    repo: Repository,
    now: float,
    visit: Visit,
    pool_id: str,
    kind: str,
    result: str,
    *,
    client_id: str | None = None,
    user_sub: str | None = None,
    username: str | None = None,
    reason: str | None = None,
) -> None:
    """Add an event; a failure names the user its username signs in, for the admins."""
    if user_sub is None and username:
        user = repo.user_by_username(pool_id, username)
        user_sub = user.sub if user is not None else None
    repo.add(
        SignInEvent(
            pool_id=pool_id,
            created_at=now,
            kind=kind,
            result=result,
            client_id=client_id,
            user_sub=user_sub,
            username=username[:128] if username else None,
            ip=visit.ip[:64],
            user_agent=visit.user_agent[:MAX_USER_AGENT],
            reason=reason[:MAX_REASON] if reason else None,
        )
    )


def event_view(event: SignInEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": event.created_at,
        "kind": event.kind,
        "result": event.result,
        "pool_id": event.pool_id,
        "client_id": event.client_id,
        "user_sub": event.user_sub,
        "username": event.username,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "reason": event.reason,
    }


class SignInEvents:
    def __init__(self, core: Core) -> None:
        self.core = core

    def record(self, visit: Visit, pool_id: str, kind: str, result: str, **fields: Any) -> None:
        """Record an event in a transaction of its own (after the step's own committed)."""
        with self.core.store.transaction() as repo:
            record(repo, self.core.clock(), visit, pool_id, kind, result, **fields)

    def page(
        self,
        pool_id: str,
        *,
        user_sub: str | None = None,
        limit: int = 60,
        token: str | None = None,
        sign_ins_only: bool = False,
    ) -> tuple[Sequence[SignInEvent], str | None]:
        """The pool's (or one user's) events, newest first, and the next page's token.

        `sign_ins_only`: the events that are sign-in attempts (Cognito's AuthEvents): sign-ins,
        links and failed MFA steps (a passed one is part of its sign-in's event).
        """
        with self.core.store.transaction() as repo:
            query = select(SignInEvent).where(SignInEvent.pool_id == pool_id)
            if user_sub is not None:
                query = query.where(SignInEvent.user_sub == user_sub)
            if sign_ins_only:
                query = query.where(
                    SignInEvent.kind.in_((SIGN_IN, LINK))
                    | ((SignInEvent.kind == MFA) & (SignInEvent.result == FAIL))
                )
            query = query.order_by(SignInEvent.created_at.desc(), SignInEvent.id.desc())
            return paginate(repo.session.scalars(query).all(), limit, token)

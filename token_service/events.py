"""Sign-in events: who, which client, from where, what happened, at the API and the pages.

One row per sign-in attempt and its outcome (tokens, the next challenge, or a failure with
the step that failed), MFA step, failed refresh, sign-out, client_credentials token,
hosted session start and end, and partner link (used or refused). Rows never hold a
password, code, session, secret, token or link: `reason` is one of a few fixed words, the
amr of a completed sign-in, the next challenge's name, or the error message the caller
was given; `step` is the AuthFlow, ChallengeName or grant.

A failure is recorded in a transaction of its own after the failing one rolled back, so
the trace survives the rollback. Admins read events newest first, a page at a time
(`token-service events`, and Cognito's AdminListUserAuthEvents for one user).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select

from token_service.admin.paging import paginate
from token_service.core import Core
from token_service.errors import TokenServiceError
from token_service.signin.mfa import MFA_SETUP, SOFTWARE_TOKEN_MFA
from token_service.store.models import SignInEvent
from token_service.store.repositories import Repository

SIGN_IN, MFA, SESSION_START, SESSION_END, LINK = (
    "sign_in",
    "mfa",
    "session_start",
    "session_end",
    "link",
)
# A sign-in step that passed with another challenge to follow (Cognito's InProgress).
CHALLENGE = "challenge"
REFRESH, SIGN_OUT, CLIENT_CREDENTIALS = "refresh", "sign_out", "client_credentials"
PASS, FAIL = "pass", "fail"
# AuthFlows that refresh a sign-in rather than start one.
REFRESH_FLOWS = ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN")
# The one sign-in step that checks no factor: it only starts the SRP exchange.
SRP_START = "USER_SRP_AUTH"
MAX_USER_AGENT = 512
MAX_REASON = 256
MAX_STEP = 64
T = TypeVar("T")


@dataclass(frozen=True)
class RequestContext:
    """Where a request came from: the caller's address and user agent."""

    ip: str
    user_agent: str


@dataclass(frozen=True)
class Subject:
    """Who an event is about, as the request names them: the pool (or the client, whose
    pool it is), the username given, or the hash of the refresh token presented."""

    client_id: str | None
    pool_id: str | None = None
    username: str | None = None
    user_sub: str | None = None
    refresh_token_hash: str | None = None


def record(
    repo: Repository,
    now: float,
    context: RequestContext,
    pool_id: str,
    kind: str,
    result: str,
    *,
    client_id: str | None = None,
    user_sub: str | None = None,
    username: str | None = None,
    reason: str | None = None,
    step: str | None = None,
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
            ip=context.ip[:64],
            user_agent=context.user_agent[:MAX_USER_AGENT],
            reason=reason[:MAX_REASON] if reason else None,
            step=step[:MAX_STEP] if step else None,
        )
    )


def event_view(event: SignInEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "time": event.created_at,
        "kind": event.kind,
        "result": event.result,
        "step": event.step,
        "pool_id": event.pool_id,
        "client_id": event.client_id,
        "user_sub": event.user_sub,
        "username": event.username,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "reason": event.reason,
    }


def step_kind(step: str) -> str:
    """The kind of event an AuthFlow or ChallengeName answer is when it fails."""
    if step in REFRESH_FLOWS:
        return REFRESH
    return MFA if step in (SOFTWARE_TOKEN_MFA, MFA_SETUP) else SIGN_IN


def step_outcome(step: str, next_challenge: str | None) -> tuple[str, str | None] | None:
    """The event of an AuthFlow or ChallengeName answer that passed: the next challenge,
    or the completed sign-in with its amr. A successful refresh is no event: it checks no
    factor, and one per access-token lifetime per app would bury the sign-ins."""
    if step in REFRESH_FLOWS:
        return None
    if next_challenge:
        return CHALLENGE, next_challenge
    return SIGN_IN, "pwd mfa" if step in (SOFTWARE_TOKEN_MFA, MFA_SETUP) else "pwd"


def _token_owner(repo: Repository, hashed: str) -> str | None:
    """The user a presented refresh token (current, replaced or retired) belongs to, if any."""
    session = repo.refresh_token(hashed) or repo.rotated_from(hashed)
    if session is None:
        retired = repo.retired_refresh_token(hashed)
        session = repo.sign_in(retired.origin_jti) if retired is not None else None
    return session.user_sub if session is not None else None


class SignInEvents:
    def __init__(self, core: Core) -> None:
        self.core = core

    def record(
        self, context: RequestContext, pool_id: str, kind: str, result: str, **fields: Any
    ) -> None:
        """Record an event in a transaction of its own (after the step's own committed)."""
        with self.core.store.transaction() as repo:
            record(repo, self.core.clock(), context, pool_id, kind, result, **fields)

    def observe(
        self,
        context: RequestContext,
        subject: Subject,
        kind: str,
        step: str,
        run: Callable[[], T],
        passed: Callable[[T], tuple[str, str | None] | None],
    ) -> T:
        """Run a step and record what came of it: a failure (kind, the error's message),
        or `passed(value)`'s (kind, reason), or nothing when that is None."""
        try:
            value = run()
        except TokenServiceError as error:
            self._write(context, subject, kind, FAIL, step, error.message)
            raise
        event = passed(value)
        if event is not None:
            self._write(context, subject, event[0], PASS, step, event[1])
        return value

    def _write(
        self,
        context: RequestContext,
        subject: Subject,
        kind: str,
        result: str,
        step: str,
        reason: str | None,
    ) -> None:
        """One event in its own transaction; none when no pool can be named (unknown client)."""
        with self.core.store.transaction() as repo:
            client = repo.client(subject.client_id) if subject.client_id else None
            pool_id = subject.pool_id or (client.pool_id if client is not None else None)
            if pool_id is None or repo.pool(pool_id) is None:
                return
            user_sub = subject.user_sub
            if user_sub is None and subject.refresh_token_hash:
                user_sub = _token_owner(repo, subject.refresh_token_hash)
            record(
                repo,
                self.core.clock(),
                context,
                pool_id,
                kind,
                result,
                client_id=client.id if client is not None else None,
                user_sub=user_sub,
                username=subject.username,
                reason=reason,
                step=step,
            )

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
        links, steps awaiting a challenge and failed MFA steps (a passed one is part of its
        sign-in's event).
        """
        with self.core.store.transaction() as repo:
            query = select(SignInEvent).where(SignInEvent.pool_id == pool_id)
            if user_sub is not None:
                query = query.where(SignInEvent.user_sub == user_sub)
            if sign_ins_only:
                query = query.where(
                    SignInEvent.kind.in_((SIGN_IN, LINK, CHALLENGE))
                    | ((SignInEvent.kind == MFA) & (SignInEvent.result == FAIL))
                )
            query = query.order_by(SignInEvent.created_at.desc(), SignInEvent.id.desc())
            return paginate(repo.session.scalars(query).all(), limit, token)

"""The hosted session: what lets a browser that signed in once sign in to more clients.

The cookie holds 32 random bytes; the store keeps only their SHA-256, the pool, the user and
how and when they authenticated. A session lasts an hour (as Cognito's managed login session
does), is replaced at every sign-in (the old row is revoked, so a cookie planted before
sign-in is worth nothing after it), and ends at `/logout`, `GlobalSignOut`,
`AdminUserGlobalSignOut` and whenever the user is disabled or deleted.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete

from token_service.core import Core
from token_service.issue import token_hash
from token_service.store.models import HostedSession
from token_service.store.repositories import Repository

COOKIE = "cognito"
SESSION_SECONDS = 3600


class HostedSessions:
    def __init__(self, core: Core) -> None:
        self.core = core

    def start(
        self,
        repo: Repository,
        pool_id: str,
        user_sub: str,
        amr: list[str],
        auth_time: int,
        previous: str | None,
    ) -> tuple[str, HostedSession]:
        """A new session (cookie value and row); the browser's previous one is revoked."""
        now = self.core.clock()
        self._revoke(repo, previous, now)
        # Ended sessions are of no use to anyone: drop them as new ones start.
        repo.session.execute(delete(HostedSession).where(HostedSession.expires_at < now))
        cookie = secrets.token_urlsafe(32)
        row = HostedSession(
            cookie_hash=token_hash(cookie),
            pool_id=pool_id,
            user_sub=user_sub,
            amr=list(amr),
            auth_time=auth_time,
            created_at=now,
            expires_at=now + SESSION_SECONDS,
        )
        repo.add(row)
        return cookie, row

    def live(self, repo: Repository, cookie: str | None, pool_id: str) -> HostedSession | None:
        """The browser's session in this pool, while unrevoked, unexpired and its user enabled."""
        if not cookie:
            return None
        row = repo.session.get(HostedSession, token_hash(cookie))
        if (
            row is None
            or row.pool_id != pool_id
            or row.revoked_at is not None
            or row.expires_at <= self.core.clock()
        ):
            return None
        user = repo.user_by_sub(row.user_sub)
        return row if user is not None and user.enabled else None

    def end(self, repo: Repository, cookie: str | None) -> HostedSession | None:
        """Sign the browser out; the session it ended, if one was live."""
        return self._revoke(repo, cookie, self.core.clock())

    @staticmethod
    def _revoke(repo: Repository, cookie: str | None, now: float) -> HostedSession | None:
        row = repo.session.get(HostedSession, token_hash(cookie)) if cookie else None
        if row is None or row.revoked_at is not None:
            return None
        row.revoked_at = now
        return row

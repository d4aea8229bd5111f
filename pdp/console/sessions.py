"""Console sessions: the browser holds an opaque id, the process holds the token.

A session starts pending (a CSRF secret and, during the hosted sign-in, the PKCE verifier
and state) and becomes signed in when it gets an access token; it then lives no longer than
the token. The id changes at sign-in, so an id planted before it is worth nothing after.
Sessions live in this process's memory only: a restart signs everyone out.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "pdp_console"
# A sign-in not finished within this time starts over.
PENDING_SECONDS = 600.0
# Longest a signed-in session lives, whatever the token's own expiry.
MAX_SECONDS = 12 * 3600.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    """One browser's console session. `token` is never rendered, logged or put in a URL."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None
    expires_at: float = field(default_factory=lambda: time.time() + PENDING_SECONDS)
    # The hosted sign-in in flight: PKCE verifier and state of the authorize request.
    verifier: str | None = None
    state: str | None = None
    # Who signed in, as the page shows it (the token's username, else its client).
    name: str | None = None


def _key(session_id: str) -> str:
    """Sessions are kept under a hash of their id, so a memory dump does not hold the ids."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions by id, bounded and expiring; safe to use from several threads.

    Pending sessions (anyone can start one) and signed-in ones (only a verified token makes
    one) are bounded separately, so a flood of started sign-ins never pushes out a
    signed-in session."""

    def __init__(self, capacity: int = MAX_SESSIONS) -> None:
        self._capacity = capacity
        self._pending: dict[str, Session] = {}
        self._signed_in: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        key = _key(session_id)
        with self._lock:
            for pool in (self._signed_in, self._pending):
                session = pool.get(key)
                if session is not None:
                    if session.expires_at > time.time():
                        return session
                    del pool[key]
            return None

    def create(self) -> tuple[str, Session]:
        """A new pending session under a new id."""
        return self._add(self._pending, Session())

    def sign_in(
        self, old_id: str | None, token: str, expires_at: float, name: str | None = None
    ) -> tuple[str, Session]:
        """Replace the pending session `old_id` by a signed-in one under a fresh id."""
        self.drop(old_id)
        until = min(expires_at, time.time() + MAX_SECONDS)
        return self._add(self._signed_in, Session(token=token, expires_at=until, name=name))

    def drop(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                for pool in (self._signed_in, self._pending):
                    pool.pop(_key(session_id), None)

    def _add(self, pool: dict[str, Session], session: Session) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            for key in [k for k, s in pool.items() if s.expires_at <= now]:
                del pool[key]
            while len(pool) >= self._capacity:
                # The oldest entry goes first (dicts keep insertion order).
                del pool[next(iter(pool))]
            pool[_key(session_id)] = session
        return session_id, session

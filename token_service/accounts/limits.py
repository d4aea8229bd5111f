"""How many codes one user may be sent for one purpose in any hour.

Each code request takes one of `code_requests_per_hour` slots, kept in the store's single-use
table (`UsedNonce`) for an hour after it was taken, so every process serving the database sees
the same count, and two requests cannot take the same slot (its key is the primary key). With
every slot taken the request is refused with `LimitExceededException`, and nothing is sent.

A slot's key is a keyed hash of the pool, the user (its `sub`) or, for a username without a
user, the name as asked for, and the purpose: the table names nobody, and a username without a
user reaches the limit exactly as one with a user does.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import delete, select

from token_service.accounts.codes import TOO_MANY
from token_service.errors import LimitExceeded
from token_service.store.models import UsedNonce
from token_service.store.repositories import Repository

HOUR = 3600.0


def user_key(sub: str) -> str:
    """Whose requests these are, for a user."""
    return f"sub:{sub}"


def name_key(username: str) -> str:
    """Whose requests these are, for a username without a user."""
    return f"name:{username.lower()}"


class CodeRequestLimit:
    def __init__(self, per_hour: int, sealing_key: bytes) -> None:
        self._per_hour = per_hour
        self._key = hmac.new(sealing_key, b"code-request-limit", hashlib.sha256).digest()

    def _slots(self, pool_id: str, requester: str, purpose: str) -> list[str]:
        message = f"{pool_id}\x00{requester}\x00{purpose}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return [f"code-request:{digest}:{n}" for n in range(self._per_hour)]

    def take(
        self, repo: Repository, pool_id: str, requester: str, purpose: str, now: float
    ) -> None:
        """Count one request in this transaction; LimitExceeded when the hour's are used up."""
        slots = self._slots(pool_id, requester, purpose)
        live = UsedNonce.nonce.in_(slots)
        repo.session.execute(delete(UsedNonce).where(live, UsedNonce.expires_at <= now))
        taken = set(repo.session.scalars(select(UsedNonce.nonce).where(live)))
        free = next((slot for slot in slots if slot not in taken), None)
        if free is None:
            raise LimitExceeded(TOO_MANY)
        repo.add(UsedNonce(nonce=free, expires_at=now + HOUR))

"""One-time codes: six digits from `secrets`, stored only as a keyed hash, short-lived, single-use.

A code is kept per user and purpose ("signup", "forgot_password", "verify:email", ...); sending
a new one replaces the old. The hash is an HMAC keyed with a key derived from the sealing key,
so a copy of the database alone does not let anyone try the million possible codes offline.
Wrong guesses are counted on the code: after `code_max_attempts` of them it is void, and
even the right code is refused until a new one is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from token_service.errors import CodeMismatch, ExpiredCode, LimitExceeded, TokenServiceError
from token_service.settings import Settings
from token_service.store.models import User, VerificationCode
from token_service.store.repositories import Repository

SIGNUP = "signup"
FORGOT_PASSWORD = "forgot_password"
CODE_DIGITS = 6
MISMATCH = "Invalid verification code provided, please try again."
EXPIRED = "Invalid code provided, please request a code again."
TOO_MANY = "Attempt limit exceeded, please try after some time."


def verify_purpose(attribute: str) -> str:
    """The purpose of a code that verifies `attribute` (email or phone_number)."""
    return f"verify:{attribute}"


class Codes:
    def __init__(self, settings: Settings, sealing_key: bytes) -> None:
        self._settings = settings
        self._key = hmac.new(sealing_key, b"verification-code", hashlib.sha256).digest()

    def _hash(self, user_sub: str, purpose: str, code: str) -> str:
        message = f"{user_sub}\x00{purpose}\x00{code}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def lifetime(self, purpose: str) -> int:
        if purpose == FORGOT_PASSWORD:
            return self._settings.reset_code_seconds
        return self._settings.signup_code_seconds

    def issue(self, repo: Repository, user: User, purpose: str, now: float) -> str:
        """A new code for `user` and `purpose`, replacing any earlier one; only its hash is kept."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        row = repo.verification_code(user.sub, purpose)
        if row is None:
            row = VerificationCode(user_sub=user.sub, purpose=purpose)
            repo.session.add(row)
        row.code_hash = self._hash(user.sub, purpose, code)
        row.expires_at = now + self.lifetime(purpose)
        row.attempts = 0
        row.created_at = now
        repo.session.flush()
        return code

    def discard(self, repo: Repository, user: User, purpose: str) -> None:
        row = repo.verification_code(user.sub, purpose)
        if row is not None:
            repo.delete(row)

    def void(self, repo: Repository, user_sub: str, purpose: str, code: str) -> None:
        """Forget `code` (one that could not be delivered), unless a newer code replaced it."""
        row = repo.verification_code(user_sub, purpose)
        if row is not None and hmac.compare_digest(
            row.code_hash, self._hash(user_sub, purpose, code)
        ):
            repo.delete(row)

    def check(
        self, repo: Repository, user: User, purpose: str, code: str, now: float
    ) -> TokenServiceError | None:
        """None when `code` is the live code (which is then used up), else the error to raise.

        A wrong guess is counted in this transaction, so callers raise the error only after
        the transaction has committed.
        """
        row = repo.verification_code(user.sub, purpose)
        if row is None:
            return CodeMismatch(MISMATCH)
        if row.attempts >= self._settings.code_max_attempts:
            return LimitExceeded(TOO_MANY)
        if row.expires_at <= now:
            return ExpiredCode(EXPIRED)
        presented = self._hash(user.sub, purpose, code)
        if not hmac.compare_digest(presented, row.code_hash):
            row.attempts += 1
            if row.attempts >= self._settings.code_max_attempts:
                return LimitExceeded(TOO_MANY)
            return CodeMismatch(MISMATCH)
        # Used: a second use answers as Cognito does for a spent code.
        row.expires_at = 0.0
        return None

"""Password hashing (argon2id) and the pool password policy."""

from __future__ import annotations

import base64
import secrets
import string
from functools import cached_property
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from token_service import srp
from token_service.errors import InvalidPassword
from token_service.sealing import Sealer
from token_service.settings import Settings
from token_service.store.models import User

DEFAULT_POLICY: dict[str, Any] = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}
# Cognito's list of accepted special characters.
SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


class Passwords:
    """Argon2id hashing with costs from settings; also burns equal time for unknown users.

    Setting a password also keeps its SRP verifier, sealed: a verifier can be tested against
    guesses far faster than an argon2 hash, so a stolen database alone must not hold it in
    clear. `sealer` is needed for that (every service has one; hashing alone does not).
    """

    def __init__(self, settings: Settings, sealer: Sealer | None = None) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._sealer = sealer

    @cached_property
    def _decoy(self) -> str:
        """A real hash to verify against when the user does not exist (made once, on demand)."""
        return self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def set(self, user: User, password: str) -> None:
        """Give `user` this password: every stored form of it changes together."""
        user.password_hash = self.hash(password)
        self._set_srp_verifier(user, password)

    def backfill_srp_verifier(self, user: User, password: str) -> None:
        """After a correct password: derive the SRP verifier of a user who has none yet."""
        if self.srp_verifier(user) is None:
            self._set_srp_verifier(user, password)

    def srp_verifier(self, user: User) -> int | None:
        """The user's SRP verifier; None when there is none (or it does not open)."""
        if not user.srp_salt or not user.srp_verifier or self._sealer is None:
            return None
        try:
            sealed = base64.b64decode(user.srp_verifier)
        except ValueError:
            return None
        for purpose in _srp_purposes(user):
            opened = self._sealer.open(sealed, purpose)
            if opened:
                return int.from_bytes(opened)
        return None

    def _set_srp_verifier(self, user: User, password: str) -> None:
        """SRP cannot use the argon2 hash: keep its salt and verifier, for USER_ID_FOR_SRP."""
        if self._sealer is None:
            raise RuntimeError("storing an SRP verifier needs the sealing key")
        derived = srp.derive_verifier(user.pool_id, srp.user_id_for(user.username), password)
        # Sealed as bytes (384), which keeps the stored text within the column's 1024.
        sealed = self._sealer.seal(bytes.fromhex(derived.verifier), _srp_purposes(user)[0])
        user.srp_salt, user.srp_verifier = derived.salt, base64.b64encode(sealed).decode()

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; a missing hash costs as much time as a real one."""
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and bool(stored_hash)
        except (VerificationError, InvalidHashError):
            return False


def _srp_purposes(user: User) -> list[str]:
    """What a sealed verifier is bound to (its user: one cannot be moved to another row),
    the current form first.

    The current form is derived over the lower-case username; the earlier one over the
    username as stored, which is the same verifier for a lower-case username only. Others
    are treated as missing, and derived again at the next password sign-in.
    """
    purposes = [f"srp-verifier-lower:{user.sub}"]
    if user.username == srp.user_id_for(user.username):
        purposes.append(f"srp-verifier:{user.sub}")
    return purposes


def check_policy(password: str, policy: dict[str, Any]) -> None:
    """Raise InvalidPassword naming the first rule the password breaks."""
    rules = [
        (len(password) >= int(policy.get("MinimumLength", 8)), "Password not long enough"),
        (
            not policy.get("RequireUppercase") or any(c.isupper() for c in password),
            "Password must have uppercase characters",
        ),
        (
            not policy.get("RequireLowercase") or any(c.islower() for c in password),
            "Password must have lowercase characters",
        ),
        (
            not policy.get("RequireNumbers") or any(c in string.digits for c in password),
            "Password must have numeric characters",
        ),
        (
            not policy.get("RequireSymbols") or any(c in SYMBOLS for c in password),
            "Password must have symbol characters",
        ),
    ]
    for ok, reason in rules:
        if not ok:
            raise InvalidPassword(f"Password did not conform with policy: {reason}")

"""RFC 6238 time-based one-time passwords, as authenticator apps and Cognito compute them.

30-second steps, 6 digits, HMAC-SHA-1 over a 160-bit secret shown to the user in base32.
A code is accepted for its own step and one step either side (clock drift between the
phone and the server), and only for a step later than the last one accepted, so a code
that was seen once, or any older one, is refused.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

import pyotp

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended length for HMAC-SHA-1
DRIFT_STEPS = 1
CODE_PATTERN = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A fresh secret in unpadded base32 (32 characters), the form authenticator apps take."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def is_code(value: object) -> bool:
    """Whether `value` has the shape of a code: exactly six ASCII digits."""
    return isinstance(value, str) and CODE_PATTERN.fullmatch(value) is not None


def step_at(now: float) -> int:
    return int(now // STEP_SECONDS)


def accepted_step(secret: str, code: str, now: float, last_step: int) -> int | None:
    """The step `code` belongs to, when it is valid now and newer than `last_step`; else None.

    Every candidate step is compared (in constant time) so the answer's timing does not tell
    which neighbour matched.
    """
    if not is_code(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        expected = totp.at(step * STEP_SECONDS)
        if hmac.compare_digest(expected.encode(), code.encode()) and step > last_step:
            found = step
    return found

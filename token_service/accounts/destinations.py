"""Where a code goes (which attribute of the user), and how Cognito shows it: masked.

Also the decoy shown for a user who does not exist, when the client prevents user existence
errors: it is derived from a keyed hash of the pool and username, so asking twice shows the
same plausible address and nothing tells it apart from a real one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from token_service.errors import InvalidParameter
from token_service.store.models import Pool, User

EMAIL = "email"
PHONE = "phone_number"
VERIFIABLE = (EMAIL, PHONE)
_EMAIL_FORMAT = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_FORMAT = re.compile(r"^\+[0-9]{4,15}$")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class CodeDelivery:
    """Cognito's CodeDeliveryDetails: the masked destination, medium and attribute."""

    destination: str
    medium: str
    attribute: str


def medium_of(attribute: str) -> str:
    return "SMS" if attribute == PHONE else "EMAIL"


def mask(attribute: str, value: str) -> str:
    """`a***@e***` for an email address, `+*******1234` for a phone number, as Cognito shows them."""
    if attribute == PHONE:
        return "+" + "*" * max(len(value) - 5, 0) + value[-4:]
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


def is_email(value: str) -> bool:
    return _EMAIL_FORMAT.match(value) is not None


def check_format(attributes: dict[str, str]) -> None:
    """Refuse an email address or phone number a code could not be sent to."""
    if EMAIL in attributes and not is_email(attributes[EMAIL]):
        raise InvalidParameter("Invalid email address format.")
    if PHONE in attributes and not _PHONE_FORMAT.match(attributes[PHONE]):
        raise InvalidParameter("Invalid phone number format.")


def confirmation_attribute(pool: Pool, user: User) -> str | None:
    """The auto-verified attribute a sign-up code goes to (the phone first, as Cognito)."""
    auto = pool.auto_verified_attributes or []
    return next((a for a in (PHONE, EMAIL) if a in auto and user.attributes.get(a)), None)


def recovery_attribute(user: User) -> str | None:
    """The verified attribute a password-reset code goes to: the email first, then the phone."""
    verified = (a for a in VERIFIABLE if user.attributes.get(f"{a}_verified") == "true")
    return next((a for a in verified if user.attributes.get(a)), None)


def decoy(pool: Pool, username: str, key: bytes) -> CodeDelivery:
    """A stable, plausible masked destination for a username that has no user."""
    digest = hmac.new(key, f"{pool.id}\x00{username.lower()}".encode(), hashlib.sha256).digest()
    auto = pool.auto_verified_attributes or []
    if PHONE in auto and EMAIL not in auto:
        digits = "".join(str(b % 10) for b in digest[:4])
        return CodeDelivery(mask(PHONE, "+1555555" + digits), "SMS", PHONE)
    local, domain = _LETTERS[digest[0] % 26], _LETTERS[digest[1] % 26]
    return CodeDelivery(f"{local}***@{domain}***", "EMAIL", EMAIL)

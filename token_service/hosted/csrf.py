"""CSRF protection of the hosted forms: a per-browser cookie and a per-form sealed token.

The browser gets a random `XSRF-TOKEN` cookie (HttpOnly, SameSite=Lax) before any form is
shown; every form carries `_csrf`, a token sealed by the service that names the form and
the hash of that cookie and expires. A post whose token is missing, forged, for another
form, expired or made for another browser's cookie is refused before anything else.
"""

from __future__ import annotations

import base64
import json
import secrets

from token_service.issue import token_hash
from token_service.sealing import Sealer

COOKIE = "XSRF-TOKEN"
FIELD = "_csrf"
TOKEN_SECONDS = 1800
_PURPOSE = "hosted-csrf"


def new_browser_value() -> str:
    return secrets.token_urlsafe(32)


def form_token(sealer: Sealer, browser: str, form: str, now: float) -> str:
    payload = {"b": token_hash(browser), "f": form, "exp": now + TOKEN_SECONDS}
    return base64.urlsafe_b64encode(sealer.seal(json.dumps(payload).encode(), _PURPOSE)).decode()


def valid(sealer: Sealer, browser: str | None, form: str, token: str | None, now: float) -> bool:
    """True for a live token this service made for `form` and this browser's cookie."""
    if not browser or not token:
        return False
    try:
        opened = sealer.open(base64.urlsafe_b64decode(token.encode()), _PURPOSE)
        payload = json.loads(opened) if opened else None
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        isinstance(payload, dict)
        and payload.get("b") == token_hash(browser)
        and payload.get("f") == form
        and isinstance(payload.get("exp"), int | float)
        and payload["exp"] > now
    )

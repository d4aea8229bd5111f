"""Challenges and their sealed `Session`, as Cognito's InitiateAuth and RespondToAuthChallenge use them.

A session is AES-GCM sealed, so it can be neither read nor forged. It names the client, the
user, the step it answers and how the user has authenticated so far (`amr`), and it expires
after the client's AuthSessionValidity (3 minutes unless configured, as in Cognito).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from token_service.errors import NotAuthorized
from token_service.sealing import Sealer
from token_service.store.models import Client, User

BAD_SESSION = "Invalid session for the user, session is expired."
DEFAULT_SESSION_MINUTES = 3
_PURPOSE = "auth-session"


@dataclass(frozen=True)
class Challenge:
    """Sign-in needs another answer: Cognito's ChallengeName, its parameters and Session."""

    name: str
    parameters: dict[str, str]
    session: str | None


@dataclass(frozen=True)
class SessionState:
    """What an opened session says. `nonce` is unique per session, for single-use checks."""

    client_id: str
    sub: str
    step: str
    amr: list[str]
    expires_at: float
    nonce: str
    data: dict[str, Any] = field(default_factory=dict)


def session_seconds(client: Client) -> int:
    return 60 * (client.auth_session_minutes or DEFAULT_SESSION_MINUTES)


def seal_session(
    sealer: Sealer,
    client: Client,
    user: User,
    step: str,
    now: float,
    amr: list[str],
    data: dict[str, Any] | None = None,
) -> str:
    payload = {
        "client": client.id,
        "sub": user.sub,
        "step": step,
        "amr": amr,
        "exp": now + session_seconds(client),
        "nonce": secrets.token_urlsafe(16),
        "data": data or {},
    }
    sealed = sealer.seal(json.dumps(payload).encode(), _PURPOSE)
    return base64.urlsafe_b64encode(sealed).decode()


def _payload(sealer: Sealer, session: str | None) -> Any:
    try:
        opened = sealer.open(base64.urlsafe_b64decode((session or "").encode()), _PURPOSE)
        return json.loads(opened) if opened else None
    except (ValueError, UnicodeDecodeError):
        return None


def session_client_id(sealer: Sealer, session: str | None) -> str:
    """The client a genuine session was made for, for operations that take no ClientId
    (AssociateSoftwareToken, VerifySoftwareToken); open it with `open_session` after."""
    payload = _payload(sealer, session)
    if not isinstance(payload, dict) or not isinstance(payload.get("client"), str):
        raise NotAuthorized(BAD_SESSION)
    return payload["client"]


def open_session(
    sealer: Sealer, session: str | None, client: Client, steps: tuple[str, ...], now: float
) -> SessionState:
    """The session's state when it is genuine, this client's, for one of `steps` and live."""
    payload = _payload(sealer, session)
    if (
        not isinstance(payload, dict)
        or payload.get("client") != client.id
        or payload.get("step") not in steps
        or not isinstance(payload.get("exp"), int | float)
        or payload["exp"] <= now
    ):
        raise NotAuthorized(BAD_SESSION)
    return SessionState(
        client_id=client.id,
        sub=str(payload.get("sub", "")),
        step=str(payload["step"]),
        amr=[str(a) for a in payload.get("amr", [])],
        expires_at=float(payload["exp"]),
        nonce=str(payload.get("nonce", "")),
        data=dict(payload.get("data") or {}),
    )

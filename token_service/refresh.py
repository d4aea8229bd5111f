"""Refreshing a sign-in: new access and ID tokens and, with rotation, a new refresh token.

Three ways in, each authenticating the client its own way:

- `oauth`: the `/oauth2/token` refresh_token grant (client secret; OAuth errors);
- `initiate_auth`: REFRESH_TOKEN_AUTH through (Admin)InitiateAuth (SECRET_HASH), refused
  for clients with rotation, as Cognito refuses it;
- `get_tokens`: GetTokensFromRefreshToken (ClientSecret).

Rotation (the client's RefreshTokenRotation ENABLED) replaces the sign-in's refresh token on
every refresh through `oauth` or `get_tokens`. The replaced token still works for the
client's RetryGracePeriodSeconds (a retry after a lost answer); after that, presenting it
is taken as theft: the whole sign-in is revoked (RefreshTokenReuseException).
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Literal

from token_service.admin.clients import rotation_enabled, rotation_grace_seconds
from token_service.errors import (
    InvalidGrant,
    InvalidParameter,
    RefreshTokenReuse,
    UnauthorizedClient,
)
from token_service.issue import Issuer, UserTokens, token_hash
from token_service.store.models import Client, RefreshToken
from token_service.store.repositories import Repository

Channel = Literal["oauth", "initiate_auth", "get_tokens"]
REUSED = "Refresh token reuse detected: the sign-in is revoked"


@dataclass(frozen=True)
class _Found:
    """The sign-in a presented token belongs to, and whether it was its replaced token."""

    session: RefreshToken | None
    within_grace: bool = False
    reused: bool = False


def _find(repo: Repository, hashed: str, now: float) -> _Found:
    session = repo.refresh_token(hashed, lock=True)
    if session is not None:
        return _Found(session)
    previous = repo.rotated_from(hashed)
    if previous is not None and (previous.previous_valid_until or 0) > now:
        return _Found(previous, within_grace=True)
    retired = repo.retired_refresh_token(hashed)
    if retired is not None:
        return _Found(repo.sign_in(retired.origin_jti), reused=True)
    return _Found(None)


def _rotate(
    repo: Repository, client: Client, session: RefreshToken, grace_retry: bool, now: float
) -> str:
    """A new refresh token for the sign-in; the presented one stays usable for the grace.

    A retry within the grace replaces the token the first call handed out without keeping
    it as a reuse trap: that answer may never have arrived.
    """
    new_token = secrets.token_urlsafe(64)
    if not grace_retry:
        repo.retire_refresh_token(session, now)
        session.previous_hash = session.token_hash
        session.previous_valid_until = now + rotation_grace_seconds(client)
    session.token_hash = token_hash(new_token)
    repo.session.flush()
    return new_token


def refresh_tokens(
    issuer: Issuer,
    client_id: str,
    refresh_token: str,
    *,
    channel: Channel,
    client_secret: str | None = None,
    secret_hash_value: str | None = None,
    username: str | None = None,
    pool_id: str | None = None,
) -> UserTokens:
    """New tokens for a live refresh token of this client's enabled user."""
    if not refresh_token:
        name = "RefreshToken" if channel == "get_tokens" else "REFRESH_TOKEN"
        raise InvalidParameter(f"{name} is required.")
    now = issuer.core.clock()
    with issuer.core.store.transaction() as repo:
        client = issuer.client(repo, client_id, pool_id, oauth=channel == "oauth")
        if channel != "initiate_auth":
            issuer.check_client_secret(client, client_secret)
        found = _find(repo, token_hash(refresh_token), now)
        session = found.session
        user = repo.user_by_sub(session.user_sub) if session is not None else None
        if channel == "initiate_auth":
            names = [n for n in (username, user and user.username, user and user.sub) if n]
            issuer.check_secret_hash(client, names or [""], secret_hash_value)
        rotating = rotation_enabled(client)
        if channel == "initiate_auth" and rotating:
            raise UnauthorizedClient(
                "Refresh token rotation is enabled for this client: use GetTokensFromRefreshToken"
            )
        if not rotating and "ALLOW_REFRESH_TOKEN_AUTH" not in client.explicit_auth_flows:
            raise UnauthorizedClient("Refresh token flow not enabled for this client")
        if session is None or user is None or session.client_id != client.id:
            raise InvalidGrant("Invalid Refresh Token")
        if found.reused:
            if session.revoked_at is None:
                session.revoked_at = now
        elif session.revoked_at is not None:
            raise InvalidGrant("Refresh Token has been revoked")
        elif session.expires_at <= now:
            raise InvalidGrant("Refresh Token has expired")
        elif not user.enabled:
            raise InvalidGrant("User is disabled.")
        else:
            tokens = issuer.issue_user_tokens(repo, client, user, now, session)
            if rotating:
                new_token = _rotate(repo, client, session, found.within_grace, now)
                return dataclasses.replace(tokens, refresh_token=new_token)
            return tokens
    # Reuse: the revocation above is committed before the error is raised.
    raise RefreshTokenReuse(REUSED)

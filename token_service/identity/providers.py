"""User pools as login providers of an identity pool: their names and their ID tokens.

A user pool is named as Amazon Cognito names it, `cognito-idp.<region>.amazonaws.com/<pool
id>` (so client code written for AWS works unchanged), or by its issuer here without the
scheme (`127.0.0.1:9229/<pool id>`), the same rule Cognito's name follows for its issuer.
"""

from __future__ import annotations

import math
import re
from typing import Any

import jwt

from token_service.errors import NotAuthorized
from token_service.keys import Keys
from token_service.settings import Settings
from token_service.store.repositories import Repository

_COGNITO_NAME = re.compile(r"cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+_[0-9a-zA-Z]+)")
INVALID_LOGIN = "Invalid login token."


def user_pool_of(repo: Repository, settings: Settings, provider_name: str) -> str | None:
    """The id of the user pool `provider_name` names, when it is one of ours."""
    match = _COGNITO_NAME.fullmatch(provider_name)
    if match is not None:
        pool = repo.pool(match.group(2))
        return pool.id if pool is not None and pool.region == match.group(1) else None
    pool_id = provider_name.rsplit("/", 1)[-1]
    if repo.pool(pool_id) is None:
        return None
    issuer = settings.issuer(pool_id)
    return pool_id if issuer.split("://", 1)[-1] == provider_name else None


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def verify_id_token(
    repo: Repository,
    keys: Keys,
    settings: Settings,
    pool_id: str,
    client_ids: set[str],
    token: str,
    now: float,
) -> str:
    """The `sub` of a valid ID token of the pool for one of `client_ids`, of a user who
    still exists and is enabled; NotAuthorized otherwise (never saying which check failed)."""
    issuer = settings.issuer(pool_id)
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keys.verifier(repo, pool_id, kid, now) if isinstance(kid, str) else None
        if key is None:
            raise NotAuthorized(INVALID_LOGIN)
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=issuer,
            audience=sorted(client_ids),
            options={
                "require": ["exp", "iat", "sub", "aud", "token_use"],
                # Time is checked below against the service clock.
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        raise NotAuthorized(INVALID_LOGIN) from None
    if not all(_numeric(claims.get(name, 0)) for name in ("exp", "iat", "nbf")):
        raise NotAuthorized(INVALID_LOGIN)
    if claims["exp"] <= now:
        raise NotAuthorized("Invalid login token. Token expired.")
    if claims["token_use"] != "id" or not isinstance(claims["sub"], str):
        raise NotAuthorized(INVALID_LOGIN)
    user = repo.user_by_sub(claims["sub"])
    if user is None or user.pool_id != pool_id or not user.enabled:
        raise NotAuthorized(INVALID_LOGIN)
    return claims["sub"]

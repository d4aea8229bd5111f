"""Claim shapes of the tokens, as Amazon Cognito shapes them, and their signing and checking.

Claim order follows Cognito's tokens. `cognito:groups` is left out when the user is in no
group, as Cognito does. `amr` (RFC 8176: "pwd", "mfa", "otp") is ours: user pool tokens of
Amazon Cognito carry none, and a policy that asks for a second factor needs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from token_service.errors import NotAuthorized

USER_SCOPE = "aws.cognito.signin.user.admin"
# Federated users' linked identities: a JSON string attribute, an array in ID tokens.
IDENTITIES = "identities"


def _groups(groups: list[str]) -> dict[str, Any]:
    return {"cognito:groups": groups} if groups else {}


def user_access_claims(
    *,
    issuer: str,
    sub: str,
    username: str,
    groups: list[str],
    client_id: str,
    origin_jti: str,
    event_id: str,
    auth_time: int,
    amr: list[str],
    now: int,
    ttl: int,
    scope: str = USER_SCOPE,
) -> dict[str, Any]:
    """`scope` is the user-pool scope for API sign-ins, the granted OAuth scopes otherwise."""
    return {
        "sub": sub,
        **_groups(groups),
        "iss": issuer,
        "version": 2,
        "client_id": client_id,
        "origin_jti": origin_jti,
        "event_id": event_id,
        "token_use": "access",
        "scope": scope,
        "auth_time": auth_time,
        "amr": amr,
        "exp": now + ttl,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "username": username,
    }


def id_claims(
    *,
    issuer: str,
    sub: str,
    username: str,
    groups: list[str],
    attributes: dict[str, str],
    client_id: str,
    origin_jti: str,
    event_id: str,
    auth_time: int,
    amr: list[str],
    now: int,
    ttl: int,
    nonce: str | None = None,
    at_hash: str | None = None,
) -> dict[str, Any]:
    """ID token: identity claims plus every user attribute (so `custom:tenant_id`), and a
    federated user's `identities` as a JSON array, as Cognito puts it.

    Tokens of the authorization-code grant also carry `at_hash` (first, as Cognito orders it)
    and the authorization request's `nonce` (OpenID Connect Core 3.1.3.6 and 3.1.2.1).
    """
    claims: dict[str, Any] = {"at_hash": at_hash} if at_hash else {}
    claims.update({"sub": sub, **_groups(groups)})
    if "email_verified" in attributes:
        claims["email_verified"] = attributes["email_verified"] == "true"
    claims.update(
        {
            "iss": issuer,
            "cognito:username": username,
            **({"nonce": nonce} if nonce is not None else {}),
            "origin_jti": origin_jti,
            "aud": client_id,
            "event_id": event_id,
            "token_use": "id",
            "auth_time": auth_time,
            "amr": amr,
            "exp": now + ttl,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
    )
    for name, value in attributes.items():
        if name == IDENTITIES:
            entries = identities_claim(value)
            if entries is not None:
                claims[name] = entries
        elif name != "email_verified":
            claims[name] = value
    return claims


def identities_claim(attribute: str) -> list[Any] | None:
    """Cognito's `identities` claim: the attribute's JSON string as the array it holds."""
    try:
        entries = json.loads(attribute)
    except ValueError:
        return None
    return entries if isinstance(entries, list) else None


def machine_access_claims(
    *, issuer: str, client_id: str, scope: str, now: int, ttl: int
) -> dict[str, Any]:
    return {
        "sub": client_id,
        "token_use": "access",
        "scope": scope,
        "auth_time": now,
        "iss": issuer,
        "exp": now + ttl,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }


def access_token_hash(access_token: str) -> str:
    """OpenID Connect `at_hash` for RS256: base64url of the left half of SHA-256."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def sign(claims: dict[str, Any], kid: str, private_key: RSAPrivateKey) -> str:
    # Cognito's header is exactly {"kid", "alg"}: no "typ".
    return jwt.encode(claims, private_key, algorithm="RS256", headers={"kid": kid, "typ": None})


def unverified_origin(token: str) -> tuple[str, str]:
    """(issuer, kid) read without verification, to find the key that must verify it."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise NotAuthorized("Invalid Access Token") from None
    issuer, kid = claims.get("iss"), header.get("kid")
    if not isinstance(issuer, str) or not isinstance(kid, str):
        raise NotAuthorized("Invalid Access Token")
    return issuer, kid


def _is_numeric_date(value: Any) -> bool:
    """RFC 7519 NumericDate: a finite JSON number; PyJWT alone lets a numeric string pass."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def verify_access_token(token: str, key: RSAPublicKey, issuer: str, now: float) -> dict[str, Any]:
    """Claims of a valid access token signed by `key` for `issuer`, or NotAuthorized."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=issuer,
            options={
                "require": ["exp", "iat", "sub", "token_use"],
                # Time is checked below against the service clock.
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        raise NotAuthorized("Invalid Access Token") from None
    if not all(_is_numeric_date(claims.get(name, 0)) for name in ("exp", "iat", "nbf")):
        raise NotAuthorized("Invalid Access Token")
    if claims["exp"] <= now:
        raise NotAuthorized("Access Token has expired")
    if claims["token_use"] != "access":
        raise NotAuthorized("Invalid Access Token")
    return claims

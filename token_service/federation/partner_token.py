"""Verifying a partner's access or ID token presented for token exchange (RFC 8693).

The token names its issuer; the pool's OIDC providers with that `oidc_issuer` (Entra ID's
`{tenantid}` template filled with the token's `tid`) are the candidates, and the one whose
`client_id` is the token's audience is the provider. The exchanging app client must support
it (SupportedIdentityProviders), it must be enabled and allow token exchange. Then: an
asymmetric algorithm (RS256, ES256, PS256), a key of the provider's JWKS fitting it, the
signature, `exp`, `nbf`, `iat` against our clock (with a minute of leeway), the `tid`
allow-list, `ver` "2.0" for a v2.0 issuer, and the claim that identifies the user.
Every refusal says which check failed; none of them writes anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from token_service.errors import InvalidGrant, UnauthorizedClient
from token_service.federation.jwks import PartnerKeys, UnknownKey
from token_service.federation.providers import TENANT_PLACEHOLDERS, Provider
from token_service.store.models import Client

ALGORITHMS = ("RS256", "ES256", "PS256")
LEEWAY_SECONDS = 60
NUMERIC_DATES = ("exp", "nbf", "iat")
# Entra ID's v2.0 endpoints issue tokens of version "2.0"; a v1.0 token is another shape.
V2_SUFFIX = "/v2.0"


class SubjectTokenRefused(InvalidGrant):
    """The subject_token cannot be exchanged; the message names the check that failed."""


@dataclass(frozen=True)
class PartnerToken:
    """A verified partner token: whose it is and what it says."""

    provider: Provider
    subject: str
    claims: dict[str, Any]


def _refuse(reason: str) -> SubjectTokenRefused:
    return SubjectTokenRefused(f"subject_token refused: {reason}.")


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _refuse("it is not a signed JWT") from None
    if not isinstance(claims, dict):
        raise _refuse("it is not a signed JWT")
    return header, claims


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    values = aud if isinstance(aud, list) else [aud]
    return [value for value in values if isinstance(value, str)]


def choose_provider(
    candidates: Sequence[Provider], client: Client, claims: dict[str, Any]
) -> Provider:
    """The provider among those of the token's issuer that the token and the client agree on."""
    if not candidates:
        raise _refuse("its issuer is not an identity provider of this pool")
    supported = set(client.supported_identity_providers or [])
    usable = [p for p in candidates if p.name in supported]
    if not usable:
        names = ", ".join(sorted(p.name for p in candidates))
        raise UnauthorizedClient(f"The app client does not support the identity provider {names}.")
    audiences = _audiences(claims)
    matching = [p for p in usable if p.details.get("client_id") in audiences]
    if not matching:
        raise _refuse("its audience is not the identity provider's client_id")
    if len(matching) > 1:
        raise _refuse("several identity providers have its issuer and audience")
    provider = matching[0]
    if not provider.enabled:
        raise _refuse(f"the identity provider {provider.name} is disabled")
    if provider.details.get("token_exchange", "true").lower() == "false":
        raise _refuse(f"the identity provider {provider.name} does not allow token exchange")
    return provider


def _check_tenant(provider: Provider, claims: dict[str, Any]) -> None:
    """Multi-tenant issuers need an allow-list; a single tenant's may have one too."""
    tenant = claims.get("tid")
    template = any(p in (provider.issuer or "") for p in TENANT_PLACEHOLDERS)
    if (template or provider.allowed_tenants) and tenant not in provider.allowed_tenants:
        raise _refuse("its tenant (tid) is not allowed")
    if (provider.issuer or "").rstrip("/").endswith(V2_SUFFIX) and claims.get("ver") != "2.0":
        raise _refuse('its version (ver) is not "2.0"')


def _check_times(claims: dict[str, Any], now: float) -> None:
    for name in NUMERIC_DATES:
        value = claims.get(name)
        if name in ("exp", "iat") and value is None:
            raise _refuse(f"it has no {name} claim")
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise _refuse(f"its {name} claim is not a number")
    if claims["exp"] <= now - LEEWAY_SECONDS:
        raise _refuse("it has expired")
    if claims.get("nbf") is not None and claims["nbf"] > now + LEEWAY_SECONDS:
        raise _refuse("it is not valid yet (nbf)")
    if claims["iat"] > now + LEEWAY_SECONDS:
        raise _refuse("it was issued in the future (iat)")


def _fits(alg: str, key: Any) -> bool:
    if alg == "ES256":
        return isinstance(key, EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    return isinstance(key, RSAPublicKey)


@dataclass(frozen=True)
class UnverifiedToken:
    """What a subject token says before it is verified: enough to find its provider."""

    raw: str
    header: dict[str, Any]
    claims: dict[str, Any]
    issuer: str
    tenant: str | None


def read_token(token: str) -> UnverifiedToken:
    """Refuses a token that is not a JWT, names no issuer, or uses an algorithm we never accept."""
    header, claims = _unverified(token)
    if header.get("alg") not in ALGORITHMS:
        raise _refuse(f"its algorithm {str(header.get('alg'))[:16]!r} is not allowed")
    issuer, tenant = claims.get("iss"), claims.get("tid")
    if not isinstance(issuer, str) or not issuer:
        raise _refuse("it names no issuer")
    return UnverifiedToken(
        token, header, claims, issuer, tenant if isinstance(tenant, str) else None
    )


class PartnerTokens:
    """Verifies subject tokens against the keys of the provider they name."""

    def __init__(self, keys: PartnerKeys) -> None:
        self.keys = keys

    def verify(
        self, token: UnverifiedToken, candidates: Sequence[Provider], client: Client, now: float
    ) -> PartnerToken:
        """The verified token, or SubjectTokenRefused / UnauthorizedClient saying why not.

        The tenant is checked before any key is fetched, so tokens of arbitrary tenants
        cannot make us fetch (and cache) their discovery documents.
        """
        provider = choose_provider(candidates, client, token.claims)
        _check_tenant(provider, token.claims)
        alg, kid = token.header["alg"], token.header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _refuse("its header names no kid")
        try:
            key = self.keys.key(self.keys.jwks_uri(token.issuer, provider.details), kid).key
        except UnknownKey:
            raise _refuse("its kid is not a signing key of the identity provider") from None
        if not _fits(alg, key):
            raise _refuse("its algorithm does not fit the key its kid names")
        try:
            claims = jwt.decode(token.raw, key, algorithms=[alg], options=_SIGNATURE_ONLY)
        except jwt.InvalidSignatureError:
            raise _refuse("its signature does not verify") from None
        except jwt.PyJWTError:
            raise _refuse("it cannot be read") from None
        _check_times(claims, now)
        subject = claims.get(provider.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise _refuse(f"it has no {provider.subject_claim} claim")
        return PartnerToken(provider, subject, claims)


# The signature alone: the claims are checked against our clock and the provider above.
_SIGNATURE_ONLY = {
    "verify_aud": False,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,
}

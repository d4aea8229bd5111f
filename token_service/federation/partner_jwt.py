"""The checks every partner JWT passes, whichever flow brought it (browser ID token, exchange).

One core, so the two flows cannot drift apart: an asymmetric algorithm of the allow-list
(never `none` or HS*), a key of the partner's JWKS (via `PartnerKeys`) that has the token's
`kid` and fits its algorithm, the signature, the claims a flow requires, `exp`, `nbf` and
`iat` against our clock with a minute of leeway, `iss` (Entra ID's tenant placeholder filled
with the token's `tid`, which must then be allowed) and `aud` (with `azp` when there are
several audiences). Each failure is a `PartnerJwtInvalid` naming the check; each flow turns
it into its own refusal and wording and adds its own checks (nonce; tenant list, version).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from token_service.federation.jwks import PartnerKeys, UnknownKey
from token_service.federation.providers import TENANT_PLACEHOLDERS, Provider

ALGORITHMS = ("RS256", "ES256", "PS256")
LEEWAY_SECONDS = 60
NUMERIC_DATES = ("exp", "nbf", "iat")
REQUIRED_DATES = frozenset({"exp", "iat"})

# The signature alone: the claims are checked against our clock and the provider here.
_SIGNATURE_ONLY = {
    "verify_aud": False,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,
}


class PartnerJwtInvalid(Exception):
    """A core check failed: `check` names it, `detail` the claim or algorithm concerned."""

    def __init__(self, check: str, detail: str = "") -> None:
        super().__init__(check)
        self.check = check
        self.detail = detail


def read_header(token: str) -> dict[str, Any]:
    """The token's JOSE header, when it names an algorithm of the allow-list."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise PartnerJwtInvalid("malformed") from None
    if header.get("alg") not in ALGORITHMS:
        raise PartnerJwtInvalid("bad_algorithm", str(header.get("alg"))[:16])
    return header


def _fits(alg: str, key: Any) -> bool:
    if alg == "ES256":
        return isinstance(key, EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    return isinstance(key, RSAPublicKey)


def signing_key(keys: PartnerKeys, header: dict[str, Any], jwks_uri: Callable[[], str]) -> Any:
    """The partner's key the header's `kid` names, fitting the header's algorithm.

    `jwks_uri` is asked only once the header names a kid, so such tokens fetch nothing.
    `PartnerUnavailable` (the keys cannot be fetched) passes through: each flow answers it.
    """
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise PartnerJwtInvalid("no_kid")
    try:
        key = keys.key(jwks_uri(), kid).key
    except UnknownKey:
        raise PartnerJwtInvalid("unknown_key") from None
    if not _fits(header["alg"], key):
        raise PartnerJwtInvalid("key_mismatch")
    return key


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _check_times(claims: dict[str, Any], now: float) -> None:
    for name in NUMERIC_DATES:
        value = claims.get(name)
        if value is None and name in REQUIRED_DATES:
            raise PartnerJwtInvalid("missing_claim", name)
        if value is not None and not _is_number(value):
            raise PartnerJwtInvalid("not_a_number", name)
    if claims["exp"] <= now - LEEWAY_SECONDS:
        raise PartnerJwtInvalid("expired")
    if claims.get("nbf") is not None and claims["nbf"] > now + LEEWAY_SECONDS:
        raise PartnerJwtInvalid("not_yet_valid")
    if claims["iat"] > now + LEEWAY_SECONDS:
        raise PartnerJwtInvalid("issued_in_future")


def verified_claims(
    token: str, key: Any, header: dict[str, Any], now: float, required: Iterable[str] = ()
) -> dict[str, Any]:
    """The claims under a valid signature, holding `required` and valid at `now`."""
    try:
        claims = jwt.decode(token, key, algorithms=[header["alg"]], options=_SIGNATURE_ONLY)
    except jwt.InvalidSignatureError:
        raise PartnerJwtInvalid("bad_signature") from None
    except jwt.PyJWTError:
        raise PartnerJwtInvalid("unreadable") from None
    for name in required:
        if claims.get(name) is None:
            raise PartnerJwtInvalid("missing_claim", name)
    _check_times(claims, now)
    return claims


def tenant_claim(claims: dict[str, Any]) -> str | None:
    tenant = claims.get("tid")
    return tenant if isinstance(tenant, str) else None


def check_issuer(provider: Provider, claims: dict[str, Any]) -> None:
    """`iss` is the provider's; for a tenant placeholder, the filled-in `tid` is allowed."""
    issuer, tenant = claims.get("iss"), tenant_claim(claims)
    if not isinstance(issuer, str) or not provider.issuer_matches(issuer, tenant):
        raise PartnerJwtInvalid("wrong_issuer")
    placeholder = any(p in (provider.issuer or "") for p in TENANT_PLACEHOLDERS)
    if placeholder and tenant not in provider.allowed_tenants:
        raise PartnerJwtInvalid("wrong_tenant")


def audiences(claims: dict[str, Any]) -> list[Any]:
    aud = claims.get("aud")
    return aud if isinstance(aud, list) else [aud]


def check_audience(claims: dict[str, Any], client_id: str) -> None:
    """`aud` holds `client_id`; with several audiences, `azp` must be it (OIDC Core 3.1.3.7)."""
    given = audiences(claims)
    if client_id not in given:
        raise PartnerJwtInvalid("wrong_audience")
    if len(given) > 1 and claims.get("azp") != client_id:
        raise PartnerJwtInvalid("wrong_azp")

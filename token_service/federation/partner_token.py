"""Verifying a partner's access or ID token presented for token exchange (RFC 8693).

The token names its issuer; the pool's OIDC providers with that `oidc_issuer` (Entra ID's
`{tenantid}` template filled with the token's `tid`) are the candidates, and the one whose
`client_id` is the token's audience is the provider. The exchanging app client must support
it (SupportedIdentityProviders), it must be enabled and allow token exchange. Then the
checks the browser's ID tokens pass too (partner_jwt: the algorithm, `iss` with Entra ID's
tenant, a key of the provider's JWKS fitting it, the signature, `exp`, `nbf`, `iat` against
our clock with a minute of leeway), and on top the `tid` allow-list of a single tenant's
issuer, `ver` "2.0" for a v2.0 issuer, and the claim that identifies the user.
Every refusal says which check failed; none of them writes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from token_service.errors import InvalidGrant, UnauthorizedClient
from token_service.federation import partner_jwt
from token_service.federation.jwks import PartnerKeys
from token_service.federation.providers import Provider
from token_service.store.models import Client

# Entra ID's v2.0 endpoints issue tokens of version "2.0"; a v1.0 token is another shape.
V2_SUFFIX = "/v2.0"
# Exchange's wording for each failed check of the shared core.
_REFUSALS = {
    "malformed": "it is not a signed JWT",
    "bad_algorithm": "its algorithm {!r} is not allowed",
    "no_kid": "its header names no kid",
    "unknown_key": "its kid is not a signing key of the identity provider",
    "key_mismatch": "its algorithm does not fit the key its kid names",
    "bad_signature": "its signature does not verify",
    "unreadable": "it cannot be read",
    "missing_claim": "it has no {} claim",
    "not_a_number": "its {} claim is not a number",
    "expired": "it has expired",
    "not_yet_valid": "it is not valid yet (nbf)",
    "issued_in_future": "it was issued in the future (iat)",
    "wrong_issuer": "its issuer is not an identity provider of this pool",
    "wrong_tenant": "its tenant (tid) is not allowed",
}


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


def _refused(invalid: partner_jwt.PartnerJwtInvalid) -> SubjectTokenRefused:
    return _refuse(_REFUSALS[invalid.check].format(invalid.detail))


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
    audiences = partner_jwt.audiences(claims)
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
    """The core's issuer and tenant check; a single tenant's issuer may have an allow-list
    too, and a v2.0 issuer's tokens are of version 2.0."""
    partner_jwt.check_issuer(provider, claims)
    if provider.allowed_tenants and claims.get("tid") not in provider.allowed_tenants:
        raise partner_jwt.PartnerJwtInvalid("wrong_tenant")
    if (provider.issuer or "").rstrip("/").endswith(V2_SUFFIX) and claims.get("ver") != "2.0":
        raise _refuse('its version (ver) is not "2.0"')


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
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        header = partner_jwt.read_header(token)
    except jwt.PyJWTError:
        raise _refuse(_REFUSALS["malformed"]) from None
    except partner_jwt.PartnerJwtInvalid as invalid:
        raise _refused(invalid) from None
    if not isinstance(claims, dict):
        raise _refuse(_REFUSALS["malformed"])
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _refuse("it names no issuer")
    return UnverifiedToken(token, header, claims, issuer, partner_jwt.tenant_claim(claims))


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
        try:
            _check_tenant(provider, token.claims)
            key = partner_jwt.signing_key(
                self.keys,
                token.header,
                lambda: self.keys.jwks_uri(token.issuer, provider.details),
            )
            claims = partner_jwt.verified_claims(token.raw, key, token.header, now)
        except partner_jwt.PartnerJwtInvalid as invalid:
            raise _refused(invalid) from None
        subject = claims.get(provider.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise _refuse(f"it has no {provider.subject_claim} claim")
        return PartnerToken(provider, subject, claims)

"""A browser's trip to a partner IdP and back: what to resume, and proof it is the same browser.

`start` stores the trip and hands out an opaque `state` (OIDC `state`, SAML RelayState: 43
characters, within SAML's 80-byte limit) plus a cookie value binding the trip to the browser.
`finish` takes the trip once: an unknown, expired, replayed state, or one that comes back in
another browser (a login CSRF: an attacker's assertion posted into the victim's browser),
is refused.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from token_service.core import Core
from token_service.federation.linking import FederationRefused
from token_service.federation.providers import Provider
from token_service.issue import token_hash
from token_service.store.models import FederationTrip
from token_service.store.repositories import Repository

COOKIE_NAME = "cognito-federation"
TRIP_SECONDS = 600
VERIFIER_PURPOSE = "federation-pkce-verifier"
# A cookie value we made: 32 random bytes, base64url.
_COOKIE_LENGTH = 43


@dataclass(frozen=True)
class Trip:
    provider_name: str
    pool_id: str
    authorize_query: dict[str, str]
    # OIDC: the nonce sent to the IdP; SAML: the AuthnRequest ID.
    nonce: str
    # OIDC: the PKCE code verifier; "" for SAML.
    code_verifier: str
    expires_at: float


class Relay:
    def __init__(self, core: Core) -> None:
        self.core = core

    def start(
        self,
        repo: Repository,
        provider: Provider,
        authorize_query: dict[str, str],
        browser_cookie: str | None,
        request_id: str | None = None,
    ) -> tuple[str, Trip, str]:
        """A new trip: its state, the trip, and the cookie value to set (the browser's own
        when it already has one, so trips in two tabs both come back)."""
        now = self.core.clock()
        cookie = (
            browser_cookie
            if browser_cookie and len(browser_cookie) == _COOKIE_LENGTH
            else secrets.token_urlsafe(32)
        )
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64) if provider.type == "OIDC" else ""
        trip = Trip(
            provider_name=provider.name,
            pool_id=provider.pool_id,
            authorize_query=dict(authorize_query),
            nonce=request_id or secrets.token_urlsafe(32),
            code_verifier=verifier,
            expires_at=now + TRIP_SECONDS,
        )
        repo.add(
            FederationTrip(
                state_hash=token_hash(state),
                pool_id=trip.pool_id,
                provider_name=trip.provider_name,
                authorize_query=trip.authorize_query,
                nonce=trip.nonce,
                code_verifier_sealed=(
                    self.core.sealer.seal(verifier.encode(), VERIFIER_PURPOSE) if verifier else None
                ),
                browser_hash=token_hash(cookie),
                expires_at=trip.expires_at,
            )
        )
        return state, trip, cookie

    def finish(self, repo: Repository, state: str, browser_cookie: str | None) -> Trip:
        """The trip `state` names, used up; FederationRefused when it cannot be resumed."""
        if not state or len(state) > 512:
            raise FederationRefused("The sign-in state is missing.")
        row = repo.take_federation_trip(token_hash(state), self.core.clock())
        if row is None:
            raise FederationRefused("The sign-in state is unknown, expired or already used.")
        if not browser_cookie or not hmac.compare_digest(
            row.browser_hash, token_hash(browser_cookie)
        ):
            raise FederationRefused("The sign-in did not start in this browser.")
        verifier = (
            self.core.sealer.unseal(row.code_verifier_sealed, VERIFIER_PURPOSE).decode()
            if row.code_verifier_sealed is not None
            else ""
        )
        return Trip(
            provider_name=row.provider_name,
            pool_id=row.pool_id,
            authorize_query=dict(row.authorize_query),
            nonce=row.nonce,
            code_verifier=verifier,
            expires_at=row.expires_at,
        )

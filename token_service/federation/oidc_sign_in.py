"""OIDC's half of a browser sign-in: the authorization request to the IdP, and its answer.

The request is the authorization code flow with PKCE (S256), the trip's `state` and `nonce`,
the provider's `authorize_scopes` (with `openid`) and our `/oauth2/idpresponse` as the
redirect_uri. The answer's code is exchanged at the IdP with the provider's client
credentials and the trip's verifier; the ID token is verified (`OpenIdClient`) and, when
the provider asks for it, userInfo merged in. What comes out is the partner identity.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from token_service.core import Core
from token_service.federation.linking import ExternalIdentity
from token_service.federation.oidc import IdpRefused, OpenIdClient
from token_service.federation.providers import TENANT_PLACEHOLDERS, IdentityProviders, Provider
from token_service.federation.relay import Trip

RESPONSE_PATH = "/oauth2/idpresponse"
DEFAULT_SCOPES = "openid"


def code_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def asserted_true(value: Any) -> bool:
    """An IdP's boolean claim: JSON true, or the string "true" (Cognito and others)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def tenant_of(issuer: str, provider: Provider) -> str | None:
    """The tenant an issuer names in the place of the provider's tenant placeholder."""
    registered = provider.issuer or ""
    for placeholder in TENANT_PLACEHOLDERS:
        head, found, tail = registered.partition(placeholder)
        if found and issuer.startswith(head) and issuer.endswith(tail):
            return issuer[len(head) : len(issuer) - len(tail)] or None
    return None


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    added = urlencode(params)
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


class OidcSignIn:
    def __init__(self, core: Core, providers: IdentityProviders, client: OpenIdClient) -> None:
        self.core = core
        self.providers = providers
        self.client = client

    @property
    def redirect_uri(self) -> str:
        """Our /oauth2/idpresponse, as registered at the partner IdP: on the service URL
        that discovery gives every endpoint (and SAML its ACS), not the issuer base, which
        may name Cognito's host for verifiers that derive the issuer from a pool id."""
        return self.core.settings.service_url.rstrip("/") + RESPONSE_PATH

    def authorize_url(
        self, provider: Provider, trip: Trip, state: str, login_hint: str | None, prompt: str | None
    ) -> str:
        endpoints = self.client.endpoints(provider)
        scopes = (
            (provider.details.get("authorize_scopes") or DEFAULT_SCOPES).replace(",", " ").split()
        )
        params = {
            "response_type": "code",
            "client_id": provider.details.get("client_id", ""),
            "redirect_uri": self.redirect_uri,
            "scope": " ".join(dict.fromkeys(["openid", *scopes])),
            "state": state,
            "nonce": trip.nonce,
            "code_challenge": code_challenge(trip.code_verifier),
            "code_challenge_method": "S256",
        }
        if login_hint:
            params["login_hint"] = login_hint
        if prompt is not None:
            params["prompt"] = prompt
        return _with_query(endpoints.authorize_url, params)

    def identity(
        self, provider: Provider, trip: Trip, code: str, issuer: str | None
    ) -> ExternalIdentity:
        """The partner identity the IdP's code stands for; IdpRefused saying why otherwise.

        `issuer` is the response's `iss` parameter (RFC 9207), when the IdP sends one: it
        must be the provider's, so a code from another IdP is never sent to this one.
        """
        if not code:
            raise IdpRefused("no_code", "The identity provider sent no authorization code.")
        if issuer is not None and not provider.issuer_matches(issuer, tenant_of(issuer, provider)):
            raise IdpRefused("wrong_issuer", "The authorization response is from another issuer.")
        client_id = provider.details.get("client_id", "")
        with self.core.store.transaction() as repo:
            secret = self.providers.client_secret(repo, provider)
        endpoints = self.client.endpoints(provider)
        answer = self.client.exchange_code(
            endpoints, client_id, secret, code, self.redirect_uri, trip.code_verifier
        )
        claims = self.client.verify_id_token(
            provider, endpoints, answer["id_token"], client_id, trip.nonce, self.core.clock()
        )
        access_token = answer.get("access_token")
        if isinstance(access_token, str):
            claims = self.client.user_info(provider, endpoints, access_token, claims)
        verified_claim = provider.attribute_mapping.get("email_verified", "email_verified")
        return ExternalIdentity(
            provider=provider,
            subject=str(claims[provider.subject_claim]),
            claims=claims,
            email_verified=asserted_true(claims.get(verified_claim)),
        )

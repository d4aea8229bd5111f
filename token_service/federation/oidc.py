"""The relying party of a partner OpenID provider: discovery, JWKS, code exchange, ID tokens.

Discovery documents and keys come from the process's `PartnerKeys` (cached, refetched on
an unknown `kid` at most once a minute), shared with token exchange. ID tokens are verified
as OpenID Connect Core 3.1.3.7 says, by the checks token exchange shares (partner_jwt: the
algorithm, key and signature, `iss` with Entra ID's tenant, `aud` and `azp`, `exp`, `nbf`,
`iat`), then the `nonce` of this browser's trip. Every refusal is an `IdpRefused` with a
short reason.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from token_service.errors import TokenServiceError
from token_service.federation import partner_jwt
from token_service.federation.jwks import PartnerKeys, PartnerUnavailable
from token_service.federation.providers import Provider

HTTP_TIMEOUT_SECONDS = 10
# The reason of a partner that did not answer: the app may try again later.
UNREACHABLE = "idp_unreachable"
# Claims of the ID token that userInfo may not change.
PROTOCOL_CLAIMS = frozenset({"iss", "sub", "aud", "azp", "exp", "iat", "nbf", "nonce", "auth_time"})
REQUIRED_CLAIMS = ("iss", "sub", "aud")
# The browser's reason and wording for each failed check of the shared core.
_REFUSALS = {
    "malformed": ("malformed_token", "The ID token is not a signed JWT."),
    "bad_algorithm": ("bad_algorithm", "The ID token's algorithm is not accepted."),
    "no_kid": ("unknown_key", "The ID token names no signing key."),
    "unknown_key": ("unknown_key", "The ID token is signed with a key the IdP does not publish."),
    "key_mismatch": ("malformed_token", "The ID token cannot be read."),
    "bad_signature": ("bad_signature", "The ID token's signature is not valid."),
    "unreadable": ("malformed_token", "The ID token cannot be read."),
    "not_a_number": ("malformed_token", "The ID token cannot be read."),
    "missing_claim": ("missing_claim", "The ID token has no {} claim."),
    "expired": ("token_expired", "The ID token has expired."),
    "not_yet_valid": ("token_not_yet_valid", "The ID token is not valid yet."),
    "issued_in_future": ("token_not_yet_valid", "The ID token is not valid yet."),
    "wrong_audience": ("wrong_audience", "The ID token is not for this client."),
    "wrong_azp": ("wrong_audience", "The ID token's azp is not this client."),
    "wrong_issuer": ("wrong_issuer", "The ID token is from another issuer."),
    "wrong_tenant": ("wrong_tenant", "The ID token is from a tenant that is not allowed."),
}


class IdpRefused(TokenServiceError):
    """The partner's answer cannot be trusted or used; `reason` says why, for the records."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        if reason == UNREACHABLE:
            self.oauth_error = "temporarily_unavailable"


@dataclass(frozen=True)
class Endpoints:
    """Where a provider's endpoints are: its ProviderDetails, else its discovery document."""

    authorize_url: str
    token_url: str
    jwks_uri: str
    userinfo_url: str | None
    token_auth_methods: tuple[str, ...]


def basic_credentials(client_id: str, secret: str) -> str:
    """RFC 6749 2.3.1: both halves form-encoded, then joined and base64-encoded."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class OpenIdClient:
    def __init__(self, keys: PartnerKeys) -> None:
        self.keys = keys
        self.http = httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def endpoints(self, provider: Provider) -> Endpoints:
        """The provider's endpoints; keys set in ProviderDetails win over discovery."""
        details = provider.details
        given = all(details.get(key) for key in ("authorize_url", "token_url", "jwks_uri"))
        if not given and not provider.issuer:
            raise IdpRefused("idp_error", "The identity provider has no oidc_issuer.")
        document: dict[str, Any] = {}
        if provider.issuer:
            # With every endpoint given, discovery only tells how to authenticate: optional.
            try:
                document = self.keys.discovery(provider.issuer)
            except PartnerUnavailable as error:
                if not given:
                    raise IdpRefused(UNREACHABLE, error.message) from None

        def pick(detail: str, discovered: str) -> str | None:
            value = details.get(detail) or document.get(discovered)
            return value if isinstance(value, str) and value else None

        authorize_url = pick("authorize_url", "authorization_endpoint")
        token_url = pick("token_url", "token_endpoint")
        jwks_uri = pick("jwks_uri", "jwks_uri")
        if not (authorize_url and token_url and jwks_uri):
            raise IdpRefused("idp_error", "The identity provider's endpoints are not known.")
        methods = document.get("token_endpoint_auth_methods_supported")
        return Endpoints(
            authorize_url=authorize_url,
            token_url=token_url,
            jwks_uri=jwks_uri,
            userinfo_url=pick("attributes_url", "userinfo_endpoint"),
            token_auth_methods=tuple(m for m in methods if isinstance(m, str))
            if isinstance(methods, list)
            else ("client_secret_basic",),
        )

    def exchange_code(
        self,
        endpoints: Endpoints,
        client_id: str,
        client_secret: str | None,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The IdP's token response to our code, authenticated as it says it accepts."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        headers = {"Accept": "application/json"}
        if client_secret is None:
            form["client_id"] = client_id
        elif (
            "client_secret_post" in endpoints.token_auth_methods
            and "client_secret_basic" not in endpoints.token_auth_methods
        ):
            form.update(client_id=client_id, client_secret=client_secret)
        else:
            headers["Authorization"] = basic_credentials(client_id, client_secret)
        try:
            response = self.http.post(endpoints.token_url, data=form, headers=headers)
        except httpx.HTTPError:
            raise IdpRefused(
                UNREACHABLE, "The identity provider's token endpoint did not answer."
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            reason = f"idp_token_error:{error}" if isinstance(error, str) else "idp_token_error"
            raise IdpRefused(reason[:64], "The identity provider refused the authorization code.")
        if not isinstance(body.get("id_token"), str):
            raise IdpRefused("no_id_token", "The identity provider returned no ID token.")
        return body

    def verify_id_token(
        self,
        provider: Provider,
        endpoints: Endpoints,
        token: str,
        client_id: str,
        nonce: str,
        now: float,
    ) -> dict[str, Any]:
        """The claims of a valid ID token of this provider for us and this trip."""
        try:
            header = partner_jwt.read_header(token)
            key = partner_jwt.signing_key(self.keys, header, lambda: endpoints.jwks_uri)
            claims = partner_jwt.verified_claims(token, key, header, now, REQUIRED_CLAIMS)
            partner_jwt.check_audience(claims, client_id)
            partner_jwt.check_issuer(provider, claims)
        except partner_jwt.PartnerJwtInvalid as invalid:
            reason, message = _REFUSALS[invalid.check]
            raise IdpRefused(reason, message.format(invalid.detail)) from None
        except PartnerUnavailable as error:
            raise IdpRefused(UNREACHABLE, error.message) from None
        given = claims.get("nonce")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
            raise IdpRefused("wrong_nonce", "The ID token was not made for this sign-in.")
        subject = claims.get(provider.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise IdpRefused(
                "no_subject", f"The ID token has no {provider.subject_claim} claim to sign in with."
            )
        return claims

    def user_info(
        self, provider: Provider, endpoints: Endpoints, access_token: str, claims: dict[str, Any]
    ) -> dict[str, Any]:
        """The ID token's claims with userInfo's added, when the provider asks for userInfo
        (`attributes_request_method` GET or POST); its `sub` must be the ID token's."""
        method = provider.details.get("attributes_request_method", "").upper()
        if method not in ("GET", "POST") or endpoints.userinfo_url is None:
            return claims
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        try:
            response = self.http.request(method, endpoints.userinfo_url, headers=headers)
            extra = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            extra = None
        if not isinstance(extra, dict):
            raise IdpRefused("userinfo_error", "The identity provider's userInfo failed.")
        if extra.get("sub") != claims["sub"]:
            raise IdpRefused("userinfo_mismatch", "userInfo describes another user.")
        added = {k: v for k, v in extra.items() if k not in PROTOCOL_CLAIMS}
        return {**claims, **added}

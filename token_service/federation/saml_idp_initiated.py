"""IdP-initiated SAML sign-in (ProviderDetails `IDPInit` `true`), under Cognito's rules.

The IdP posts an unsolicited Response to the ACS with, as RelayState, the query the app would
have sent to `/oauth2/authorize` (`response_type`, `client_id`, `redirect_uri`, `scope`,
`identity_provider`, and `state`, PKCE, ... as there). No trip of ours came before it, so it
is accepted only from a provider that allows it, for an app client whose every identity
provider is a SAML provider (not the pool's own directory, not OIDC: a login CSRF through an
unsolicited assertion must not land in a client that offers stronger ways in), and the
assertion must answer no request, be at most six minutes old and be used once.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from token_service.errors import TokenServiceError
from token_service.federation.browser import BrowserFederation, authorize_error
from token_service.federation.providers import Provider
from token_service.federation.saml_sp import SamlRefused
from token_service.hosted.authorize import AuthorizationRequest, RedirectError
from token_service.hosted.visit import Visit

SAML = "SAML"


def is_idp_initiated(relay_state: str) -> bool:
    """A RelayState that is an authorize query, not one of our trip states (which hold no
    `=` or `&`)."""
    return "=" in relay_state


def allows_idp_initiation(provider: Provider) -> bool:
    return provider.details.get("IDPInit", "false").lower() == "true"


def idp_initiated_request(
    federation: BrowserFederation, relay_state: str, visit: Visit
) -> tuple[AuthorizationRequest, Provider]:
    """The app's request the RelayState carries and the provider it names; the error page
    for an unusable request, the app's redirect_uri for a refused one."""
    request, _ = federation.hosted.request(parse_qsl(relay_state, keep_blank_values=True))
    name = request.query.get("identity_provider", "")
    try:
        with federation.core.store.transaction() as repo:
            provider = federation.providers.for_client(repo, request.client, name)
            supported = request.client.supported_identity_providers or []
            types = {
                found.type if (found := federation.providers.get(repo, provider.pool_id, n)) else n
                for n in supported
            }
        if provider.type != SAML or not allows_idp_initiation(provider):
            raise SamlRefused(
                f"The identity provider {provider.name} does not allow IdP-initiated sign-in."
            )
        if types != {SAML}:
            raise SamlRefused(
                "IdP-initiated sign-in needs an app client whose identity providers are all SAML."
            )
    except TokenServiceError as error:
        federation.failed(visit, request, name, error)
        code = authorize_error(error)
        raise RedirectError(request.redirect_uri, request.state, code, error.message) from None
    return request, provider

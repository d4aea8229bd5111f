"""Browser sign-in through a partner IdP: the hosted login's way out to it and back.

`/oauth2/authorize` with `identity_provider` or `idp_identifier` (or a button or the email
form of the login page) names a provider; the browser leaves for it with a Relay trip
(single-use, expiring, bound to the browser by a cookie). When the IdP sends the browser
back, the trip is taken at once, the IdP's answer verified, the identity linked or created,
and the sign-in completed as a password sign-in is (`HostedLogin.signed_in`): our session
and our code for the app. A trip that cannot be resumed shows the error page (the app is not
known yet); any later failure goes back to the app as an OAuth error, with a sign-in event
naming the reason, and leaves nothing written but that event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from token_service import events
from token_service.core import Core
from token_service.errors import NotAuthorized, TokenServiceError
from token_service.federation.linking import (
    ExternalIdentity,
    sign_in_external,
    sign_in_methods,
)
from token_service.federation.oidc import IdpRefused
from token_service.federation.oidc_sign_in import OidcSignIn
from token_service.federation.providers import IdentityProviders, Provider, ProviderUnavailable
from token_service.federation.relay import Relay, Trip
from token_service.hosted.authorize import (
    OWN_IDENTITY_PROVIDER,
    AuthorizationRequest,
    RedirectError,
)
from token_service.hosted.login import HostedLogin
from token_service.hosted.outcomes import Outcome, Page, Redirect
from token_service.hosted.visit import Visit
from token_service.store.models import Client
from token_service.store.repositories import Repository
from token_service.store.retry import retrying

Items = Sequence[tuple[str, str]]
# Where a SAML provider's sign-in starts (read from its metadata by the operations).
SAML_SSO_URL = "SSORedirectBindingURI"
NO_PROVIDER_FOR_EMAIL = "No company sign-in is set up for this address. Enter your password."
# The error codes an authorization response may carry (RFC 6749 4.1.2.1, OIDC Core 3.1.2.6).
AUTHORIZE_ERRORS = frozenset(
    {
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        # OpenID Connect Core 3.1.2.6, for the app's prompt=none passed on to the IdP.
        "login_required",
        "interaction_required",
        "consent_required",
        "account_selection_required",
    }
)
# The longest IdP error_description passed on to the app.
MAX_DESCRIPTION = 256
# Our authorize parameters that name a provider: the trip resumes without them.
PROVIDER_PARAMETERS = ("identity_provider", "idp_identifier")


@dataclass(frozen=True)
class Departure:
    """Send the browser to the IdP, with the trip's cookie."""

    location: str
    relay_cookie: str


@dataclass(frozen=True)
class Choice:
    """A provider button of the login page: its name and where it leads."""

    name: str
    href: str


@dataclass(frozen=True)
class LoginOptions:
    """What the login page offers a client: provider buttons, the email form, passwords."""

    choices: list[Choice]
    email_form: bool
    password_form: bool
    # Where the email form's answer may redirect (the page's CSP form-action).
    form_targets: list[str]


class Flow(Protocol):
    """A protocol's way to an IdP of its ProviderType."""

    def authorize_url(
        self, provider: Provider, trip: Trip, state: str, login_hint: str | None, prompt: str | None
    ) -> str: ...


def _without_provider(query: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in query.items() if k not in PROVIDER_PARAMETERS}


def authorize_error(error: TokenServiceError) -> str:
    """The RFC 6749 4.1.2.1 code for a refusal: a refused identity is access_denied."""
    if error.oauth_error in AUTHORIZE_ERRORS:
        return error.oauth_error
    return "access_denied" if isinstance(error, NotAuthorized) else "invalid_request"


def _refusal(request: AuthorizationRequest, error: TokenServiceError) -> RedirectError:
    return RedirectError(request.redirect_uri, request.state, authorize_error(error), error.message)


class BrowserFederation:
    def __init__(
        self,
        core: Core,
        hosted: HostedLogin,
        providers: IdentityProviders,
        oidc: OidcSignIn,
    ) -> None:
        self.core = core
        self.hosted = hosted
        self.providers = providers
        self.relay = Relay(core)
        self.oidc = oidc
        # ProviderType -> its protocol's flow; a type without one is not offered.
        self.flows: dict[str, Flow] = {"OIDC": oidc}

    def authorize(
        self, items: Items, visit: Visit, relay_cookie: str | None
    ) -> Outcome | Departure:
        """`/oauth2/authorize`: to the named provider, else the hosted login as before."""
        request, _ = self.hosted.request(items)
        name = request.query.get("identity_provider")
        identifier = request.query.get("idp_identifier")
        if identifier is None and name in (None, OWN_IDENTITY_PROVIDER):
            return self.hosted.authorize(items, visit)
        with self.core.store.transaction() as repo:
            try:
                provider = self._named(repo, request.client, name, identifier)
            except TokenServiceError as error:
                raise _refusal(request, error) from None
        return self._depart(request, provider, visit, relay_cookie, request.login_hint)

    def by_email(
        self, items: Items, email: str, visit: Visit, relay_cookie: str | None
    ) -> Outcome | Departure:
        """The login page's email form: the provider of the address's domain, else the
        login page with the address as the username."""
        request, pool = self.hosted.request(items)
        with self.core.store.transaction() as repo:
            provider = self.providers.by_email_domain(repo, pool.id, email)
            offered = provider is not None and provider.name in self._offered(repo, request.client)
        if provider is None or not offered:
            return Page("login", request, pool, NO_PROVIDER_FOR_EMAIL, email)
        return self._depart(request, provider, visit, relay_cookie, email)

    def login_options(self, request: AuthorizationRequest) -> LoginOptions:
        """The enabled providers this client supports, as buttons; the email form when one
        of them has IdpIdentifiers (its answer redirects to their `authorize_url`, which the
        operations fill from discovery); the password form when the client supports COGNITO
        (or names no provider at all)."""
        client = request.client
        with self.core.store.transaction() as repo:
            offered = [
                p
                for n in self._offered(repo, client)
                if (p := self.providers.get(repo, client.pool_id, n)) is not None
            ]
        query = _without_provider(request.query)
        supported = client.supported_identity_providers or []
        return LoginOptions(
            choices=[
                Choice(
                    p.name, f"/oauth2/authorize?{urlencode({**query, 'identity_provider': p.name})}"
                )
                for p in offered
            ],
            email_form=any(p.identifiers for p in offered),
            password_form=not supported or OWN_IDENTITY_PROVIDER in supported,
            # OIDC providers leave for their authorize_url, SAML ones for their SSO URL.
            form_targets=[
                target
                for p in offered
                if p.identifiers
                and (target := p.details.get("authorize_url") or p.details.get(SAML_SSO_URL))
            ],
        )

    def _offered(self, repo: Repository, client: Client) -> list[str]:
        """Names of the providers `client` may use through a flow this service has."""
        names = [n for n in client.supported_identity_providers or [] if n != OWN_IDENTITY_PROVIDER]
        return [
            n
            for n in names
            if (p := self.providers.get(repo, client.pool_id, n)) is not None
            and p.enabled
            and p.type in self.flows
        ]

    def _named(
        self, repo: Repository, client: Client, name: str | None, identifier: str | None
    ) -> Provider:
        """The provider the request names: by name, or by one of its IdpIdentifiers."""
        if name is None or name == OWN_IDENTITY_PROVIDER:
            found = self.providers.by_identifier(repo, client.pool_id, identifier or "")
            if found is None:
                raise ProviderUnavailable("idp_identifier names no identity provider of the pool.")
            name = found.name
        provider = self.providers.for_client(repo, client, name)
        if provider.type not in self.flows:
            raise ProviderUnavailable(f"The identity provider {name} cannot sign in browsers.")
        return provider

    def _depart(
        self,
        request: AuthorizationRequest,
        provider: Provider,
        visit: Visit,
        relay_cookie: str | None,
        login_hint: str | None,
    ) -> Departure:
        """Start the trip (committed before the IdP is asked anything), then the IdP's URL."""
        with self.core.store.transaction() as repo:
            query = _without_provider(request.query)
            state, trip, cookie = self.relay.start(repo, provider, query, relay_cookie)
        try:
            location = self.flows[provider.type].authorize_url(
                provider, trip, state, login_hint, request.prompt
            )
        except TokenServiceError as error:
            self.failed(visit, request, provider.name, error)
            raise _refusal(request, error) from None
        return Departure(location, cookie)

    def resume(
        self, state: str, visit: Visit, relay_cookie: str | None, provider_type: str
    ) -> tuple[Trip, AuthorizationRequest, Provider]:
        """The trip `state` names (used up at once, whatever follows), its request and its
        provider. FederationRefused when the trip cannot be resumed (the error page);
        RedirectError when its provider may no longer be used (back to the app)."""
        with self.core.store.transaction() as repo:
            trip = self.relay.finish(repo, state, relay_cookie)
        request, _ = self.hosted.request(list(trip.authorize_query.items()))
        try:
            with self.core.store.transaction() as repo:
                provider = self.providers.for_client(repo, request.client, trip.provider_name)
            if provider.type != provider_type:
                raise ProviderUnavailable(
                    f"The identity provider {provider.name} is not {provider_type}."
                )
        except TokenServiceError as error:
            self.failed(visit, request, trip.provider_name, error)
            raise _refusal(request, error) from None
        return trip, request, provider

    def oidc_response(
        self, params: Mapping[str, str], visit: Visit, relay_cookie: str | None
    ) -> Redirect:
        """`/oauth2/idpresponse`: the IdP's error back to the app, or its code verified
        and the user signed in."""
        trip, request, provider = self.resume(params.get("state", ""), visit, relay_cookie, "OIDC")
        error = params.get("error")
        if error is not None:
            refused = IdpRefused(
                f"idp_error:{error}"[:64], "The identity provider refused the sign-in."
            )
            self.failed(visit, request, provider.name, refused)
            description = params.get("error_description") or refused.message
            code = error if error in AUTHORIZE_ERRORS else "invalid_request"
            raise RedirectError(
                request.redirect_uri, request.state, code, description[:MAX_DESCRIPTION]
            )
        code, issuer = params.get("code", ""), params.get("iss")
        return self.complete(
            request, provider, lambda: self.oidc.identity(provider, trip, code, issuer), visit
        )

    def complete(
        self,
        request: AuthorizationRequest,
        provider: Provider,
        verify: Callable[[], ExternalIdentity],
        visit: Visit,
    ) -> Redirect:
        """`verify` the IdP's answer (it raises saying why), then link or create and sign
        in, in one transaction; any refusal goes back to the app and is recorded."""
        try:
            identity = verify()
            return retrying(lambda: self._sign_in(request, provider, identity, visit))
        except TokenServiceError as error:
            self.failed(visit, request, provider.name, error)
            raise _refusal(request, error) from None

    def _sign_in(
        self,
        request: AuthorizationRequest,
        provider: Provider,
        identity: ExternalIdentity,
        visit: Visit,
    ) -> Redirect:
        """The identity's user signed in; a concurrent first sign-in of the same identity
        (another tab) makes this one lose its commit, and its retry then finds that user."""
        with self.core.store.transaction() as repo:
            now = self.core.clock()
            user = sign_in_external(repo, identity, now)
            auth_time = identity.claims.get("auth_time")
            if not isinstance(auth_time, int) or not 0 < auth_time <= now:
                auth_time = int(now)
            methods = sign_in_methods(identity.claims)
            return self.hosted.signed_in(
                repo, request, user.sub, methods, auth_time, visit, user.username, provider.name
            )

    def failed(
        self,
        visit: Visit,
        request: AuthorizationRequest,
        provider_name: str,
        error: TokenServiceError,
    ) -> None:
        """A sign-in event for a refused federated sign-in: the provider and the reason."""
        reason = getattr(error, "reason", None) or error.message
        self.hosted.events.record(
            visit,
            request.client.pool_id,
            events.SIGN_IN,
            events.FAIL,
            client_id=request.client.id,
            reason=f"{provider_name}: {reason}",
        )

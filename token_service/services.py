"""The services one process runs, built once from the settings and shared by HTTP and CLI."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from token_service.accounts.service import Accounts
from token_service.admin import Admin
from token_service.core import Core, build_core
from token_service.events import SignInEvents
from token_service.federation.browser import BrowserFederation
from token_service.federation.exchange import TokenExchange
from token_service.federation.jwks import PartnerKeys
from token_service.federation.oidc import OpenIdClient
from token_service.federation.oidc_sign_in import OidcSignIn
from token_service.federation.partner_token import PartnerTokens
from token_service.federation.providers import IdentityProviders
from token_service.federation.saml import SamlSignIn
from token_service.hosted.login import HostedLogin
from token_service.identity import Identities
from token_service.issue import Issuer
from token_service.settings import Settings


@dataclass
class Services:
    core: Core
    admin: Admin
    issuer: Issuer
    accounts: Accounts
    hosted: HostedLogin
    events: SignInEvents
    # Partner issuers' discovery and keys, one cache per process for every federation flow.
    partner_keys: PartnerKeys
    exchange: TokenExchange
    # Sign-in through partner IdPs at the hosted login.
    federation: BrowserFederation
    # SAML: the flow out to partner IdPs, the assertion consumer service, SP metadata.
    saml: SamlSignIn
    # Cognito Identity: identity pools, developer identities, their OpenID tokens.
    identity: Identities

    @property
    def settings(self) -> Settings:
        return self.core.settings

    def close(self) -> None:
        """At shutdown: the partner HTTP clients' connections, then the store's."""
        self.partner_keys.close()
        self.federation.oidc.client.close()
        self.core.store.dispose()


def build_services(settings: Settings, clock: Callable[[], float] = time.time) -> Services:
    core = build_core(settings, clock)
    admin, issuer = Admin(core), Issuer(core)
    partner_keys = PartnerKeys()
    providers = IdentityProviders(core)
    hosted = HostedLogin(core, issuer)
    oidc = OidcSignIn(core, providers, OpenIdClient(partner_keys))
    federation, saml = BrowserFederation(core, hosted, providers, oidc), SamlSignIn(core, providers)
    federation.flows["SAML"] = saml
    return Services(
        core=core,
        admin=admin,
        issuer=issuer,
        accounts=Accounts(core, issuer, admin),
        hosted=hosted,
        events=SignInEvents(core),
        partner_keys=partner_keys,
        exchange=TokenExchange(core, issuer, providers, PartnerTokens(partner_keys)),
        federation=federation,
        saml=saml,
        identity=Identities(core),
    )

"""`/logout` for sessions that began at a SAML IdP with `IDPSignout` `true`: its logout too.

A SAML sign-in through such a provider remembers the assertion's NameID and SessionIndex
under the new hosted session. When `/logout` ends that session, the browser goes to the
IdP's SingleLogoutService with our signed LogoutRequest instead of straight to the app's
`logout_uri`; the IdP's signed LogoutResponse at `/saml2/logout` then sends it on there.
Our session is over before the browser leaves, whatever the IdP answers.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, select

from token_service.admin.provider_metadata import METADATA_DOCUMENT
from token_service.core import Core
from token_service.federation import saml_logout, saml_sp
from token_service.federation.providers import IdentityProviders, Provider
from token_service.federation.saml_keys import SamlKeys
from token_service.federation.saml_sp import SamlRefused, VerifiedAssertion
from token_service.hosted.sessions import SESSION_SECONDS
from token_service.issue import token_hash
from token_service.store.models import SamlSession

# How long the IdP may take to answer a LogoutRequest.
LOGOUT_SECONDS = 600


def idp_metadata(provider: Provider) -> str:
    """The IdP metadata registered with the provider (kept by the identity-provider rules)."""
    document = provider.details.get(METADATA_DOCUMENT)
    if not document:
        raise SamlRefused("The identity provider has no SAML metadata.")
    return document


def idp_signout(provider: Provider) -> bool:
    return provider.details.get("IDPSignout", "false").lower() == "true"


class SamlSignOut:
    def __init__(self, core: Core, providers: IdentityProviders, keys: SamlKeys) -> None:
        self.core = core
        self.providers = providers
        self.keys = keys

    def remember(
        self, session_cookie: str, provider: Provider, assertion: VerifiedAssertion
    ) -> None:
        """Keep how the IdP knows the session `session_cookie` just started."""
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            repo.session.execute(delete(SamlSession).where(SamlSession.expires_at < now))
            repo.add(
                SamlSession(
                    cookie_hash=token_hash(session_cookie),
                    pool_id=provider.pool_id,
                    provider_name=provider.name,
                    name_id=assertion.name_id or "",
                    name_id_format=assertion.name_id_format,
                    session_index=assertion.session_index,
                    expires_at=now + SESSION_SECONDS,
                )
            )

    def after_logout(self, session_cookie: str | None, target: str) -> str:
        """Where the browser goes once `/logout` ended its session: the IdP's logout with
        our request when the session came from a provider with IDPSignout, else `target`."""
        if not session_cookie:
            return target
        with self.core.store.transaction() as repo:
            row = repo.session.get(SamlSession, token_hash(session_cookie))
            if row is None or row.logout_request_id is not None:
                return target
            provider = self.providers.get(repo, row.pool_id, row.provider_name)
            if provider is None or not idp_signout(provider) or not row.name_id:
                repo.delete(row)
                return target
            key = self.keys.for_pool(repo, row.pool_id)
            row.logout_request_id = f"_{secrets.token_urlsafe(32)}"
            row.logout_target = target
            row.expires_at = self.core.clock() + LOGOUT_SECONDS
            try:
                return saml_logout.logout_request(
                    row.pool_id,
                    saml_sp.acs_url(self.core.settings.service_url),
                    idp_metadata(provider),
                    key.private_pem,
                    row.name_id,
                    row.name_id_format,
                    row.session_index,
                    row.logout_request_id,
                )
            except SamlRefused:
                repo.delete(row)
                return target

    def logged_out(self, raw_query: str) -> str:
        """The IdP's LogoutResponse at `/saml2/logout`: the app's `logout_uri` once it is
        verified as the answer to one of our requests (SamlRefused otherwise)."""
        request_id = saml_logout.logout_response_id(raw_query)
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            row = (
                repo.session.scalars(
                    select(SamlSession).where(SamlSession.logout_request_id == request_id)
                ).first()
                if request_id
                else None
            )
            if row is None or row.expires_at <= now or row.logout_target is None:
                raise SamlRefused("This logout response answers no logout request of ours.")
            provider = self.providers.get(repo, row.pool_id, row.provider_name)
            if provider is None:
                raise SamlRefused("The identity provider of this logout no longer exists.")
            settings = self.core.settings
            saml_logout.verify_logout_response(
                row.pool_id,
                saml_sp.acs_url(settings.service_url),
                saml_sp.slo_url(settings.service_url),
                idp_metadata(provider),
                raw_query,
                row.logout_request_id or "",
            )
            target = row.logout_target
            repo.delete(row)
        return target

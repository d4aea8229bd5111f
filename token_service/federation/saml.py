"""Browser sign-in through a partner SAML IdP: out with a signed AuthnRequest, back at the ACS.

The way out is one of the browser federation's flows (ProviderType `SAML`): the trip's
nonce, prefixed with `_` to be an XML ID, is the AuthnRequest ID, and the trip's state is the
RelayState. The way back (`/saml2/idpresponse`) resumes the trip (single-use, bound to the
browser's cookie; an IdP-initiated Response brings the app's request in its RelayState
instead, see saml_idp_initiated), verifies the Response against the IdP metadata registered with the
provider, refuses an assertion ID seen before (kept until its NotOnOrAfter), and hands the
identity to linking: its subject is the NameID (not a transient one, which would make a new
user at every sign-in), or the attribute AttributeMapping maps `username` to; its email
counts as verified only when the attribute mapped to `email_verified` says "true", so a SAML
email never links an account otherwise. The app's `login_hint` is not passed on (SAML has no
such parameter); `prompt=login` becomes ForceAuthn, `prompt=none` IsPassive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from token_service.core import Core
from token_service.errors import ResourceNotFound
from token_service.federation import saml_post, saml_sp
from token_service.federation.linking import ExternalIdentity
from token_service.federation.providers import IdentityProviders, Provider
from token_service.federation.relay import Trip
from token_service.federation.saml_idp_initiated import idp_initiated_request, is_idp_initiated
from token_service.federation.saml_keys import SamlKeys
from token_service.federation.saml_sign_out import SamlSignOut, idp_metadata, idp_signout
from token_service.federation.saml_sp import SamlRefused, VerifiedAssertion
from token_service.hosted.outcomes import Redirect
from token_service.hosted.visit import Visit

if TYPE_CHECKING:
    from token_service.federation.browser import BrowserFederation

# Assertion IDs are remembered under this prefix in the single-use values table.
_REPLAY_PREFIX = "saml-assertion:"


def request_id(trip: Trip) -> str:
    """The AuthnRequest ID of a trip: an xsd:ID (it may not start with a digit or `-`)."""
    return f"_{trip.nonce}"


# RFC 8176 methods of the SAML authentication context classes that say one.
AUTHN_CONTEXT_METHODS = {
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Password": "pwd",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport": "pwd",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard": "sc",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI": "sc",
    # Entra ID's and AD FS's class for a sign-in with more than one factor.
    "http://schemas.microsoft.com/claims/multipleauthn": "mfa",
}


def _claims(assertion: VerifiedAssertion) -> dict[str, Any]:
    """Attributes as linking takes them (one value as itself, several as a list), with our
    `amr` and `auth_time` from the AuthnStatement in place of any attributes of those names."""
    claims: dict[str, Any] = {
        name: values[0] if len(values) == 1 else list(values)
        for name, values in assertion.attributes.items()
        if values
    }
    method = AUTHN_CONTEXT_METHODS.get(assertion.authn_context or "")
    claims["amr"] = [method] if method else []
    claims.pop("auth_time", None)
    if assertion.authn_instant is not None:
        claims["auth_time"] = int(assertion.authn_instant)
    return claims


class SamlSignIn:
    def __init__(self, core: Core, providers: IdentityProviders) -> None:
        self.core = core
        self.keys = SamlKeys(core)
        self.sign_out = SamlSignOut(core, providers, self.keys)

    @property
    def acs(self) -> str:
        return saml_sp.acs_url(self.core.settings.service_url)

    @property
    def slo(self) -> str:
        return saml_sp.slo_url(self.core.settings.service_url)

    def authorize_url(
        self, provider: Provider, trip: Trip, state: str, login_hint: str | None, prompt: str | None
    ) -> str:
        """The IdP's SSO URL with our signed AuthnRequest and the trip's state as RelayState;
        for an IdP that takes HTTP-POST only, our `/saml2/post` page that posts them there."""
        from saml2 import BINDING_HTTP_REDIRECT

        if provider.details.get("EncryptedResponses", "false").lower() == "true":
            raise SamlRefused("Encrypted SAML assertions (EncryptedResponses) are not supported.")
        key = self.keys.pair(provider.pool_id)
        metadata = idp_metadata(provider)
        binding, destination = saml_sp.single_sign_on(provider.pool_id, self.acs, metadata)
        if binding == BINDING_HTTP_REDIRECT:
            return saml_sp.authn_request(
                provider.pool_id,
                self.acs,
                metadata,
                destination,
                key.private_pem,
                state,
                request_id(trip),
                prompt,
            )
        form = saml_post.signed_request(
            provider.pool_id,
            self.acs,
            metadata,
            destination,
            key,
            state,
            request_id(trip),
            prompt,
        )
        token = form.seal(self.core.sealer, trip.expires_at)
        return f"{saml_sp.post_url(self.core.settings.service_url)}?{urlencode({'request': token})}"

    def post_form(self, token: str) -> saml_post.PostForm:
        """What `/saml2/post` posts to an HTTP-POST-only IdP (sealed by `authorize_url`)."""
        return saml_post.PostForm.open(self.core.sealer, token, self.core.clock())

    def identity(
        self, provider: Provider, expected: str | None, saml_response: str
    ) -> tuple[ExternalIdentity, VerifiedAssertion]:
        """The verified identity of the IdP's Response to our AuthnRequest `expected` (None:
        an IdP-initiated Response)."""
        from saml2.saml import NAMEID_FORMAT_TRANSIENT

        assertion = saml_sp.verify_response(
            provider.pool_id, self.acs, idp_metadata(provider), saml_response, expected
        )
        with self.core.store.transaction() as repo:
            fresh = repo.use_nonce(
                f"{_REPLAY_PREFIX}{assertion.assertion_id}"[:128],
                assertion.expires_at + saml_sp.CLOCK_SKEW_SECONDS,
                self.core.clock(),
            )
        if not fresh:
            raise SamlRefused("The SAML assertion was used before.")
        claims = _claims(assertion)
        mapped = provider.attribute_mapping.get("username")
        if not mapped and assertion.name_id_format == NAMEID_FORMAT_TRANSIENT:
            raise SamlRefused(
                "A transient NameID names no one twice: map username to an attribute, "
                "or have the identity provider send a persistent NameID."
            )
        subject = claims.get(mapped) if mapped else assertion.name_id
        if not isinstance(subject, str) or not subject:
            raise SamlRefused("The SAML assertion does not say who the user is.")
        verified = claims.get(provider.attribute_mapping.get("email_verified", ""))
        identity = ExternalIdentity(
            provider=provider,
            subject=subject,
            claims=claims,
            email_verified=isinstance(verified, str) and verified.lower() == "true",
        )
        return identity, assertion

    def respond(
        self,
        federation: BrowserFederation,
        saml_response: str,
        relay_state: str,
        visit: Visit,
        relay_cookie: str | None,
    ) -> Redirect:
        """`/saml2/idpresponse`: resume the trip (or take the app's request an IdP-initiated
        RelayState carries), verify, link or create, our code to the app."""
        expected: str | None = None
        if is_idp_initiated(relay_state):
            request, provider = idp_initiated_request(federation, relay_state, visit)
        else:
            trip, request, provider = federation.resume(relay_state, visit, relay_cookie, "SAML")
            expected = request_id(trip)
        verified: list[VerifiedAssertion] = []

        def verify() -> ExternalIdentity:
            identity, assertion = self.identity(provider, expected, saml_response)
            verified.append(assertion)
            return identity

        redirect = federation.complete(request, provider, verify, visit)
        if redirect.session_cookie is not None and idp_signout(provider):
            self.sign_out.remember(redirect.session_cookie, provider, verified[0])
        return redirect

    def metadata(self, pool_id: str) -> str:
        """The pool's SP metadata (made with its key pair on first use)."""
        with self.core.store.transaction() as repo:
            if repo.pool(pool_id) is None:
                raise ResourceNotFound(f"User pool {pool_id} does not exist.")
        key = self.keys.pair(pool_id)
        return saml_sp.sp_metadata(pool_id, self.acs, self.slo, key.certificate_pem)

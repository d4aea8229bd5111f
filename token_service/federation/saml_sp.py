"""Our SAML 2.0 service provider, built on pysaml2: signed AuthnRequests, verified Responses.

One SP per pool, as in Cognito: entity id `urn:amazon:cognito:sp:<pool_id>`, one assertion
consumer service (`/saml2/idpresponse`, HTTP-POST binding) for every pool. Nothing here
touches the store; the caller brings the IdP's metadata, the pool's key and the request id.

A Response is accepted only when pysaml2 verified it (with the settings below: the Response
or its Assertion signed by a certificate of the IdP's metadata, InResponseTo naming the
AuthnRequest of this browser's trip, the Status Success, the time conditions within
`CLOCK_SKEW_SECONDS`) and `_check` found what pysaml2 leaves optional: SHA-2 signatures, the
IdP as Issuer, our ACS as Destination and as every bearer confirmation's Recipient, the
pool's SP entity id as Audience, exactly one assertion. Encrypted assertions are not
supported (no SP encryption key is published).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import logging
import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import load_pem_x509_certificate

from token_service.federation.linking import FederationRefused

# pysaml2 takes over a second to import: each function that uses it imports it, so commands
# and processes that never meet a SAML message do not pay for it.
if TYPE_CHECKING:
    from saml2 import saml, samlp
    from saml2.config import SPConfig
    from saml2.sigver import RSASigner

SP_ENTITY_PREFIX = "urn:amazon:cognito:sp:"
ACS_PATH = "/saml2/idpresponse"
SLO_PATH = "/saml2/logout"
# Our page that posts an AuthnRequest to an IdP that takes the HTTP-POST binding only.
POST_PATH = "/saml2/post"
# Clock difference tolerated between the IdP and us, for NotBefore and NotOnOrAfter.
CLOCK_SKEW_SECONDS = 60
# How old an IdP-initiated assertion may be (Cognito's six minutes).
UNSOLICITED_SECONDS = 360
# XML Signature algorithm identifiers (RFC 6931), as pysaml2's xmldsig module names them.
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
SIGNATURE_ALGORITHM = RSA_SHA256
# What an IdP's XML signature may use (signature and digest): SHA-1 is refused.
ACCEPTED_SIGNATURES = frozenset({RSA_SHA256, RSA_SHA384, RSA_SHA512})
ACCEPTED_DIGESTS = frozenset({SHA256, SHA384, SHA512})
# The largest SAMLResponse read (base64), Cognito's limit; real ones are a few kilobytes.
MAX_RESPONSE_CHARS = 100_000
XMLSEC_BINARY = shutil.which("xmlsec1") or "/usr/bin/xmlsec1"
ONE_ASSERTION = "The SAML response must hold exactly one unencrypted assertion."
# pysaml2 logs NameIDs, attribute values and message fragments; our own sign-in events
# record what happened, with a reason and without them.
logging.getLogger("saml2").setLevel(logging.CRITICAL)


class SamlRefused(FederationRefused):
    """A message or metadata we cannot accept; `reason` is safe to show and to record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotSignedIn(SamlRefused):
    """The IdP answered an IsPassive request (our prompt=none) with NoPassive: the user has
    no session there; the app hears OpenID's `login_required`, as from an OpenID provider."""

    oauth_error = "login_required"


@dataclass(frozen=True)
class VerifiedAssertion:
    """What a verified Response says about the user."""

    assertion_id: str
    name_id: str | None
    name_id_format: str | None
    # The AuthnStatement's SessionIndex: what a LogoutRequest names the IdP's session by.
    session_index: str | None
    # The AuthnStatement's AuthnContextClassRef and AuthnInstant (UNIX seconds).
    authn_context: str | None
    authn_instant: float | None
    # Attribute name (as the IdP sends it) -> its values.
    attributes: dict[str, list[str]]
    # The assertion's NotOnOrAfter (UNIX seconds): how long its ID must be remembered.
    expires_at: float


def sp_entity_id(pool_id: str) -> str:
    return f"{SP_ENTITY_PREFIX}{pool_id}"


def acs_url(service_url: str) -> str:
    return f"{service_url.rstrip('/')}{ACS_PATH}"


def slo_url(service_url: str) -> str:
    return f"{service_url.rstrip('/')}{SLO_PATH}"


def post_url(service_url: str) -> str:
    return f"{service_url.rstrip('/')}{POST_PATH}"


def sp_config(
    pool_id: str,
    acs: str,
    idp_metadata: str | None,
    slo: str | None = None,
    unsolicited: bool = False,
) -> SPConfig:
    """pysaml2's SP configuration for the pool, trusting the one IdP of `idp_metadata`."""
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.config import SPConfig

    endpoints: dict[str, list[tuple[str, str]]] = {
        "assertion_consumer_service": [(acs, BINDING_HTTP_POST)]
    }
    if slo is not None:
        endpoints["single_logout_service"] = [(slo, BINDING_HTTP_REDIRECT)]
    settings: dict[str, Any] = {
        "entityid": sp_entity_id(pool_id),
        "xmlsec_binary": XMLSEC_BINARY,
        "accepted_time_diff": CLOCK_SKEW_SECONDS,
        "service": {
            "sp": {
                "endpoints": endpoints,
                "authn_requests_signed": True,
                "want_response_signed": False,
                "want_assertions_signed": False,
                "want_assertions_or_response_signed": True,
                "allow_unsolicited": unsolicited,
            }
        },
    }
    if idp_metadata is not None:
        settings["metadata"] = {"inline": [idp_metadata]}
    config = SPConfig()
    try:
        config.load(settings)
    except Exception:  # pysaml2 raises many kinds on metadata it cannot read
        raise SamlRefused("The identity provider's SAML metadata cannot be read.") from None
    return config


def idp_entity_id(config: SPConfig) -> str:
    """The one IdP of this configuration's metadata."""
    entities = list(config.metadata.identity_providers())
    if len(entities) != 1:
        raise SamlRefused("The SAML metadata must describe exactly one identity provider.")
    return entities[0]


class PoolSigner:
    """pysaml2's signing backend for the HTTP-Redirect binding, with this pool's key only
    (pysaml2's own shares one signer object between all callers)."""

    def __init__(self, private_pem: str) -> None:
        self._key = serialization.load_pem_private_key(private_pem.encode(), password=None)

    def get_signer(self, sigalg: str) -> RSASigner | None:
        from saml2.sigver import RSASigner

        return RSASigner(hashes.SHA256(), self._key) if sigalg == SIGNATURE_ALGORITHM else None


def single_sign_on(pool_id: str, acs: str, idp_metadata: str) -> tuple[str, str]:
    """The binding and address of the IdP's SingleSignOnService: HTTP-Redirect when it has
    one, else HTTP-POST."""
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
    from saml2.s_utils import UnsupportedBinding

    config = sp_config(pool_id, acs, idp_metadata)
    idp = idp_entity_id(config)
    for binding in (BINDING_HTTP_REDIRECT, BINDING_HTTP_POST):
        try:
            services = config.metadata.single_sign_on_service(idp, binding)
        except UnsupportedBinding:
            continue
        if services and services[0].get("location"):
            return binding, services[0]["location"]
    raise SamlRefused(
        "The identity provider's metadata has no SingleSignOnService with the HTTP-Redirect "
        "or HTTP-POST binding."
    )


def prompt_attributes(prompt: str | None) -> dict[str, str]:
    """The AuthnRequest attributes of the app's prompt: `login` is ForceAuthn (authenticate
    again), `none` is IsPassive (no interaction: sign in only if already signed in)."""
    if prompt == "login":
        return {"force_authn": "true"}
    if prompt == "none":
        return {"is_passive": "true"}
    return {}


def authn_request(
    pool_id: str,
    acs: str,
    idp_metadata: str,
    destination: str,
    private_pem: str,
    relay_state: str,
    request_id: str,
    prompt: str | None = None,
) -> str:
    """`destination` (the IdP's HTTP-Redirect SSO) carrying our signed AuthnRequest."""
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.pack import http_redirect_message

    client = Saml2Client(sp_config(pool_id, acs, idp_metadata))
    _, request = client.create_authn_request(
        destination,
        binding=BINDING_HTTP_POST,
        message_id=request_id,
        sign=False,
        **prompt_attributes(prompt),
    )
    headers = http_redirect_message(
        request,
        destination,
        relay_state,
        sigalg=SIGNATURE_ALGORITHM,
        sign=True,
        backend=PoolSigner(private_pem),
    )["headers"]
    return dict(headers)["Location"]


def _refusal(error: Exception) -> SamlRefused:
    """Our reason for one of pysaml2's refusals (its own texts may quote the message)."""
    from saml2.response import (
        InvalidAssertion,
        StatusError,
        StatusNoPassive,
        UnsolicitedResponse,
        VerificationError,
    )
    from saml2.sigver import SigverError
    from saml2.validate import ResponseLifetimeExceed, ToEarly

    if isinstance(error, UnsolicitedResponse):
        return SamlRefused("The SAML response answers no request of this sign-in.")
    if isinstance(error, InvalidAssertion):
        return SamlRefused(ONE_ASSERTION)
    if isinstance(error, StatusNoPassive):
        return NotSignedIn("The user is not signed in at the identity provider.")
    if isinstance(error, StatusError):
        return SamlRefused("The identity provider did not sign the user in.")
    if isinstance(error, SigverError):
        return SamlRefused("The SAML response is not signed by the identity provider.")
    if "AudienceRestriction" in str(error):
        return SamlRefused("The SAML assertion is for another audience.")
    if isinstance(error, VerificationError | ToEarly | ResponseLifetimeExceed):
        return SamlRefused("The SAML assertion is expired, not yet valid or not for us.")
    return SamlRefused("The SAML response is not valid for this service provider.")


def _check(
    response: samlp.Response,
    assertion: saml.Assertion,
    acs: str,
    pool_id: str,
    idp: str,
    request_id: str | None,
) -> None:
    """What pysaml2 leaves optional, required: SHA-2 signatures, the IdP as Issuer, the
    Destination, an audience that is us, bearer confirmations only, each for our ACS and
    this request."""
    from saml2 import saml

    for signature in (response.signature, assertion.signature):
        if signature is None:
            continue
        info = signature.signed_info
        digests = {reference.digest_method.algorithm for reference in info.reference}
        if info.signature_method.algorithm not in ACCEPTED_SIGNATURES or not (
            digests and digests <= ACCEPTED_DIGESTS
        ):
            raise SamlRefused("The SAML response is signed with SHA-1 or an unknown algorithm.")
    issuers = [
        m.issuer.text.strip() if m.issuer is not None and m.issuer.text else None
        for m in (response, assertion)
    ]
    if issuers[1] != idp or issuers[0] not in (None, idp):
        raise SamlRefused("The SAML response's Issuer is not the identity provider.")
    if response.destination != acs:
        raise SamlRefused("The SAML response's Destination is not our ACS.")
    if response.in_response_to != request_id:
        raise SamlRefused(
            "The SAML response answers no request of this sign-in."
            if request_id is not None
            else "An IdP-initiated SAML response must not answer a request (InResponseTo)."
        )
    if request_id is None and not issued_recently(assertion.issue_instant):
        raise SamlRefused("An IdP-initiated SAML assertion must be at most 6 minutes old.")
    conditions = assertion.conditions
    audiences = [
        audience.text.strip()
        for restriction in (conditions.audience_restriction if conditions else [])
        for audience in restriction.audience
        if audience.text
    ]
    if sp_entity_id(pool_id) not in audiences:
        raise SamlRefused("The SAML assertion is for another audience.")
    confirmations = assertion.subject.subject_confirmation if assertion.subject else []
    if not confirmations:
        raise SamlRefused("The SAML assertion has no subject confirmation.")
    for confirmation in confirmations:
        data = confirmation.subject_confirmation_data
        if (
            confirmation.method != saml.SCM_BEARER
            or data is None
            or data.recipient != acs
            or data.in_response_to != request_id
        ):
            raise SamlRefused(
                "The SAML assertion's Recipient is not our ACS, or not for this request."
            )


def issued_recently(issue_instant: str | None) -> bool:
    """Issued within `UNSOLICITED_SECONDS` (and not in the future beyond the clock skew)."""
    from saml2.time_util import str_to_time

    if not issue_instant:
        return False
    age = time.time() - calendar.timegm(str_to_time(issue_instant))
    return -CLOCK_SKEW_SECONDS <= age <= UNSOLICITED_SECONDS


def _decode(saml_response: str) -> str:
    if not saml_response or len(saml_response) > MAX_RESPONSE_CHARS:
        raise SamlRefused("SAMLResponse is missing or too long.")
    try:
        return base64.b64decode(saml_response, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise SamlRefused("SAMLResponse is not base64-encoded UTF-8 XML.") from None


def verify_response(
    pool_id: str, acs: str, idp_metadata: str, saml_response: str, request_id: str | None
) -> VerifiedAssertion:
    """The assertion of a Response to our AuthnRequest `request_id` (None: an IdP-initiated,
    unsolicited Response, which must answer no request and be fresh), once verified."""
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.time_util import str_to_time

    xml = _decode(saml_response)
    config = sp_config(pool_id, acs, idp_metadata, unsolicited=request_id is None)
    client = Saml2Client(config)
    encoded = base64.b64encode(xml.encode()).decode()
    outstanding = {request_id: "/"} if request_id is not None else {}
    try:
        response = client.parse_authn_request_response(
            encoded, BINDING_HTTP_POST, outstanding=outstanding
        )
    except Exception as error:  # pysaml2 refuses with many kinds of exception
        raise _refusal(error) from None
    if response is None or response.assertion is None:
        raise SamlRefused("The SAML response is not addressed to this service provider.")
    if len(response.response.assertion) != 1 or response.response.encrypted_assertion:
        raise SamlRefused(ONE_ASSERTION)
    assertion = response.assertion
    _check(response.response, assertion, acs, pool_id, idp_entity_id(config), request_id)
    if assertion.conditions is None or assertion.conditions.not_on_or_after is None:
        raise SamlRefused("The SAML assertion has no NotOnOrAfter.")
    subject = assertion.subject
    name_id = subject.name_id.text.strip() if subject and subject.name_id is not None else None
    attributes: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            values = [v.text.strip() for v in attribute.attribute_value if v.text]
            attributes.setdefault(attribute.name, []).extend(values)
    expires = calendar.timegm(str_to_time(assertion.conditions.not_on_or_after))
    name_format = subject.name_id.format if subject and subject.name_id is not None else None
    statement = assertion.authn_statement[0] if assertion.authn_statement else None
    context = statement.authn_context if statement is not None else None
    class_ref = context.authn_context_class_ref if context is not None else None
    instant = statement.authn_instant if statement is not None else None
    return VerifiedAssertion(
        assertion_id=assertion.id,
        name_id=name_id or None,
        name_id_format=name_format,
        session_index=statement.session_index if statement is not None else None,
        authn_context=class_ref.text.strip() if class_ref is not None and class_ref.text else None,
        authn_instant=float(calendar.timegm(str_to_time(instant))) if instant else None,
        attributes=attributes,
        expires_at=float(expires),
    )


def sp_metadata(pool_id: str, acs: str, slo: str, certificate_pem: str) -> str:
    """The pool's SP metadata: entity id, ACS (HTTP-POST), single logout service
    (HTTP-Redirect), signing certificate."""
    from saml2 import md, xmldsig
    from saml2.metadata import do_spsso_descriptor, metadata_tostring_fix

    config = sp_config(pool_id, acs, None, slo)
    der = load_pem_x509_certificate(certificate_pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    descriptor = md.EntityDescriptor(entity_id=sp_entity_id(pool_id))
    descriptor.spsso_descriptor = do_spsso_descriptor(config, [base64.b64encode(der).decode()])
    text = metadata_tostring_fix(descriptor, {"md": md.NAMESPACE, "ds": xmldsig.NAMESPACE})
    return text.decode() if isinstance(text, bytes) else text

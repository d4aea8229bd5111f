"""SAML single logout, SP side (HTTP-Redirect binding): our LogoutRequest and the IdP's answer.

The LogoutRequest names the IdP's session by the NameID and SessionIndex of the assertion
that started ours, and is signed like an AuthnRequest. The IdP's LogoutResponse comes back to
`/saml2/logout`; its binding signature is checked here, over the query exactly as received,
against the signing certificates of the IdP's metadata (SHA-2 only), then its InResponseTo,
Issuer and Status.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.x509 import load_der_x509_certificate

from token_service.federation.saml_sp import (
    RSA_SHA256,
    RSA_SHA384,
    RSA_SHA512,
    SIGNATURE_ALGORITHM,
    PoolSigner,
    SamlRefused,
    idp_entity_id,
    sp_config,
)

SIGNATURE_HASHES = {
    RSA_SHA256: hashes.SHA256,
    RSA_SHA384: hashes.SHA384,
    RSA_SHA512: hashes.SHA512,
}
# The parameters the HTTP-Redirect binding signs, in the order it signs them.
_SIGNED = ("SAMLResponse", "RelayState", "SigAlg")


def logout_request(
    pool_id: str,
    acs: str,
    idp_metadata: str,
    private_pem: str,
    name_id: str,
    name_id_format: str | None,
    session_index: str | None,
    request_id: str,
) -> str:
    """The IdP's SingleLogoutService URL carrying our signed LogoutRequest."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.client import Saml2Client
    from saml2.pack import http_redirect_message
    from saml2.s_utils import UnsupportedBinding
    from saml2.saml import NameID

    config = sp_config(pool_id, acs, idp_metadata)
    client = Saml2Client(config)
    idp = idp_entity_id(config)
    try:
        services = client.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
    except UnsupportedBinding:
        services = []
    if not services:
        raise SamlRefused("The identity provider's metadata has no HTTP-Redirect logout service.")
    destination = services[0]["location"]
    _, request = client.create_logout_request(
        destination,
        idp,
        name_id=NameID(format=name_id_format, text=name_id),
        session_indexes=[session_index] if session_index else None,
        message_id=request_id,
        sign=False,
    )
    headers = http_redirect_message(
        request,
        destination,
        "",
        sigalg=SIGNATURE_ALGORITHM,
        sign=True,
        backend=PoolSigner(private_pem),
    )["headers"]
    return dict(headers)["Location"]


def _raw_parameters(raw_query: str) -> dict[str, str]:
    """Each parameter's encoded text as it arrived (what the IdP signed); once each."""
    found: dict[str, str] = {}
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        if name in found:
            raise SamlRefused(f"The logout response gives {unquote_plus(name)} more than once.")
        found[unquote_plus(name)] = value
    return found


def _signature_ok(raw: dict[str, str], certificates: list[str]) -> bool:
    algorithm = SIGNATURE_HASHES.get(unquote_plus(raw.get("SigAlg", "")))
    if algorithm is None or "Signature" not in raw:
        return False
    signed = "&".join(f"{name}={raw[name]}" for name in _SIGNED if name in raw).encode()
    try:
        signature = base64.b64decode(unquote_plus(raw["Signature"]), validate=True)
    except (binascii.Error, ValueError):
        return False
    for certificate in certificates:
        key = load_der_x509_certificate(base64.b64decode(certificate)).public_key()
        if not isinstance(key, RSAPublicKey):
            continue
        try:
            key.verify(signature, signed, padding.PKCS1v15(), algorithm())
        except InvalidSignature:
            continue
        return True
    return False


def logout_response_id(raw_query: str) -> str | None:
    """The InResponseTo of a LogoutResponse, unverified: which of our requests it claims."""
    from saml2.s_utils import decode_base64_and_inflate
    from saml2.samlp import logout_response_from_string

    try:
        encoded = unquote_plus(_raw_parameters(raw_query).get("SAMLResponse", ""))
        response = logout_response_from_string(decode_base64_and_inflate(encoded))
    except Exception:  # not base64, not deflated, not XML, not a LogoutResponse
        return None
    return response.in_response_to if response is not None else None


def verify_logout_response(
    pool_id: str, acs: str, slo: str, idp_metadata: str, raw_query: str, request_id: str
) -> None:
    """Raise SamlRefused unless the IdP signed a successful answer to `request_id`."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.client import Saml2Client
    from saml2.samlp import STATUS_SUCCESS

    raw = _raw_parameters(raw_query)
    config = sp_config(pool_id, acs, idp_metadata, slo)
    idp = idp_entity_id(config)
    certificates = [cert for _, cert in config.metadata.certs(idp, "idpsso", "signing")]
    if not _signature_ok(raw, certificates):
        raise SamlRefused("The logout response is not signed by the identity provider.")
    try:
        response = Saml2Client(config).parse_logout_request_response(
            unquote_plus(raw.get("SAMLResponse", "")), BINDING_HTTP_REDIRECT
        )
    except Exception:  # pysaml2 refuses with many kinds of exception
        raise SamlRefused("The logout response is not valid.") from None
    message = response.response if response is not None else None
    if (
        message is None
        or message.in_response_to != request_id
        or message.issuer is None
        or message.issuer.text != idp
        or message.status.status_code.value != STATUS_SUCCESS
    ):
        raise SamlRefused("The logout response does not confirm our logout request.")

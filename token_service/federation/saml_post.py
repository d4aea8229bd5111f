"""AuthnRequests for IdPs whose single sign-on service takes the HTTP-POST binding only.

The request is an XML document with an enveloped RSA-SHA256 signature (xmlsec1, through
pysaml2), which the browser posts to the IdP from a page of ours. xmlsec1 reads the key from
a file: it is written, readable by this process only, into a private temporary directory
that is removed as soon as the signature is made.

What the page posts travels to it sealed in its URL (`PostForm.seal` / `PostForm.open`):
the IdP's address, the signed request (deflated) and the RelayState, for the trip's lifetime.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
import zlib
from dataclasses import dataclass

from token_service.federation.saml_keys import KeyPair
from token_service.federation.saml_sp import (
    SHA256,
    SIGNATURE_ALGORITHM,
    SamlRefused,
    prompt_attributes,
    sp_config,
)
from token_service.sealing import Sealer

_PURPOSE = "saml-post-request"


@dataclass(frozen=True)
class PostForm:
    """The IdP's SSO address and the fields the browser posts to it."""

    action: str
    saml_request: str
    relay_state: str

    def seal(self, sealer: Sealer, expires_at: float) -> str:
        payload = {
            "a": self.action,
            "r": self.saml_request,
            "s": self.relay_state,
            "exp": expires_at,
        }
        packed = zlib.compress(json.dumps(payload).encode())
        return base64.urlsafe_b64encode(sealer.seal(packed, _PURPOSE)).decode().rstrip("=")

    @classmethod
    def open(cls, sealer: Sealer, token: str, now: float) -> PostForm:
        """The form a `seal` made, while it lasts; SamlRefused for anything else."""
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            opened = sealer.open(sealed, _PURPOSE)
            payload = json.loads(zlib.decompress(opened)) if opened else None
        except (binascii.Error, ValueError, zlib.error):
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
            raise SamlRefused("This sign-in link is not one of ours.")
        if payload["exp"] <= now:
            raise SamlRefused("This sign-in took too long. Start again from the application.")
        return cls(str(payload["a"]), str(payload["r"]), str(payload["s"]))


def signed_request(
    pool_id: str,
    acs: str,
    idp_metadata: str,
    destination: str,
    key: KeyPair,
    relay_state: str,
    request_id: str,
    prompt: str | None,
) -> PostForm:
    """Our AuthnRequest for `destination`, XML-signed, as the HTTP-POST binding carries it."""
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.sigver import security_context

    config = sp_config(pool_id, acs, idp_metadata)
    with tempfile.TemporaryDirectory(prefix="saml-sign-") as directory:
        key_file = os.path.join(directory, "key.pem")
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key.private_pem)
        cert_file = os.path.join(directory, "cert.pem")
        with open(cert_file, "w") as handle:
            handle.write(key.certificate_pem)
        config.key_file, config.cert_file = key_file, cert_file
        client = Saml2Client(config)
        client.sec = security_context(config)
        _, request = client.create_authn_request(
            destination,
            binding=BINDING_HTTP_POST,
            message_id=request_id,
            sign=True,
            sign_alg=SIGNATURE_ALGORITHM,
            digest_alg=SHA256,
            **prompt_attributes(prompt),
        )
    encoded = base64.b64encode(str(request).encode()).decode()
    return PostForm(destination, encoded, relay_state)

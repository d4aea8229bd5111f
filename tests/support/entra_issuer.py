"""An Entra ID-shaped token issuer for token-exchange tests, on a real HTTP port.

It serves what Microsoft's v2.0 endpoints serve for a tenant: the OpenID discovery document at
`/{tid}/v2.0/.well-known/openid-configuration` (and at `/common/v2.0/...`, whose issuer is the
`{tenantid}` template), and the keys at `/common/discovery/v2.0/keys`. It mints v2.0 access and
ID tokens with Entra's claims (`oid`, `tid`, `preferred_username`, `ver` "2.0", no `email`
unless asked), and crafts the bad ones a relying party must refuse: another tenant, another
audience, an unknown `kid`, `alg: none`, HS256 keyed with the public key, expired, not yet valid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.support.http_server import LocalServer, QuietHandler

TEMPLATE = "{tenantid}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class EntraIssuer:
    """One Entra-like authority with an RSA and an EC signing key."""

    def __init__(self) -> None:
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = uuid.uuid4().hex
        self.ec_kid = uuid.uuid4().hex
        self.key_requests = 0
        self._server = LocalServer(self._handler())
        self.base_url = self._server.url
        self.jwks_uri = f"{self.base_url}/common/discovery/v2.0/keys"

    def issuer(self, tid: str) -> str:
        """The v2.0 issuer of a tenant (`{tenantid}`: the multi-tenant template)."""
        return f"{self.base_url}/{tid}/v2.0"

    @property
    def template_issuer(self) -> str:
        return self.issuer(TEMPLATE)

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        rsa_jwk.update({"kid": self.kid, "use": "sig"})
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
        ec_jwk.update({"kid": self.ec_kid, "use": "sig"})
        return {"keys": [rsa_jwk, ec_jwk]}

    def discovery(self, tenant: str) -> dict[str, Any]:
        multi = tenant in ("common", "organizations", "consumers")
        issuer = self.template_issuer if multi else self.issuer(tenant)
        base = f"{self.base_url}/{tenant}/oauth2/v2.0"
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        authority = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                if parts == ["common", "discovery", "v2.0", "keys"]:
                    authority.key_requests += 1
                    self.send_json(authority.jwks())
                elif len(parts) == 4 and parts[1:] == [
                    "v2.0",
                    ".well-known",
                    "openid-configuration",
                ]:
                    self.send_json(authority.discovery(parts[0]))
                else:
                    self.send_error(404)

        return Handler

    def claims(self, tid: str, aud: str, oid: str, /, **extra: Any) -> dict[str, Any]:
        """Entra v2.0 claims of a user token; `extra` adds or overrides (None removes, so
        `oid=None` makes a token without an oid)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": aud,
            "iss": self.issuer(tid),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": "Partner User",
            "oid": oid,
            "preferred_username": f"user-{oid[:8]}@partner.example",
            "sub": _b64(hashlib.sha256(f"{oid}:{aud}".encode()).digest()[:24]),
            "tid": tid,
            "uti": uuid.uuid4().hex[:22],
            "ver": "2.0",
        }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def token(
        self,
        tid: str,
        aud: str,
        oid: str,
        /,
        *,
        alg: str = "RS256",
        kid: str | None = None,
        **extra: Any,
    ) -> str:
        """A signed token (RS256 or PS256 with the RSA key, ES256 with the EC key)."""
        key: Any = self.ec_key if alg.startswith("ES") else self.rsa_key
        default_kid = self.ec_kid if alg.startswith("ES") else self.kid
        headers = {"kid": kid or default_kid, "typ": "JWT"}
        return jwt.encode(self.claims(tid, aud, oid, **extra), key, algorithm=alg, headers=headers)

    def unsigned_token(self, tid: str, aud: str, oid: str, /, **extra: Any) -> str:
        """`alg: none`: a token with no signature at all."""
        header = {"alg": "none", "typ": "JWT", "kid": self.kid}
        payload = self.claims(tid, aud, oid, **extra)
        return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."

    def hs256_with_public_key(self, tid: str, aud: str, oid: str, /, **extra: Any) -> str:
        """The key-confusion forgery: HMAC-SHA256 keyed with the public key's PEM text."""
        header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        payload = self.claims(tid, aud, oid, **extra)
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
        public_pem = self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def foreign_token(self, tid: str, aud: str, oid: str, /, **extra: Any) -> str:
        """A token signed by a key this authority never published, under its own kid."""
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(
            self.claims(tid, aud, oid, **extra),
            stranger,
            algorithm="RS256",
            headers={"kid": self.kid},
        )

    def close(self) -> None:
        self._server.close()

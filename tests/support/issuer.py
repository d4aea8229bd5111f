"""A stand-in token issuer for PDP tests: an RSA key, its JWKS on a real HTTP port, and a minter.

It mints Cognito-shaped access and ID tokens, so the PDP is tested against the same claim
shapes the token service issues, without depending on that service.
"""

from __future__ import annotations

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.http_server import LocalServer, QuietHandler


class TestIssuer:
    __test__ = False  # not a test class, despite its name

    def __init__(self, pool_id: str = "us-east-1_TestPool1") -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        self.jwks_requests = 0
        self._server = LocalServer(self._handler())
        self.base_url = self._server.url
        self.issuer = f"{self.base_url}/{pool_id}"
        self.jwks_uri = f"{self.issuer}/.well-known/jwks.json"

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if not self.path.endswith("/.well-known/jwks.json"):
                    self.send_error(404)
                    return
                issuer.jwks_requests += 1
                self.send_json(issuer.jwks())

        return Handler

    def trusted_issuers_json(self) -> str:
        return json.dumps([{"issuer": self.issuer, "jwks_uri": self.jwks_uri}])

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = None) -> str:
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def machine_token(self, client_id: str, scope: str = "pdp/decide", **extra: Any) -> str:
        """A client-credentials access token, as Cognito shapes it."""
        now = int(time.time())
        claims = {
            "sub": client_id,
            "client_id": client_id,
            "token_use": "access",
            "scope": scope,
            "auth_time": now,
            "iss": self.issuer,
            "exp": now + 3600,
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
        }
        claims.update(extra)
        return self.sign(claims)

    def user_access_token(self, sub: str, client_id: str = "app-client", **extra: Any) -> str:
        now = int(time.time())
        claims = {
            "sub": sub,
            "cognito:groups": [],
            "iss": self.issuer,
            "version": 2,
            "client_id": client_id,
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
            "token_use": "access",
            "scope": "openid email",
            "auth_time": now,
            "exp": now + 3600,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "username": sub,
        }
        claims.update(extra)
        return self.sign(claims)

    def user_id_token(self, sub: str, tenant_id: str, client_id: str = "app-client") -> str:
        now = int(time.time())
        return self.sign(
            {
                "sub": sub,
                "iss": self.issuer,
                "aud": client_id,
                "token_use": "id",
                "auth_time": now,
                "exp": now + 3600,
                "iat": now,
                "jti": str(uuid.uuid4()),
                "email": f"{sub}@example.test",
                "email_verified": True,
                "cognito:username": sub,
                "custom:tenant_id": tenant_id,
            }
        )

    def close(self) -> None:
        self._server.close()

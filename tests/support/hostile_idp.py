"""A partner OpenID provider the tests control, for the ID tokens a relying party must refuse.

It is the Entra ID-shaped issuer (discovery and keys of a tenant) with the two endpoints of a
browser sign-in added: `/authorize` sends the browser straight back with a code (no login
form), and `/token` answers that code with whatever ID token the test's `mint` makes from the
request's nonce: a good one, or a forged, expired, wrong-audience or wrong-nonce one. Each
token request is kept (form and Authorization header) so tests can check PKCE and client
authentication; `error` makes `/authorize` come back with an OAuth error instead. Its
discovery names a userInfo endpoint (answering `userinfo` for the last token's user) and
the client authentication methods it was made with.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt

from tests.support.entra_issuer import EntraIssuer

TENANT = "6c3b2a19-7f2e-4d51-9a0b-5e8f6d4c3b2a"
CLIENT_ID = "0a1b2c3d-hostile-client"
CLIENT_SECRET = "hostile-client-secret"


class HostileIdp(EntraIssuer):
    def __init__(self, auth_methods: tuple[str, ...] = ("client_secret_basic",)) -> None:
        self.codes: dict[str, str] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.error: str | None = None
        self.mint: Callable[[str], str] = lambda nonce: self.id_token(nonce)
        self.token_status = 200
        self.auth_methods = list(auth_methods)
        # The `iss` parameter of authorization responses (RFC 9207); None sends none.
        self.response_issuer: str | None = None
        # userInfo answers the last ID token's `sub` with these claims (a `sub` here wins).
        self.userinfo: dict[str, Any] = {}
        self._last_sub: str | None = None
        super().__init__()

    def discovery(self, tenant: str) -> dict[str, Any]:
        document = super().discovery(tenant)
        document["userinfo_endpoint"] = f"{self.base_url}/oidc/userinfo"
        document["token_endpoint_auth_methods_supported"] = self.auth_methods
        return document

    def _minted(self, nonce: str) -> str:
        token = self.mint(nonce)
        try:
            self._last_sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            self._last_sub = None
        return token

    @property
    def tenant_issuer(self) -> str:
        return self.issuer(TENANT)

    def id_token(self, nonce: str, oid: str = "partner-user-1", **extra: Any) -> str:
        """A good ID token of the tenant for our client (`extra` changes claims)."""
        return self.token(
            TENANT, CLIENT_ID, oid, nonce=nonce, email=f"{oid}@hostile.example", **extra
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler()
        idp = self

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/oidc/userinfo":
                    self.send_json({"sub": idp._last_sub, **idp.userinfo})
                    return
                if not url.path.endswith("/oauth2/v2.0/authorize"):
                    super().do_GET()
                    return
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if idp.error is not None:
                    answer = {"error": idp.error, "error_description": "The user said no."}
                else:
                    code = secrets.token_urlsafe(16)
                    idp.codes[code] = query.get("nonce", "")
                    answer = {"code": code}
                answer["state"] = query.get("state", "")
                if idp.response_issuer is not None:
                    answer["iss"] = idp.response_issuer
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{urlencode(answer)}")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                idp.token_requests.append(
                    {"form": form, "authorization": self.headers.get("Authorization")}
                )
                nonce = idp.codes.pop(form.get("code", ""), None)
                if nonce is None or idp.token_status != 200:
                    status, body = (
                        idp.token_status if nonce is not None else 400,
                        {"error": "invalid_grant"},
                    )
                else:
                    status = 200
                    body = {
                        "id_token": idp._minted(nonce),
                        "access_token": "opaque-access-token",
                        "token_type": "Bearer",
                    }
                self.send_json(body, status)

        return Handler

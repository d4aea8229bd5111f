"""What the identity-provider tests share: a partner Cognito, documents served over HTTP, a
pool with a provider, SAML metadata, and the store of a running server opened in-process."""

from __future__ import annotations

from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.http_server import LocalServer, QuietHandler
from tests.token_service.conftest import FAST_ARGON2, Server
from token_service.federation.saml_keys import self_signed
from token_service.services import Services, build_services
from token_service.settings import Settings

REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


class Documents:
    """An HTTP server answering each path with the status, type and body it was given."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, str]] = {}
        self._server = LocalServer(self._handler())
        self.url = self._server.url

    def serve(self, path: str, body: str, status: int = 200, kind: str = "application/json") -> str:
        self.routes[path] = (status, kind, body)
        return self.url + path

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        routes = self.routes

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                status, kind, body = routes.get(self.path, (404, "text/plain", "no"))
                self.send_body(status, kind, body.encode())

        return Handler

    def close(self) -> None:
        self._server.close()


def saml_metadata(
    entity_id: str = "https://idp.partner.example/saml",
    *,
    use: str = "signing",
    logout: bool = True,
    descriptor: str = "IDPSSODescriptor",
) -> str:
    """SAML 2.0 metadata of one IdP with a fresh self-signed signing certificate."""
    pem = self_signed("partner idp").certificate_pem
    der = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    slo = (
        f'<md:SingleLogoutService Binding="{REDIRECT}" Location="https://idp.partner.example/slo"/>'
        if logout
        else ""
    )
    return (
        '<?xml version="1.0"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        f'<md:{descriptor} protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data>'
        f"<ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        f"</md:KeyDescriptor>{slo}"
        f'<md:SingleSignOnService Binding="{REDIRECT}" Location="https://idp.partner.example/sso"/>'
        f"</md:{descriptor}></md:EntityDescriptor>"
    )


def oidc_details(issuer: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": "our-client",
        "client_secret": "partner-issued-secret-0123456789",
        "authorize_scopes": "openid email profile",
        "oidc_issuer": issuer,
        "attributes_request_method": "GET",
        **extra,
    }


@dataclass
class World:
    """A fresh pool of ours, and the issuer of the partner Cognito's pool."""

    pool_id: str
    issuer: str

    def oidc(self, cognito: Any, name: str = "Partner", **settings: Any) -> dict[str, Any]:
        provider: dict[str, Any] = cognito.create_identity_provider(
            UserPoolId=self.pool_id,
            ProviderName=name,
            ProviderType="OIDC",
            ProviderDetails=settings.pop("ProviderDetails", oidc_details(self.issuer)),
            **settings,
        )["IdentityProvider"]
        return provider


def store_of(server: Server) -> Services:
    """The services of a running server, on its store, for what no operation shows."""
    return build_services(
        Settings(
            database_url=server.env["TOKEN_SERVICE_DATABASE_URL"],
            encryption_key=server.env["TOKEN_SERVICE_ENCRYPTION_KEY"],
            argon2_time_cost=int(FAST_ARGON2["TOKEN_SERVICE_ARGON2_TIME_COST"]),
            argon2_memory_kib=int(FAST_ARGON2["TOKEN_SERVICE_ARGON2_MEMORY_KIB"]),
            argon2_parallelism=int(FAST_ARGON2["TOKEN_SERVICE_ARGON2_PARALLELISM"]),
        )
    )

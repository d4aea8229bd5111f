"""A partner SAML 2.0 IdP for the tests: pysaml2's `Server` behind a small HTTP server.

It publishes its metadata (`GET /metadata`), takes our signed AuthnRequests at `GET /sso`
(HTTP-Redirect; the signature is checked against the SP metadata it was given with
`trust`), shows a username/password form, and answers the ACS with a signed assertion
carrying the user's attributes through an auto-submitting HTTP-POST form. `response` crafts
Responses directly, good or hostile (another key, wrong audience, expired, unsigned, ...).
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp, xmldsig
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

from tests.support.processes import free_port
from token_service.federation.saml_keys import KeyPair, self_signed

PASSWORD_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


@dataclass
class IdpUser:
    """A user of the partner: the NameID it asserts and its attributes."""

    password: str
    name_id: str
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class SeenRequest:
    """An AuthnRequest the IdP received: its ID, where to answer, the SP, the RelayState."""

    id: str
    acs: str
    sp: str
    relay_state: str
    force_authn: bool
    is_passive: bool


class SamlIdp:
    def __init__(
        self, directory: Path, users: dict[str, IdpUser], sso_binding: str = BINDING_HTTP_REDIRECT
    ) -> None:
        self.directory = directory
        self.users = users
        # The binding of its single sign-on service: HTTP-Redirect, or HTTP-POST only.
        self.sso_binding = sso_binding
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.entity_id = f"{self.url}/metadata"
        self.keys = self_signed("partner-idp")
        self.requests: list[SeenRequest] = []
        # (NameID, SessionIndexes) of each verified LogoutRequest, in order.
        self.logouts: list[tuple[str, list[str]]] = []
        self._pending: dict[str, SeenRequest] = {}
        self._sp_metadata: list[str] = []
        self.server = self._server(self.keys)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    # configuration
    def _write(self, name: str, text: str) -> str:
        path = self.directory / name
        path.write_text(text)
        return str(path)

    def _config(self, keys: KeyPair, lifetime_minutes: int = 5) -> IdPConfig:
        tag = secrets.token_hex(4)
        settings: dict[str, Any] = {
            "entityid": self.entity_id,
            "key_file": self._write(f"idp-{tag}.key", keys.private_pem),
            "cert_file": self._write(f"idp-{tag}.crt", keys.certificate_pem),
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{self.url}/sso", self.sso_binding)],
                        "single_logout_service": [(f"{self.url}/slo", BINDING_HTTP_REDIRECT)],
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "want_authn_requests_signed": True,
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": lifetime_minutes},
                            "attribute_restrictions": None,
                            "name_form": NAME_FORMAT_BASIC,
                        }
                    },
                }
            },
        }
        if self._sp_metadata:
            settings["metadata"] = {"inline": list(self._sp_metadata)}
        config = IdPConfig()
        config.load(settings)
        return config

    def _server(self, keys: KeyPair, lifetime_minutes: int = 5) -> Server:
        return Server(config=self._config(keys, lifetime_minutes))

    def metadata(self) -> str:
        text = create_metadata_string(None, config=self._config(self.keys), sign=False)
        return text.decode() if isinstance(text, bytes) else text

    def trust(self, sp_metadata: str) -> None:
        """Know this SP (its ACS and the certificate its AuthnRequests are signed with)."""
        self._sp_metadata.append(sp_metadata)
        self.server = self._server(self.keys)

    # crafted responses
    def response(
        self,
        request_id: str | None,
        acs: str,
        audience: str,
        user: IdpUser,
        *,
        sign_assertion: bool = True,
        sign_response: bool = False,
        keys: KeyPair | None = None,
        lifetime_minutes: int = 5,
        sha1: bool = False,
        name_id_format: str = NAMEID_FORMAT_PERSISTENT,
        authn_class: str = PASSWORD_CLASS,
    ) -> str:
        """A Response (XML) to `request_id` (None: unsolicited, IdP-initiated), signed as asked
        (RSA-SHA256, or the obsolete RSA-SHA1) by `keys` (default: ours)."""
        server = (
            self.server
            if keys is None and lifetime_minutes == 5
            else self._server(keys or self.keys, lifetime_minutes)
        )
        made = server.create_authn_response(
            {name: list(values) for name, values in user.attributes.items()},
            request_id,
            acs,
            audience,
            name_id=NameID(format=name_id_format, text=user.name_id),
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            authn={"class_ref": authn_class},
            sign_alg=xmldsig.SIG_RSA_SHA1 if sha1 else xmldsig.SIG_RSA_SHA256,
            digest_alg=xmldsig.DIGEST_SHA1 if sha1 else xmldsig.DIGEST_SHA256,
        )
        return str(made)

    def refusal(self, request_id: str, acs: str, status: str = samlp.STATUS_AUTHN_FAILED) -> str:
        """A signed Response to `request_id` with a failed Status (no assertion)."""
        made = self.server.create_error_response(
            request_id,
            acs,
            (status, "The user could not be signed in."),
            sign=True,
            sign_alg=xmldsig.SIG_RSA_SHA256,
            digest_alg=xmldsig.DIGEST_SHA256,
        )
        return str(made)

    # HTTP
    def _verified(self, parse: Any, query: dict[str, str], binding: str) -> Any:
        """A request, parsed once its signature (of the binding, or XML) checked out."""
        return parse(
            query["SAMLRequest"],
            binding,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        ).message

    def accept_request(
        self, query: dict[str, str], binding: str = BINDING_HTTP_REDIRECT
    ) -> SeenRequest:
        """The AuthnRequest of an SSO query (or posted form), once its signature checked out
        (else raises)."""
        message = self._verified(self.server.parse_authn_request, query, binding)
        seen = SeenRequest(
            message.id,
            message.assertion_consumer_service_url,
            message.issuer.text,
            query.get("RelayState", ""),
            message.force_authn == "true",
            message.is_passive == "true",
        )
        self.requests.append(seen)
        return seen

    def logout(self, query: dict[str, str]) -> str:
        """A verified LogoutRequest answered: the SP's logout URL with our signed Success."""
        message = self._verified(self.server.parse_logout_request, query, BINDING_HTTP_REDIRECT)
        self.logouts.append((message.name_id.text, [i.text for i in message.session_index]))
        sp = message.issuer.text
        destination = self.server.metadata.single_logout_service(
            sp, BINDING_HTTP_REDIRECT, "spsso"
        )[0]["location"]
        response = self.server.create_logout_response(message, [BINDING_HTTP_REDIRECT])
        answer = self.server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            destination,
            query.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=xmldsig.SIG_RSA_SHA256,
        )
        return dict(answer["headers"])["Location"]

    def _login_form(self, ticket: str, error: str = "") -> str:
        alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
        return (
            "<!doctype html><title>Partner sign-in</title><h1>Partner IdP</h1>"
            f'{alert}<form method="post" action="/login">'
            f'<input type="hidden" name="ticket" value="{html.escape(ticket)}">'
            '<label for="u">Partner username</label><input id="u" name="username">'
            '<label for="p">Partner password</label><input id="p" name="password" type="password">'
            "<button>Continue</button></form>"
        )

    def _post_back(self, seen: SeenRequest, user: IdpUser) -> str:
        xml = self.response(seen.id, seen.acs, seen.sp, user)
        encoded = base64.b64encode(xml.encode()).decode()
        return (
            "<!doctype html><title>Returning</title>"
            f'<form id="back" method="post" action="{html.escape(seen.acs)}">'
            f'<input type="hidden" name="SAMLResponse" value="{encoded}">'
            f'<input type="hidden" name="RelayState" value="{html.escape(seen.relay_state)}">'
            "</form><script>document.getElementById('back').submit()</script>"
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: str, kind: str = "text/html") -> None:
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.end_headers()
                self.wfile.write(body.encode())

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/metadata":
                    return self._send(200, idp.metadata(), "application/samlmetadata+xml")
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/slo":
                    self.send_response(303)
                    self.send_header("Location", idp.logout(query))
                    self.end_headers()
                    return None
                if parts.path != "/sso":
                    return self._send(404, "not found")
                return self._sign_on(query, BINDING_HTTP_REDIRECT)

            def _sign_on(self, message: dict[str, str], binding: str) -> None:
                try:
                    seen = idp.accept_request(message, binding)
                except Exception as error:  # the IdP refuses any request it cannot verify
                    return self._send(400, f"refused: {type(error).__name__}")
                ticket = secrets.token_urlsafe(16)
                idp._pending[ticket] = seen
                return self._send(200, idp._login_form(ticket))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path == "/sso":
                    return self._sign_on(form, BINDING_HTTP_POST)
                seen = idp._pending.get(form.get("ticket", ""))
                if seen is None:
                    return self._send(400, "unknown ticket")
                user = idp.users.get(form.get("username", ""))
                if user is None or user.password != form.get("password"):
                    return self._send(200, idp._login_form(form["ticket"], "Wrong password"))
                del idp._pending[form["ticket"]]
                return self._send(200, idp._post_back(seen, user))

            def log_message(self, *args: Any) -> None:
                return

        return Handler

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def running_idp(
    directory: Path, users: dict[str, IdpUser], sso_binding: str = BINDING_HTTP_REDIRECT
) -> Iterator[SamlIdp]:
    """A started IdP, stopped afterwards (for fixtures)."""
    idp = SamlIdp(directory, users, sso_binding)
    try:
        yield idp
    finally:
        idp.stop()

"""A real SMTP server (aiosmtpd) in the test process, and reading codes out of what it received."""

from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.processes import free_port

CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Mailbox:
    """Every mail the server accepted, in order of arrival."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def last_code(self, address: str, timeout: float = 10.0) -> str:
        """The code of the newest mail to `address` (mail is sent before the operation answers)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.to(address)
            if received:
                match = CODE.search(received[-1].get_payload(decode=True).decode())
                assert match, "the mail holds no code"
                return match.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no mail to {address}")

    def codes(self) -> list[str]:
        with self.lock:
            bodies = [m.get_payload(decode=True).decode() for m in self.messages]
        return [c for body in bodies for c in CODE.findall(body)]


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signer = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def tls_files(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A test CA (its PEM file, for SSL_CERT_FILE) and a server context for 127.0.0.1."""
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("test mail CA", ca_key, None)
    server = _certificate("127.0.0.1", server_key, (ca.subject, ca_key))
    ca_file, chain, key_file = directory / "ca.pem", directory / "chain.pem", directory / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key_file)
    return ca_file, context


class SmtpServer:
    """aiosmtpd on a free port; `url` is what TOKEN_SERVICE_SMTP_URL should say.

    With `credentials` (user, password) it demands AUTH (over plain text, for the test). With
    `tls` it demands STARTTLS, or with `implicit_tls` speaks TLS from the start (smtps).
    """

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.logins: list[tuple[str, bool]] = []
        auth: dict[str, Any] = {}
        if credentials is not None:

            def authenticate(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and (
                        data.login.decode(),
                        data.password.decode(),
                    )
                    == credentials
                )
                self.logins.append((data.login.decode(), ok))
                return AuthResult(success=ok)

            auth = {
                "authenticator": authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        if tls is not None and implicit_tls:
            auth["ssl_context"] = tls
        elif tls is not None:
            auth.update(tls_context=tls, require_starttls=True)
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()
        self.url = f"{'smtps' if implicit_tls else 'smtp'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._controller.stop()

"""A real SMTP server (aiosmtpd) in the test process, and reading codes out of what it received."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

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


class SmtpServer:
    """aiosmtpd on a free port; `url` is what TOKEN_SERVICE_SMTP_URL should say.

    With `credentials` (user, password) it demands AUTH, over plain text (no TLS in tests).
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
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
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **auth)
        self._controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._controller.stop()

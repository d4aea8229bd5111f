"""Delivering one-time codes: by SMTP when configured, else into the outbox table.

The outbox (`OutboxMessage`, in the service's own database) is the embedded default: without
SMTP the message stored there is the delivery, text and code included, and an operator reads
it with `token-service outbox`. With SMTP the mail is sent and the outbox keeps a record of it
without the code, so deliveries can be audited without learning codes. SMS has no provider
here: SMS messages always go to the outbox.

A mailer only transmits; it never touches the database. The mail goes out after the
operation's transaction has committed (`token_service.accounts.sending`), so a slow mail
server holds no database lock.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from token_service.errors import CodeDeliveryFailure
from token_service.settings import Settings, SettingsError
from token_service.store.models import Pool

CODE_PLACEHOLDER = "{####}"
WITHHELD = "[code withheld]"
DEFAULT_SUBJECT = "Your verification code"
DEFAULT_MESSAGE = "Your verification code is {####}."
DELIVERY_FAILED = "Unable to deliver the verification code."
log = logging.getLogger("token_service.delivery")


@dataclass(frozen=True)
class Message:
    """One message to one destination; `body` holds the code, `audit_body` does not."""

    pool_id: str
    medium: str  # "EMAIL" or "SMS", as Cognito's DeliveryMedium
    destination: str
    subject: str
    body: str
    audit_body: str


def _template(pool: Pool, key: str, legacy_key: str, default: str) -> str:
    """The pool's VerificationMessageTemplate entry (or the older top-level setting)."""
    extra: dict[str, Any] = pool.extra or {}
    template = extra.get("VerificationMessageTemplate") or {}
    value = template.get(key) if isinstance(template, dict) else None
    value = value or extra.get(legacy_key)
    return value if isinstance(value, str) and value else default


def verification_message(pool: Pool, medium: str, destination: str, code: str) -> Message:
    """The verification message of the pool's templates (Cognito's defaults without them)."""
    if medium == "SMS":
        subject = ""
        text = _template(pool, "SmsMessage", "SmsVerificationMessage", DEFAULT_MESSAGE)
    else:
        subject = _template(pool, "EmailSubject", "EmailVerificationSubject", DEFAULT_SUBJECT)
        text = _template(pool, "EmailMessage", "EmailVerificationMessage", DEFAULT_MESSAGE)
    if CODE_PLACEHOLDER not in text:
        text = DEFAULT_MESSAGE
    return Message(
        pool_id=pool.id,
        medium=medium,
        destination=destination,
        subject=subject,
        body=text.replace(CODE_PLACEHOLDER, code),
        audit_body=text.replace(CODE_PLACEHOLDER, WITHHELD),
    )


class Mailer(Protocol):
    """Transmits messages, outside any transaction; `transmit` raises CodeDeliveryFailure."""

    def transmits(self, message: Message) -> bool:
        """Whether `message` goes out; if not, its outbox record (with the code) is the delivery."""
        ...

    def transmit(self, message: Message) -> None: ...


class OutboxMailer:
    """The embedded default: the outbox row is the delivery, and holds the text."""

    def transmits(self, message: Message) -> bool:
        return False

    def transmit(self, message: Message) -> None:
        """Nothing goes out: the outbox record is the delivery."""


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to send mail, parsed from `TOKEN_SERVICE_SMTP_URL`."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """`smtp://[user:password@]host[:port][?starttls=true]` or `smtps://...`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError(
                "TOKEN_SERVICE_SMTP_URL must be smtp://host[:port] or smtps://host[:port]"
            )
        try:
            port = parts.port
        except ValueError:
            raise SettingsError("TOKEN_SERVICE_SMTP_URL has an invalid port") from None
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["false"])[-1].lower()
        if starttls not in ("true", "false"):
            raise SettingsError("TOKEN_SERVICE_SMTP_URL: starttls must be true or false")
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit_tls else 25),
            implicit_tls=implicit_tls,
            starttls=starttls == "true",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpMailer:
    """Sends email over SMTP (SMS stays in the outbox)."""

    def __init__(self, target: SmtpTarget, mail_from: str, timeout: float) -> None:
        self._target = target
        self._from = mail_from
        self._timeout = timeout
        # The name our EHLO gives; smtplib would look it up again for every connection.
        self._local_hostname = socket.getfqdn()
        # Loading the CA certificates is slow: once, and only when TLS is used.
        self._tls = ssl.create_default_context() if target.implicit_tls or target.starttls else None

    def transmits(self, message: Message) -> bool:
        return message.medium == "EMAIL"

    def transmit(self, message: Message) -> None:
        try:
            # A header with a line break (an address or subject stored by other means) is a
            # ValueError here, as is an address SMTP cannot carry.
            mail = EmailMessage()
            mail["From"] = self._from
            mail["To"] = message.destination
            mail["Subject"] = message.subject
            mail.set_content(message.body)
            self._transmit(mail)
        except (smtplib.SMTPException, OSError, ValueError) as error:
            # The class only: server replies may quote the message, and so the code.
            log.warning(
                "SMTP delivery to %s:%s failed: %s",
                self._target.host,
                self._target.port,
                type(error).__name__,
            )
            raise CodeDeliveryFailure(DELIVERY_FAILED) from None

    def _transmit(self, mail: EmailMessage) -> None:
        target = self._target
        smtp: smtplib.SMTP
        if target.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                target.host,
                target.port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._tls,
            )
        else:
            smtp = smtplib.SMTP(
                target.host,
                target.port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
            )
        with smtp:
            if target.starttls:
                smtp.starttls(context=self._tls)
            if target.username is not None:
                smtp.login(target.username, target.password or "")
            smtp.send_message(mail)


def build_mailer(settings: Settings) -> Mailer:
    """SMTP when `TOKEN_SERVICE_SMTP_URL` is set, else the outbox."""
    if not settings.smtp_url:
        return OutboxMailer()
    target = SmtpTarget.parse(settings.smtp_url)
    return SmtpMailer(target, settings.mail_from, settings.smtp_timeout_seconds)

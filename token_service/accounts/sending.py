"""Sending messages after the transaction that wrote them has committed.

The SMTP exchange must not run inside a store transaction: on SQLite every other writer (every
sign-in) would wait for the mail server, up to the SMTP timeout. So an operation writes its code
and a pending outbox record, commits, and only then is the mail sent. Its record is then marked
sent, or, when sending failed, failed, with the undelivered code voided in a second short
transaction, and the operation answers `CodeDeliveryFailureException`. The operation's other
changes stay, as in Cognito (a user whose sign-up code could not be sent exists, unconfirmed).
A crash between the commit and the sending leaves a pending record and a code nobody received:
the user asks for a new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from token_service.accounts import outbox
from token_service.accounts.codes import Codes
from token_service.accounts.delivery import DELIVERY_FAILED, Mailer, Message
from token_service.errors import CodeDeliveryFailure
from token_service.store.repositories import Repository, Store


@dataclass(frozen=True)
class Pending:
    """A message to send once its transaction has committed, and the code it carries."""

    record_id: int
    message: Message
    user_sub: str
    purpose: str
    code: str


@dataclass
class Outgoing:
    """The messages one operation's transaction wrote."""

    pending: list[Pending] = field(default_factory=list)


class Sender:
    def __init__(self, store: Store, mailer: Mailer, codes: Codes, retention_days: int) -> None:
        self._store = store
        self.mailer = mailer
        self._codes = codes
        self._retention_days = retention_days

    @contextmanager
    def sending(self) -> Iterator[Outgoing]:
        """Collect an operation's messages; send them when its transaction has committed.

        Enter it before the transaction: what the body raises, and a failed commit, send nothing.
        """
        outgoing = Outgoing()
        yield outgoing
        self._deliver(outgoing)

    def queue(
        self,
        repo: Repository,
        outgoing: Outgoing,
        message: Message,
        user_sub: str,
        purpose: str,
        code: str,
        now: float,
    ) -> None:
        """Record `message` in this transaction; it is sent after the commit, if it goes out."""
        record_id = outbox.record(repo, self.mailer, message, now, self._retention_days)
        if self.mailer.transmits(message):
            outgoing.pending.append(Pending(record_id, message, user_sub, purpose, code))

    def _deliver(self, outgoing: Outgoing) -> None:
        failed = False
        for pending in outgoing.pending:
            try:
                self.mailer.transmit(pending.message)
                status = outbox.SENT
            except CodeDeliveryFailure:
                status, failed = outbox.FAILED, True
            with self._store.transaction() as repo:
                outbox.settle(repo, pending.record_id, status)
                if status == outbox.FAILED:
                    self._codes.void(repo, pending.user_sub, pending.purpose, pending.code)
        if failed:
            raise CodeDeliveryFailure(DELIVERY_FAILED)

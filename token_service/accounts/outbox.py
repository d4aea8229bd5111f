"""The outbox: a record of every message, its delivery status, and its pruning by age.

A record is written in the transaction that issues the code: `sent` at once when the record is
itself the delivery (no SMTP, or SMS), else `pending` without the code, until the mail has gone
out after the commit (`sent`) or could not (`failed`). Sent and failed records older than the
retention are deleted a few at a time as new ones are written, and all at once by
`token-service outbox --prune`. Pending records stay: they are what a crash between the commit
and the sending leaves, and an operator may want to see them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.schema import CreateIndex

from token_service.accounts.delivery import Mailer, Message
from token_service.core import Core
from token_service.errors import InvalidParameter
from token_service.store.models import OutboxMessage
from token_service.store.repositories import Repository, Store

PENDING, SENT, FAILED = "pending", "sent", "failed"
# Old records deleted per new one: bounded work for the writer, however large a backlog.
PRUNE_BATCH = 100
DAY = 86400.0


def ensure_indexes(store: Store) -> None:
    """Create the outbox's indexes in a database made before they existed.

    IF NOT EXISTS: processes starting together on one database do not trip over each other.
    """
    with store.engine.begin() as connection:
        for index in OutboxMessage.__table__.indexes:
            connection.execute(CreateIndex(index, if_not_exists=True))


def record(repo: Repository, mailer: Mailer, message: Message, now: float, retention: int) -> int:
    """Write the message's record (pruning old ones); its id, to settle once it is sent."""
    transmitted = mailer.transmits(message)
    row = OutboxMessage(
        pool_id=message.pool_id,
        medium=message.medium,
        destination=message.destination,
        subject=message.subject,
        body=message.audit_body if transmitted else message.body,
        delivered_by="smtp" if transmitted else "outbox",
        created_at=now,
        status=PENDING if transmitted else SENT,
    )
    repo.add(row)
    prune(repo, now, retention, PRUNE_BATCH)
    return row.id


def settle(repo: Repository, record_id: int, status: str) -> None:
    """Mark a pending record sent or failed (a pruned record is left alone)."""
    row = repo.session.get(OutboxMessage, record_id)
    if row is not None:
        row.status = status


def prune(repo: Repository, now: float, retention_days: int, limit: int | None = None) -> int:
    """Delete sent and failed records older than the retention (at most `limit`); how many."""
    settled = or_(OutboxMessage.status.in_((SENT, FAILED)), OutboxMessage.status.is_(None))
    old = select(OutboxMessage.id).where(
        OutboxMessage.created_at < now - retention_days * DAY, settled
    )
    if limit is not None:
        old = old.order_by(OutboxMessage.created_at).limit(limit)
    ids = list(repo.session.scalars(old))
    if ids:
        repo.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    return len(ids)


def prune_outbox(core: Core) -> dict[str, Any]:
    """`token-service outbox --prune`: every sent and failed record past the retention."""
    retention = core.settings.outbox_retention_days
    with core.store.transaction() as repo:
        deleted = prune(repo, core.clock(), retention)
    return {"deleted": deleted, "retention_days": retention}


def list_outbox(
    core: Core, pool_id: str | None = None, to: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Messages, newest first. Without SMTP their `body` holds the code; with SMTP it does not."""
    if not 1 <= limit <= 1000:
        raise InvalidParameter("--limit must be 1 to 1000.")
    with core.store.transaction() as repo:
        return [
            {
                "id": m.id,
                "pool_id": m.pool_id,
                "medium": m.medium,
                "to": m.destination,
                "subject": m.subject,
                "body": m.body,
                "delivered_by": m.delivered_by,
                "status": m.status or SENT,
                "created_at": m.created_at,
            }
            for m in repo.outbox(pool_id, to, limit)
        ]

"""Reading the outbox: the messages the service delivered (or, without SMTP, holds for users)."""

from __future__ import annotations

from typing import Any

from token_service.core import Core
from token_service.errors import InvalidParameter


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
                "created_at": m.created_at,
            }
            for m in repo.outbox(pool_id, to, limit)
        ]

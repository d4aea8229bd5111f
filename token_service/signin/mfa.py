"""Second factors: which challenge, if any, follows a correct first factor."""

from __future__ import annotations

from token_service.core import Core
from token_service.signin.challenges import Challenge
from token_service.store.models import Client, User
from token_service.store.repositories import Repository


def second_factor(
    core: Core, repo: Repository, client: Client, user: User, now: float, amr: list[str]
) -> Challenge | None:
    """The MFA challenge the pool and user call for after the first factor, or None."""
    return None

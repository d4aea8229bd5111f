"""Running a transaction again when a concurrent one won a race for the same rows.

A first sign-in (a new link, a new user) can race another for the same identity: the loser's
commit fails on the unique key (ConcurrentModification). Its next attempt finds the winner's
rows and uses them, so the caller gets an answer instead of a request to retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from token_service.errors import ConcurrentModification

T = TypeVar("T")
ATTEMPTS = 3


def retrying(work: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """`work()` (one whole transaction), tried up to `attempts` times while it loses races."""
    for _ in range(attempts - 1):
        try:
            return work()
        except ConcurrentModification:
            continue
    return work()

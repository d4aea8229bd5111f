"""In-process services for tests of time-dependent rules: a clock the test moves, cheap hashing."""

from __future__ import annotations

import base64
import os
from typing import Any

from token_service.settings import Settings


class Clock:
    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def fast_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for an in-process store, with a fresh key and test-speed argon2."""
    return Settings(
        database_url=database_url,
        encryption_key=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        **overrides,
    )

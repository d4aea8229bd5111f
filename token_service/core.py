"""What every service shares, built once per process from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from token_service.keys import Keys
from token_service.passwords import Passwords
from token_service.sealing import Sealer, load_key
from token_service.settings import Settings
from token_service.store.repositories import Store


@dataclass
class Core:
    settings: Settings
    store: Store
    sealer: Sealer
    keys: Keys
    passwords: Passwords
    # Injected so tests can move time (expiry, lockout, key retirement) without sleeping.
    clock: Callable[[], float] = field(default=time.time)


def build_core(settings: Settings, clock: Callable[[], float] = time.time) -> Core:
    sealer = Sealer(load_key(settings))
    return Core(
        settings=settings,
        store=Store(settings.database_url),
        sealer=sealer,
        keys=Keys(sealer),
        passwords=Passwords(settings, sealer),
        clock=clock,
    )

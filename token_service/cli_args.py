"""What every `token-service` command module shares: the usage error and NAME=VALUE options."""

from __future__ import annotations

from collections.abc import Sequence


class CommandError(Exception):
    """A usage problem found after parsing (e.g. two password sources)."""


def key_value(items: Sequence[str], option: str) -> dict[str, str]:
    """Repeated NAME=VALUE options as a map; anything else is a CommandError naming `option`."""
    result = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"{option} takes NAME=VALUE, not {item!r}")
        result[name] = value
    return result

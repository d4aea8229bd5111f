"""Name the entry of a directory document an import error is about.

Errors carry the entry's place as a path (`tenants[0].users[2].email`), which an API client
can follow; a person reading `pdp directory import`'s one line wants the entry by name:
`tenant acme: user alice: email: Field required`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pdp.errors import PDPError

# Sections of a tenant, and what one entry of each is called.
ENTRY_NAMES = {"companies": "company", "groups": "group", "users": "user", "clients": "client"}
_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    """'tenants[0].users[2].email' -> ['tenants', 0, 'users', 2, 'email']."""
    return [int(index) if index else key for key, index in _STEP.findall(path)]


def _item(container: object, key: str, index: int) -> Mapping[str, Any] | None:
    """`container[key][index]` when the document has it as a mapping, else None."""
    items = container.get(key) if isinstance(container, Mapping) else None
    if isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], Mapping):
        return items[index]
    return None


def _label(entry: Mapping[str, Any] | None, keys: tuple[str, ...], index: int) -> str:
    for key in keys:
        value = entry.get(key) if entry is not None else None
        if isinstance(value, str) and value:
            return value
    return f"#{index}"


def _tail(steps: list[str | int]) -> str:
    text = ""
    for step in steps:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def describe(document: object, path: str, message: str) -> str:
    """`message` prefixed with the tenant (by name, else id, else position), the entry (kind
    and id) and the field that `path` names in `document`."""
    steps = _steps(path)
    if len(steps) < 2 or steps[0] != "tenants" or not isinstance(steps[1], int):
        return f"{path}: {message}" if path else message
    tenant = _item(document, "tenants", steps[1])
    parts = [f"tenant {_label(tenant, ('name', 'id'), steps[1])}"]
    rest = steps[2:]
    if len(rest) >= 2 and rest[0] in ENTRY_NAMES and isinstance(rest[1], int):
        entry = _item(tenant, str(rest[0]), rest[1])
        parts.append(f"{ENTRY_NAMES[str(rest[0])]} {_label(entry, ('id',), rest[1])}")
        rest = rest[2:]
    if rest:
        parts.append(_tail(rest))
    return ": ".join([*parts, message])


@contextmanager
def entries_named(document: object) -> Iterator[None]:
    """Re-raise any PDP error about a place in `document` with that place named in its message;
    `field` keeps the path."""
    try:
        yield
    except PDPError as exc:
        if exc.field:
            exc.message = describe(document, exc.field, exc.message)
            exc.args = (exc.message,)
        raise

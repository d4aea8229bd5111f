"""The one JSON parser for request bodies and JSON parameters: strict where `json.loads` is lax.

`json.loads` accepts NaN and Infinity (not JSON, and the engine fails on them; `1e400` reads
as Infinity too), keeps the last of duplicate keys (`"action": "read", "action": "delete"`
would be decided as delete), and recurses until Python's stack gives out. Here each of those
is an `InvalidRequest`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from pdp.errors import InvalidRequest

# A too-deep value is named by this many leading members of its path (`resource.attributes`).
_NAMED_SEGMENTS = 2


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name}, which is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number as a float, refusing one a float cannot hold (`1e400` would be inf)."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text}, a number beyond a double's range")
    return value


class _Duplicated(list):
    """An object whose pairs repeat a key (found again to say where; never returned)."""

    def duplicate(self) -> str:
        seen: set[str] = set()
        return next(key for key, _ in self if key in seen or seen.add(key))


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _DuplicateKey
    return document


def _marking_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Duplicated:
    document = dict(pairs)
    return document if len(document) == len(pairs) else _Duplicated(pairs)


def parse_json(raw: bytes | str, *, max_depth: int, field: str = "body") -> Any:
    """`raw` as JSON, or InvalidRequest naming `field`, or the path below it that is wrong."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidRequest(f"the {field} is not valid UTF-8", field=field) from None
    try:
        document = json.loads(
            text,
            parse_constant=_no_constants,
            parse_float=_finite,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise _too_deep(max_depth, field) from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"the {field} is not valid JSON: {exc}", field=field) from None
    except _DuplicateKey:
        raise _duplicate_key(text, max_depth, field) from None
    except ValueError as exc:
        raise InvalidRequest(f"the {field} is refused: {exc}", field=field) from None
    # Every container opens with a bracket, so a text with few brackets cannot be too deep.
    if text.count("{") + text.count("[") > max_depth:
        path = next((p for value, p in _containers(document) if len(p) >= max_depth), None)
        if path is not None:
            raise _too_deep(max_depth, _named(field, path, _NAMED_SEGMENTS))
    return document


def _named(field: str, path: tuple[str, ...], segments: int | None = None) -> str:
    """The path as a `field`, cut to its first `segments`: `resource.attributes` in the body,
    `input.resource` in a parameter `input`."""
    named = path if field == "body" else (field, *path)
    return ".".join(named[:segments]) or field


def _too_deep(max_depth: int, field: str) -> InvalidRequest:
    return InvalidRequest(f"JSON nested deeper than {max_depth} levels", field=field)


def _duplicate_key(text: str, max_depth: int, field: str) -> InvalidRequest:
    """The refusal of a repeated key, naming where it is (parsed again, keeping duplicates)."""
    try:
        document = json.loads(text, object_pairs_hook=_marking_duplicates)
    except RecursionError:
        return _too_deep(max_depth, field)
    value, path = next((v, p) for v, p in _containers(document) if isinstance(v, _Duplicated))
    key = value.duplicate()
    return InvalidRequest(
        f"the key {json.dumps(key)} appears twice in one object", field=_named(field, (*path, key))
    )


def _containers(document: Any) -> Iterator[tuple[Any, tuple[str, ...]]]:
    """Every object and array in `document` with its path, depth first."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            children: Iterable[tuple[str, Any]] = value.items()
        elif isinstance(value, _Duplicated):
            children = value
        elif isinstance(value, list):
            children = ((str(i), v) for i, v in enumerate(value))
        else:
            continue
        yield value, path
        stack.extend((child, (*path, str(key))) for key, child in children)

"""The one JSON parser for request bodies and JSON parameters: strict where `json.loads` is lax.

`json.loads` accepts NaN and Infinity (not JSON, and the engine fails on them), keeps the
last of duplicate keys (`"action": "read", "action": "delete"` would be decided as delete),
and recurses until Python's stack gives out. Here each of those is an `InvalidRequest`.
"""

from __future__ import annotations

import json
from typing import Any

from pdp.errors import InvalidRequest

DEFAULT_MAX_DEPTH = 64
# A too-deep value is named by this many leading members of its path (`resource.attributes`).
_NAMED_SEGMENTS = 2


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name}, which is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {json.dumps(duplicate)}")
    return document


def parse_json(raw: bytes | str, *, max_depth: int, field: str = "body") -> Any:
    """`raw` as JSON, or InvalidRequest naming `field` (or, for a too-deep value, its path)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InvalidRequest(f"the {field} is not valid UTF-8", field=field) from None
    try:
        document = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise _too_deep(max_depth, field) from None
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"the {field} is not valid JSON: {exc}", field=field) from None
    except ValueError as exc:
        raise InvalidRequest(f"the {field} is refused: {exc}", field=field) from None
    # Every container opens with a bracket, so a text with few brackets cannot be too deep.
    if text.count("{") + text.count("[") > max_depth:
        path = _too_deep_path(document, max_depth)
        if path is not None:
            named = (field, *path) if field != "body" else path
            raise _too_deep(max_depth, ".".join(named[:_NAMED_SEGMENTS]) or field)
    return document


def _too_deep(max_depth: int, field: str) -> InvalidRequest:
    return InvalidRequest(f"JSON nested deeper than {max_depth} levels", field=field)


def _too_deep_path(document: Any, max_depth: int) -> tuple[str, ...] | None:
    """The path of the first container nested deeper than `max_depth`, or None."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            children = ((str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            children = ((str(i), v) for i, v in enumerate(value))
        else:
            continue
        if len(path) >= max_depth:
            return path
        stack.extend((child, (*path, key)) for key, child in children)
    return None

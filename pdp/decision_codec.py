"""What the decision log stores, made storable, and whatever it stored, made readable.

Postgres refuses NUL characters in text and NaN/Infinity in JSON, and one such record used to
fail the batch it was written in. Writers repair them deterministically (NUL -> U+FFFD, a
non-finite number -> its name as a string) and name each repair in the record's `sanitised`
field. Readers never trust stored JSON: a value that does not decode, or nests deeper than
clients can parse, is returned as a marker object holding the raw text.
"""

from __future__ import annotations

import json
import math
from typing import Any

NUL = "\x00"
NUL_REPLACEMENT = "\ufffd"
# Deepest JSON value returned as is; Python's json module (the CLI, most clients) stops near 1000.
READ_MAX_DEPTH = 512
UNREADABLE = "$unreadable"


def encode(value: Any) -> str:
    """Standard JSON, no NaN/Infinity: what every database and client accepts."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def sanitise_text(value: str | None) -> tuple[str | None, bool]:
    """`value` without NUL characters, and whether any were replaced."""
    if value is None or NUL not in value:
        return value, False
    return value.replace(NUL, NUL_REPLACEMENT), True


def sanitise_json(value: Any) -> tuple[Any, set[str]]:
    """`value` with NUL characters (in keys and strings) and non-finite numbers replaced, and
    the kinds of repair made ("nul", "non_finite"). Iterative: depth costs no stack."""
    repairs: set[str] = set()

    def fix(item: Any) -> Any:
        if isinstance(item, str):
            text, changed = sanitise_text(item)
            if changed:
                repairs.add("nul")
            return text
        if isinstance(item, float) and not math.isfinite(item):
            repairs.add("non_finite")
            return "NaN" if math.isnan(item) else ("Infinity" if item > 0 else "-Infinity")
        return item

    root: list[Any] = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, dict):
            fixed = {fix(k): v for k, v in item.items()}
            container[key] = fixed
            stack.extend((fixed, k) for k in fixed)
        elif isinstance(item, list):
            fixed_list = list(item)
            container[key] = fixed_list
            stack.extend((fixed_list, i) for i in range(len(fixed_list)))
        else:
            container[key] = fix(item)
    return root[0], repairs


def decode_stored(text: str | None) -> Any:
    """A stored JSON column as the API and exports return it: the value when it decodes and
    nests at most READ_MAX_DEPTH deep, else a marker naming why, with the raw text."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        return _unreadable("nested_too_deep", text)
    except ValueError:
        return _unreadable("not_json", text)
    if depth(value) > READ_MAX_DEPTH:
        return _unreadable("nested_too_deep", text)
    return value


def depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
        else:
            continue
        deepest = max(deepest, level + 1)
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unreadable(reason: str, text: str) -> dict[str, str]:
    return {UNREADABLE: reason, "raw": text.replace(NUL, NUL_REPLACEMENT)}

"""Cognito's opaque pagination tokens: an offset, encoded; anything else is refused."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

from token_service.errors import InvalidParameter

T = TypeVar("T")


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidParameter("Invalid pagination token.")


def paginate(items: Sequence[T], limit: int, token: str | None) -> tuple[list[T], str | None]:
    """One page of `items` from where `token` left off, and the token of the next page."""
    offset = page_offset(token)
    page = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    return page, page_token(offset + limit) if more else None


def check_limit(name: str, value: int | None, maximum: int, *, minimum: int = 1) -> int:
    """The page size asked for, or `maximum` when none; out of range is Cognito's error."""
    if value is None or (value == 0 and minimum == 0):
        return maximum
    if not minimum <= value <= maximum:
        raise InvalidParameter(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
            f"constraint: Member must have value less than or equal to {maximum}"
            if value > maximum
            else f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy "
            f"constraint: Member must have value greater than or equal to {minimum}"
        )
    return value

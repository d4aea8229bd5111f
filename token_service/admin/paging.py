"""Cognito's opaque pagination tokens: an offset, encoded; anything else is refused."""

from __future__ import annotations

import base64

from token_service.errors import InvalidParameter


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

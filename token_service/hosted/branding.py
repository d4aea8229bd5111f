"""A pool's look on the hosted pages: an optional logo and primary colour.

Kept in `Pool.extra["Branding"]` as `{"LogoUrl": "https://...", "PrimaryColor": "#RRGGBB"}`.
The logo must be an https URL (the pages' Content-Security-Policy loads images from https
only); the colour is six hex digits, and the button text is black or white, whichever has
the higher WCAG contrast against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from token_service.core import Core
from token_service.errors import InvalidParameter, ResourceNotFound
from token_service.store.models import Pool

KEY = "Branding"
DEFAULT_COLOR = "#1f5fbf"
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_URL_LENGTH = 1024


@dataclass(frozen=True)
class Branding:
    logo_url: str | None
    primary_color: str
    text_color: str


def _luminance(color: str) -> float:
    """WCAG 2 relative luminance of #RRGGBB."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two #RRGGBB colours (1 to 21)."""
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(color: str) -> str:
    """Black or white text, whichever reads better on `color`."""
    return "#000000" if contrast(color, "#000000") >= contrast(color, "#ffffff") else "#ffffff"


def branding(pool: Pool) -> Branding:
    stored = (pool.extra or {}).get(KEY) or {}
    color = stored.get("PrimaryColor")
    color = color if isinstance(color, str) and _COLOR.fullmatch(color) else DEFAULT_COLOR
    logo = stored.get("LogoUrl")
    return Branding(logo if isinstance(logo, str) else None, color, text_on(color))


def check_logo_url(url: str) -> str:
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH or parts.scheme != "https" or not parts.hostname:
        raise InvalidParameter("LogoUrl must be an https URL of at most 1024 characters.")
    return url


def set_branding(
    core: Core, pool_id: str, logo_url: str | None, primary_color: str | None, clear: bool
) -> dict[str, str]:
    """Set (or, with `clear`, remove) the pool's branding; returns what is stored."""
    if primary_color is not None and not _COLOR.fullmatch(primary_color):
        raise InvalidParameter("PrimaryColor must be #RRGGBB.")
    with core.store.transaction() as repo:
        pool = repo.pool(pool_id)
        if pool is None:
            raise ResourceNotFound(f"User pool {pool_id} does not exist.")
        extra = dict(pool.extra or {})
        stored = {} if clear else dict(extra.get(KEY) or {})
        if logo_url is not None:
            stored["LogoUrl"] = check_logo_url(logo_url)
        if primary_color is not None:
            stored["PrimaryColor"] = primary_color.lower()
        extra[KEY] = stored
        pool.extra = extra
        pool.updated_at = core.clock()
        return stored

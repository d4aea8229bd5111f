"""Rendering the hosted pages, and the headers every one of them carries.

Plain server-rendered HTML (Jinja2, autoescaped) that needs no JavaScript. The headers keep
the pages out of frames (`frame-ancestors 'none'`, `X-Frame-Options: DENY`), out of caches
(`Cache-Control: no-store`) and their URLs (which hold codes and state) out of Referer
headers; the one style block runs under a per-response nonce, and forms may post only to
this service and redirect only to the request's own callback origin.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from token_service.hosted.branding import Branding, branding
from token_service.store.models import Pool

_templates = Environment(
    loader=PackageLoader("token_service.hosted", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
DEFAULT_BRANDING = Branding(None, "#1f5fbf", "#ffffff")


def _origin(uri: str | None) -> str:
    parts = urlsplit(uri or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def security_headers(
    style_nonce: str | None = None,
    redirect_uri: str | None = None,
    form_targets: Sequence[str] = (),
) -> dict[str, str]:
    """Headers of every hosted response: no framing, no caching, no referrer, strict CSP.

    Forms post to this service; their answers may redirect to the request's callback and to
    `form_targets` (the partner IdPs the login page's email form can send the browser to).
    """
    styles = f"'nonce-{style_nonce}'" if style_nonce else "'none'"
    origins = [_origin(redirect_uri), *(_origin(target) for target in form_targets)]
    targets = " ".join(dict.fromkeys(filter(None, ["'self'", *origins])))
    policy = (
        f"default-src 'none'; style-src {styles}; img-src https:; form-action {targets}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def render(
    template: str,
    pool: Pool | None,
    status: int = 200,
    redirect_uri: str | None = None,
    form_targets: Sequence[str] = (),
    **context: Any,
) -> HTMLResponse:
    """A page in the pool's name and colours (a neutral look when no pool is known)."""
    nonce = secrets.token_urlsafe(16)
    html = _templates.get_template(template).render(
        pool_name=pool.name if pool is not None else "Sign-in",
        brand=branding(pool) if pool is not None else DEFAULT_BRANDING,
        style_nonce=nonce,
        **context,
    )
    return HTMLResponse(
        html, status_code=status, headers=security_headers(nonce, redirect_uri, form_targets)
    )


def redirect(location: str) -> Response:
    """303: the browser follows with GET, whether it came by GET or by a form's POST."""
    return RedirectResponse(location, status_code=303, headers=security_headers())

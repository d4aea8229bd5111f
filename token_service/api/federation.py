"""The browser's endpoints of federation: `/oauth2/authorize`, the login page's email form,
and `/oauth2/idpresponse` (OIDC).

Routes read the request and shape the answer; `BrowserFederation` decides. The trip's
cookie is HttpOnly, SameSite=Lax over http and SameSite=None with Secure over https (an
IdP's form_post comes back cross-site, and Lax cookies do not ride along on it).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from token_service.api.hosted import (
    BAD_FORM,
    _form,
    _refused,
    _secure,
    _services,
    _set_cookie,
    _visit,
    respond,
)
from token_service.api.oauth2 import read_form
from token_service.errors import TokenServiceError
from token_service.federation.browser import Departure
from token_service.federation.relay import COOKIE_NAME, TRIP_SECONDS
from token_service.hosted import sessions
from token_service.hosted.authorize import RedirectError, UntrustedRequest, single_values
from token_service.hosted.outcomes import Outcome, Redirect
from token_service.hosted.pages import redirect, render

router = APIRouter()


def _relay_cookie(request: Request) -> str | None:
    return request.cookies.get(COOKIE_NAME)


def _depart(request: Request, departure: Departure) -> Response:
    response = redirect(departure.location)
    secure = _secure(request)
    response.set_cookie(
        COOKIE_NAME,
        departure.relay_cookie,
        max_age=TRIP_SECONDS,
        path="/",
        httponly=True,
        samesite="none" if secure else "lax",
        secure=secure,
    )
    return response


async def _run(request: Request, call: Callable[[], Outcome | Departure]) -> Response:
    try:
        outcome = await run_in_threadpool(call)
    except (UntrustedRequest, RedirectError, TokenServiceError) as error:
        return _refused(error)
    if isinstance(outcome, Departure):
        return _depart(request, outcome)
    return await respond(request, outcome)


@router.get("/oauth2/authorize")
async def authorize(request: Request) -> Response:
    """The hosted login, or (with identity_provider / idp_identifier) the partner IdP."""
    federation = _services(request).federation
    items = request.query_params.multi_items()
    visit, relay = _visit(request), _relay_cookie(request)
    return await _run(request, lambda: federation.authorize(items, visit, relay))


@router.post("/login/federated")
async def email_post(request: Request) -> Response:
    """The login page's email form (its CSRF token is the login form's)."""
    form = await _form(request, "login")
    if form is None:
        return render("error.html", None, status=403, message=BAD_FORM)
    federation = _services(request).federation
    items = request.query_params.multi_items()
    visit, relay = _visit(request), _relay_cookie(request)
    email = form.get("email", "").strip()
    return await _run(request, lambda: federation.by_email(items, email, visit, relay))


async def onward(request: Request, call: Callable[[], Redirect]) -> Response:
    """The end of a trip to an IdP: a page that moves the browser on to the app (with our
    session cookie), or the error page when the trip cannot be resumed.

    Not a redirect: the browser arrives here from the IdP's login form, and a redirect chain
    that starts at a form is held to that page's CSP form-action, which may name only the
    IdP and us (our own hosted login's does), not the app. A meta refresh is a navigation
    of its own; the page's link is there for browsers that do not follow one.
    """
    try:
        outcome = await run_in_threadpool(call)
    except RedirectError as error:
        return render("continue.html", None, location=error.location)
    except (UntrustedRequest, TokenServiceError) as error:
        return _refused(error)
    response = render("continue.html", None, location=outcome.location)
    if outcome.session_cookie is not None:
        _set_cookie(
            response, request, sessions.COOKIE, outcome.session_cookie, sessions.SESSION_SECONDS
        )
    return response


@router.api_route("/oauth2/idpresponse", methods=["GET", "POST"])
async def idp_response(request: Request) -> Response:
    """Where the partner OpenID provider sends the browser back (query, or form_post)."""
    try:
        if request.method == "POST":
            params = await read_form(request)
            single_values(list(params.items()))
        else:
            params = single_values(request.query_params.multi_items())
    except (UntrustedRequest, TokenServiceError) as error:
        return _refused(error)
    federation = _services(request).federation
    visit, relay = _visit(request), _relay_cookie(request)
    return await onward(request, lambda: federation.oidc_response(params, visit, relay))

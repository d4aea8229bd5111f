"""Sign-in, callback, pasted token and sign-out routes of the console (no navigation entry)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pdp.api.deps import get_services
from pdp.console import signin
from pdp.console.auth import check_csrf, current_session
from pdp.console.oidc import SignInFailed
from pdp.console.rendering import render
from pdp.console.sessions import COOKIE
from pdp.console.state import console_of
from pdp.console.visit import Reading
from pdp.services import Services

router = APIRouter(prefix="/console", include_in_schema=False)

NOTICES = {
    "expired": "Your session ended because its token expired. Sign in again.",
    "invalid": "Your session ended because its token no longer verifies. Sign in again.",
    "signed_out": "You are signed out.",
}


def _redirect_uri(request: Request) -> str:
    return str(request.url_for("console_callback"))


def _with_session(response: Response, request: Request, session_id: str) -> Response:
    response.set_cookie(
        COOKIE,
        session_id,
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
        path="/console",
    )
    return response


@router.get("")
async def home(visit: Reading) -> Response:
    nav = console_of(visit.request).nav
    return RedirectResponse(nav[0].path if nav else "/console/signin", status_code=303)


@router.get("/signin")
async def signin_page(request: Request, notice: str | None = None) -> Response:
    console = console_of(request)
    session_id, session = current_session(request)
    if session is not None and session.token is not None:
        return RedirectResponse("/console", status_code=303)
    if session is None:
        session_id, session = console.sessions.create()
    response = render(
        request,
        "signin.html",
        csrf=session.csrf,
        hosted=console.sign_in is not None,
        notice=NOTICES.get(notice or ""),
    )
    return _with_session(response, request, session_id)


@router.get("/login")
def login(request: Request) -> Response:
    """Sync: the first sign-in reads the issuer's discovery document (off the event loop)."""
    session_id, url = signin.start(console_of(request), _redirect_uri(request))
    return _with_session(RedirectResponse(url, status_code=303), request, session_id)


@router.get("/callback", name="console_callback")
async def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    services: Services = Depends(get_services),
) -> Response:
    if error or not code or not state:
        raise SignInFailed("the sign-in was cancelled or refused; sign in again")
    session_id, session = current_session(request)
    new_id = await signin.finish(
        console_of(request), services, session_id, session, code, state, _redirect_uri(request)
    )
    return _with_session(RedirectResponse("/console", status_code=303), request, new_id)


@router.post("/token")
async def paste_token(
    request: Request,
    token: str = Form(max_length=16384),
    services: Services = Depends(get_services),
) -> Response:
    console = console_of(request)
    if console.sign_in is not None:
        raise SignInFailed("this console signs in through the hosted login")
    session_id, session = current_session(request)
    if session is None:
        raise SignInFailed("the sign-in form had expired; reload it")
    await check_csrf(request, session)
    new_id = await signin.adopt(console, services, session_id, token.strip())
    return _with_session(RedirectResponse("/console", status_code=303), request, new_id)


@router.post("/logout")
async def logout(request: Request) -> Response:
    console = console_of(request)
    session_id, session = current_session(request)
    if session is None:
        return RedirectResponse("/console/signin?notice=signed_out", status_code=303)
    await check_csrf(request, session)
    console.sessions.drop(session_id)
    target = "/console/signin?notice=signed_out"
    if console.sign_in is not None:
        back = str(request.url_for("signin_page"))
        target = await run_in_threadpool(console.sign_in.logout_url, back) or target
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response

"""The browser's endpoints: the login pages and `/logout` (`/oauth2/authorize` is in
api/federation.py, since it may send the browser to a partner IdP).

Routes only read the request and shape the page or redirect; `HostedLogin` decides.
Every form post is checked against its CSRF token first; every response carries the
hosted pages' security headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from token_service.api.context import request_context
from token_service.api.oauth2 import read_form
from token_service.errors import TokenServiceError
from token_service.federation.browser import LoginOptions
from token_service.hosted import csrf, sessions
from token_service.hosted.authorize import RedirectError, UntrustedRequest
from token_service.hosted.links import BAD_LINK, BadLink, PartnerLinks
from token_service.hosted.outcomes import Outcome, Page
from token_service.hosted.pages import redirect, render
from token_service.hosted.self_service import CONFIRM, FORGOT, RESET, SIGN_UP, SelfService
from token_service.hosted.visit import Visit
from token_service.issue import NEW_PASSWORD_STEP
from token_service.services import Services
from token_service.signin.mfa import MFA_SETUP, SOFTWARE_TOKEN_MFA

router = APIRouter()
Items = Sequence[tuple[str, str]]
BAD_FORM = "This form has expired or did not come from this page. Go back and try again."
# The page each step's form posts to, and the template that shows it.
STEPS = {
    "login": ("/login", "login.html"),
    NEW_PASSWORD_STEP: ("/login/new-password", "new_password.html"),
    SOFTWARE_TOKEN_MFA: ("/login/mfa", "mfa.html"),
    MFA_SETUP: ("/login/mfa-setup", "mfa_setup.html"),
    FORGOT: ("/forgotPassword", "forgot.html"),
    RESET: ("/confirmForgotPassword", "reset.html"),
    SIGN_UP: ("/signup", "signup.html"),
    CONFIRM: ("/confirmUser", "confirm.html"),
}


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def _secure(request: Request) -> bool:
    """Cookies are Secure when this service is reached, or advertised, over https."""
    issuer_base = _services(request).settings.issuer_base
    return request.url.scheme == "https" or issuer_base.startswith("https://")


def _set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def _visit(request: Request) -> Visit:
    """Who is asking: the session cookie, the peer address and the user agent."""
    origin = request_context(request)
    return Visit(origin.ip, origin.user_agent, request.cookies.get(sessions.COOKIE))


def _browser(request: Request) -> str:
    """This browser's CSRF cookie value, a new one when it has none yet."""
    return request.cookies.get(csrf.COOKIE) or csrf.new_browser_value()


def _links(page: Page, query: str) -> list[dict[str, str]]:
    """The login page's ways out: password recovery, and sign-up where the pool allows it."""
    links = [{"href": f"/forgotPassword?{query}", "text": "Forgot your password?"}]
    if not page.pool.admin_create_only:
        links.append({"href": f"/signup?{query}", "text": "Need an account? Sign up"})
    return links


def _show(request: Request, page: Page, options: LoginOptions | None) -> Response:
    services = _services(request)
    browser = _browser(request)
    action, template = STEPS[page.step]
    query = urlencode(page.request.query)
    response = render(
        template,
        page.pool,
        redirect_uri=page.request.redirect_uri,
        form_targets=options.form_targets if options is not None else (),
        action=f"{action}?{query}",
        csrf=csrf.form_token(services.core.sealer, browser, page.step, services.core.clock()),
        message=page.message,
        notice=page.notice,
        username=page.username,
        session=page.challenge.session if page.challenge else "",
        parameters=page.challenge.parameters if page.challenge else {},
        links=_links(page, query) if page.step == "login" else [],
        login_href=f"/login?{query}",
        options=options,
        email_action=f"/login/federated?{query}",
    )
    if request.cookies.get(csrf.COOKIE) != browser:
        _set_cookie(response, request, csrf.COOKIE, browser, None)
    return response


async def respond(request: Request, outcome: Outcome) -> Response:
    """The page (the login page with the client's identity providers) or the redirect."""
    if isinstance(outcome, Page):
        options = None
        if outcome.step == "login":
            federation = _services(request).federation
            options = await run_in_threadpool(federation.login_options, outcome.request)
        return _show(request, outcome, options)
    response = redirect(outcome.location)
    if outcome.session_cookie is not None:
        _set_cookie(
            response, request, sessions.COOKIE, outcome.session_cookie, sessions.SESSION_SECONDS
        )
    return response


def _refused(error: UntrustedRequest | RedirectError | TokenServiceError) -> Response:
    if isinstance(error, RedirectError):
        return redirect(error.location)
    return render("error.html", None, status=400, message=error.message)


async def _form(request: Request, step: str) -> dict[str, str] | None:
    """The posted form when its CSRF token is this browser's for `step`, else None."""
    services = _services(request)
    try:
        form = await read_form(request)
    except TokenServiceError:
        return None
    browser = request.cookies.get(csrf.COOKIE)
    token = form.get(csrf.FIELD)
    if not csrf.valid(services.core.sealer, browser, step, token, services.core.clock()):
        return None
    return form


async def _run(request: Request, call: Callable[[], Outcome]) -> Response:
    """Run a step of the hosted login off the event loop and answer with its outcome."""
    try:
        outcome = await run_in_threadpool(call)
    except (UntrustedRequest, RedirectError, TokenServiceError) as error:
        return _refused(error)
    return await respond(request, outcome)


async def _post(
    request: Request, step: str, call: Callable[[Items, dict[str, str], Visit], Outcome]
) -> Response:
    """A step's form post: refused outright without its CSRF token, else `call`ed."""
    form = await _form(request, step)
    if form is None:
        return render("error.html", None, status=403, message=BAD_FORM)
    items = request.query_params.multi_items()
    visit = _visit(request)
    return await _run(request, lambda: call(items, form, visit))


@router.get("/login")
async def login_page(request: Request) -> Response:
    hosted = _services(request).hosted
    return await _run(request, lambda: hosted.page(request.query_params.multi_items()))


@router.post("/login")
async def login_post(request: Request) -> Response:
    hosted = _services(request).hosted
    return await _post(
        request,
        "login",
        lambda items, form, visit: hosted.password(
            items, form.get("username", "").strip(), form.get("password", ""), visit
        ),
    )


@router.post("/login/new-password")
async def new_password_post(request: Request) -> Response:
    hosted = _services(request).hosted
    return await _post(
        request,
        NEW_PASSWORD_STEP,
        lambda items, form, visit: hosted.new_password(
            items,
            form.get("session", ""),
            form.get("username", ""),
            form.get("new_password", ""),
            visit,
        ),
    )


@router.post("/login/mfa")
async def mfa_post(request: Request) -> Response:
    hosted = _services(request).hosted
    return await _post(
        request,
        SOFTWARE_TOKEN_MFA,
        lambda items, form, visit: hosted.authenticator_code(
            items,
            form.get("session", ""),
            form.get("username", ""),
            form.get("code", "").strip(),
            visit,
        ),
    )


@router.post("/login/mfa-setup")
async def mfa_setup_post(request: Request) -> Response:
    hosted = _services(request).hosted
    return await _post(
        request,
        MFA_SETUP,
        lambda items, form, visit: hosted.authenticator_setup(
            items,
            form.get("session", ""),
            form.get("username", ""),
            form.get("code", "").strip(),
            {
                "SECRET_CODE": form.get("secret_code", ""),
                "OTPAUTH_URI": form.get("otpauth_uri", ""),
            },
            visit,
        ),
    )


def _self_service(request: Request) -> SelfService:
    services = _services(request)
    return SelfService(services.hosted, services.accounts)


@router.get("/forgotPassword")
async def forgot_page(request: Request) -> Response:
    pages = _self_service(request)
    return await _run(request, lambda: pages.page(request.query_params.multi_items(), FORGOT))


@router.post("/forgotPassword")
async def forgot_post(request: Request) -> Response:
    pages = _self_service(request)
    return await _post(
        request,
        FORGOT,
        lambda items, form, visit: pages.forgot(items, form.get("username", "").strip()),
    )


@router.post("/confirmForgotPassword")
async def reset_post(request: Request) -> Response:
    pages = _self_service(request)
    return await _post(
        request,
        RESET,
        lambda items, form, visit: pages.reset(
            items,
            form.get("username", ""),
            form.get("code", "").strip(),
            form.get("new_password", ""),
        ),
    )


@router.get("/signup")
async def sign_up_page(request: Request) -> Response:
    pages = _self_service(request)
    return await _run(request, lambda: pages.page(request.query_params.multi_items(), SIGN_UP))


@router.post("/signup")
async def sign_up_post(request: Request) -> Response:
    pages = _self_service(request)
    return await _post(
        request,
        SIGN_UP,
        lambda items, form, visit: pages.sign_up(
            items,
            form.get("username", "").strip(),
            form.get("email", "").strip(),
            form.get("password", ""),
        ),
    )


@router.post("/confirmUser")
async def confirm_post(request: Request) -> Response:
    pages = _self_service(request)
    return await _post(
        request,
        CONFIRM,
        lambda items, form, visit: pages.confirm(
            items, form.get("username", ""), form.get("code", "").strip()
        ),
    )


@router.get("/{pool_id}/auth/jwt/{token:path}")
async def partner_link(pool_id: str, token: str, request: Request) -> Response:
    """A partner's sign-in link: a code for the app, or the same error page for any fault.

    The token is matched as a path so that text with a `/` in it gets that error page too,
    not the framework's trailing-slash redirect.
    """
    links = PartnerLinks(_services(request).core, _services(request).hosted)
    items = request.query_params.multi_items()
    try:
        outcome = await run_in_threadpool(links.follow, pool_id, token, items, _visit(request))
    except BadLink:
        return render("error.html", None, status=400, message=BAD_LINK)
    return await respond(request, outcome)


@router.get("/logout")
async def logout(request: Request) -> Response:
    services = _services(request)
    try:
        visit = _visit(request)
        target = await run_in_threadpool(
            services.hosted.logout, request.query_params.multi_items(), visit
        )
        # A session that began at a SAML IdP with IDPSignout is ended there too.
        target = await run_in_threadpool(services.saml.sign_out.after_logout, visit.cookie, target)
    except (UntrustedRequest, RedirectError, TokenServiceError) as error:
        return _refused(error)
    response = redirect(target)
    response.delete_cookie(
        sessions.COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response

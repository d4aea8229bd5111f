"""The hosted login in a real browser: Debian's Chromium driven by Playwright.

Each test gets a fresh browser profile. The apps' callback is a small HTTP server of the test
(another origin, as an app is); it also serves the hostile pages (a cross-site form post, a
frame around the login page). Screenshots of the pages go to docs/images/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.support import browser as chromium
from tests.support.browser import fresh_page, screenshot
from tests.support.http_server import LocalServer, QuietHandler
from tests.token_service import test_aws_jwt_verify
from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
    create_user,
)
from tests.token_service.test_authorize import SCOPES, claims, pkce, query_of, redeem

# The server that issues as Cognito does (https://cognito-idp...), as in those tests.
cognito_issuer = test_aws_jwt_verify.cognito_issuer

VIEWPORT = {"width": 900, "height": 720}
# Chromium driven by Playwright: the fixture of tests/support/browser.py.
playwright = chromium.playwright


@dataclass
class Callback:
    """The apps' side: records each callback and serves hostile pages by path."""

    url: str
    hits: list[str] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def callback() -> Iterator[Callback]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path in state.pages:
                body = state.pages[path]
            else:
                state.hits.append(self.path)
                body = "<!doctype html><title>App</title><h1>Back in the app</h1>"
            self.send_body(200, "text/html; charset=utf-8", body.encode())

    server = LocalServer(Handler)
    state = Callback(url=server.url)
    yield state
    server.close()


@dataclass
class Apps:
    pool: str
    spa: str
    second_spa: str
    redirect_uri: str
    logout_uri: str


def make_apps(cognito: Any, callback: Callback, name: str) -> Apps:
    pool = cognito.create_user_pool(
        PoolName=name,
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    redirect_uri, logout_uri = f"{callback.url}/callback", f"{callback.url}/signed-out"

    def spa(client_name: str) -> str:
        return cognito.create_user_pool_client(
            UserPoolId=pool,
            ClientName=client_name,
            AllowedOAuthFlows=["code"],
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=[redirect_uri],
            LogoutURLs=[logout_uri],
            SupportedIdentityProviders=["COGNITO"],
        )["UserPoolClient"]["ClientId"]

    apps = Apps(pool, spa("spa"), spa("spa-two"), redirect_uri, logout_uri)
    create_user(cognito, pool, "alice")
    return apps


@pytest.fixture(scope="module")
def apps(cognito: Any, callback: Callback) -> Apps:
    return make_apps(cognito, callback, "Acme Staff")


@pytest.fixture
def browser(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh profile (no cookies) and one page in it."""
    with fresh_page(playwright, tmp_path / "profile", VIEWPORT) as page:
        yield page


def authorize_url(server: Server, apps: Apps, client_id: str, challenge: str, **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": apps.redirect_uri,
        "scope": "openid email",
        "state": "browser-state",
        "nonce": "browser-nonce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{server.url}/oauth2/authorize?{urlencode(params)}"


def fill_login(page: Any, username: str, password: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Any, server: Server, apps: Apps, client_id: str) -> tuple[str, str]:
    """Sign in through the page; the code the app got and the PKCE verifier for it."""
    verifier, challenge = pkce()
    page.goto(authorize_url(server, apps, client_id, challenge))
    fill_login(page, "alice", PASSWORD)
    page.wait_for_url(f"{apps.redirect_uri}?**")
    return query_of(page.url)["code"], verifier


def test_code_and_pkce_sign_in_in_the_browser(
    browser: Any, server: Server, http: httpx.Client, apps: Apps, callback: Callback
) -> None:
    verifier, challenge = pkce()
    browser.goto(authorize_url(server, apps, apps.spa, challenge))
    assert urlsplit(browser.url).path == "/login"
    assert browser.title() == "Sign in - Acme Staff"
    # Keyboard order: the username has focus, then the password, then the button.
    assert browser.evaluate("document.activeElement.id") == "username"
    browser.keyboard.type("alice")
    browser.keyboard.press("Tab")
    assert browser.evaluate("document.activeElement.id") == "password"
    browser.keyboard.type(PASSWORD)
    browser.keyboard.press("Tab")
    assert browser.evaluate("document.activeElement.textContent") == "Sign in"
    browser.keyboard.press("Enter")
    browser.wait_for_url(f"{apps.redirect_uri}?**")
    answer = query_of(browser.url)
    assert answer["state"] == "browser-state"
    assert callback.hits[-1].startswith("/callback?code=")
    body = redeem(http, apps.spa, answer["code"], verifier, redirect_uri=apps.redirect_uri).json()
    identity = claims(body["id_token"])
    assert identity["nonce"] == "browser-nonce" and identity["cognito:username"] == "alice"
    cookies = {c["name"]: c for c in browser.context.cookies()}
    assert cookies["cognito"]["httpOnly"] and cookies["cognito"]["sameSite"] == "Lax"
    assert cookies["XSRF-TOKEN"]["httpOnly"]


def test_sso_prompt_login_and_logout_in_the_browser(
    browser: Any, server: Server, http: httpx.Client, apps: Apps
) -> None:
    sign_in(browser, server, apps, apps.spa)
    verifier, challenge = pkce()
    browser.goto(authorize_url(server, apps, apps.second_spa, challenge))
    browser.wait_for_url(f"{apps.redirect_uri}?**")
    code = query_of(browser.url)["code"]
    second = redeem(http, apps.second_spa, code, verifier, redirect_uri=apps.redirect_uri)
    assert claims(second.json()["id_token"])["aud"] == apps.second_spa
    browser.goto(authorize_url(server, apps, apps.second_spa, challenge, prompt="login"))
    assert urlsplit(browser.url).path == "/login"
    logout = urlencode({"client_id": apps.spa, "logout_uri": apps.logout_uri})
    browser.goto(f"{server.url}/logout?{logout}")
    assert browser.url == apps.logout_uri
    assert "cognito" not in {c["name"] for c in browser.context.cookies()}
    browser.goto(authorize_url(server, apps, apps.second_spa, challenge))
    assert urlsplit(browser.url).path == "/login"


def test_hostile_logout_and_redirect_uris_stay_on_an_error_page(
    browser: Any, server: Server, apps: Apps
) -> None:
    for url in (
        f"{server.url}/logout?{urlencode({'client_id': apps.spa, 'logout_uri': 'https://evil.example/'})}",
        authorize_url(server, apps, apps.spa, pkce()[1], redirect_uri="https://evil.example/cb"),
        authorize_url(server, apps, apps.spa, pkce()[1], redirect_uri=apps.redirect_uri + "/x"),
    ):
        response = browser.goto(url)
        assert response.status == 400 and browser.url == url
        assert "evil.example" not in browser.content().split("<main>")[0]


def test_cross_site_form_post_is_refused(
    browser: Any, server: Server, apps: Apps, callback: Callback
) -> None:
    browser.goto(authorize_url(server, apps, apps.spa, pkce()[1]))
    action = f"{server.url}{urlsplit(browser.url).path}?{urlsplit(browser.url).query}"
    callback.pages["/attacker"] = (
        f'<form method="post" action="{action}">'
        '<input name="username" value="alice"><input name="password" value="guess">'
        '<button id="go">go</button></form>'
    )
    browser.goto(f"{callback.url}/attacker")
    with browser.expect_navigation():
        browser.click("#go")
    assert "This form has expired or did not come from this page" in browser.content()
    assert "cognito" not in {c["name"] for c in browser.context.cookies()}


def test_login_page_cannot_be_framed(
    browser: Any, server: Server, apps: Apps, callback: Callback
) -> None:
    login = authorize_url(server, apps, apps.spa, pkce()[1])
    callback.pages["/control"] = "<p>an ordinary page</p>"
    callback.pages["/frame"] = (
        f'<iframe name="login" src="{login}"></iframe>'
        f'<iframe name="control" src="{callback.url}/control"></iframe>'
    )
    # The load event waits for both frames, whether they loaded or were blocked.
    browser.goto(f"{callback.url}/frame", wait_until="load")
    frames = {f.name: f for f in browser.frames}
    assert "an ordinary page" in frames["control"].content()
    assert "Sign in" not in frames["login"].content()
    assert "_csrf" not in frames["login"].content()


def test_screenshots_of_the_login_pages(browser: Any, server: Server, apps: Apps) -> None:
    branded = server.cli(
        "pool", "branding", "--pool", apps.pool, "--primary-color", "#0b6e4f", "--json"
    )
    assert branded.returncode == 0, branded.stderr
    try:
        browser.goto(authorize_url(server, apps, apps.spa, pkce()[1]))
        button = browser.get_by_role("button", name="Sign in")
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 110, 79)"
        screenshot(browser, "hosted-login", full_page=False)
        fill_login(browser, "alice", "not-the-password")
        alert = browser.get_by_role("alert")
        assert alert.inner_text() == "Incorrect username or password."
        screenshot(browser, "hosted-login-error", full_page=False)
    finally:
        server.cli("pool", "branding", "--pool", apps.pool, "--clear")


def test_authlib_completes_the_code_flow_with_pkce(
    browser: Any, server: Server, apps: Apps
) -> None:
    """authlib's OAuth 2.0 client, and its JOSE library (joserfc) on the ID token."""
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session
    from joserfc import jwt
    from joserfc.jwk import KeySet

    discovery = httpx.get(f"{server.url}/{apps.pool}/.well-known/openid-configuration").json()
    client = OAuth2Session(
        client_id=apps.spa,
        redirect_uri=apps.redirect_uri,
        scope="openid email profile",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    browser.goto(url)
    fill_login(browser, "alice", PASSWORD)
    browser.wait_for_url(f"{apps.redirect_uri}?**")
    token = client.fetch_token(
        discovery["token_endpoint"],
        authorization_response=browser.url,
        code_verifier=verifier,
        state=state,
    )
    keys = KeySet.import_key_set(httpx.get(discovery["jwks_uri"]).json())
    identity = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": apps.spa},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
    ).validate(identity.claims)
    userinfo = client.get(discovery["userinfo_endpoint"]).json()
    assert userinfo["sub"] == identity.claims["sub"]
    assert userinfo["email"] == "alice@example.com"
    client.close()


def test_aws_jwt_verify_accepts_the_code_grants_tokens(
    browser: Any, cognito_issuer: Server, callback: Callback
) -> None:
    apps = make_apps(cognito_client(cognito_issuer.url), callback, "verified")
    # The issuer is https (as Cognito's), so the cookies are Secure: the browser talks to
    # localhost, which it treats as a secure origin.
    server_url = cognito_issuer.url.replace("127.0.0.1", "localhost")
    verifier, challenge = pkce()
    url = authorize_url(cognito_issuer, apps, apps.spa, challenge).replace(
        cognito_issuer.url, server_url
    )
    browser.goto(url)
    fill_login(browser, "alice", PASSWORD)
    browser.wait_for_url(f"{apps.redirect_uri}?**")
    cookies = {c["name"]: c for c in browser.context.cookies()}
    assert cookies["cognito"]["secure"] and cookies["XSRF-TOKEN"]["secure"]
    with httpx.Client(base_url=cognito_issuer.url) as http:
        body = redeem(
            http, apps.spa, query_of(browser.url)["code"], verifier, redirect_uri=apps.redirect_uri
        ).json()
        jwks = http.get(f"/{apps.pool}/.well-known/jwks.json").json()
    cases = [
        {"token": body["access_token"], "tokenUse": "access", "clientId": apps.spa},
        {"token": body["id_token"], "tokenUse": "id", "clientId": apps.spa},
        {"token": body["id_token"], "tokenUse": "id", "clientId": apps.second_spa},
    ]
    results = test_aws_jwt_verify.verify_with_cognito_verifier(apps.pool, jwks, cases)
    assert [r["ok"] for r in results] == [True, True, False], results
    assert SCOPES  # the HTTP tests' scope list is the superset of this pool's


def test_mfa_setup_then_the_code_step_in_the_browser(
    browser: Any, server: Server, http: httpx.Client, cognito: Any, callback: Callback
) -> None:
    import pyotp

    apps = make_apps(cognito, callback, "Second factor")
    cognito.set_user_pool_mfa_config(
        UserPoolId=apps.pool,
        MfaConfiguration="ON",
        SoftwareTokenMfaConfiguration={"Enabled": True},
    )
    verifier, challenge = pkce()
    browser.goto(authorize_url(server, apps, apps.spa, challenge))
    fill_login(browser, "alice", PASSWORD)
    assert browser.get_by_role("heading").inner_text() == "Set up your authenticator app"
    secret = browser.inner_text("#secret-code")
    assert browser.inner_text("#otpauth-uri") == (
        f"otpauth://totp/Second%20factor:alice?secret={secret}&issuer=Second%20factor"
    )
    totp = pyotp.TOTP(secret)
    browser.get_by_label("Code from the app").fill("000000" if totp.now() != "000000" else "111111")
    browser.get_by_role("button", name="Verify and sign in").click()
    assert (
        browser.get_by_role("alert").inner_text()
        == "Code mismatch and fail enable Software Token MFA"
    )
    assert browser.inner_text("#secret-code") == secret
    browser.get_by_label("Code from the app").fill(totp.now())
    browser.get_by_role("button", name="Verify and sign in").click()
    browser.wait_for_url(f"{apps.redirect_uri}?**")
    body = redeem(
        http, apps.spa, query_of(browser.url)["code"], verifier, redirect_uri=apps.redirect_uri
    )
    assert claims(body.json()["id_token"])["amr"] == ["pwd", "mfa"]
    # Next sign-in: the code step. A code counts once, so the app's next one is used.
    verifier, challenge = pkce()
    browser.goto(authorize_url(server, apps, apps.spa, challenge, prompt="login"))
    fill_login(browser, "alice", PASSWORD)
    assert browser.get_by_role("heading").inner_text() == "Enter your code"
    browser.get_by_label("Code").fill(totp.at(time.time() + 30))
    browser.get_by_role("button", name="Sign in").click()
    browser.wait_for_url(f"{apps.redirect_uri}?**")
    body = redeem(
        http, apps.spa, query_of(browser.url)["code"], verifier, redirect_uri=apps.redirect_uri
    )
    access = claims(body.json()["access_token"])
    assert access["amr"] == ["pwd", "mfa"]


def test_partner_link_and_its_replay_in_the_browser(
    browser: Any, server: Server, http: httpx.Client, cognito: Any, callback: Callback
) -> None:
    import json

    import jwt

    apps = make_apps(cognito, callback, "Partner links")
    issued = server.cli(
        "partner", "create", "--pool", apps.pool, "--client-id", apps.spa, "--name", "ats", "--json"
    )
    assert issued.returncode == 0, issued.stderr
    secret = json.loads(issued.stdout)["secret"]
    attributes = cognito.admin_get_user(UserPoolId=apps.pool, Username="alice")["UserAttributes"]
    sub = next(a["Value"] for a in attributes if a["Name"] == "sub")
    now = int(time.time())
    token = jwt.encode({"iat": now, "exp": now + 60, "identity": sub}, secret, algorithm="HS256")
    verifier, challenge = pkce()
    query = urlsplit(authorize_url(server, apps, apps.spa, challenge)).query
    url = f"{server.url}/{apps.pool}/auth/jwt/{token}?{query}"
    browser.goto(url)
    browser.wait_for_url(f"{apps.redirect_uri}?**")
    body = redeem(
        http, apps.spa, query_of(browser.url)["code"], verifier, redirect_uri=apps.redirect_uri
    )
    assert claims(body.json()["id_token"])["amr"] == ["partner"]
    replay = browser.goto(url)
    assert replay.status == 400
    assert browser.get_by_role("alert").inner_text() == "This link is invalid or expired."


def test_a_single_page_app_redeems_its_code_from_the_browser(
    browser: Any, server: Server, apps: Apps
) -> None:
    """The app's page (another origin) posts to /oauth2/token with fetch(), as SPAs do."""
    code, verifier = sign_in(browser, server, apps, apps.spa)
    form = urlencode(
        {
            "grant_type": "authorization_code",
            "client_id": apps.spa,
            "code": code,
            "redirect_uri": apps.redirect_uri,
            "code_verifier": verifier,
        }
    )
    status, body = browser.evaluate(
        """async ([url, form]) => {
            const response = await fetch(url, {
                method: "POST",
                headers: {"Content-Type": "application/x-www-form-urlencoded"},
                body: form,
            });
            return [response.status, await response.json()];
        }""",
        [f"{server.url}/oauth2/token", form],
    )
    assert status == 200 and claims(body["id_token"])["aud"] == apps.spa

"""Browser sign-in rows: authlib as an OpenID Connect relying party, code flow with PKCE.

The person's browser is an httpx client with its own cookies, filling in the hosted login
form as a person would; authlib makes the authorization request from the discovery document
and redeems the code, as a web app's back end does.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.matrix.core import Mismatch, Rows, Target, check, equal, verify_token
from tests.support.matrix.kit import App, Kit, Person
from tests.support.matrix.oauth_rows import oauth_error

rows = Rows("authlib", needs=("authlib",))
CALLBACK = "https://app.example.com/callback"
CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def code_client(kit: Kit) -> App:
    """A public client allowed the code grant with the standard scopes."""
    return kit.app(
        flows=["ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO"],
    )


def browser_sign_in(target: Target, url: str, person: Person) -> str:
    """Follow the authorization URL to the login form, sign in; the callback URL reached."""
    with httpx.Client(timeout=10) as browser:
        answer = browser.get(url)
        while answer.is_redirect and not answer.headers["location"].startswith(CALLBACK):
            answer = browser.get(httpx.URL(str(answer.url)).join(answer.headers["location"]))
        check(answer.status_code == 200, f"the login page answered {answer.status_code}")
        csrf = CSRF.search(answer.text)
        if csrf is None:
            raise Mismatch("the login page has no form token")
        posted = browser.post(
            str(answer.url),
            data={"_csrf": csrf.group(1), "username": person.username, "password": person.password},
        )
        location = posted.headers.get("location", "")
        if not location.startswith(CALLBACK):
            raise Mismatch(f"sign-in answered {posted.status_code}, not a redirect to the app")
        return location


def start(target: Target, kit: Kit, app: App) -> tuple[Any, str, str, dict[str, Any]]:
    """authlib's session, the authorization URL, its PKCE verifier, and the discovery document."""
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session

    answer = target.get(f"/{kit.pool_id}/.well-known/openid-configuration")
    check(answer.status_code == 200, f"discovery answered {answer.status_code}")
    discovery = answer.json()
    check(
        "authorization_endpoint" in discovery,
        "the discovery document has no authorization_endpoint",
    )
    session = OAuth2Session(
        app.id,
        redirect_uri=CALLBACK,
        scope="openid email",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    url, _ = session.create_authorization_url(
        discovery["authorization_endpoint"], code_verifier=verifier, nonce="n-0123456789"
    )
    return session, url, verifier, discovery


@rows.row("authlib.authorization_code_pkce", "code flow with PKCE through the hosted login")
def authorization_code(target: Target) -> None:
    kit = Kit(target)
    app, person = code_client(kit), kit.person()
    session, url, verifier, discovery = start(target, kit, app)
    callback = browser_sign_in(target, url, person)
    token = session.fetch_token(
        discovery["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    identity = verify_token(target, kit.pool_id, token["id_token"], "id", app.id)
    equal(
        (identity["cognito:username"], identity.get("nonce")),
        (person.username, "n-0123456789"),
        "ID token",
    )
    access = verify_token(target, kit.pool_id, token["access_token"], "access", app.id, {"scope"})
    equal(sorted(access["scope"].split()), ["email", "openid"], "granted scopes")


@rows.row("authlib.authorization_code_pkce.wrong_verifier", "a code redeemed with another verifier")
def wrong_verifier(target: Target) -> None:
    kit = Kit(target)
    app, person = code_client(kit), kit.person()
    session, url, _, discovery = start(target, kit, app)
    callback = browser_sign_in(target, url, person)
    oauth_error(
        lambda: session.fetch_token(
            discovery["token_endpoint"], authorization_response=callback, code_verifier="x" * 48
        ),
        "invalid_grant",
    )

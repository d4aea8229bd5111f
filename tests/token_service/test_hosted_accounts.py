"""The hosted login's self-service pages over HTTP: forgotten password and sign-up.

The codes are read where the service delivers them without SMTP: its outbox
(`token-service outbox`), as an operator would.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.token_service.conftest import PASSWORD, Server, create_user
from tests.token_service.test_authorize import (
    CALLBACK,
    authorize_params,
    csrf_of,
    login_page,
    oauth_client,
    pkce,
    post_login,
    query_of,
)

CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture(scope="module")
def pool(cognito: Any) -> dict[str, str]:
    pool_id = cognito.create_user_pool(
        PoolName="self-service",
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    closed = cognito.create_user_pool(
        PoolName="invite-only", AdminCreateUserConfig={"AllowAdminCreateUserOnly": True}
    )["UserPool"]["Id"]
    return {
        "id": pool_id,
        "spa": oauth_client(cognito, pool_id, "spa", AllowedOAuthScopes=["openid", "email"])[
            "ClientId"
        ],
        "closed": closed,
        "closed_spa": oauth_client(cognito, closed, "spa", AllowedOAuthScopes=["openid"])[
            "ClientId"
        ],
    }


@pytest.fixture
def browser(server: Server) -> Any:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def last_code(server: Server, pool_id: str, to: str) -> str:
    result = server.cli("outbox", "--pool", pool_id, "--to", to, "--limit", "1", "--json")
    assert result.returncode == 0, result.stderr
    match = CODE.search(json.loads(result.stdout)[0]["body"])
    assert match
    return match.group(1)


def submit(browser: httpx.Client, page: httpx.Response, **fields: str) -> httpx.Response:
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action, page.text
    return browser.post(
        action.group(1).replace("&amp;", "&"), data={"_csrf": csrf_of(page), **fields}
    )


def link(page: httpx.Response, text: str) -> str:
    found = re.search(rf'<a href="([^"]+)">{re.escape(text)}</a>', page.text)
    assert found, page.text
    return found.group(1).replace("&amp;", "&")


def test_forgot_password_from_the_login_page(
    browser: httpx.Client, server: Server, cognito: Any, pool: dict[str, str]
) -> None:
    create_user(cognito, pool["id"], "erin")
    params = authorize_params(pool["spa"], pkce()[1])
    forgot = browser.get(link(login_page(browser, params), "Forgot your password?"))
    assert forgot.status_code == 200 and 'name="username"' in forgot.text
    reset = submit(browser, forgot, username="erin")
    assert "We sent a code to e***@e***" in reset.text
    code = last_code(server, pool["id"], "erin@example.com")
    wrong = submit(browser, reset, username="erin", code="000000", new_password="N3w-Passw0rd!")
    assert "Invalid verification code provided" in wrong.text
    done = submit(browser, wrong, username="erin", code=code, new_password="N3w-Passw0rd!")
    assert "Your password was changed" in done.text and 'name="password"' in done.text
    signed_in = submit(browser, done, username="erin", password="N3w-Passw0rd!")
    assert signed_in.status_code == 303
    assert signed_in.headers["location"].startswith(CALLBACK + "?code=")
    # The old password no longer works.
    again = login_page(browser, {**params, "prompt": "login"})
    assert "Incorrect username or password." in post_login(browser, again, "erin", PASSWORD).text


def test_forgot_password_for_an_unknown_user_looks_the_same(
    browser: httpx.Client, pool: dict[str, str]
) -> None:
    params = authorize_params(pool["spa"], pkce()[1])
    forgot = browser.get(link(login_page(browser, params), "Forgot your password?"))
    reset = submit(browser, forgot, username="nobody-at-all")
    assert "We sent a code to" in reset.text and 'name="code"' in reset.text
    wrong = submit(
        browser, reset, username="nobody-at-all", code="123456", new_password="N3w-Passw0rd!"
    )
    assert "Invalid verification code provided" in wrong.text


def test_sign_up_confirm_and_sign_in(
    browser: httpx.Client, server: Server, pool: dict[str, str]
) -> None:
    params = authorize_params(pool["spa"], pkce()[1])
    sign_up = browser.get(link(login_page(browser, params), "Need an account? Sign up"))
    weak = submit(browser, sign_up, username="frank", email="frank@example.com", password="weak")
    assert "Password did not conform with policy" in weak.text
    confirm = submit(browser, weak, username="frank", email="frank@example.com", password=PASSWORD)
    assert "We sent a code to" in confirm.text
    code = last_code(server, pool["id"], "frank@example.com")
    taken = submit(browser, sign_up, username="frank", email="frank@example.com", password=PASSWORD)
    assert "User already exists" in taken.text
    confirmed = submit(browser, confirm, username="frank", code=code)
    assert "Your account is confirmed" in confirmed.text
    answer = submit(browser, confirmed, username="frank", password=PASSWORD)
    assert answer.status_code == 303 and "code" in query_of(answer.headers["location"])


def test_invite_only_pools_offer_no_sign_up(browser: httpx.Client, pool: dict[str, str]) -> None:
    params = authorize_params(pool["closed_spa"], pkce()[1], scope="openid")
    page = login_page(browser, params)
    assert "Sign up" not in page.text and "Forgot your password?" in page.text
    direct = browser.get("/signup", params=params)
    assert "Sign-up is not offered here" in direct.text and 'name="email"' not in direct.text


def test_self_service_posts_need_the_csrf_token(
    browser: httpx.Client, pool: dict[str, str]
) -> None:
    params = authorize_params(pool["spa"], pkce()[1])
    login_page(browser, params)
    for path, form in (
        ("/forgotPassword", {"username": "erin"}),
        ("/confirmForgotPassword", {"username": "erin", "code": "1", "new_password": "x"}),
        ("/signup", {"username": "mallory", "email": "m@example.com", "password": PASSWORD}),
        ("/confirmUser", {"username": "mallory", "code": "1"}),
    ):
        assert browser.post(path, params=params, data=form).status_code == 403

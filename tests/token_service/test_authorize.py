"""The OpenID provider over HTTP: /oauth2/authorize, the login form, codes, sessions, logout.

A real `token-service serve` is driven with httpx as a browser would (cookies kept, redirects
read one by one, the login form's CSRF token taken from the page). The browser itself, with
Chromium, is in test_hosted_login.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
    create_user,
    start_server,
    stop_server,
)
from token_service.hosted.branding import contrast, text_on

CALLBACK = "http://127.0.0.1:9/callback"
OTHER_CALLBACK = "https://app.example.com/auth/callback?tenant=acme"
SIGNED_OUT = "http://127.0.0.1:9/signed-out"
SCOPES = ["openid", "email", "profile", "aws.cognito.signin.user.admin", "pdp/decide"]


@dataclass
class OAuthPool:
    """A pool with browser clients: two public SPAs (SSO between them) and a web backend."""

    id: str
    spa: str
    second_spa: str
    web: str
    web_secret: str
    no_oauth: str
    # A client of the Cognito API only (USER_PASSWORD_AUTH), for comparisons with it.
    api: str


def oauth_client(
    cognito: Any, pool_id: str, name: str, *, secret: bool = False, **extra: Any
) -> dict[str, Any]:
    settings_: dict[str, Any] = {
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthScopes": SCOPES,
        "CallbackURLs": [CALLBACK, OTHER_CALLBACK],
        "LogoutURLs": [SIGNED_OUT],
        "SupportedIdentityProviders": ["COGNITO"],
        "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
        **extra,
    }
    return cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName=name, GenerateSecret=secret, **settings_
    )["UserPoolClient"]


def make_oauth_pool(cognito: Any, name: str) -> OAuthPool:
    pool_id = cognito.create_user_pool(
        PoolName=name,
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    cognito.create_resource_server(
        UserPoolId=pool_id,
        Identifier="pdp",
        Name="PDP",
        Scopes=[{"ScopeName": "decide", "ScopeDescription": "ask for decisions"}],
    )
    web = oauth_client(cognito, pool_id, "web", secret=True)
    no_oauth = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="api-only",
        CallbackURLs=[CALLBACK],
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return OAuthPool(
        id=pool_id,
        spa=oauth_client(cognito, pool_id, "spa")["ClientId"],
        second_spa=oauth_client(cognito, pool_id, "spa-two")["ClientId"],
        web=web["ClientId"],
        web_secret=web["ClientSecret"],
        no_oauth=no_oauth,
        api=no_oauth,
    )


@pytest.fixture(scope="module")
def oauth(cognito: Any) -> OAuthPool:
    return make_oauth_pool(cognito, "browser")


@pytest.fixture(scope="module")
def alice(cognito: Any, oauth: OAuthPool) -> str:
    return create_user(cognito, oauth.id, "alice")


@pytest.fixture
def browser(server: Server) -> Any:
    """A fresh cookie jar: one browser."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(client_id: str, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
    }
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return params


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="_csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def login_page(browser: httpx.Client, params: dict[str, str]) -> httpx.Response:
    started = browser.get("/oauth2/authorize", params=params)
    assert started.status_code == 303, started.text
    assert started.headers["location"].startswith("/login?")
    page = browser.get(started.headers["location"])
    assert page.status_code == 200
    return page


def post_login(
    browser: httpx.Client, page: httpx.Response, username: str, password: str
) -> httpx.Response:
    return browser.post(
        str(page.url),
        data={"_csrf": csrf_of(page), "username": username, "password": password},
    )


def sign_in(
    browser: httpx.Client, params: dict[str, str], username: str = "alice"
) -> dict[str, str]:
    """Through the login form to the callback; the callback's query."""
    answer = post_login(browser, login_page(browser, params), username, PASSWORD)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(params["redirect_uri"].split("?")[0])
    return query_of(location)


def redeem(
    http: httpx.Client,
    client_id: str,
    code: str,
    verifier: str | None,
    secret: str | None = None,
    redirect_uri: str = CALLBACK,
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    auth = (client_id, secret) if secret else None
    if auth is None:
        form["client_id"] = client_id
    return http.post("/oauth2/token", data=form, auth=auth)


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_code_with_pkce_gives_tokens_with_nonce_at_hash_auth_time_and_scopes(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    verifier, challenge = pkce()
    params = authorize_params(oauth.spa, challenge, scope="openid email pdp/decide")
    answer = sign_in(browser, params)
    assert answer["state"] == params["state"] and set(answer) == {"code", "state"}
    response = redeem(http, oauth.spa, answer["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "id_token", "refresh_token", "expires_in", "token_type"}
    access, identity = claims(body["access_token"]), claims(body["id_token"])
    assert access["scope"] == "openid email pdp/decide"
    assert access["sub"] == identity["sub"] == alice
    assert identity["nonce"] == params["nonce"] and identity["aud"] == oauth.spa
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert identity["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert identity["amr"] == access["amr"] == ["pwd"]
    assert identity["auth_time"] == access["auth_time"] <= identity["iat"]
    info = http.get("/oauth2/userInfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == alice
    refreshed = http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": oauth.spa,
            "refresh_token": body["refresh_token"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert claims(refreshed.json()["id_token"])["auth_time"] == identity["auth_time"]


def test_without_openid_there_is_no_id_token(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    verifier, challenge = pkce()
    params = authorize_params(oauth.spa, challenge, scope="pdp/decide")
    body = redeem(http, oauth.spa, sign_in(browser, params)["code"], verifier).json()
    assert "id_token" not in body and claims(body["access_token"])["scope"] == "pdp/decide"
    # Neither openid nor the user-pool scope: userInfo refuses it, as Cognito's does.
    info = http.get("/oauth2/userInfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 401


def test_no_scope_asked_grants_all_of_the_clients(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    verifier, challenge = pkce()
    params = authorize_params(oauth.spa, challenge)
    del params["scope"]
    body = redeem(http, oauth.spa, sign_in(browser, params)["code"], verifier).json()
    assert claims(body["access_token"])["scope"].split() == SCOPES


def test_confidential_client_authenticates_and_may_skip_pkce(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    code = sign_in(browser, authorize_params(oauth.web, None))["code"]
    assert redeem(http, oauth.web, code, None, secret="wrong").status_code == 401
    response = redeem(http, oauth.web, code, None, secret=oauth.web_secret)
    assert response.status_code == 200, response.text


def test_replayed_code_fails_and_revokes_the_first_sign_in(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    verifier, challenge = pkce()
    code = sign_in(browser, authorize_params(oauth.spa, challenge))["code"]
    first = redeem(http, oauth.spa, code, verifier).json()
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert http.get("/oauth2/userInfo", headers=bearer).status_code == 200
    again = redeem(http, oauth.spa, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert http.get("/oauth2/userInfo", headers=bearer).status_code == 401
    refreshed = http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": oauth.spa,
            "refresh_token": first["refresh_token"],
        },
    )
    assert refreshed.status_code == 400


def test_code_is_bound_to_verifier_client_and_redirect_uri(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    verifier, challenge = pkce()
    code = sign_in(browser, authorize_params(oauth.spa, challenge))["code"]
    wrong_verifier = redeem(http, oauth.spa, code, pkce()[0])
    assert wrong_verifier.json()["error"] == "invalid_grant"
    assert redeem(http, oauth.spa, code, None).json()["error"] == "invalid_grant"
    assert redeem(http, oauth.second_spa, code, verifier).json()["error"] == "invalid_grant"
    other_uri = redeem(http, oauth.spa, code, verifier, redirect_uri=OTHER_CALLBACK)
    assert other_uri.json()["error"] == "invalid_grant"
    malformed = redeem(http, oauth.spa, code, "short")
    assert malformed.json()["error"] == "invalid_request"
    # None of these used the code up.
    assert redeem(http, oauth.spa, code, verifier).status_code == 200
    assert redeem(http, oauth.spa, "not-a-code", verifier).json()["error"] == "invalid_grant"


def test_sso_second_client_signs_in_without_a_prompt(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    sign_in(browser, authorize_params(oauth.spa, pkce()[1]))
    session = browser.cookies.get("cognito")
    assert session
    verifier, challenge = pkce()
    params = authorize_params(oauth.second_spa, challenge)
    answer = browser.get("/oauth2/authorize", params=params)
    assert answer.status_code == 303
    query = query_of(answer.headers["location"])
    assert answer.headers["location"].startswith(CALLBACK) and query["state"] == params["state"]
    body = redeem(http, oauth.second_spa, query["code"], verifier).json()
    assert claims(body["id_token"])["aud"] == oauth.second_spa
    # prompt=login asks again, even with a session.
    forced = browser.get("/oauth2/authorize", params={**params, "prompt": "login"})
    assert forced.headers["location"].startswith("/login?")


def test_prompt_none_without_session_is_login_required(
    browser: httpx.Client, oauth: OAuthPool
) -> None:
    params = authorize_params(oauth.spa, pkce()[1], prompt="none")
    answer = browser.get("/oauth2/authorize", params=params)
    assert answer.status_code == 303
    query = query_of(answer.headers["location"])
    assert query["error"] == "login_required" and query["state"] == params["state"]


def test_session_cookie_attributes_and_rotation(
    browser: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    page = login_page(browser, authorize_params(oauth.spa, pkce()[1]))
    xsrf = page.headers["set-cookie"].lower()
    assert "httponly" in xsrf and "samesite=lax" in xsrf and "path=/" in xsrf
    answer = post_login(browser, page, "alice", PASSWORD)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("cognito=")
    assert all(part in cookie.lower() for part in ("httponly", "samesite=lax", "path=/"))
    assert "secure" not in cookie.lower()  # served over http here
    first = browser.cookies.get("cognito")
    again = login_page(browser, authorize_params(oauth.spa, pkce()[1], prompt="login"))
    assert post_login(browser, again, "alice", PASSWORD).status_code == 303
    assert browser.cookies.get("cognito") != first
    # The replaced session no longer signs anyone in.
    with httpx.Client(base_url=str(browser.base_url), cookies={"cognito": first or ""}) as stale:
        again = stale.get("/oauth2/authorize", params=authorize_params(oauth.spa, pkce()[1]))
        assert again.headers["location"].startswith("/login?")


def test_global_sign_out_ends_the_hosted_session(
    browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str, unsigned_cognito: Any
) -> None:
    verifier, challenge = pkce()
    code = sign_in(
        browser,
        authorize_params(oauth.spa, challenge, scope="openid aws.cognito.signin.user.admin"),
    )["code"]
    tokens = redeem(http, oauth.spa, code, verifier).json()
    unsigned_cognito.global_sign_out(AccessToken=tokens["access_token"])
    answer = browser.get("/oauth2/authorize", params=authorize_params(oauth.spa, pkce()[1]))
    assert answer.headers["location"].startswith("/login?")


def test_admin_user_global_sign_out_ends_the_hosted_session(
    browser: httpx.Client, oauth: OAuthPool, cognito: Any
) -> None:
    create_user(cognito, oauth.id, "bob")
    sign_in(browser, authorize_params(oauth.spa, pkce()[1]), username="bob")
    cognito.admin_user_global_sign_out(UserPoolId=oauth.id, Username="bob")
    answer = browser.get("/oauth2/authorize", params=authorize_params(oauth.spa, pkce()[1]))
    assert answer.headers["location"].startswith("/login?")


def test_logout_clears_the_session_and_redirects_to_a_registered_uri(
    browser: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    sign_in(browser, authorize_params(oauth.spa, pkce()[1]))
    answer = browser.get("/logout", params={"client_id": oauth.spa, "logout_uri": SIGNED_OUT})
    assert answer.status_code == 303 and answer.headers["location"] == SIGNED_OUT
    assert (
        'cognito=""' in answer.headers["set-cookie"] or "Max-Age=0" in answer.headers["set-cookie"]
    )
    after = browser.get("/oauth2/authorize", params=authorize_params(oauth.spa, pkce()[1]))
    assert after.headers["location"].startswith("/login?")


def test_logout_with_redirect_uri_goes_back_to_login(
    browser: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    sign_in(browser, authorize_params(oauth.spa, pkce()[1]))
    params = authorize_params(oauth.spa, pkce()[1])
    answer = browser.get("/logout", params=params)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?")
    assert query_of(answer.headers["location"])["client_id"] == oauth.spa
    after = browser.get("/oauth2/authorize", params=params)
    assert after.headers["location"].startswith("/login?")


def _hostile_uris() -> st.SearchStrategy[str]:
    registered = [CALLBACK, OTHER_CALLBACK, SIGNED_OUT]
    near = st.sampled_from(registered).flatmap(
        lambda uri: st.sampled_from(
            [
                uri + "/",
                uri.upper(),
                uri + "#x",
                uri + "?a=1",
                uri.replace("127.0.0.1", "127.0.0.1.evil.example"),
                uri.replace("http://", "https://"),
                uri + "%00",
                "//" + uri.split("//", 1)[1],
                uri.replace("/callback", "/callback/../evil"),
                uri + " ",
                "https://evil.example/?next=" + uri,
            ]
        )
    )
    anything = st.text(min_size=1, max_size=80)
    urls = st.builds(
        lambda host, path: f"https://{host}/{path}",
        st.from_regex(r"[a-z0-9]{1,12}\.(example|test)", fullmatch=True),
        st.text(alphabet="abc/._-?=&", max_size=20),
    )
    return st.one_of(near, anything, urls).filter(lambda u: u not in registered)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(uri=_hostile_uris())
def test_unregistered_redirect_and_logout_uris_are_never_redirected_to(
    http: httpx.Client, oauth: OAuthPool, uri: str
) -> None:
    for path, params in (
        ("/oauth2/authorize", authorize_params(oauth.spa, pkce()[1], redirect_uri=uri)),
        ("/login", authorize_params(oauth.spa, pkce()[1], redirect_uri=uri)),
        ("/logout", {"client_id": oauth.spa, "logout_uri": uri}),
    ):
        answer = http.get(path, params=params)
        assert answer.status_code == 400, (path, uri, answer.status_code)
        assert "location" not in answer.headers
        assert answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": ""}, "invalid_request"),
        ({"scope": "openid admin:everything"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": ""}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"prompt": "consent"}, "invalid_request"),
        ({"identity_provider": "Google"}, "invalid_request"),
        ({"idp_identifier": "example.com"}, "invalid_request"),
    ],
)
def test_bad_requests_go_back_to_the_client_with_error_and_state(
    http: httpx.Client, oauth: OAuthPool, change: dict[str, str], error: str
) -> None:
    params = authorize_params(oauth.spa, pkce()[1], **change)
    answer = http.get("/oauth2/authorize", params=params)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query["error"] == error and query["state"] == params["state"]
    assert query["error_description"]


def test_public_client_needs_pkce_and_other_flows_are_refused(
    http: httpx.Client, oauth: OAuthPool
) -> None:
    no_pkce = query_of(
        http.get("/oauth2/authorize", params=authorize_params(oauth.spa, None)).headers["location"]
    )
    assert (
        no_pkce["error"] == "invalid_request" and "code_challenge" in no_pkce["error_description"]
    )
    api_only = http.get("/oauth2/authorize", params=authorize_params(oauth.no_oauth, pkce()[1]))
    assert query_of(api_only.headers["location"])["error"] == "unauthorized_client"
    # identity_provider=COGNITO is the pool itself.
    own = http.get(
        "/oauth2/authorize",
        params=authorize_params(oauth.spa, pkce()[1], identity_provider="COGNITO"),
    )
    assert own.headers["location"].startswith("/login?")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"client_id": "nosuchclient", "redirect_uri": CALLBACK, "response_type": "code"},
        {"response_type": "code", "redirect_uri": CALLBACK},
        {"client_id": "{spa}", "response_type": "code"},
        {
            "client_id": "{spa}",
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "state": "a\x00b",
        },
    ],
)
def test_untrusted_requests_get_an_error_page(
    http: httpx.Client, oauth: OAuthPool, params: dict[str, str]
) -> None:
    params = {k: v.replace("{spa}", oauth.spa) for k, v in params.items()}
    answer = http.get("/oauth2/authorize", params=params)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")


def test_repeated_redirect_uri_is_an_error_page(http: httpx.Client, oauth: OAuthPool) -> None:
    query = urlencode(authorize_params(oauth.spa, pkce()[1])) + "&redirect_uri=" + OTHER_CALLBACK
    answer = http.get(f"/oauth2/authorize?{query}")
    assert answer.status_code == 400 and "location" not in answer.headers


def test_form_posts_without_a_valid_csrf_token_are_refused(
    browser: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    page = login_page(browser, authorize_params(oauth.spa, pkce()[1]))
    url = str(page.url)
    credentials = {"username": "alice", "password": PASSWORD}
    assert browser.post(url, data=credentials).status_code == 403
    assert browser.post(url, data={**credentials, "_csrf": "forged"}).status_code == 403
    # A token made for another browser's cookie does not pass with this one.
    with httpx.Client(base_url=str(browser.base_url)) as other:
        token = csrf_of(login_page(other, authorize_params(oauth.spa, pkce()[1])))
    refused = browser.post(url, data={**credentials, "_csrf": token})
    assert refused.status_code == 403 and "location" not in refused.headers
    assert browser.cookies.get("cognito") is None
    assert post_login(browser, page, "alice", PASSWORD).status_code == 303


def test_unknown_user_and_wrong_password_get_the_same_page(
    browser: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    params = authorize_params(oauth.spa, pkce()[1])
    page = login_page(browser, params)

    def answer(username: str) -> str:
        text = post_login(browser, page, username, "Wrong-passw0rd!").text
        return re.sub(
            r'value="[^"]*"', 'value=""', re.sub(r"nonce-[^'\"]+|nonce=\"[^\"]+\"", "", text)
        )

    unknown, wrong = answer("nobody-here"), answer("alice").replace("alice", "nobody-here")
    assert unknown == wrong
    assert "Incorrect username or password." in unknown


@pytest.fixture(scope="module")
def locking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose lock outlasts any test run (the shared one's lasts 2 seconds)."""
    running = start_server(
        tmp_path_factory.mktemp("hosted-lockout"), TOKEN_SERVICE_LOCKOUT_SECONDS="3600"
    )
    yield running
    stop_server(running)


def test_lockout_through_the_page(locking_server: Server) -> None:
    cognito = cognito_client(locking_server.url)
    oauth = make_oauth_pool(cognito, "lockout")
    create_user(cognito, oauth.id, "carol")
    browser = httpx.Client(base_url=locking_server.url, timeout=10)
    page = login_page(browser, authorize_params(oauth.spa, pkce()[1]))
    texts = [post_login(browser, page, "carol", "Wrong-passw0rd!").text for _ in range(3)]
    assert "Incorrect username or password." in texts[0]
    assert "Password attempts exceeded" in texts[-1]
    locked = post_login(browser, page, "carol", PASSWORD)
    assert locked.status_code == 200 and "Password attempts exceeded" in locked.text
    # The API sees the same lock.
    with pytest.raises(ClientError, match="Password attempts exceeded"):
        cognito.initiate_auth(
            ClientId=oauth.api,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "carol", "PASSWORD": PASSWORD},
        )
    browser.close()


def test_new_password_required_is_a_page(
    browser: httpx.Client, http: httpx.Client, cognito: Any, oauth: OAuthPool
) -> None:
    cognito.admin_create_user(
        UserPoolId=oauth.id,
        Username="dave",
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
    )
    verifier, challenge = pkce()
    params = authorize_params(oauth.spa, challenge)
    page = post_login(browser, login_page(browser, params), "dave", "Temp-Passw0rd!")
    assert page.status_code == 200 and 'name="new_password"' in page.text
    session = re.search(r'name="session" value="([^"]+)"', page.text)
    assert session
    action = re.search(r'action="([^"]+)"', page.text)
    assert action
    url = action.group(1).replace("&amp;", "&")
    weak = browser.post(
        url,
        data={
            "_csrf": csrf_of(page),
            "session": session.group(1),
            "username": "dave",
            "new_password": "short",
        },
    )
    assert weak.status_code == 200 and "Password did not conform with policy" in weak.text
    done = browser.post(
        url,
        data={
            "_csrf": csrf_of(weak),
            "session": session.group(1),
            "username": "dave",
            "new_password": "N3w-Passw0rd!",
        },
    )
    assert done.status_code == 303, done.text
    code = query_of(done.headers["location"])["code"]
    assert redeem(http, oauth.spa, code, verifier).status_code == 200


def test_pages_carry_the_security_headers(browser: httpx.Client, oauth: OAuthPool) -> None:
    for answer in (
        login_page(browser, authorize_params(oauth.spa, pkce()[1])),
        browser.get("/oauth2/authorize"),
        browser.get("/oauth2/authorize", params=authorize_params(oauth.spa, pkce()[1])),
    ):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"


def test_discovery_names_the_browser_endpoints(http: httpx.Client, oauth: OAuthPool) -> None:
    config = http.get(f"/{oauth.id}/.well-known/openid-configuration").json()
    assert config["authorization_endpoint"].endswith("/oauth2/authorize")
    assert config["end_session_endpoint"].endswith("/logout")
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "code" in config["response_types_supported"]
    assert "authorization_code" in config["grant_types_supported"]


def test_no_code_or_state_reaches_the_log(
    server: Server, browser: httpx.Client, http: httpx.Client, oauth: OAuthPool, alice: str
) -> None:
    verifier, challenge = pkce()
    params = authorize_params(oauth.spa, challenge)
    answer = sign_in(browser, params)
    redeem(http, oauth.spa, answer["code"], verifier)
    log = server.log()
    # The requests are in the access log, without their query strings.
    assert '"GET /oauth2/authorize HTTP/1.1" 303' in log and '"POST /login HTTP/1.1" 303' in log
    for value in (answer["code"], params["state"], params["nonce"], challenge, verifier, PASSWORD):
        assert value not in log


@given(color=st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True))
def test_button_text_meets_wcag_aa_on_any_primary_colour(color: str) -> None:
    text = text_on(color)
    assert text in ("#000000", "#ffffff")
    assert contrast(color, text) >= 4.5


def test_branding_is_refused_unless_well_formed(server: Server, oauth: OAuthPool) -> None:
    for option in (["--primary-color", "red"], ["--logo-url", "http://insecure.example/l.png"]):
        result = server.cli("pool", "branding", "--pool", oauth.id, *option)
        assert result.returncode == 1 and "error:" in result.stderr
    unknown = server.cli("pool", "branding", "--pool", "us-east-1_nosuchpool", "--clear")
    assert unknown.returncode == 1


_PARAMETERS = st.sampled_from(
    [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "prompt",
        "login_hint",
        "identity_provider",
        "idp_identifier",
        "logout_uri",
        "other",
    ]
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        _PARAMETERS,
        st.one_of(
            st.text(max_size=60), st.sampled_from(["code", "S256", "login", "none", CALLBACK])
        ),
        max_size=5,
    ),
    path=st.sampled_from(["/oauth2/authorize", "/login", "/logout", "/forgotPassword", "/signup"]),
)
def test_any_request_is_answered_without_a_crash_or_a_foreign_redirect(
    http: httpx.Client, oauth: OAuthPool, changes: dict[str, str], path: str
) -> None:
    params = {**authorize_params(oauth.spa, pkce()[1]), "client_id": oauth.spa, **changes}
    answer = http.get(path, params=params)
    assert answer.status_code in (200, 303, 400), answer.status_code
    if answer.status_code == 303:
        location = answer.headers["location"]
        assert location.startswith(("/login?", CALLBACK + "?", SIGNED_OUT)), location


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    form=st.dictionaries(
        st.sampled_from(["username", "password", "session", "code", "new_password", "x"]),
        st.text(max_size=80),
        max_size=4,
    ),
    path=st.sampled_from(["/login", "/login/new-password", "/login/mfa", "/login/mfa-setup"]),
)
def test_any_form_with_a_good_csrf_token_is_answered_without_a_crash(
    server: Server, oauth: OAuthPool, form: dict[str, str], path: str
) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        page = login_page(browser, authorize_params(oauth.spa, pkce()[1]))
        query = urlsplit(str(page.url)).query
        answer = browser.post(f"{path}?{query}", data={**form, "_csrf": csrf_of(page)})
    # The token is the login form's: other steps refuse it; the login form answers a page.
    assert answer.status_code == (200 if path == "/login" else 403), answer.status_code


@pytest.mark.postgres
def test_the_code_flow_on_postgresql(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Sessions, codes (row-locked at redemption), replay revocation and logout on PostgreSQL."""
    running = start_server(
        tmp_path_factory.mktemp("hosted-postgres"), TOKEN_SERVICE_DATABASE_URL=postgres_url
    )
    try:
        oauth = make_oauth_pool(cognito_client(running.url), "postgres")
        create_user(cognito_client(running.url), oauth.id, "alice")
        with httpx.Client(base_url=running.url, timeout=10) as browser:
            verifier, challenge = pkce()
            code = sign_in(browser, authorize_params(oauth.spa, challenge))["code"]
            first = redeem(browser, oauth.spa, code, verifier)
            assert first.status_code == 200, first.text
            assert redeem(browser, oauth.spa, code, verifier).json()["error"] == "invalid_grant"
            bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
            assert browser.get("/oauth2/userInfo", headers=bearer).status_code == 401
            sso = browser.get("/oauth2/authorize", params=authorize_params(oauth.spa, challenge))
            assert sso.headers["location"].startswith(CALLBACK + "?code=")
            browser.get("/logout", params={"client_id": oauth.spa, "logout_uri": SIGNED_OUT})
            after = browser.get("/oauth2/authorize", params=authorize_params(oauth.spa, challenge))
            assert after.headers["location"].startswith("/login?")
    finally:
        stop_server(running)

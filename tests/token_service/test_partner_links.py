"""Partner sign-in links and the sign-in event records, against a real server over HTTP.

Secrets are made with the CLI, as an operator would; links are signed with PyJWT, as a
partner's application would sign them.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import PASSWORD, Server, create_user
from tests.token_service.test_authorize import (
    CALLBACK,
    authorize_params,
    claims,
    login_page,
    oauth_client,
    pkce,
    post_login,
    query_of,
    redeem,
)

BAD_LINK = "This link is invalid or expired."


def cli_json(server: Server, *args: str) -> Any:
    result = server.cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def partner(cognito: Any, server: Server) -> dict[str, Any]:
    pool = cognito.create_user_pool(
        PoolName="partners",
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    spa = oauth_client(cognito, pool, "ats-app", AllowedOAuthScopes=["openid", "email"])
    other = oauth_client(cognito, pool, "other-app", AllowedOAuthScopes=["openid"])
    issued = cli_json(
        server, "partner", "create", "--pool", pool, "--client-id", spa["ClientId"], "--name", "ats"
    )
    other_secret = cli_json(
        server, "partner", "create", "--pool", pool, "--client-id", other["ClientId"], "--name", "x"
    )
    return {
        "pool": pool,
        "client": spa["ClientId"],
        "secret": issued["secret"],
        "secret_id": issued["id"],
        "other_secret": other_secret,
        "sub": create_user(cognito, pool, "grace"),
    }


@pytest.fixture
def browser(server: Server) -> Any:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def link(partner: dict[str, Any], token: str, challenge: str, **extra: str) -> str:
    query = urlencode(authorize_params(partner["client"], challenge, **extra))
    return f"/{partner['pool']}/auth/jwt/{token}?{query}"


def sign(claims_: dict[str, Any], secret: str, **header: Any) -> str:
    return jwt.encode(claims_, secret, algorithm="HS256", headers=header or None)


def fresh(partner: dict[str, Any], **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "exp": now + 120, "identity": partner["sub"], **changes}


def refused(answer: httpx.Response) -> bool:
    return (
        answer.status_code == 400
        and BAD_LINK in answer.text
        and "location" not in answer.headers
        and "cognito" not in answer.headers.get("set-cookie", "")
    )


def test_a_link_signs_in_once_and_starts_a_session(
    browser: httpx.Client, http: httpx.Client, partner: dict[str, Any]
) -> None:
    verifier, challenge = pkce()
    token = sign(fresh(partner), partner["secret"])
    answer = browser.get(link(partner, token, challenge))
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "?code=")
    body = redeem(http, partner["client"], query_of(location)["code"], verifier).json()
    identity = claims(body["id_token"])
    assert identity["sub"] == partner["sub"] and identity["amr"] == ["partner"]
    # The session it started signs the user in without a prompt.
    sso = browser.get("/oauth2/authorize", params=authorize_params(partner["client"], pkce()[1]))
    assert sso.headers["location"].startswith(CALLBACK + "?code=")
    # A second use of the same link is refused, whoever presents it.
    assert refused(browser.get(link(partner, token, pkce()[1])))
    assert refused(http.get(link(partner, token, pkce()[1])))


def test_the_secrets_kid_may_name_it(http: httpx.Client, partner: dict[str, Any]) -> None:
    token = sign(fresh(partner), partner["secret"], kid=partner["secret_id"])
    assert http.get(link(partner, token, pkce()[1])).status_code == 303
    elsewhere = sign(fresh(partner), partner["secret"], kid=partner["other_secret"]["id"])
    assert refused(http.get(link(partner, elsewhere, pkce()[1])))


# Signing the hostile HS512 case with the partner's 32-byte secret makes PyJWT warn.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    "case",
    [
        "other_secret",
        "other_clients_secret",
        "expired",
        "no_exp",
        "no_iat",
        "string_exp",
        "iat_in_future",
        "too_long",
        "unknown_identity",
        "identity_not_string",
        "hs512",
        "alg_none",
        "other_pool_in_path",
        "unregistered_redirect",
    ],
)
def test_bad_links_all_get_the_same_page(
    http: httpx.Client, partner: dict[str, Any], case: str
) -> None:
    now = int(time.time())
    secret = partner["secret"]
    body = fresh(partner)
    path_pool, extra = partner["pool"], {}
    if case == "other_secret":
        secret = "not-the-partners-secret-at-all-0000000000"
    elif case == "other_clients_secret":
        secret = partner["other_secret"]["secret"]
    elif case == "expired":
        body = fresh(partner, iat=now - 100, exp=now - 10)
    elif case == "no_exp":
        del body["exp"]
    elif case == "no_iat":
        del body["iat"]
    elif case == "string_exp":
        body["exp"] = str(now + 60)
    elif case == "iat_in_future":
        body = fresh(partner, iat=now + 120, exp=now + 180)
    elif case == "too_long":
        body = fresh(partner, exp=now + 301)
    elif case == "unknown_identity":
        body["identity"] = "00000000-0000-4000-8000-000000000000"
    elif case == "identity_not_string":
        body["identity"] = 42
    elif case == "other_pool_in_path":
        path_pool = "us-east-1_Elsewhere"
    elif case == "unregistered_redirect":
        extra = {"redirect_uri": "https://evil.example/cb"}
    if case == "hs512":
        token = jwt.encode(body, secret, algorithm="HS512")
    elif case == "alg_none":
        token = jwt.encode(body, None, algorithm="none")
    else:
        token = sign(body, secret)
    url = link(partner, token, pkce()[1], **extra).replace(f"/{partner['pool']}/", f"/{path_pool}/")
    assert refused(http.get(url)), case


def test_disabled_unconfirmed_users_get_no_session_invited_ones_do(
    http: httpx.Client, cognito: Any, unsigned_cognito: Any, partner: dict[str, Any]
) -> None:
    disabled = create_user(cognito, partner["pool"], "heidi")
    cognito.admin_disable_user(UserPoolId=partner["pool"], Username="heidi")
    token = sign(fresh(partner, identity=disabled), partner["secret"])
    assert refused(http.get(link(partner, token, pkce()[1])))
    signed_up = unsigned_cognito.sign_up(
        ClientId=partner["client"], Username="ivan", Password=PASSWORD
    )["UserSub"]
    token = sign(fresh(partner, identity=signed_up), partner["secret"])
    assert refused(http.get(link(partner, token, pkce()[1])))
    invited = cognito.admin_create_user(
        UserPoolId=partner["pool"], Username="judy", MessageAction="SUPPRESS"
    )["User"]
    sub = next(a["Value"] for a in invited["Attributes"] if a["Name"] == "sub")
    token = sign(fresh(partner, identity=sub), partner["secret"])
    assert http.get(link(partner, token, pkce()[1])).status_code == 303


def test_rotation_and_revocation(server: Server, http: httpx.Client, cognito: Any) -> None:
    pool = cognito.create_user_pool(PoolName="rotation")["UserPool"]["Id"]
    client = oauth_client(cognito, pool, "app", AllowedOAuthScopes=["openid"])["ClientId"]
    user = cognito.admin_create_user(UserPoolId=pool, Username="kim", MessageAction="SUPPRESS")
    sub = next(a["Value"] for a in user["User"]["Attributes"] if a["Name"] == "sub")
    first = cli_json(
        server, "partner", "create", "--pool", pool, "--client-id", client, "--name", "p"
    )
    partner = {"pool": pool, "client": client, "sub": sub}
    rotated = cli_json(server, "partner", "rotate", "--pool", pool, "--id", first["id"])
    assert rotated["secret"] != first["secret"] and rotated["id"] != first["id"]
    assert refused(
        http.get(link(partner, sign(fresh(partner), first["secret"]), pkce()[1], scope="openid"))
    )
    assert (
        http.get(
            link(partner, sign(fresh(partner), rotated["secret"]), pkce()[1], scope="openid")
        ).status_code
        == 303
    )
    cli_json(server, "partner", "revoke", "--pool", pool, "--id", rotated["id"])
    assert refused(
        http.get(link(partner, sign(fresh(partner), rotated["secret"]), pkce()[1], scope="openid"))
    )
    listed = cli_json(server, "partner", "list", "--pool", pool)
    assert [row["revoked_at"] is not None for row in listed] == [True, True]
    assert all("secret" not in row for row in listed)
    again = server.cli("partner", "revoke", "--pool", pool, "--id", rotated["id"])
    assert again.returncode == 1 and "error:" in again.stderr


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(min_size=1, max_size=300))
def test_any_token_text_is_refused_without_a_crash(
    http: httpx.Client, partner: dict[str, Any], token: str
) -> None:
    answer = http.get(link(partner, quote(token, safe=""), pkce()[1]))
    assert answer.status_code in (400, 404), answer.status_code
    assert "location" not in answer.headers


def test_events_record_sign_ins_links_and_sessions_without_secrets(
    server: Server, browser: httpx.Client, partner: dict[str, Any]
) -> None:
    token = sign(fresh(partner), partner["secret"])
    browser.get(link(partner, token, pkce()[1]), headers={"User-Agent": "partner-test/1.0"})
    browser.get(link(partner, token, pkce()[1]), headers={"User-Agent": "partner-test/1.0"})
    page = login_page(browser, authorize_params(partner["client"], pkce()[1], prompt="login"))
    post_login(browser, page, "grace", "Wrong-passw0rd!")
    post_login(browser, page, "grace", PASSWORD)
    browser.get(
        "/logout",
        params={"client_id": partner["client"], "logout_uri": "http://127.0.0.1:9/signed-out"},
    )
    listed = cli_json(
        server, "events", "--pool", partner["pool"], "--username", "grace", "--limit", "100"
    )
    kinds = [(e["kind"], e["result"], e["reason"]) for e in listed["events"]]
    assert ("link", "pass", None) in kinds and ("link", "fail", "replayed") not in kinds
    assert (
        "sign_in",
        "fail",
        "Incorrect username or password.",
    ) in kinds  # a failure names the user its username belongs to
    assert ("sign_in", "pass", "pwd") in kinds and ("session_end", "pass", None) in kinds
    everything = cli_json(server, "events", "--pool", partner["pool"], "--limit", "1000")["events"]
    assert ("link", "fail", "replayed") in [
        (e["kind"], e["result"], e["reason"]) for e in everything
    ]
    failure = next(e for e in everything if e["reason"] == "Incorrect username or password.")
    assert failure["username"] == "grace" and failure["ip"] == "127.0.0.1"
    assert any(e["user_agent"] == "partner-test/1.0" for e in everything)
    text = json.dumps(everything)
    assert token not in text and PASSWORD not in text and partner["secret"] not in text
    # Pages: newest first, and the token of one page gives the next.
    first = cli_json(server, "events", "--pool", partner["pool"], "--limit", "2")
    second = cli_json(
        server,
        "events",
        "--pool",
        partner["pool"],
        "--limit",
        "2",
        "--page-token",
        first["next_page_token"],
    )
    assert [e["id"] for e in first["events"] + second["events"]] == [
        e["id"] for e in everything[:4]
    ]
    assert first["events"][0]["time"] >= second["events"][-1]["time"]


def test_no_link_token_reaches_the_log(
    server: Server, http: httpx.Client, partner: dict[str, Any]
) -> None:
    token = sign(fresh(partner), partner["secret"])
    http.get(link(partner, token, pkce()[1]))
    log = server.log()
    assert token not in log and token.split(".")[1] not in log
    assert "/auth/jwt/-" in log


def test_admin_list_user_auth_events_in_cognitos_shape(
    cognito: Any, browser: httpx.Client, partner: dict[str, Any]
) -> None:
    create_user(cognito, partner["pool"], "lena")
    page = login_page(browser, authorize_params(partner["client"], pkce()[1]))
    post_login(browser, page, "lena", "Wrong-passw0rd!")
    post_login(browser, page, "lena", PASSWORD)
    events = cognito.admin_list_user_auth_events(UserPoolId=partner["pool"], Username="lena")
    newest, failed = events["AuthEvents"][:2]
    assert newest["EventType"] == failed["EventType"] == "SignIn"
    assert newest["EventResponse"] == "Pass" and failed["EventResponse"] == "Fail"
    assert newest["ChallengeResponses"] == [
        {"ChallengeName": "Password", "ChallengeResponse": "Success"}
    ]
    assert failed["ChallengeResponses"] == [
        {"ChallengeName": "Password", "ChallengeResponse": "Failure"}
    ]
    assert newest["EventContextData"]["IpAddress"] == "127.0.0.1"
    assert newest["CreationDate"] >= failed["CreationDate"]
    one = cognito.admin_list_user_auth_events(
        UserPoolId=partner["pool"], Username="lena", MaxResults=1
    )
    assert len(one["AuthEvents"]) == 1 and one["NextToken"]
    rest = cognito.admin_list_user_auth_events(
        UserPoolId=partner["pool"], Username="lena", MaxResults=1, NextToken=one["NextToken"]
    )
    assert rest["AuthEvents"][0]["EventId"] == failed["EventId"]
    with pytest.raises(cognito.exceptions.UserNotFoundException):
        cognito.admin_list_user_auth_events(UserPoolId=partner["pool"], Username="nobody")
    with pytest.raises(cognito.exceptions.InvalidParameterException):
        cognito.admin_list_user_auth_events(
            UserPoolId=partner["pool"], Username="lena", NextToken="not-a-token"
        )

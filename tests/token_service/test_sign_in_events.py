"""Sign-in events of the Cognito API and the OAuth token endpoint, against a real server.

Clients are boto3 and httpx; the events are read as admins read them (the CLI and
AdminListUserAuthEvents) and, to show that no secret is kept, straight from the store.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import httpx
import pytest

from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
    create_user,
    machine_client,
)

AGENT = "events-test/2.0"
BAD = "Wrong-passw0rd!"


@pytest.fixture(scope="module")
def agent_cognito(server: Server) -> Any:
    """boto3 with a user agent of its own, so the events can be matched to it."""
    return cognito_client(server.url, user_agent_extra=AGENT)


@pytest.fixture(scope="module")
def world(cognito: Any) -> dict[str, Any]:
    pool = cognito.create_user_pool(
        PoolName="events",
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    cognito.create_resource_server(
        UserPoolId=pool,
        Identifier="pdp",
        Name="PDP",
        Scopes=[{"ScopeName": "decide", "ScopeDescription": "ask for decisions"}],
    )
    app = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="app",
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
            "ALLOW_USER_SRP_AUTH",
        ],
    )["UserPoolClient"]["ClientId"]
    machine = machine_client(cognito, pool)
    return {"pool": pool, "app": app, "machine": machine}


def events_of(server: Server, pool: str, username: str | None = None) -> list[dict[str, Any]]:
    args = ["events", "--pool", pool, "--limit", "1000", "--json"]
    if username is not None:
        args += ["--username", username]
    result = server.cli(*args)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout)["events"])


def summary(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["kind"], e["result"], e["step"], e["reason"]) for e in events]


def table_text(server: Server) -> str:
    path = server.env["TOKEN_SERVICE_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return json.dumps(db.execute("SELECT * FROM sign_in_events").fetchall())


def password_auth(client: Any, world: dict[str, Any], username: str, password: str) -> Any:
    return client.initiate_auth(
        ClientId=world["app"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


def test_password_sign_ins_pass_and_fail_with_address_and_user_agent(
    server: Server, cognito: Any, agent_cognito: Any, world: dict[str, Any]
) -> None:
    sub = create_user(cognito, world["pool"], "paula")
    with pytest.raises(agent_cognito.exceptions.NotAuthorizedException):
        password_auth(agent_cognito, world, "paula", BAD)
    password_auth(agent_cognito, world, "paula", PASSWORD)
    cognito.admin_initiate_auth(
        UserPoolId=world["pool"],
        ClientId=world["app"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "paula", "PASSWORD": PASSWORD},
    )
    events = events_of(server, world["pool"], "paula")
    assert summary(events)[:3] == [
        ("sign_in", "pass", "ADMIN_USER_PASSWORD_AUTH", "pwd"),
        ("sign_in", "pass", "USER_PASSWORD_AUTH", "pwd"),
        ("sign_in", "fail", "USER_PASSWORD_AUTH", "Incorrect username or password."),
    ]
    failed = events[2]
    assert failed["user_sub"] == sub and failed["username"] == "paula"
    assert failed["client_id"] == world["app"] and failed["ip"] == "127.0.0.1"
    assert AGENT in failed["user_agent"] and AGENT not in events[0]["user_agent"]


def test_unknown_users_and_lockouts_are_recorded_under_the_username_given(
    server: Server, cognito: Any, world: dict[str, Any]
) -> None:
    create_user(cognito, world["pool"], "lou")
    for _ in range(3):  # the suite's server locks out at the third failure
        with pytest.raises(cognito.exceptions.NotAuthorizedException):
            password_auth(cognito, world, "lou", BAD)
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        password_auth(cognito, world, "nobody-here", BAD)
    everything = events_of(server, world["pool"])
    unknown = next(e for e in everything if e["username"] == "nobody-here")
    assert (unknown["kind"], unknown["result"]) == ("sign_in", "fail")
    assert unknown["reason"] == "Incorrect username or password." and unknown["user_sub"] is None
    reasons = [e["reason"] for e in events_of(server, world["pool"], "lou")]
    assert reasons == ["Password attempts exceeded"] + ["Incorrect username or password."] * 2


def test_unknown_clients_leave_no_event_and_do_not_break_the_answer(
    server: Server, cognito: Any, world: dict[str, Any]
) -> None:
    before = len(events_of(server, world["pool"]))
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.initiate_auth(
            ClientId="no-such-client",
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "paula", "PASSWORD": PASSWORD},
        )
    assert len(events_of(server, world["pool"])) == before


def test_challenges_are_in_progress_and_each_answer_is_recorded(
    server: Server, cognito: Any, world: dict[str, Any]
) -> None:
    cognito.admin_create_user(
        UserPoolId=world["pool"],
        Username="nina",
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
    )
    started = password_auth(cognito, world, "nina", "Temp-Passw0rd!")
    assert started["ChallengeName"] == "NEW_PASSWORD_REQUIRED"

    def answer(new_password: str) -> Any:
        return cognito.respond_to_auth_challenge(
            ClientId=world["app"],
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=started["Session"],
            ChallengeResponses={"USERNAME": "nina", "NEW_PASSWORD": new_password},
        )

    with pytest.raises(cognito.exceptions.InvalidPasswordException) as refused:
        answer("short")
    signed_in = answer("Perman3nt-Passw0rd!")
    assert "AuthenticationResult" in signed_in
    assert summary(events_of(server, world["pool"], "nina")) == [
        ("sign_in", "pass", "NEW_PASSWORD_REQUIRED", "pwd"),
        ("sign_in", "fail", "NEW_PASSWORD_REQUIRED", refused.value.response["Error"]["Message"]),
        ("challenge", "pass", "USER_PASSWORD_AUTH", "NEW_PASSWORD_REQUIRED"),
    ]
    listed = cognito.admin_list_user_auth_events(UserPoolId=world["pool"], Username="nina")
    responses = [(e["EventType"], e["EventResponse"]) for e in listed["AuthEvents"]]
    assert responses == [("SignIn", "Pass"), ("SignIn", "Fail"), ("SignIn", "InProgress")]
    assert listed["AuthEvents"][2]["ChallengeResponses"] == [
        {"ChallengeName": "Password", "ChallengeResponse": "Success"}
    ]
    assert listed["AuthEvents"][0]["EventContextData"]["IpAddress"] == "127.0.0.1"
    assert started["Session"] not in table_text(server)


def test_srp_start_is_a_step_without_a_factor(
    server: Server, cognito: Any, world: dict[str, Any]
) -> None:
    create_user(cognito, world["pool"], "sam")
    started = cognito.initiate_auth(
        ClientId=world["app"],
        AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": "sam", "SRP_A": "02"},
    )
    assert started["ChallengeName"] == "PASSWORD_VERIFIER"
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.respond_to_auth_challenge(
            ClientId=world["app"],
            ChallengeName="PASSWORD_VERIFIER",
            ChallengeResponses={
                "USERNAME": "sam",
                "PASSWORD_CLAIM_SECRET_BLOCK": started["ChallengeParameters"]["SECRET_BLOCK"],
                "PASSWORD_CLAIM_SIGNATURE": "bm90IGEgcHJvb2Y=",
                "TIMESTAMP": time.strftime("%a %b %-d %H:%M:%S UTC %Y", time.gmtime()),
            },
        )
    assert summary(events_of(server, world["pool"], "sam"))[-1] == (
        "challenge",
        "pass",
        "USER_SRP_AUTH",
        "PASSWORD_VERIFIER",
    )
    failed = events_of(server, world["pool"], "sam")[0]
    assert (failed["kind"], failed["result"], failed["step"]) == (
        "sign_in",
        "fail",
        "PASSWORD_VERIFIER",
    )
    listed = cognito.admin_list_user_auth_events(UserPoolId=world["pool"], Username="sam")
    assert listed["AuthEvents"][-1]["ChallengeResponses"] == []
    assert started["ChallengeParameters"]["SECRET_BLOCK"] not in table_text(server)


def test_refresh_failures_name_the_tokens_user_and_successes_are_not_events(
    server: Server, http: httpx.Client, cognito: Any, world: dict[str, Any]
) -> None:
    sub = create_user(cognito, world["pool"], "rita")
    tokens = password_auth(cognito, world, "rita", PASSWORD)["AuthenticationResult"]
    refresh = tokens["RefreshToken"]
    cognito.initiate_auth(
        ClientId=world["app"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh},
    )
    cognito.revoke_token(Token=refresh, ClientId=world["app"])
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.initiate_auth(
            ClientId=world["app"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh},
        )
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.get_tokens_from_refresh_token(ClientId=world["app"], RefreshToken=refresh)
    grant = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": world["app"], "refresh_token": refresh},
        headers={"User-Agent": AGENT},
    )
    assert grant.status_code == 400
    refreshes = [e for e in events_of(server, world["pool"]) if e["kind"] == "refresh"]
    mine = [e for e in refreshes if e["user_sub"] == sub]
    assert [(e["result"], e["step"], e["reason"]) for e in mine] == [
        ("fail", "refresh_token", "Refresh Token has been revoked"),
        ("fail", "GetTokensFromRefreshToken", "Refresh Token has been revoked"),
        ("fail", "REFRESH_TOKEN_AUTH", "Refresh Token has been revoked"),
    ]
    assert mine[0]["user_agent"] == AGENT and mine[0]["username"] is None
    text = table_text(server)
    for secret in (refresh, tokens["AccessToken"], tokens["IdToken"], PASSWORD, BAD):
        assert secret not in text


def test_sign_outs_and_machine_tokens_are_events(
    server: Server, http: httpx.Client, cognito: Any, world: dict[str, Any]
) -> None:
    sub = create_user(cognito, world["pool"], "gus")
    access = password_auth(cognito, world, "gus", PASSWORD)["AuthenticationResult"]["AccessToken"]
    cognito.global_sign_out(AccessToken=access)
    cognito.admin_user_global_sign_out(UserPoolId=world["pool"], Username="gus")
    outs = [e for e in events_of(server, world["pool"], "gus") if e["kind"] == "sign_out"]
    assert [(e["result"], e["step"], e["user_sub"]) for e in outs] == [
        ("pass", "AdminUserGlobalSignOut", sub),
        ("pass", "GlobalSignOut", sub),
    ]
    assert outs[1]["client_id"] == world["app"]
    machine = world["machine"]
    good = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(machine["ClientId"], machine["ClientSecret"]),
    )
    bad = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(machine["ClientId"], "not-the-secret"),
    )
    assert (good.status_code, bad.status_code) == (200, 401)
    grants = [
        (e["result"], e["client_id"], e["user_sub"])
        for e in events_of(server, world["pool"])
        if e["kind"] == "client_credentials"
    ]
    assert grants == [("fail", machine["ClientId"], None), ("pass", machine["ClientId"], None)]
    text = table_text(server)
    assert machine["ClientSecret"] not in text and good.json()["access_token"] not in text
    assert access not in text


def test_an_oversized_user_agent_is_cut_not_refused(server: Server, world: dict[str, Any]) -> None:
    """A user agent far over the column's size is cut; the sign-in's answer is unchanged."""
    client = cognito_client(server.url, user_agent="x" * 5000)
    with pytest.raises(client.exceptions.NotAuthorizedException):
        password_auth(client, world, "paula", BAD)
    newest = events_of(server, world["pool"], "paula")[0]
    assert newest["result"] == "fail" and len(newest["user_agent"]) == 512

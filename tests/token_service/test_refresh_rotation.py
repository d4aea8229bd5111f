"""Refresh through GetTokensFromRefreshToken, REFRESH_TOKEN_AUTH and /oauth2/token, with and
without refresh-token rotation, against a running server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.support.cognito_js import run_node
from tests.token_service.conftest import PASSWORD, Server, cognito_client
from tests.token_service.test_cognito_api import error_of

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def rotation(grace: int) -> dict[str, Any]:
    return {"RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": grace}}


class World:
    """A pool with one user and a client per refresh behaviour under test."""

    def __init__(self, cognito: Any) -> None:
        self.cognito = cognito
        self.pool = cognito.create_user_pool(PoolName=f"refresh-{uuid.uuid4().hex[:8]}")[
            "UserPool"
        ]["Id"]
        cognito.admin_create_user(UserPoolId=self.pool, Username="rita", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=self.pool, Username="rita", Password=PASSWORD, Permanent=True
        )

    def client(self, *, secret: bool = False, flows: list[str] = FLOWS, **settings: Any) -> dict:
        return self.cognito.create_user_pool_client(
            UserPoolId=self.pool,
            ClientName="app",
            GenerateSecret=secret,
            ExplicitAuthFlows=flows,
            **settings,
        )["UserPoolClient"]

    def sign_in(self, unsigned: Any, client: dict[str, Any]) -> dict[str, Any]:
        parameters = {"USERNAME": "rita", "PASSWORD": PASSWORD}
        if "ClientSecret" in client:
            digest = hmac.new(
                client["ClientSecret"].encode(),
                ("rita" + client["ClientId"]).encode(),
                hashlib.sha256,
            ).digest()
            parameters["SECRET_HASH"] = base64.b64encode(digest).decode()
        return unsigned.initiate_auth(
            ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters
        )["AuthenticationResult"]


@pytest.fixture
def world(cognito: Any) -> World:
    return World(cognito)


def get_tokens(unsigned: Any, client: dict[str, Any], token: str) -> dict[str, Any]:
    secret = {"ClientSecret": client["ClientSecret"]} if "ClientSecret" in client else {}
    return unsigned.get_tokens_from_refresh_token(
        ClientId=client["ClientId"], RefreshToken=token, **secret
    )["AuthenticationResult"]


def origin(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["origin_jti"])


def test_without_rotation_the_refresh_token_stays(world: World, unsigned_cognito: Any) -> None:
    client = world.client()
    signed_in = world.sign_in(unsigned_cognito, client)
    for _ in range(2):
        refreshed = get_tokens(unsigned_cognito, client, signed_in["RefreshToken"])
        assert "RefreshToken" not in refreshed
        assert refreshed["TokenType"] == "Bearer" and refreshed["IdToken"]
        assert origin(refreshed["AccessToken"]) == origin(signed_in["AccessToken"])
        assert unsigned_cognito.get_user(AccessToken=refreshed["AccessToken"])["Username"] == "rita"
    # REFRESH_TOKEN_AUTH is available without rotation.
    via_initiate = unsigned_cognito.initiate_auth(
        ClientId=client["ClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
    )["AuthenticationResult"]
    assert "RefreshToken" not in via_initiate


def test_get_tokens_refuses(world: World, unsigned_cognito: Any, server: Server) -> None:
    confidential = world.client(secret=True)
    other = world.client()
    signed_in = world.sign_in(unsigned_cognito, confidential)
    token = signed_in["RefreshToken"]
    refresh = unsigned_cognito.get_tokens_from_refresh_token
    cases = [
        ({"ClientId": confidential["ClientId"], "RefreshToken": token}, "NotAuthorizedException"),
        (
            {
                "ClientId": confidential["ClientId"],
                "RefreshToken": token,
                "ClientSecret": "x" * 51,
            },
            "NotAuthorizedException",
        ),
        ({"ClientId": other["ClientId"], "RefreshToken": token}, "NotAuthorizedException"),
        ({"ClientId": other["ClientId"], "RefreshToken": "not-a-token"}, "NotAuthorizedException"),
        ({"ClientId": "nosuchclient", "RefreshToken": token}, "ResourceNotFoundException"),
    ]
    for params, expected in cases:
        code, _ = error_of(refresh, **params)
        assert code == expected, params
    lax = cognito_client(server.url, parameter_validation=False)
    code, message = error_of(lax.get_tokens_from_refresh_token, ClientId=other["ClientId"])
    assert code == "InvalidParameterException" and "RefreshToken" in message
    # None of the refusals harmed the sign-in.
    assert get_tokens(unsigned_cognito, confidential, token)["AccessToken"]


def test_rotation_hands_out_a_new_token_and_reuse_revokes_the_sign_in(
    world: World, unsigned_cognito: Any
) -> None:
    client = world.client(**rotation(0))
    signed_in = world.sign_in(unsigned_cognito, client)
    bystander = world.sign_in(unsigned_cognito, client)
    first = get_tokens(unsigned_cognito, client, signed_in["RefreshToken"])
    assert first["RefreshToken"] != signed_in["RefreshToken"]
    second = get_tokens(unsigned_cognito, client, first["RefreshToken"])
    assert second["RefreshToken"] not in (first["RefreshToken"], signed_in["RefreshToken"])
    assert origin(second["AccessToken"]) == origin(signed_in["AccessToken"])
    # An old token again, with no grace period: taken as stolen, the whole sign-in ends.
    code, _ = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=client["ClientId"],
        RefreshToken=first["RefreshToken"],
    )
    assert code == "RefreshTokenReuseException"
    code, _ = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=client["ClientId"],
        RefreshToken=second["RefreshToken"],
    )
    assert code == "NotAuthorizedException"
    code, _ = error_of(unsigned_cognito.get_user, AccessToken=second["AccessToken"])
    assert code == "NotAuthorizedException"
    # Another sign-in of the same user is untouched.
    assert get_tokens(unsigned_cognito, client, bystander["RefreshToken"])["RefreshToken"]


def test_rotation_grace_period_allows_a_retry_then_catches_reuse(
    world: World, unsigned_cognito: Any
) -> None:
    client = world.client(**rotation(1))
    signed_in = world.sign_in(unsigned_cognito, client)
    original = signed_in["RefreshToken"]
    lost = get_tokens(unsigned_cognito, client, original)["RefreshToken"]
    # A retry with the original token inside the grace period (the answer above was "lost").
    retried = get_tokens(unsigned_cognito, client, original)["RefreshToken"]
    assert retried not in (original, lost)
    # The token the lost answer carried was replaced: unknown, but no alarm.
    code, _ = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=client["ClientId"],
        RefreshToken=lost,
    )
    assert code == "NotAuthorizedException"
    current = get_tokens(unsigned_cognito, client, retried)["RefreshToken"]
    time.sleep(1.5)
    code, _ = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=client["ClientId"],
        RefreshToken=original,
    )
    assert code == "RefreshTokenReuseException"
    code, _ = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=client["ClientId"],
        RefreshToken=current,
    )
    assert code == "NotAuthorizedException"


def test_rotation_refuses_refresh_token_auth(
    world: World, cognito: Any, unsigned_cognito: Any
) -> None:
    client = world.client(**rotation(0))
    signed_in = world.sign_in(unsigned_cognito, client)
    code, message = error_of(
        unsigned_cognito.initiate_auth,
        ClientId=client["ClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
    )
    assert code == "InvalidParameterException" and "GetTokensFromRefreshToken" in message
    code, _ = error_of(
        cognito.admin_initiate_auth,
        UserPoolId=world.pool,
        ClientId=client["ClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
    )
    assert code == "InvalidParameterException"
    # The refusal did not use the token up.
    assert get_tokens(unsigned_cognito, client, signed_in["RefreshToken"])["RefreshToken"]


def test_rotating_client_needs_no_refresh_token_auth_flow(
    world: World, unsigned_cognito: Any
) -> None:
    rotating = world.client(flows=["ALLOW_USER_PASSWORD_AUTH"], **rotation(0))
    plain = world.client(flows=["ALLOW_USER_PASSWORD_AUTH"])
    assert get_tokens(
        unsigned_cognito, rotating, world.sign_in(unsigned_cognito, rotating)["RefreshToken"]
    )["RefreshToken"]
    code, _ = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=plain["ClientId"],
        RefreshToken=world.sign_in(unsigned_cognito, plain)["RefreshToken"],
    )
    assert code == "InvalidParameterException"


@pytest.mark.parametrize("rotating", [False, True])
def test_admin_global_sign_out_then_refresh_is_refused(
    world: World, cognito: Any, unsigned_cognito: Any, rotating: bool
) -> None:
    client = world.client(**(rotation(0) if rotating else {}))
    signed_in = world.sign_in(unsigned_cognito, client)
    cognito.admin_user_global_sign_out(UserPoolId=world.pool, Username="rita")
    code, message = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=client["ClientId"],
        RefreshToken=signed_in["RefreshToken"],
    )
    assert code == "NotAuthorizedException" and "revoked" in message
    if not rotating:
        code, _ = error_of(
            unsigned_cognito.initiate_auth,
            ClientId=client["ClientId"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]},
        )
        assert code == "NotAuthorizedException"


def test_disabled_user_cannot_refresh(world: World, cognito: Any, unsigned_cognito: Any) -> None:
    client = world.client(**rotation(0))
    token = world.sign_in(unsigned_cognito, client)["RefreshToken"]
    cognito.admin_disable_user(UserPoolId=world.pool, Username="rita")
    code, _ = error_of(
        unsigned_cognito.get_tokens_from_refresh_token,
        ClientId=client["ClientId"],
        RefreshToken=token,
    )
    assert code == "NotAuthorizedException"


def oauth_refresh(http: httpx.Client, client: dict[str, Any], token: str) -> httpx.Response:
    return http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        auth=(client["ClientId"], client["ClientSecret"]),
    )


def test_oauth_refresh_grant_follows_the_clients_rotation(
    world: World, unsigned_cognito: Any, http: httpx.Client
) -> None:
    plain = world.client(secret=True)
    answer = oauth_refresh(http, plain, world.sign_in(unsigned_cognito, plain)["RefreshToken"])
    assert answer.status_code == 200 and "refresh_token" not in answer.json()

    rotating = world.client(secret=True, **rotation(0))
    original = world.sign_in(unsigned_cognito, rotating)["RefreshToken"]
    answer = oauth_refresh(http, rotating, original)
    assert answer.status_code == 200
    rotated = answer.json()["refresh_token"]
    assert rotated != original
    again = oauth_refresh(http, rotating, rotated)
    assert again.status_code == 200 and again.json()["refresh_token"] != rotated
    reused = oauth_refresh(http, rotating, original)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    after = oauth_refresh(http, rotating, again.json()["refresh_token"])
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"


AMPLIFY = """
const { Amplify } = require("aws-amplify");
const auth = require("aws-amplify/auth");
Amplify.configure({ Auth: { Cognito: {
  userPoolId: INPUT.pool, userPoolClientId: INPUT.client, userPoolEndpoint: INPUT.endpoint,
} } });
const output = await auth.signIn({
  username: "rita", password: INPUT.password, options: { authFlowType: "USER_PASSWORD_AUTH" },
});
if (!output.isSignedIn) throw new Error(output.nextStep.signInStep);
const jtis = [];
for (let i = 0; i < 3; i++) {
  const session = await auth.fetchAuthSession({ forceRefresh: true });
  jtis.push(session.tokens.accessToken.payload.jti);
}
done({ jtis });
"""


def test_amplify_keeps_the_rotated_refresh_token(world: World, server: Server) -> None:
    """Amplify v6 refreshes through GetTokensFromRefreshToken and stores the token it gets
    back: with no grace period, reusing the first token would end the sign-in."""
    client = world.client(**rotation(0))
    payload = {
        "pool": world.pool,
        "client": client["ClientId"],
        "endpoint": server.url,
        "password": PASSWORD,
    }
    result = run_node(AMPLIFY, payload, packages=["aws-amplify"])
    assert "error" not in result, result
    assert len(set(result["jtis"])) == 3

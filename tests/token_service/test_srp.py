"""SRP sign-in end to end: unchanged Cognito clients against a real `token-service serve`.

pycognito (its `Cognito` class and `AWSSRP` directly, over boto3), amazon-cognito-identity-js
and aws-amplify (on Node) sign in with USER_SRP_AUTH and answer PASSWORD_VERIFIER, with public
and secret clients, through NEW_PASSWORD_REQUIRED for an administrator-created user.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP

from tests.support.cognito_js import run_node
from tests.token_service.conftest import PASSWORD
from tests.token_service.srp_world import (
    BAD_CREDENTIALS,
    SrpWorld,
    answer,
    aws_srp,
    claims,
    serve_world,
    start,
    temporary_user,
)
from tests.token_service.test_cognito_api import error_of
from token_service import srp


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrpWorld]:
    yield from serve_world(tmp_path_factory)


JS_PACKAGES = ["amazon-cognito-identity-js"]
AMPLIFY_PACKAGES = ["aws-amplify"]


# pycognito


def test_pycognito_authenticates_with_srp_and_verifies_the_tokens(world: SrpWorld) -> None:
    username = world.user()
    user = Cognito(
        world.pool_id,
        world.client,
        username=username,
        boto3_client_kwargs={"endpoint_url": world.server.url},
        botocore_config=world.public.meta.config,
    )
    user.authenticate(PASSWORD)  # pycognito fetches the JWKS and verifies both tokens
    assert user.id_claims["cognito:username"] == username
    assert user.access_claims["client_id"] == world.client
    assert user.access_claims["amr"] == ["pwd"]
    assert user.refresh_token


def test_pycognito_with_a_client_secret(world: SrpWorld) -> None:
    username = world.user()
    user = Cognito(
        world.pool_id,
        world.secret_client,
        username=username,
        client_secret=world.secret,
        boto3_client_kwargs={"endpoint_url": world.server.url},
        botocore_config=world.public.meta.config,
    )
    user.authenticate(PASSWORD)
    assert user.id_claims["aud"] == world.secret_client


@pytest.mark.parametrize("secret", [False, True], ids=["public", "secret"])
def test_aws_srp_directly(world: SrpWorld, secret: bool) -> None:
    username = world.user()
    tokens = aws_srp(world, username, PASSWORD, secret=secret).authenticate_user()
    result = tokens["AuthenticationResult"]
    assert claims(result["IdToken"])["cognito:username"] == username
    refreshed = world.public.initiate_auth(
        AuthFlow="REFRESH_TOKEN_AUTH",
        ClientId=world.secret_client if secret else world.client,
        AuthParameters={
            "REFRESH_TOKEN": result["RefreshToken"],
            **(
                {"SECRET_HASH": AWSSRP.get_secret_hash(username, world.secret_client, world.secret)}
                if secret
                else {}
            ),
        },
    )
    assert claims(refreshed["AuthenticationResult"]["AccessToken"])["username"] == username


def test_the_challenge_has_cognitos_shape(world: SrpWorld) -> None:
    username = world.user("Shape")
    challenge = start(world, aws_srp(world, username.upper(), PASSWORD))
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    assert "Session" not in challenge
    parameters = challenge["ChallengeParameters"]
    assert set(parameters) == {"SALT", "SRP_B", "SECRET_BLOCK", "USERNAME", "USER_ID_FOR_SRP"}
    # The lower-case username, whatever case the user has or the sign-in used.
    assert parameters["USERNAME"] == parameters["USER_ID_FOR_SRP"] == username.lower()
    assert srp.parse_hex(parameters["SALT"]) is not None
    assert 0 < int(parameters["SRP_B"], 16) < srp.N
    base64.b64decode(parameters["SECRET_BLOCK"], validate=True)


def test_admin_initiate_auth_with_srp(world: SrpWorld) -> None:
    username = world.user()
    helper = aws_srp(world, username, PASSWORD)
    challenge = world.admin.admin_initiate_auth(
        UserPoolId=world.pool_id,
        ClientId=world.client,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters=helper.get_auth_params(),
    )
    tokens = world.admin.admin_respond_to_auth_challenge(
        UserPoolId=world.pool_id,
        ClientId=world.client,
        ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=answer(world, helper, challenge),
    )
    assert claims(tokens["AuthenticationResult"]["IdToken"])["cognito:username"] == username


def test_pycognito_answers_new_password_required_after_srp(world: SrpWorld) -> None:
    username = temporary_user(world, "Temp0rary!pw")
    user = Cognito(
        world.pool_id,
        world.client,
        username=username,
        boto3_client_kwargs={"endpoint_url": world.server.url},
        botocore_config=world.public.meta.config,
    )
    user.new_password_challenge("Temp0rary!pw", "Brand-n3w-pw!")
    assert user.id_claims["cognito:username"] == username
    # The new password is the one SRP now proves.
    assert aws_srp(world, username, "Brand-n3w-pw!").authenticate_user()["AuthenticationResult"]
    code, message = error_of(aws_srp(world, username, "Temp0rary!pw").authenticate_user)
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)


# amazon-cognito-identity-js

IDENTITY_JS = """
const { CognitoUserPool, CognitoUser, AuthenticationDetails } = require("amazon-cognito-identity-js");
const pool = new CognitoUserPool({
  UserPoolId: INPUT.pool, ClientId: INPUT.client, endpoint: INPUT.endpoint,
});
const user = new CognitoUser({ Username: INPUT.username, Pool: pool });
const details = new AuthenticationDetails({ Username: INPUT.username, Password: INPUT.password });
const finish = (resolve) => ({
  onSuccess: (session) => resolve({
    ok: true,
    idToken: session.getIdToken().getJwtToken(),
    refreshToken: session.getRefreshToken().getToken(),
    valid: session.isValid(),
  }),
  onFailure: (error) => resolve({ ok: false, code: error.code, message: error.message }),
});
const result = await new Promise((resolve) => {
  const callbacks = finish(resolve);
  callbacks.newPasswordRequired = (userAttributes, requiredAttributes) => {
    if (!INPUT.newPassword) return resolve({ ok: false, challenge: "NEW_PASSWORD_REQUIRED" });
    user.completeNewPasswordChallenge(INPUT.newPassword, {}, finish(resolve));
  };
  user.authenticateUser(details, callbacks);
});
done(result);
"""


def on_node(
    script: str, packages: list[str], world: SrpWorld, username: str, password: str, **extra: Any
) -> dict[str, Any]:
    """Sign in with a JavaScript client against the public SRP client of `world`."""
    payload = {
        "pool": world.pool_id,
        "client": world.client,
        "endpoint": world.server.url + "/",
        "username": username,
        "password": password,
        **extra,
    }
    result: dict[str, Any] = run_node(script, payload, packages=packages)
    return result


def identity_js(world: SrpWorld, username: str, password: str, **extra: Any) -> dict[str, Any]:
    return on_node(IDENTITY_JS, JS_PACKAGES, world, username, password, **extra)


def test_amazon_cognito_identity_js_signs_in(world: SrpWorld) -> None:
    username = world.user()
    result = identity_js(world, username, PASSWORD)
    assert result["ok"], result
    assert result["valid"]
    assert claims(result["idToken"])["cognito:username"] == username


def test_clients_sign_in_a_mixed_case_username_in_any_case(world: SrpWorld) -> None:
    """The clients prove over the USER_ID_FOR_SRP they receive, the lower-case username."""
    username = world.user("MixedCase")
    for spelling in (username, username.upper(), username.swapcase()):
        tokens = aws_srp(world, spelling, PASSWORD).authenticate_user()
        assert claims(tokens["AuthenticationResult"]["IdToken"])["cognito:username"] == username
        result = identity_js(world, spelling, PASSWORD)
        assert result["ok"], result
        assert claims(result["idToken"])["cognito:username"] == username


def test_amazon_cognito_identity_js_wrong_password(world: SrpWorld) -> None:
    result = identity_js(world, world.user(), "Wrong-passw0rd!")
    assert result == {"ok": False, "code": "NotAuthorizedException", "message": BAD_CREDENTIALS}


def test_amazon_cognito_identity_js_new_password_required(world: SrpWorld) -> None:
    username = temporary_user(world, "Temp0rary!pw")
    assert identity_js(world, username, "Temp0rary!pw") == {
        "ok": False,
        "challenge": "NEW_PASSWORD_REQUIRED",
    }
    result = identity_js(world, username, "Temp0rary!pw", newPassword="Brand-n3w-pw!")
    assert result["ok"], result
    assert identity_js(world, username, "Brand-n3w-pw!")["ok"]


# aws-amplify

AMPLIFY = """
const { Amplify } = require("aws-amplify");
const { signIn, fetchAuthSession, getCurrentUser } = require("aws-amplify/auth");
Amplify.configure({
  Auth: { Cognito: {
    userPoolId: INPUT.pool, userPoolClientId: INPUT.client, userPoolEndpoint: INPUT.endpoint,
  } },
});
try {
  const output = await signIn({ username: INPUT.username, password: INPUT.password });
  const session = await fetchAuthSession();
  const current = await getCurrentUser();
  done({
    ok: true,
    isSignedIn: output.isSignedIn,
    step: output.nextStep.signInStep,
    username: current.username,
    sub: session.tokens.idToken.payload.sub,
    idToken: session.tokens.idToken.toString(),
  });
} catch (error) {
  done({ ok: false, name: error.name, message: error.message });
}
"""


def amplify(world: SrpWorld, username: str, password: str) -> dict[str, Any]:
    return on_node(AMPLIFY, AMPLIFY_PACKAGES, world, username, password)


def test_aws_amplify_signs_in_with_its_default_flow(world: SrpWorld) -> None:
    username = world.user()
    result = amplify(world, username, PASSWORD)
    assert result["ok"], result
    assert (result["isSignedIn"], result["step"]) == (True, "DONE")
    assert result["username"] == username
    assert claims(result["idToken"])["sub"] == result["sub"]


def test_aws_amplify_wrong_password(world: SrpWorld) -> None:
    result = amplify(world, world.user(), "Wrong-passw0rd!")
    assert result == {"ok": False, "name": "NotAuthorizedException", "message": BAD_CREDENTIALS}


def test_a_client_created_without_flows_gets_cognitos_defaults(world: SrpWorld) -> None:
    created = world.admin.create_user_pool_client(UserPoolId=world.pool_id, ClientName="default")
    client = created["UserPoolClient"]
    assert sorted(client["ExplicitAuthFlows"]) == [
        "ALLOW_CUSTOM_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
    ]
    username = world.user()
    helper = AWSSRP(username, PASSWORD, world.pool_id, client["ClientId"], client=world.public)
    assert helper.authenticate_user()["AuthenticationResult"]
    refused = error_of(
        world.public.initiate_auth,
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=client["ClientId"],
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    assert refused[0] == "InvalidParameterException"

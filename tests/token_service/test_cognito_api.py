"""The Cognito JSON API driven by boto3's own cognito-idp client, against a running server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.token_service.conftest import (
    PASSWORD,
    SECRET_ACCESS_KEY,
    Pool,
    Server,
    cognito_client,
    create_user,
    signed_headers,
)

TARGET = "AWSCognitoIdentityProviderService."


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def signed_post(
    server: Server, operation: str, body: bytes, secret: str = SECRET_ACCESS_KEY
) -> httpx.Response:
    """A raw SigV4-signed request, for bodies boto3 would never send."""
    url = server.url + "/"
    headers = signed_headers(url, TARGET + operation, body, secret=secret)
    return httpx.post(url, content=body, headers=headers)


def sign_in(cognito: Any, pool: Pool, username: str, password: str = PASSWORD) -> dict[str, Any]:
    return cognito.initiate_auth(
        ClientId=pool.public_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


# pools, clients, resource servers
def test_create_and_describe_user_pool(cognito: Any, pool: Pool) -> None:
    assert re.fullmatch(r"us-east-1_[A-Za-z0-9]{9}", pool.id)
    described = cognito.describe_user_pool(UserPoolId=pool.id)["UserPool"]
    assert described["Id"] == pool.id
    assert described["Name"] == "tests"
    assert "custom:tenant_id" in {a["Name"] for a in described["SchemaAttributes"]}
    assert described["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert described["CreationDate"].year >= 2024  # botocore parsed the timestamp


def test_describe_unknown_pool(cognito: Any) -> None:
    code, _ = error_of(cognito.describe_user_pool, UserPoolId="us-east-1_nope00000")
    assert code == "ResourceNotFoundException"


def test_client_secret_is_returned_at_creation_only_when_generated(
    cognito: Any, pool: Pool
) -> None:
    assert len(pool.confidential_secret) >= 40
    public = cognito.create_user_pool_client(UserPoolId=pool.id, ClientName="spa")["UserPoolClient"]
    assert "ClientSecret" not in public
    assert public["UserPoolId"] == pool.id
    # Cognito's defaults, in its default units (hours, hours, days).
    assert public["AccessTokenValidity"] == 8
    assert public["RefreshTokenValidity"] == 30
    assert public["TokenValidityUnits"] == {
        "AccessToken": "hours",
        "IdToken": "hours",
        "RefreshToken": "days",
    }


def test_client_with_unknown_scope_is_refused(cognito: Any, pool: Pool) -> None:
    code, message = error_of(
        cognito.create_user_pool_client,
        UserPoolId=pool.id,
        ClientName="bad",
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["pdp/nothing"],
    )
    assert code == "ScopeDoesNotExistException"
    assert "pdp/nothing" in message


def test_client_token_validity_bounds(cognito: Any, pool: Pool) -> None:
    code, _ = error_of(
        cognito.create_user_pool_client,
        UserPoolId=pool.id,
        ClientName="too-long",
        AccessTokenValidity=2,
        TokenValidityUnits={"AccessToken": "days"},
    )
    assert code == "InvalidParameterException"


def test_duplicate_resource_server(cognito: Any, pool: Pool) -> None:
    code, _ = error_of(
        cognito.create_resource_server, UserPoolId=pool.id, Identifier="pdp", Name="again"
    )
    assert code == "InvalidParameterException"


# users
def test_admin_create_user_and_get_user(cognito: Any, pool: Pool) -> None:
    created = cognito.admin_create_user(
        UserPoolId=pool.id,
        Username="carol",
        UserAttributes=[
            {"Name": "email", "Value": "carol@example.com"},
            {"Name": "custom:tenant_id", "Value": "t-1"},
        ],
        TemporaryPassword="Temp0rary!pass",
        MessageAction="SUPPRESS",
    )["User"]
    attributes = {a["Name"]: a["Value"] for a in created["Attributes"]}
    assert uuid.UUID(attributes["sub"])
    assert attributes["custom:tenant_id"] == "t-1"
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert created["Enabled"] is True
    got = cognito.admin_get_user(UserPoolId=pool.id, Username="CAROL")
    assert got["Username"] == "carol"
    assert {a["Name"]: a["Value"] for a in got["UserAttributes"]}["sub"] == attributes["sub"]
    by_sub = cognito.admin_get_user(UserPoolId=pool.id, Username=attributes["sub"])
    assert by_sub["Username"] == "carol"


def test_temporary_password_challenge_and_response(cognito: Any, pool: Pool) -> None:
    cognito.admin_create_user(
        UserPoolId=pool.id, Username="dave", TemporaryPassword="Temp0rary!pass"
    )
    result = sign_in(cognito, pool, "dave", "Temp0rary!pass")
    assert result["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in result
    respond = cognito.respond_to_auth_challenge
    answer = {"USERNAME": "dave", "NEW_PASSWORD": PASSWORD}
    code, message = error_of(
        respond,
        ClientId=pool.public_client,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session="x" * 40,
        ChallengeResponses=answer,
    )
    assert (code, message) == (
        "NotAuthorizedException",
        "Invalid session for the user, session is expired.",
    )
    code, _ = error_of(
        respond,
        ClientId=pool.public_client,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=result["Session"],
        ChallengeResponses={**answer, "NEW_PASSWORD": "weak"},
    )
    assert code == "InvalidPasswordException"
    tokens = respond(
        ClientId=pool.public_client,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=result["Session"],
        ChallengeResponses=answer,
    )["AuthenticationResult"]
    assert cognito.get_user(AccessToken=tokens["AccessToken"])["Username"] == "dave"
    assert cognito.admin_get_user(UserPoolId=pool.id, Username="dave")["UserStatus"] == "CONFIRMED"
    # The session is spent: the user is no longer in FORCE_CHANGE_PASSWORD.
    code, _ = error_of(
        respond,
        ClientId=pool.public_client,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=result["Session"],
        ChallengeResponses=answer,
    )
    assert code == "NotAuthorizedException"
    assert "AuthenticationResult" in sign_in(cognito, pool, "dave")


def test_admin_create_user_errors(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "erin")
    code, _ = error_of(cognito.admin_create_user, UserPoolId=pool.id, Username="erin")
    assert code == "UsernameExistsException"
    code, message = error_of(
        cognito.admin_create_user,
        UserPoolId=pool.id,
        Username="frank",
        UserAttributes=[{"Name": "custom:unknown", "Value": "x"}],
    )
    assert code == "InvalidParameterException"
    assert "custom:unknown" in message
    code, _ = error_of(cognito.admin_get_user, UserPoolId=pool.id, Username="frank")
    assert code == "UserNotFoundException"


def test_admin_set_user_password_policy_and_permanence(cognito: Any, pool: Pool) -> None:
    cognito.admin_create_user(UserPoolId=pool.id, Username="gina")
    code, message = error_of(
        cognito.admin_set_user_password,
        UserPoolId=pool.id,
        Username="gina",
        Password="short",
        Permanent=True,
    )
    assert code == "InvalidPasswordException"
    assert "policy" in message
    cognito.admin_set_user_password(
        UserPoolId=pool.id, Username="gina", Password=PASSWORD, Permanent=True
    )
    assert cognito.admin_get_user(UserPoolId=pool.id, Username="gina")["UserStatus"] == "CONFIRMED"
    code, _ = error_of(
        cognito.admin_set_user_password,
        UserPoolId=pool.id,
        Username="nobody",
        Password=PASSWORD,
        Permanent=True,
    )
    assert code == "UserNotFoundException"


def test_list_users_filter_and_pagination(cognito: Any, pool: Pool) -> None:
    sub = create_user(cognito, pool.id, "listed-1")
    create_user(cognito, pool.id, "listed-2")
    found = cognito.list_users(UserPoolId=pool.id, Filter='email = "listed-1@example.com"')["Users"]
    assert [u["Username"] for u in found] == ["listed-1"]
    found = cognito.list_users(
        UserPoolId=pool.id, Filter=f'sub = "{sub}"', AttributesToGet=["email"]
    )["Users"]
    assert found[0]["Attributes"] == [{"Name": "email", "Value": "listed-1@example.com"}]
    paginator = cognito.get_paginator("list_users")
    pages = list(paginator.paginate(UserPoolId=pool.id, Filter='username ^= "listed-"', Limit=1))
    assert [u["Username"] for p in pages for u in p["Users"]] == ["listed-1", "listed-2"]
    code, _ = error_of(cognito.list_users, UserPoolId=pool.id, Filter="email == nonsense")
    assert code == "InvalidParameterException"


def test_groups(cognito: Any, pool: Pool) -> None:
    cognito.create_group(UserPoolId=pool.id, GroupName="editors", Description="edit", Precedence=2)
    cognito.create_group(UserPoolId=pool.id, GroupName="viewers", Precedence=1)
    code, _ = error_of(cognito.create_group, UserPoolId=pool.id, GroupName="editors")
    assert code == "GroupExistsException"
    create_user(cognito, pool.id, "hank", groups=("editors", "viewers"))
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool.id, Username="hank")["Groups"]
    assert [g["GroupName"] for g in groups] == ["viewers", "editors"]
    assert groups[1]["Description"] == "edit"
    cognito.admin_remove_user_from_group(UserPoolId=pool.id, Username="hank", GroupName="viewers")
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool.id, Username="hank")["Groups"]
    assert [g["GroupName"] for g in groups] == ["editors"]
    code, _ = error_of(
        cognito.admin_add_user_to_group, UserPoolId=pool.id, Username="hank", GroupName="ghosts"
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(
        cognito.admin_add_user_to_group, UserPoolId=pool.id, Username="ghost", GroupName="editors"
    )
    assert code == "UserNotFoundException"


def test_admin_delete_user(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "ivan")
    tokens = sign_in(cognito, pool, "ivan")["AuthenticationResult"]
    cognito.admin_delete_user(UserPoolId=pool.id, Username="ivan")
    code, _ = error_of(cognito.admin_get_user, UserPoolId=pool.id, Username="ivan")
    assert code == "UserNotFoundException"
    code, _ = error_of(cognito.get_user, AccessToken=tokens["AccessToken"])
    assert code == "NotAuthorizedException"
    code, _ = error_of(cognito.admin_delete_user, UserPoolId=pool.id, Username="ivan")
    assert code == "UserNotFoundException"


# sign-in
def test_initiate_auth_returns_tokens(unsigned_cognito: Any, cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "judy")
    result = sign_in(unsigned_cognito, pool, "judy")["AuthenticationResult"]
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == 8 * 3600
    assert set(result) >= {"AccessToken", "IdToken", "RefreshToken"}
    user = unsigned_cognito.get_user(AccessToken=result["AccessToken"])
    assert user["Username"] == "judy"
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email"] == "judy@example.com"


def test_wrong_password_and_unknown_user_look_the_same(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "kate")
    wrong = error_of(
        sign_in, cognito=cognito, pool=pool, username="kate", password="Wr0ng!password"
    )
    unknown = error_of(
        sign_in, cognito=cognito, pool=pool, username="no-such-user", password="Wr0ng!password"
    )
    assert wrong == unknown == ("NotAuthorizedException", "Incorrect username or password.")


def test_lockout_after_repeated_failures(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "leo")
    for _ in range(2):
        assert error_of(
            sign_in, cognito=cognito, pool=pool, username="leo", password="Wr0ng!password"
        )[1] == ("Incorrect username or password.")
    assert error_of(sign_in, cognito=cognito, pool=pool, username="leo", password="Wr0ng!password")[
        1
    ] == ("Password attempts exceeded")
    # Locked: even the right password is refused, and so is an unknown name after as many tries.
    assert (
        error_of(sign_in, cognito=cognito, pool=pool, username="leo")[1]
        == "Password attempts exceeded"
    )
    for _ in range(3):
        error_of(sign_in, cognito=cognito, pool=pool, username="no-leo", password="Wr0ng!password")
    assert (
        error_of(sign_in, cognito=cognito, pool=pool, username="no-leo")[1]
        == "Password attempts exceeded"
    )
    time.sleep(2.1)  # the test server locks for 2 seconds
    assert "AuthenticationResult" in sign_in(cognito, pool, "leo")


def test_secret_hash_is_required_for_confidential_clients(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "mia")
    params = {"USERNAME": "mia", "PASSWORD": PASSWORD}
    call = cognito.initiate_auth
    kwargs = {"ClientId": pool.confidential_client, "AuthFlow": "USER_PASSWORD_AUTH"}
    code, message = error_of(call, AuthParameters=params, **kwargs)
    assert code == "NotAuthorizedException"
    assert "SECRET_HASH was not received" in message
    bad = secret_hash("not-the-secret", "mia", pool.confidential_client)
    code, message = error_of(call, AuthParameters={**params, "SECRET_HASH": bad}, **kwargs)
    assert (code, message) == (
        "NotAuthorizedException",
        f"Unable to verify secret hash for client {pool.confidential_client}",
    )
    good = secret_hash(pool.confidential_secret, "mia", pool.confidential_client)
    result = call(AuthParameters={**params, "SECRET_HASH": good}, **kwargs)
    assert result["AuthenticationResult"]["ExpiresIn"] == 3600


def test_unknown_client_and_unsupported_flow(cognito: Any, pool: Pool) -> None:
    code, _ = error_of(
        cognito.initiate_auth,
        ClientId="nosuchclient",
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "x", "PASSWORD": "y"},
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(
        cognito.initiate_auth,
        ClientId=pool.public_client,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": "x", "SRP_A": "1"},
    )
    assert code == "InvalidParameterException"


def test_admin_initiate_auth(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "nina")
    result = cognito.admin_initiate_auth(
        UserPoolId=pool.id,
        ClientId=pool.confidential_client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": "nina",
            "PASSWORD": PASSWORD,
            "SECRET_HASH": secret_hash(pool.confidential_secret, "nina", pool.confidential_client),
        },
    )
    assert "RefreshToken" in result["AuthenticationResult"]
    # The public client does not allow the admin flow.
    code, message = error_of(
        cognito.admin_initiate_auth,
        UserPoolId=pool.id,
        ClientId=pool.public_client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "nina", "PASSWORD": PASSWORD},
    )
    assert (code, message) == ("InvalidParameterException", "Auth flow not enabled for this client")


def test_refresh_token_auth(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "omar")
    first = sign_in(cognito, pool, "omar")["AuthenticationResult"]
    again = cognito.initiate_auth(
        ClientId=pool.public_client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": first["RefreshToken"]},
    )["AuthenticationResult"]
    assert "RefreshToken" not in again
    assert again["AccessToken"] != first["AccessToken"]
    assert cognito.get_user(AccessToken=again["AccessToken"])["Username"] == "omar"
    code, message = error_of(
        cognito.initiate_auth,
        ClientId=pool.public_client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": "not-a-refresh-token"},
    )
    assert (code, message) == ("NotAuthorizedException", "Invalid Refresh Token")


def test_refresh_with_secret_hash(cognito: Any, pool: Pool) -> None:
    sub = create_user(cognito, pool.id, "pia")
    first = cognito.initiate_auth(
        ClientId=pool.confidential_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": "pia",
            "PASSWORD": PASSWORD,
            "SECRET_HASH": secret_hash(pool.confidential_secret, "pia", pool.confidential_client),
        },
    )["AuthenticationResult"]
    refreshed = cognito.initiate_auth(
        ClientId=pool.confidential_client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={
            "REFRESH_TOKEN": first["RefreshToken"],
            "SECRET_HASH": secret_hash(pool.confidential_secret, sub, pool.confidential_client),
        },
    )
    assert "AccessToken" in refreshed["AuthenticationResult"]


def test_disabled_user_gets_no_tokens(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "quinn")
    tokens = sign_in(cognito, pool, "quinn")["AuthenticationResult"]
    cognito.admin_disable_user(UserPoolId=pool.id, Username="quinn")
    assert cognito.admin_get_user(UserPoolId=pool.id, Username="quinn")["Enabled"] is False
    assert error_of(sign_in, cognito=cognito, pool=pool, username="quinn") == (
        "NotAuthorizedException",
        "User is disabled.",
    )
    # A wrong password still says only that the credentials are wrong.
    assert error_of(sign_in, cognito=cognito, pool=pool, username="quinn", password="Wr0ng!pass")[
        1
    ] == ("Incorrect username or password.")
    code, _ = error_of(
        cognito.initiate_auth,
        ClientId=pool.public_client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    assert code == "NotAuthorizedException"
    assert (
        error_of(cognito.get_user, AccessToken=tokens["AccessToken"])[0] == "NotAuthorizedException"
    )
    cognito.admin_enable_user(UserPoolId=pool.id, Username="quinn")
    assert "AuthenticationResult" in sign_in(cognito, pool, "quinn")


def test_global_sign_out_revokes_every_sign_in(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "rosa")
    first = sign_in(cognito, pool, "rosa")["AuthenticationResult"]
    second = sign_in(cognito, pool, "rosa")["AuthenticationResult"]
    cognito.global_sign_out(AccessToken=second["AccessToken"])
    for tokens in (first, second):
        code, message = error_of(cognito.get_user, AccessToken=tokens["AccessToken"])
        assert (code, message) == ("NotAuthorizedException", "Access Token has been revoked")
        code, message = error_of(
            cognito.initiate_auth,
            ClientId=pool.public_client,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )
        assert message == "Refresh Token has been revoked"
    assert "AuthenticationResult" in sign_in(cognito, pool, "rosa")


def test_revoke_token(cognito: Any, pool: Pool) -> None:
    create_user(cognito, pool.id, "sam")
    kept = sign_in(cognito, pool, "sam")["AuthenticationResult"]
    revoked = sign_in(cognito, pool, "sam")["AuthenticationResult"]
    cognito.revoke_token(Token=revoked["RefreshToken"], ClientId=pool.public_client)
    assert (
        error_of(cognito.get_user, AccessToken=revoked["AccessToken"])[1]
        == "Access Token has been revoked"
    )
    assert cognito.get_user(AccessToken=kept["AccessToken"])["Username"] == "sam"
    code, _ = error_of(cognito.revoke_token, Token=kept["AccessToken"], ClientId=pool.public_client)
    assert code == "UnsupportedTokenTypeException"
    code, _ = error_of(
        cognito.revoke_token,
        Token=kept["RefreshToken"],
        ClientId=pool.confidential_client,
        ClientSecret="w" * 51,
    )
    assert code == "NotAuthorizedException"
    code, _ = error_of(
        cognito.revoke_token,
        Token=kept["RefreshToken"],
        ClientId=pool.confidential_client,
        ClientSecret=pool.confidential_secret,
    )
    assert code == "UnauthorizedException"
    assert cognito.get_user(AccessToken=kept["AccessToken"])["Username"] == "sam"


def test_get_user_rejects_bad_tokens(cognito: Any) -> None:
    assert error_of(cognito.get_user, AccessToken="not.a.jwt") == (
        "NotAuthorizedException",
        "Invalid Access Token",
    )


# protocol and authentication of admin operations
def test_unsigned_admin_call_is_refused(unsigned_cognito: Any, cognito: Any, pool: Pool) -> None:
    before = len(cognito.list_users(UserPoolId=pool.id)["Users"])
    code, _ = error_of(unsigned_cognito.admin_create_user, UserPoolId=pool.id, Username="intruder")
    assert code == "MissingAuthenticationTokenException"
    assert len(cognito.list_users(UserPoolId=pool.id)["Users"]) == before


def test_wrongly_signed_admin_call_is_refused(server: Server, cognito: Any, pool: Pool) -> None:
    wrong_secret = cognito_client(server.url, secret="not-the-secret-access-key")
    code, message = error_of(
        wrong_secret.admin_create_user, UserPoolId=pool.id, Username="intruder"
    )
    assert code == "InvalidSignatureException"
    assert "signature" in message
    wrong_key = cognito_client(server.url, key_id="AKIAUNKNOWN000000000")
    code, _ = error_of(wrong_key.create_user_pool, PoolName="intruder")
    assert code == "UnrecognizedClientException"
    assert (
        error_of(cognito.admin_get_user, UserPoolId=pool.id, Username="intruder")[0]
        == "UserNotFoundException"
    )


def test_tampered_body_fails_signature(server: Server, pool: Pool) -> None:
    body = json.dumps({"UserPoolId": pool.id, "Username": "x"}).encode()
    headers = signed_headers(server.url + "/", TARGET + "AdminGetUser", body)
    tampered = body.replace(b'"x"', b'"y"')
    response = httpx.post(server.url + "/", content=tampered, headers=headers)
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidSignatureException"


def test_unknown_target(server: Server) -> None:
    response = httpx.post(
        server.url + "/",
        content=b"{}",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET + "DeleteEverything",
        },
    )
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert response.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert response.headers["content-type"] == "application/x-amz-json-1.1"


def test_malformed_json(server: Server, cognito: Any, pool: Pool) -> None:
    before = len(cognito.list_users(UserPoolId=pool.id)["Users"])
    response = signed_post(server, "AdminCreateUser", b'{"UserPoolId": ')
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"
    response = httpx.post(
        server.url + "/",
        content=b"[1, 2]",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": TARGET + "InitiateAuth",
        },
    )
    assert response.json()["__type"] == "SerializationException"
    assert len(cognito.list_users(UserPoolId=pool.id)["Users"]) == before


def test_signed_raw_request_succeeds(server: Server, pool: Pool) -> None:
    response = signed_post(server, "DescribeUserPool", json.dumps({"UserPoolId": pool.id}).encode())
    assert response.status_code == 200
    assert response.json()["UserPool"]["Id"] == pool.id


def test_concurrent_sign_ins(cognito: Any, pool: Pool) -> None:
    """Parallel sign-ins all succeed, and parallel failures are all plain wrong-password errors."""
    create_user(cognito, pool.id, "vic")
    with ThreadPoolExecutor(max_workers=6) as workers:
        results = list(workers.map(lambda _: sign_in(cognito, pool, "vic"), range(12)))
    assert all("AuthenticationResult" in r for r in results)

    def fail(index: int) -> str:
        return error_of(
            sign_in,
            cognito=cognito,
            pool=pool,
            username=f"nobody-{index % 2}",
            password="Wr0ng!pass",
        )[0]

    with ThreadPoolExecutor(max_workers=6) as workers:
        codes = list(workers.map(fail, range(4)))
    assert codes == ["NotAuthorizedException"] * 4

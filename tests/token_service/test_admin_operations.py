"""Admin operations through boto3 (and its paginators) against a running server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
import pytest
import sqlalchemy
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycognito.aws_srp import AWSSRP

from tests.token_service.conftest import PASSWORD, Server, cognito_client
from tests.token_service.test_cognito_api import error_of, signed_post
from token_service.admin import DEFAULT_AUTH_FLOWS
from token_service.admin.paging import page_offset, paginate
from token_service.errors import InvalidParameter


@dataclass
class Fresh:
    """A pool of its own for one test, with a public password client."""

    id: str
    client: str


def new_pool(cognito: Any, **settings: Any) -> Fresh:
    pool = cognito.create_user_pool(
        PoolName=f"admin-{uuid.uuid4().hex[:8]}",
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
        **settings,
    )["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return Fresh(pool["Id"], client["ClientId"])


@pytest.fixture
def fresh(cognito: Any) -> Iterator[Fresh]:
    yield new_pool(cognito)


@pytest.fixture(scope="module")
def fresh_for_fuzz(cognito: Any) -> Fresh:
    """A pool the fuzzing may change or delete: every answer must still be Cognito's."""
    return new_pool(cognito)


@pytest.fixture(scope="module")
def lax(server: Server) -> Any:
    """boto3 without its client-side checks, to send what the server itself must refuse."""
    return cognito_client(server.url, parameter_validation=False)


def add_user(cognito: Any, pool_id: str, username: str, **attributes: str) -> str:
    created = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[{"Name": k.replace("__", ":"), "Value": v} for k, v in attributes.items()],
        MessageAction="SUPPRESS",
    )["User"]
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    return next(a["Value"] for a in created["Attributes"] if a["Name"] == "sub")


def sign_in(unsigned: Any, fresh: Fresh, username: str) -> dict[str, Any]:
    return unsigned.initiate_auth(
        ClientId=fresh.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


def attributes_of(cognito: Any, pool_id: str, username: str) -> dict[str, str]:
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def walk(cognito: Any, operation: str, page_size: int, **params: Any) -> list[dict[str, Any]]:
    """Every page boto3's own paginator fetches."""
    paginator = cognito.get_paginator(operation)
    return list(paginator.paginate(**params, PaginationConfig={"PageSize": page_size}))


# users
def test_admin_get_user_has_cognito_shape(cognito: Any, fresh: Fresh) -> None:
    sub = add_user(cognito, fresh.id, "gina", email="gina@example.com")
    user = cognito.admin_get_user(UserPoolId=fresh.id, Username="gina")
    assert user["Username"] == "gina"
    assert user["UserAttributes"][0] == {"Name": "sub", "Value": sub}
    assert isinstance(user["UserCreateDate"], datetime)
    assert isinstance(user["UserLastModifiedDate"], datetime)
    assert user["Enabled"] is True
    assert user["UserStatus"] == "CONFIRMED"
    assert cognito.admin_get_user(UserPoolId=fresh.id, Username=sub)["Username"] == "gina"
    code, _ = error_of(cognito.admin_get_user, UserPoolId=fresh.id, Username="nobody")
    assert code == "UserNotFoundException"
    code, _ = error_of(cognito.admin_get_user, UserPoolId="us-east-1_000000000", Username="gina")
    assert code == "ResourceNotFoundException"


def test_admin_update_user_attributes(cognito: Any, fresh: Fresh) -> None:
    add_user(cognito, fresh.id, "hank", email="hank@example.com", email_verified="true")
    before = cognito.admin_get_user(UserPoolId=fresh.id, Username="hank")["UserLastModifiedDate"]
    cognito.admin_update_user_attributes(
        UserPoolId=fresh.id,
        Username="hank",
        UserAttributes=[
            {"Name": "given_name", "Value": "Hank"},
            {"Name": "custom:tenant_id", "Value": "t-9"},
        ],
    )
    attributes = attributes_of(cognito, fresh.id, "hank")
    assert attributes["given_name"] == "Hank"
    assert attributes["custom:tenant_id"] == "t-9"
    assert attributes["email_verified"] == "true"
    after = cognito.admin_get_user(UserPoolId=fresh.id, Username="hank")["UserLastModifiedDate"]
    assert after >= before
    # A new email is unverified again, unless the administrator verifies it in the same call.
    cognito.admin_update_user_attributes(
        UserPoolId=fresh.id,
        Username="hank",
        UserAttributes=[{"Name": "email", "Value": "hank@new.example.com"}],
    )
    assert attributes_of(cognito, fresh.id, "hank")["email_verified"] == "false"
    cognito.admin_update_user_attributes(
        UserPoolId=fresh.id,
        Username="hank",
        UserAttributes=[
            {"Name": "email", "Value": "hank@other.example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    attributes = attributes_of(cognito, fresh.id, "hank")
    assert attributes["email"] == "hank@other.example.com"
    assert attributes["email_verified"] == "true"


@pytest.mark.parametrize(
    "attributes",
    [
        [{"Name": "sub", "Value": str(uuid.uuid4())}],
        [{"Name": "shoe_size", "Value": "44"}],
        [{"Name": "custom:undeclared", "Value": "x"}],
        [{"Name": "email_verified", "Value": "yes"}],
    ],
)
def test_admin_update_user_attributes_refuses(
    cognito: Any, fresh: Fresh, attributes: list[dict[str, str]]
) -> None:
    add_user(cognito, fresh.id, "ivan", email="ivan@example.com")
    before = attributes_of(cognito, fresh.id, "ivan")
    code, message = error_of(
        cognito.admin_update_user_attributes,
        UserPoolId=fresh.id,
        Username="ivan",
        UserAttributes=attributes,
    )
    assert code == "InvalidParameterException"
    assert attributes[0]["Name"] in message
    assert attributes_of(cognito, fresh.id, "ivan") == before


def test_admin_update_user_attributes_requires_its_parameters(lax: Any, fresh: Fresh) -> None:
    add_user(lax, fresh.id, "jack")
    code, message = error_of(lax.admin_update_user_attributes, UserPoolId=fresh.id, Username="jack")
    assert code == "InvalidParameterException"
    assert "userAttributes" in message
    code, _ = error_of(
        lax.admin_update_user_attributes,
        UserPoolId=fresh.id,
        Username="nobody",
        UserAttributes=[{"Name": "name", "Value": "x"}],
    )
    assert code == "UserNotFoundException"


def test_admin_update_of_an_email_username(cognito: Any, unsigned_cognito: Any) -> None:
    """In pools where users sign in with their email, an address is one user's at a time."""
    fresh = new_pool(cognito, UsernameAttributes=["email"])
    add_user(cognito, fresh.id, "ann@example.com", email="ann@example.com", email_verified="true")
    add_user(cognito, fresh.id, "bob@example.com", email="bob@example.com", email_verified="true")
    code, _ = error_of(
        cognito.admin_update_user_attributes,
        UserPoolId=fresh.id,
        Username="ann@example.com",
        UserAttributes=[{"Name": "email", "Value": "BOB@example.com"}],
    )
    assert code == "AliasExistsException"
    assert attributes_of(cognito, fresh.id, "ann@example.com")["email"] == "ann@example.com"
    cognito.admin_update_user_attributes(
        UserPoolId=fresh.id,
        Username="ann@example.com",
        UserAttributes=[
            {"Name": "email", "Value": "ann@new.example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    assert sign_in(unsigned_cognito, fresh, "ann@new.example.com")["AccessToken"]


def test_admin_create_user_in_an_email_username_pool(cognito: Any, unsigned_cognito: Any) -> None:
    """As SignUp does there: the address signs the user in, their username is their sub."""
    fresh = new_pool(cognito, UsernameAttributes=["email"])
    client = cognito.create_user_pool_client(
        UserPoolId=fresh.id,
        ClientName="srp",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    email = f"Ann-{uuid.uuid4().hex[:8]}@Example.com"
    created = cognito.admin_create_user(
        UserPoolId=fresh.id, Username=email, MessageAction="SUPPRESS"
    )["User"]
    sub = next(a["Value"] for a in created["Attributes"] if a["Name"] == "sub")
    assert created["Username"] == sub
    assert {"Name": "email", "Value": email} in created["Attributes"]
    cognito.admin_set_user_password(
        UserPoolId=fresh.id, Username=email.upper(), Password=PASSWORD, Permanent=True
    )
    for name in (email, email.lower(), sub):
        assert cognito.admin_get_user(UserPoolId=fresh.id, Username=name)["Username"] == sub
    for filter_ in (f'email = "{email}"', f'username = "{sub}"'):
        listed = cognito.list_users(UserPoolId=fresh.id, Filter=filter_)["Users"]
        assert [user["Username"] for user in listed] == [sub]
    tokens = cognito.admin_initiate_auth(
        UserPoolId=fresh.id,
        ClientId=client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email.lower(), "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert jwt.decode(tokens["AccessToken"], options={"verify_signature": False})["username"] == sub

    def srp(username: str) -> AWSSRP:
        return AWSSRP(
            username=username,
            password=PASSWORD,
            pool_id=fresh.id,
            client_id=client,
            client=unsigned_cognito,
        )

    known, unknown = srp(email), srp(f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    for helper in (known, unknown):
        challenge = unsigned_cognito.initiate_auth(
            ClientId=client, AuthFlow="USER_SRP_AUTH", AuthParameters=helper.get_auth_params()
        )
        assert uuid.UUID(challenge["ChallengeParameters"]["USER_ID_FOR_SRP"]).version == 4
    assert known.authenticate_user()["AuthenticationResult"]["AccessToken"]
    refusals = [
        ({"Username": "ann"}, ("InvalidParameterException", "Username should be an email.")),
        (
            {"Username": email.swapcase()},
            ("UsernameExistsException", "An account with the given email already exists."),
        ),
        (
            {
                "Username": f"bea-{uuid.uuid4().hex[:8]}@example.com",
                "UserAttributes": [{"Name": "email", "Value": "other@example.com"}],
            },
            ("InvalidParameterException", "UserAttributes.email differs from Username, "),
        ),
    ]
    for request_, (code, message) in refusals:
        refused = error_of(cognito.admin_create_user, UserPoolId=fresh.id, **request_)
        assert refused[0] == code and refused[1].startswith(message), refused
    assert len(cognito.list_users(UserPoolId=fresh.id)["Users"]) == 1


def test_admin_delete_user_attributes(cognito: Any, lax: Any, fresh: Fresh) -> None:
    add_user(cognito, fresh.id, "kate", email="kate@example.com", given_name="Kate")
    cognito.admin_delete_user_attributes(
        UserPoolId=fresh.id, Username="kate", UserAttributeNames=["given_name"]
    )
    attributes = attributes_of(cognito, fresh.id, "kate")
    assert "given_name" not in attributes and attributes["email"] == "kate@example.com"
    for names in (["sub"], ["shoe_size"]):
        code, message = error_of(
            cognito.admin_delete_user_attributes,
            UserPoolId=fresh.id,
            Username="kate",
            UserAttributeNames=names,
        )
        assert code == "InvalidParameterException"
        assert names[0] in message
    assert attributes_of(cognito, fresh.id, "kate") == attributes
    code, message = error_of(lax.admin_delete_user_attributes, UserPoolId=fresh.id, Username="kate")
    assert code == "InvalidParameterException"
    assert "UserAttributeNames" in message


def test_admin_user_global_sign_out_stops_access_tokens(
    cognito: Any, unsigned_cognito: Any, fresh: Fresh
) -> None:
    add_user(cognito, fresh.id, "liam")
    first = sign_in(unsigned_cognito, fresh, "liam")
    second = sign_in(unsigned_cognito, fresh, "liam")
    assert unsigned_cognito.get_user(AccessToken=first["AccessToken"])["Username"] == "liam"
    cognito.admin_user_global_sign_out(UserPoolId=fresh.id, Username="liam")
    for tokens in (first, second):
        code, _ = error_of(unsigned_cognito.get_user, AccessToken=tokens["AccessToken"])
        assert code == "NotAuthorizedException"
    # A new sign-in works again.
    fresh_tokens = sign_in(unsigned_cognito, fresh, "liam")
    assert unsigned_cognito.get_user(AccessToken=fresh_tokens["AccessToken"])["Username"] == "liam"
    code, _ = error_of(cognito.admin_user_global_sign_out, UserPoolId=fresh.id, Username="nobody")
    assert code == "UserNotFoundException"


def test_admin_disable_then_enable_user(cognito: Any, unsigned_cognito: Any, fresh: Fresh) -> None:
    add_user(cognito, fresh.id, "mia")
    tokens = sign_in(unsigned_cognito, fresh, "mia")
    cognito.admin_disable_user(UserPoolId=fresh.id, Username="mia")
    assert cognito.admin_get_user(UserPoolId=fresh.id, Username="mia")["Enabled"] is False
    code, message = error_of(
        unsigned_cognito.initiate_auth,
        ClientId=fresh.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "mia", "PASSWORD": PASSWORD},
    )
    assert (code, message) == ("NotAuthorizedException", "User is disabled.")
    cognito.admin_enable_user(UserPoolId=fresh.id, Username="mia")
    assert cognito.admin_get_user(UserPoolId=fresh.id, Username="mia")["Enabled"] is True
    assert sign_in(unsigned_cognito, fresh, "mia")["AccessToken"]
    # Disabling revoked the earlier sign-in for good; enabling does not bring it back.
    code, _ = error_of(unsigned_cognito.get_user, AccessToken=tokens["AccessToken"])
    assert code == "NotAuthorizedException"
    code, _ = error_of(cognito.admin_enable_user, UserPoolId=fresh.id, Username="nobody")
    assert code == "UserNotFoundException"


# groups
ROLE = "arn:aws:iam::123456789012:role/readers"


def test_group_get_update_keeps_what_is_not_given(cognito: Any, fresh: Fresh) -> None:
    cognito.create_group(
        UserPoolId=fresh.id, GroupName="readers", Description="read", Precedence=3, RoleArn=ROLE
    )
    group = cognito.get_group(UserPoolId=fresh.id, GroupName="readers")["Group"]
    assert (group["Description"], group["Precedence"], group["RoleArn"]) == ("read", 3, ROLE)
    updated = cognito.update_group(
        UserPoolId=fresh.id, GroupName="readers", Description="read more"
    )["Group"]
    assert (updated["Description"], updated["Precedence"], updated["RoleArn"]) == (
        "read more",
        3,
        ROLE,
    )
    assert cognito.get_group(UserPoolId=fresh.id, GroupName="readers")["Group"] == updated
    cognito.update_group(UserPoolId=fresh.id, GroupName="readers", Precedence=0)
    assert cognito.get_group(UserPoolId=fresh.id, GroupName="readers")["Group"]["Precedence"] == 0


def test_group_errors(cognito: Any, fresh: Fresh) -> None:
    for call in (cognito.get_group, cognito.update_group, cognito.delete_group):
        code, _ = error_of(call, UserPoolId=fresh.id, GroupName="missing")
        assert code == "ResourceNotFoundException"
    code, message = error_of(
        cognito.create_group,
        UserPoolId=fresh.id,
        GroupName="bad-role",
        RoleArn="not-an-arn-at-all-of-any-kind",
    )
    assert code == "InvalidParameterException" and "RoleArn" in message
    cognito.create_group(UserPoolId=fresh.id, GroupName="g")
    code, message = error_of(
        cognito.update_group, UserPoolId=fresh.id, GroupName="g", Description="x" * 2049
    )
    assert code == "InvalidParameterException" and "Description" in message
    code, _ = error_of(cognito.list_groups, UserPoolId="us-east-1_000000000")
    assert code == "ResourceNotFoundException"


def test_delete_group_takes_its_memberships(
    cognito: Any, unsigned_cognito: Any, fresh: Fresh
) -> None:
    add_user(cognito, fresh.id, "noah")
    cognito.create_group(UserPoolId=fresh.id, GroupName="staff")
    cognito.admin_add_user_to_group(UserPoolId=fresh.id, Username="noah", GroupName="staff")
    cognito.delete_group(UserPoolId=fresh.id, GroupName="staff")
    assert cognito.admin_list_groups_for_user(UserPoolId=fresh.id, Username="noah")["Groups"] == []
    code, _ = error_of(cognito.list_users_in_group, UserPoolId=fresh.id, GroupName="staff")
    assert code == "ResourceNotFoundException"
    # A new group of the same name starts empty, and tokens no longer name the old one.
    cognito.create_group(UserPoolId=fresh.id, GroupName="staff")
    assert cognito.list_users_in_group(UserPoolId=fresh.id, GroupName="staff")["Users"] == []
    assert cognito.admin_get_user(UserPoolId=fresh.id, Username="noah")["Enabled"]


def test_groups_and_members_walk_every_page(cognito: Any, fresh: Fresh) -> None:
    names = [f"group-{i:02d}" for i in range(7)]
    for name in names:
        cognito.create_group(UserPoolId=fresh.id, GroupName=name)
    pages = walk(cognito, "list_groups", 3, UserPoolId=fresh.id)
    assert [len(p["Groups"]) for p in pages] == [3, 3, 1]
    assert [g["GroupName"] for p in pages for g in p["Groups"]] == names
    members = [f"member-{i}" for i in range(5)]
    for username in members:
        add_user(cognito, fresh.id, username)
        cognito.admin_add_user_to_group(
            UserPoolId=fresh.id, Username=username, GroupName="group-00"
        )
    add_user(cognito, fresh.id, "outsider")
    pages = walk(cognito, "list_users_in_group", 2, UserPoolId=fresh.id, GroupName="group-00")
    assert [len(p["Users"]) for p in pages] == [2, 2, 1]
    users = [u for p in pages for u in p["Users"]]
    assert [u["Username"] for u in users] == members
    assert {"Attributes", "UserStatus", "Enabled", "UserCreateDate"} <= set(users[0])


# pools
def test_list_user_pools_walks_every_page(cognito: Any, lax: Any) -> None:
    mine = {new_pool(cognito).id for _ in range(3)}
    pages = walk(cognito, "list_user_pools", 2)
    assert all(len(p["UserPools"]) <= 2 for p in pages) and len(pages) >= 2
    listed = [p["Id"] for page in pages for p in page["UserPools"]]
    assert mine <= set(listed) and len(listed) == len(set(listed))
    described = pages[0]["UserPools"][0]
    assert {"Id", "Name", "CreationDate", "LastModifiedDate", "LambdaConfig"} <= set(described)
    code, message = error_of(lax.list_user_pools)
    assert code == "InvalidParameterException" and "maxResults" in message
    code, _ = error_of(cognito.list_user_pools, MaxResults=61)
    assert code == "InvalidParameterException"


FULL_POOL = {
    "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": False}},
    "DeletionProtection": "ACTIVE",
    "AutoVerifiedAttributes": ["email"],
    "VerificationMessageTemplate": {
        "DefaultEmailOption": "CONFIRM_WITH_CODE",
        "EmailSubject": "Your code",
        "EmailMessage": "Code: {####}",
    },
    "AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
    "UserPoolTags": {"team": "identity"},
    "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True, "UnusedAccountValidityDays": 3},
    "EmailConfiguration": {
        "EmailSendingAccount": "COGNITO_DEFAULT",
        "ReplyToEmailAddress": "a@b.c",
    },
    "MfaConfiguration": "OFF",
}


def test_update_user_pool_is_described_and_resets_what_it_omits(cognito: Any, fresh: Fresh) -> None:
    cognito.update_user_pool(UserPoolId=fresh.id, **FULL_POOL)
    pool = cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    assert pool["Policies"]["PasswordPolicy"]["RequireSymbols"] is False
    for name in (
        "DeletionProtection",
        "AutoVerifiedAttributes",
        "VerificationMessageTemplate",
        "AccountRecoverySetting",
        "UserPoolTags",
        "AdminCreateUserConfig",
        "EmailConfiguration",
        "MfaConfiguration",
    ):
        assert pool[name] == FULL_POOL[name], name
    code, _ = error_of(
        cognito.admin_set_user_password,
        UserPoolId=fresh.id,
        Username=add_user(cognito, fresh.id, "olga"),
        Password="Short1!",
        Permanent=True,
    )
    assert code == "InvalidPasswordException"
    # Cognito's UpdateUserPool sets every omitted setting back to its default.
    cognito.update_user_pool(UserPoolId=fresh.id, UserPoolTags={"team": "platform"})
    pool = cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]
    assert pool["UserPoolTags"] == {"team": "platform"}
    assert pool["DeletionProtection"] == "INACTIVE"
    assert pool["AutoVerifiedAttributes"] == []
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert pool["AdminCreateUserConfig"] == {
        "AllowAdminCreateUserOnly": False,
        "UnusedAccountValidityDays": 7,
    }
    assert "AccountRecoverySetting" not in pool
    assert pool["VerificationMessageTemplate"] == {"DefaultEmailOption": "CONFIRM_WITH_CODE"}
    # What only CreateUserPool sets stays: the name and the custom attributes.
    assert pool["Name"].startswith("admin-")
    assert "custom:tenant_id" in {a["Name"] for a in pool["SchemaAttributes"]}
    cognito.update_user_pool(UserPoolId=fresh.id, PoolName="renamed")
    assert cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]["Name"] == "renamed"


def test_create_user_pool_takes_the_same_settings(cognito: Any) -> None:
    fresh = new_pool(cognito, **{**FULL_POOL, "DeletionProtection": "INACTIVE"})
    pool = cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]
    assert pool["UserPoolTags"] == FULL_POOL["UserPoolTags"]
    assert pool["AdminCreateUserConfig"] == FULL_POOL["AdminCreateUserConfig"]
    assert pool["AccountRecoverySetting"] == FULL_POOL["AccountRecoverySetting"]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"DeletionProtection": "MAYBE"}, "DeletionProtection"),
        ({"MfaConfiguration": "SOMETIMES"}, "'mfaConfiguration'"),
        ({"AutoVerifiedAttributes": ["address"]}, "AutoVerifiedAttributes"),
        ({"Policies": {"PasswordPolicy": {"MinimumLength": 100}}}, "MinimumLength"),
        ({"Policies": {"PasswordPolicy": {"PasswordHistorySize": 100}}}, "PasswordHistorySize"),
        (
            {"AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "pigeon"}]}},
            "AccountRecoverySetting",
        ),
        ({"LambdaConfig": {"PreSignUp": "arn:aws:lambda:us-east-1:1:function:f"}}, "LambdaConfig"),
    ],
)
def test_update_user_pool_refuses_and_changes_nothing(
    cognito: Any, fresh: Fresh, settings: dict[str, Any], named: str
) -> None:
    cognito.update_user_pool(UserPoolId=fresh.id, UserPoolTags={"keep": "me"})
    before = cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]
    code, message = error_of(cognito.update_user_pool, UserPoolId=fresh.id, **settings)
    assert code == "InvalidParameterException"
    assert named in message
    assert cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"] == before


def test_update_user_pool_mfa_needs_the_authenticator_factor(cognito: Any, fresh: Fresh) -> None:
    for mode in ("ON", "OPTIONAL"):
        code, message = error_of(
            cognito.update_user_pool, UserPoolId=fresh.id, MfaConfiguration=mode
        )
        assert code == "InvalidParameterException" and "MFA" in message
        code, _ = error_of(cognito.create_user_pool, PoolName="mfa-at-birth", MfaConfiguration=mode)
        assert code == "InvalidParameterException"
    cognito.set_user_pool_mfa_config(
        UserPoolId=fresh.id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        MfaConfiguration="ON",
    )
    cognito.update_user_pool(UserPoolId=fresh.id, MfaConfiguration="OPTIONAL")
    assert cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]["MfaConfiguration"] == (
        "OPTIONAL"
    )
    # Omitted, it returns to OFF, as every omitted setting of UpdateUserPool does.
    cognito.update_user_pool(UserPoolId=fresh.id)
    assert cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]["MfaConfiguration"] == "OFF"


def test_update_user_pool_of_unknown_pool(cognito: Any) -> None:
    code, _ = error_of(cognito.update_user_pool, UserPoolId="us-east-1_000000000")
    assert code == "ResourceNotFoundException"


def test_delete_user_pool_honours_deletion_protection_and_removes_everything(
    cognito: Any, unsigned_cognito: Any, server: Server, http: Any
) -> None:
    fresh = new_pool(cognito, DeletionProtection="ACTIVE")
    add_user(cognito, fresh.id, "pete", email="pete@example.com")
    cognito.create_group(UserPoolId=fresh.id, GroupName="g")
    cognito.admin_add_user_to_group(UserPoolId=fresh.id, Username="pete", GroupName="g")
    cognito.create_resource_server(
        UserPoolId=fresh.id,
        Identifier="api",
        Name="API",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}],
    )
    tokens = sign_in(unsigned_cognito, fresh, "pete")
    code, message = error_of(cognito.delete_user_pool, UserPoolId=fresh.id)
    assert code == "InvalidParameterException" and "deletion protection" in message
    assert cognito.describe_user_pool(UserPoolId=fresh.id)["UserPool"]["Id"] == fresh.id

    cognito.update_user_pool(UserPoolId=fresh.id, DeletionProtection="INACTIVE")
    cognito.delete_user_pool(UserPoolId=fresh.id)
    code, _ = error_of(cognito.describe_user_pool, UserPoolId=fresh.id)
    assert code == "ResourceNotFoundException"
    assert http.get(f"/{fresh.id}/.well-known/jwks.json").status_code == 404
    code, _ = error_of(unsigned_cognito.get_user, AccessToken=tokens["AccessToken"])
    assert code == "NotAuthorizedException"
    code, _ = error_of(
        unsigned_cognito.initiate_auth,
        ClientId=fresh.client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(cognito.delete_user_pool, UserPoolId=fresh.id)
    assert code == "ResourceNotFoundException"
    # No row of the pool is left in any table.
    engine = sqlalchemy.create_engine(server.env["TOKEN_SERVICE_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            for table in sqlalchemy.inspect(connection).get_table_names():
                columns = {c["name"] for c in sqlalchemy.inspect(connection).get_columns(table)}
                key = "id" if table == "user_pools" else "pool_id"
                if key in columns:
                    count = connection.execute(
                        sqlalchemy.text(f'SELECT COUNT(*) FROM "{table}" WHERE "{key}" = :p'),
                        {"p": fresh.id},
                    ).scalar()
                    assert count == 0, table
    finally:
        engine.dispose()


# clients
def test_clients_walk_every_page_and_describe_shows_the_secret(cognito: Any, fresh: Fresh) -> None:
    created = [
        cognito.create_user_pool_client(
            UserPoolId=fresh.id, ClientName=f"app-{i}", GenerateSecret=i % 2 == 0
        )["UserPoolClient"]
        for i in range(4)
    ]
    pages = walk(cognito, "list_user_pool_clients", 2, UserPoolId=fresh.id)
    listed = [c for p in pages for c in p["UserPoolClients"]]
    assert [len(p["UserPoolClients"]) for p in pages] == [2, 2, 1]
    assert {c["ClientId"] for c in listed} == {fresh.client} | {c["ClientId"] for c in created}
    assert set(listed[0]) == {"ClientId", "UserPoolId", "ClientName"}
    for client in created:
        described = cognito.describe_user_pool_client(
            UserPoolId=fresh.id, ClientId=client["ClientId"]
        )["UserPoolClient"]
        assert described.get("ClientSecret") == client.get("ClientSecret")
        assert described["ClientName"] == client["ClientName"]
    other = new_pool(cognito)
    for pool_id, client_id in ((fresh.id, "nosuchclient"), (other.id, created[0]["ClientId"])):
        code, _ = error_of(
            cognito.describe_user_pool_client, UserPoolId=pool_id, ClientId=client_id
        )
        assert code == "ResourceNotFoundException"
    code, _ = error_of(cognito.list_user_pool_clients, UserPoolId=fresh.id, MaxResults=61)
    assert code == "InvalidParameterException"


FULL_CLIENT = {
    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    "AccessTokenValidity": 30,
    "IdTokenValidity": 2,
    "RefreshTokenValidity": 12,
    "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "hours"},
    "AllowedOAuthFlows": ["code"],
    "AllowedOAuthScopes": ["openid", "email"],
    "AllowedOAuthFlowsUserPoolClient": True,
    "CallbackURLs": ["https://app.example.com/callback", "http://localhost:3000/cb"],
    "LogoutURLs": ["https://app.example.com/bye"],
    "DefaultRedirectURI": "https://app.example.com/callback",
    "SupportedIdentityProviders": ["COGNITO"],
    "ReadAttributes": ["email", "custom:tenant_id"],
    "WriteAttributes": ["email"],
    "PreventUserExistenceErrors": "LEGACY",
    "EnableTokenRevocation": True,
    "AuthSessionValidity": 10,
    "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 5},
}


def test_create_and_update_client_store_every_setting_and_update_resets_omitted(
    cognito: Any, fresh: Fresh
) -> None:
    created = cognito.create_user_pool_client(
        UserPoolId=fresh.id, ClientName="full", GenerateSecret=True, **FULL_CLIENT
    )["UserPoolClient"]
    described = cognito.describe_user_pool_client(
        UserPoolId=fresh.id, ClientId=created["ClientId"]
    )["UserPoolClient"]
    for name, value in FULL_CLIENT.items():
        assert described[name] == value, name
    updated = cognito.update_user_pool_client(
        UserPoolId=fresh.id,
        ClientId=created["ClientId"],
        CallbackURLs=["https://app.example.com/new"],
    )["UserPoolClient"]
    assert updated["ClientName"] == "full"
    assert updated["ClientSecret"] == created["ClientSecret"]
    assert updated["CallbackURLs"] == ["https://app.example.com/new"]
    assert updated["ExplicitAuthFlows"] == list(DEFAULT_AUTH_FLOWS)
    assert (updated["AccessTokenValidity"], updated["RefreshTokenValidity"]) == (8, 30)
    assert updated["TokenValidityUnits"] == {
        "AccessToken": "hours",
        "IdToken": "hours",
        "RefreshToken": "days",
    }
    assert updated["AllowedOAuthFlows"] == [] and updated["AllowedOAuthScopes"] == []
    assert updated["AllowedOAuthFlowsUserPoolClient"] is False
    assert updated["PreventUserExistenceErrors"] == "ENABLED"
    assert updated["AuthSessionValidity"] == 3
    for gone in ("LogoutURLs", "DefaultRedirectURI", "ReadAttributes", "RefreshTokenRotation"):
        assert gone not in updated, gone
    again = cognito.describe_user_pool_client(UserPoolId=fresh.id, ClientId=created["ClientId"])
    assert again["UserPoolClient"] == updated


def test_updated_validity_shapes_the_next_tokens(
    cognito: Any, unsigned_cognito: Any, fresh: Fresh
) -> None:
    add_user(cognito, fresh.id, "quinn")
    assert sign_in(unsigned_cognito, fresh, "quinn")["ExpiresIn"] == 8 * 3600
    cognito.update_user_pool_client(
        UserPoolId=fresh.id,
        ClientId=fresh.client,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        AccessTokenValidity=10,
        TokenValidityUnits={"AccessToken": "minutes"},
    )
    tokens = sign_in(unsigned_cognito, fresh, "quinn")
    assert tokens["ExpiresIn"] == 600
    code, _ = error_of(
        unsigned_cognito.initiate_auth,
        ClientId=fresh.client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    assert code == "InvalidParameterException"


BAD_CLIENTS = [
    ({"CallbackURLs": ["http://app.example.com/cb"]}, "CallbackURLs"),
    ({"CallbackURLs": ["https://app.example.com/cb#frag"]}, "CallbackURLs"),
    ({"CallbackURLs": ["/relative"]}, "CallbackURLs"),
    (
        {
            "CallbackURLs": ["https://a.example.com/"],
            "DefaultRedirectURI": "https://b.example.com/",
        },
        "DefaultRedirectURI",
    ),
    ({"AllowedOAuthFlows": ["code"]}, "CallbackURLs"),
    ({"AllowedOAuthFlows": ["password"]}, "AllowedOAuthFlows"),
    ({"ExplicitAuthFlows": ["ALLOW_EVERYTHING"]}, "ExplicitAuthFlows"),
    (
        {"AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthScopes": ["x/y"]},
        "client_credentials",
    ),
    (
        {"RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 61}},
        "RetryGracePeriodSeconds",
    ),
    ({"RefreshTokenRotation": {"Feature": "SOMETIMES"}}, "RefreshTokenRotation"),
    ({"AuthSessionValidity": 16}, "AuthSessionValidity"),
    ({"PreventUserExistenceErrors": "NEVER"}, "PreventUserExistenceErrors"),
    ({"SupportedIdentityProviders": ["Google"]}, "SupportedIdentityProviders"),
    ({"ReadAttributes": ["shoe_size"]}, "ReadAttributes"),
    (
        {"AccessTokenValidity": 2, "TokenValidityUnits": {"AccessToken": "days"}},
        "AccessTokenValidity",
    ),
    ({"TokenValidityUnits": {"AccessToken": "weeks"}}, "TokenValidityUnits"),
    ({"AllowedOAuthFlowsUserPoolClient": True}, "AllowedOAuthFlows"),
]


@pytest.mark.parametrize(("settings", "named"), BAD_CLIENTS)
def test_create_and_update_client_refuse_the_same_settings(
    cognito: Any, fresh: Fresh, settings: dict[str, Any], named: str
) -> None:
    code, message = error_of(
        cognito.create_user_pool_client, UserPoolId=fresh.id, ClientName="bad", **settings
    )
    assert code == "InvalidParameterException" and named in message
    before = cognito.describe_user_pool_client(UserPoolId=fresh.id, ClientId=fresh.client)[
        "UserPoolClient"
    ]
    code, message = error_of(
        cognito.update_user_pool_client, UserPoolId=fresh.id, ClientId=fresh.client, **settings
    )
    assert code == "InvalidParameterException" and named in message
    after = cognito.describe_user_pool_client(UserPoolId=fresh.id, ClientId=fresh.client)
    assert after["UserPoolClient"] == before


def test_update_client_checks_scopes_and_unknown_clients(cognito: Any, fresh: Fresh) -> None:
    code, _ = error_of(
        cognito.update_user_pool_client,
        UserPoolId=fresh.id,
        ClientId=fresh.client,
        AllowedOAuthFlows=["code"],
        CallbackURLs=["https://app.example.com/"],
        AllowedOAuthScopes=["api/undefined"],
    )
    assert code == "ScopeDoesNotExistException"
    code, _ = error_of(
        cognito.update_user_pool_client, UserPoolId=fresh.id, ClientId="nosuchclient"
    )
    assert code == "ResourceNotFoundException"


def test_delete_user_pool_client(cognito: Any, unsigned_cognito: Any, fresh: Fresh) -> None:
    add_user(cognito, fresh.id, "rosa")
    tokens = sign_in(unsigned_cognito, fresh, "rosa")
    cognito.delete_user_pool_client(UserPoolId=fresh.id, ClientId=fresh.client)
    code, _ = error_of(
        cognito.describe_user_pool_client, UserPoolId=fresh.id, ClientId=fresh.client
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(unsigned_cognito.get_user, AccessToken=tokens["AccessToken"])
    assert code == "NotAuthorizedException"
    code, _ = error_of(cognito.delete_user_pool_client, UserPoolId=fresh.id, ClientId=fresh.client)
    assert code == "ResourceNotFoundException"


# resource servers
def test_resource_servers(cognito: Any, fresh: Fresh) -> None:
    for identifier in ("alpha", "beta", "gamma"):
        cognito.create_resource_server(
            UserPoolId=fresh.id,
            Identifier=identifier,
            Name=identifier.title(),
            Scopes=[{"ScopeName": "read", "ScopeDescription": "read it"}],
        )
    pages = walk(cognito, "list_resource_servers", 2, UserPoolId=fresh.id)
    assert [len(p["ResourceServers"]) for p in pages] == [2, 1]
    assert [s["Identifier"] for p in pages for s in p["ResourceServers"]] == [
        "alpha",
        "beta",
        "gamma",
    ]
    described = cognito.describe_resource_server(UserPoolId=fresh.id, Identifier="beta")
    assert described["ResourceServer"]["Scopes"] == [
        {"ScopeName": "read", "ScopeDescription": "read it"}
    ]
    updated = cognito.update_resource_server(
        UserPoolId=fresh.id,
        Identifier="beta",
        Name="Beta 2",
        Scopes=[{"ScopeName": "write", "ScopeDescription": "write it"}],
    )["ResourceServer"]
    assert updated["Name"] == "Beta 2"
    assert [s["ScopeName"] for s in updated["Scopes"]] == ["write"]
    cognito.delete_resource_server(UserPoolId=fresh.id, Identifier="beta")
    for call, extra in (
        (cognito.describe_resource_server, {}),
        (cognito.delete_resource_server, {}),
        (cognito.update_resource_server, {"Name": "x"}),
    ):
        code, _ = error_of(call, UserPoolId=fresh.id, Identifier="beta", **extra)
        assert code == "ResourceNotFoundException"
    code, _ = error_of(cognito.list_resource_servers, UserPoolId=fresh.id, MaxResults=51)
    assert code == "InvalidParameterException"
    code, message = error_of(
        cognito.update_resource_server,
        UserPoolId=fresh.id,
        Identifier="alpha",
        Name="Alpha",
        Scopes=[{"ScopeName": "a/b", "ScopeDescription": "slash"}],
    )
    assert code == "InvalidParameterException" and "Scope" in message


# pagination tokens
@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("list_groups", {}),
        ("list_user_pools", {"MaxResults": 10}),
        ("list_user_pool_clients", {}),
        ("list_resource_servers", {}),
        ("list_users", {"PaginationToken": "bm90LWEtdG9rZW4="}),
        ("list_users_in_group", {"GroupName": "g"}),
    ],
)
def test_invalid_pagination_token_is_invalid_parameter(
    cognito: Any, fresh: Fresh, operation: str, params: dict[str, Any]
) -> None:
    cognito.create_group(UserPoolId=fresh.id, GroupName="g")
    pool = {} if operation == "list_user_pools" else {"UserPoolId": fresh.id}
    token = {} if "PaginationToken" in params else {"NextToken": "bm90LWEtdG9rZW4="}
    with pytest.raises(ClientError) as caught:
        getattr(cognito, operation)(**pool, **params, **token)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"


@given(
    items=st.lists(st.integers(), max_size=40),
    limit=st.integers(min_value=1, max_value=60),
)
def test_pages_hold_every_item_once_in_order(items: list[int], limit: int) -> None:
    seen: list[int] = []
    token = None
    while True:
        page, token = paginate(items, limit, token)
        assert len(page) <= limit
        seen += page
        if token is None:
            break
    assert seen == items


@given(st.text(max_size=40))
def test_any_token_is_an_offset_or_refused(token: str) -> None:
    try:
        assert page_offset(token) >= 0
    except InvalidParameter as error:
        assert error.message == "Invalid pagination token."


MY_OPERATIONS = [
    "AdminUpdateUserAttributes",
    "AdminDeleteUserAttributes",
    "AdminUserGlobalSignOut",
    "GetGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "ListUsersInGroup",
    "ListUserPools",
    "UpdateUserPool",
    "DeleteUserPool",
    "ListUserPoolClients",
    "DescribeUserPoolClient",
    "UpdateUserPoolClient",
    "DeleteUserPoolClient",
    "ListResourceServers",
    "DescribeResourceServer",
    "UpdateResourceServer",
    "DeleteResourceServer",
    "GetTokensFromRefreshToken",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
PARAMETER_NAMES = [
    "UserPoolId",
    "Username",
    "GroupName",
    "ClientId",
    "Identifier",
    "Name",
    "Limit",
    "MaxResults",
    "NextToken",
    "UserAttributes",
    "UserAttributeNames",
    "Precedence",
    "RoleArn",
    "Scopes",
    "CallbackURLs",
    "RefreshTokenRotation",
    "TokenValidityUnits",
    "AccessTokenValidity",
    "Policies",
    "DeletionProtection",
    "AccountRecoverySetting",
    "AdminCreateUserConfig",
    "RefreshToken",
    "ClientSecret",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    operation=st.sampled_from(MY_OPERATIONS),
    params=st.dictionaries(st.sampled_from(PARAMETER_NAMES), JSON, max_size=6),
)
def test_any_parameters_get_a_cognito_error_never_a_crash(
    server: Server, fresh_for_fuzz: Fresh, operation: str, params: dict[str, Any]
) -> None:
    """Whatever the values, the answer is a success or a 400 in Cognito's shape."""
    body = json.dumps({"UserPoolId": fresh_for_fuzz.id, **params}).encode()
    answer = signed_post(server, operation, body)
    assert answer.status_code in (200, 400), answer.text
    if answer.status_code == 400:
        assert answer.json()["__type"].endswith("Exception")
        assert "Traceback" not in answer.text

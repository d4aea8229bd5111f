"""AdminLinkProviderForUser, AdminDisableProviderForUser, federated users and the `identities`
claim, with boto3 against a real `token-service serve`.

A federated user is made the way a sign-in makes it (the linking service on the server's
own store), then everything else goes through the Cognito API.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
import pytest

from tests.token_service.conftest import PASSWORD, Server
from tests.token_service.idp_world import World, store_of
from tests.token_service.test_cognito_api import error_of
from token_service.federation.linking import (
    ExternalIdentity,
    FederationRefused,
    sign_in_external,
)
from token_service.federation.providers import IdentityProviders
from token_service.services import Services
from token_service.store.models import User
from token_service.store.repositories import Repository


@pytest.fixture
def world(cognito: Any) -> World:
    """A pool with the provider Partner (explicit endpoints: no discovery needed)."""
    pool_id = cognito.create_user_pool(
        PoolName=f"links-{uuid.uuid4().hex[:8]}",
        Schema=[{"Name": "oid", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    world = World(pool_id, "https://idp.partner.example")
    endpoints = {
        key: f"https://idp.partner.example/{key}"
        for key in ("authorize_url", "token_url", "attributes_url", "jwks_uri")
    }
    world.oidc(
        cognito,
        ProviderDetails={
            "client_id": "ours",
            "authorize_scopes": "openid email",
            "oidc_issuer": world.issuer,
            "attributes_request_method": "GET",
            **endpoints,
        },
        AttributeMapping={"username": "sub", "custom:oid": "sub", "email": "email"},
    )
    return world


def native_user(cognito: Any, world: World, username: str) -> None:
    cognito.admin_create_user(UserPoolId=world.pool_id, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=world.pool_id, Username=username, Password=PASSWORD, Permanent=True
    )


def source(
    subject: str, attribute: str = "Cognito_Subject", provider: str = "Partner"
) -> dict[str, str]:
    return {
        "ProviderName": provider,
        "ProviderAttributeName": attribute,
        "ProviderAttributeValue": subject,
    }


def destination(username: str) -> dict[str, str]:
    return {"ProviderName": "Cognito", "ProviderAttributeValue": username}


def link(cognito: Any, world: World, username: str, subject: str, **source_args: str) -> None:
    cognito.admin_link_provider_for_user(
        UserPoolId=world.pool_id,
        DestinationUser=destination(username),
        SourceUser=source(subject, **source_args),
    )


def user_of(cognito: Any, world: World, username: str) -> dict[str, Any]:
    user: dict[str, Any] = cognito.admin_get_user(UserPoolId=world.pool_id, Username=username)
    user["attributes"] = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    return user


def federated_sign_in(server: Server, world: World, subject: str) -> User:
    """What a verified partner sign-in does: the user the identity signs in as."""
    services = store_of(server)
    with services.core.store.transaction() as repo:
        return sign_in_external(
            repo, identity(services, repo, world, subject), services.core.clock()
        )


def identity(services: Services, repo: Repository, world: World, subject: str) -> ExternalIdentity:
    """The identity `subject` of the provider Partner, as its IdP vouched for it."""
    provider = IdentityProviders(services.core).get(repo, world.pool_id, "Partner")
    assert provider is not None
    return ExternalIdentity(provider, subject, {"sub": subject}, email_verified=False)


def federated_tokens(server: Server, world: World, subject: str, client_id: str) -> Any:
    """A federated sign-in completed as token exchange completes it: our tokens for the user."""
    services = store_of(server)
    with services.core.store.transaction() as repo:
        client = repo.client(client_id)
        assert client is not None
        now = services.core.clock()
        user = sign_in_external(repo, identity(services, repo, world, subject), now)
        return services.issuer.issue_user_tokens(repo, client, user, now, None, ["ext"])


def test_disabling_an_identity_ends_its_federated_user_s_refresh(
    cognito: Any, server: Server, world: World
) -> None:
    client = cognito.create_user_pool_client(
        UserPoolId=world.pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    tokens = federated_tokens(server, world, "fed-r", client)
    claims = jwt.decode(tokens.id_token, options={"verify_signature": False})
    assert claims["cognito:username"] == "Partner_fed-r"
    assert [e["userId"] for e in claims["identities"]] == ["fed-r"]

    def refresh() -> Any:
        return cognito.initiate_auth(
            ClientId=client,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens.refresh_token},
        )

    assert "AccessToken" in refresh()["AuthenticationResult"]
    cognito.admin_disable_provider_for_user(UserPoolId=world.pool_id, User=source("fed-r"))
    code, _ = error_of(refresh)
    assert code == "NotAuthorizedException"


def test_a_link_shows_in_identities_and_in_the_id_token(
    cognito: Any, server: Server, world: World
) -> None:
    native_user(cognito, world, "alice")
    link(cognito, world, "alice", "partner-sub-1")
    attribute = user_of(cognito, world, "alice")["attributes"]["identities"]
    entries = json.loads(attribute)
    assert len(entries) == 1
    entry = entries[0]
    assert {
        k: entry[k] for k in ("userId", "providerName", "providerType", "issuer", "primary")
    } == {
        "userId": "partner-sub-1",
        "providerName": "Partner",
        "providerType": "OIDC",
        "issuer": None,
        "primary": "true",
    }
    assert entry["dateCreated"].isdigit()
    listed = cognito.list_users(UserPoolId=world.pool_id, Filter='username = "alice"')["Users"]
    assert {a["Name"]: a["Value"] for a in listed[0]["Attributes"]}["identities"] == attribute
    client = cognito.create_user_pool_client(
        UserPoolId=world.pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    tokens = cognito.initiate_auth(
        ClientId=client["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    claims = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    assert claims["identities"] == entries
    assert "identities" not in jwt.decode(
        tokens["AccessToken"], options={"verify_signature": False}
    )
    # The link holds: the identity signs in as alice.
    assert federated_sign_in(server, world, "partner-sub-1").username == "alice"


def test_link_refusals_are_cognito_s(cognito: Any, server: Server, world: World) -> None:
    native_user(cognito, world, "alice")
    native_user(cognito, world, "bob")
    link(cognito, world, "alice", "s-1")
    link(cognito, world, "alice", "s-1")  # the same link again changes nothing
    assert len(json.loads(user_of(cognito, world, "alice")["attributes"]["identities"])) == 1
    link(cognito, world, "alice", "s-2", attribute="custom:oid")  # mapped from the subject claim
    federated = federated_sign_in(server, world, "s-jit")
    cases = [
        (destination("bob"), source("s-1"), "AliasExistsException"),
        (destination("bob"), source("s-jit"), "AliasExistsException"),
        (destination("nobody"), source("s-3"), "UserNotFoundException"),
        (destination(federated.username), source("s-3"), "InvalidParameterException"),
        (
            {**destination("bob"), "ProviderName": "Partner"},
            source("s-3"),
            "InvalidParameterException",
        ),
        (destination("bob"), source("s-3", provider="Cognito"), "InvalidParameterException"),
        (destination("bob"), source("s-3", provider="Nobody"), "InvalidParameterException"),
        (destination("bob"), source("s-3", attribute="email"), "InvalidParameterException"),
        (destination("bob"), source("s-3", attribute="NameID"), "InvalidParameterException"),
        (destination("bob"), source(""), "InvalidParameterException"),
        (destination("bob"), source("x" * 257), "InvalidParameterException"),
    ]
    for dest, src, wanted in cases:
        code, message = error_of(
            cognito.admin_link_provider_for_user,
            UserPoolId=world.pool_id,
            DestinationUser=dest,
            SourceUser=src,
        )
        assert code == wanted, (dest, src, message)
    assert "identities" not in user_of(cognito, world, "bob")["attributes"]


def test_a_user_has_at_most_five_identities(cognito: Any, world: World) -> None:
    native_user(cognito, world, "carol")
    for index in range(5):
        link(cognito, world, "carol", f"c-{index}")
    code, _ = error_of(
        cognito.admin_link_provider_for_user,
        UserPoolId=world.pool_id,
        DestinationUser=destination("carol"),
        SourceUser=source("c-5"),
    )
    assert code == "LimitExceededException"
    primary = json.loads(user_of(cognito, world, "carol")["attributes"]["identities"])
    assert [e["primary"] for e in primary] == ["true"] + ["false"] * 4


def test_a_disabled_identity_signs_in_as_no_one_until_linked_again(
    cognito: Any, server: Server, world: World
) -> None:
    native_user(cognito, world, "dave")
    native_user(cognito, world, "erin")
    link(cognito, world, "dave", "d-1")
    cognito.admin_disable_provider_for_user(UserPoolId=world.pool_id, User=source("d-1"))
    assert "identities" not in user_of(cognito, world, "dave")["attributes"]
    cognito.admin_disable_provider_for_user(UserPoolId=world.pool_id, User=source("d-1"))
    with pytest.raises(FederationRefused, match="disabled"):
        federated_sign_in(server, world, "d-1")
    link(cognito, world, "erin", "d-1")
    assert federated_sign_in(server, world, "d-1").username == "erin"
    assert "identities" in user_of(cognito, world, "erin")["attributes"]
    for user, wanted in (
        (source("never-linked"), "InvalidParameterException"),
        (source("d-1", provider="Cognito"), "InvalidParameterException"),
        (source("d-1", provider="Nobody"), "InvalidParameterException"),
        (source("d-1", attribute="email"), "InvalidParameterException"),
    ):
        code, _ = error_of(
            cognito.admin_disable_provider_for_user, UserPoolId=world.pool_id, User=user
        )
        assert code == wanted, user


def test_federated_users_have_no_password_here(cognito: Any, server: Server, world: World) -> None:
    made = federated_sign_in(server, world, "fed-1")
    assert made.username == "Partner_fed-1"
    user = user_of(cognito, world, made.username)
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    assert json.loads(user["attributes"]["identities"])[0]["userId"] == "fed-1"
    found = cognito.list_users(
        UserPoolId=world.pool_id, Filter='cognito:user_status = "EXTERNAL_PROVIDER"'
    )["Users"]
    assert [u["Username"] for u in found] == [made.username]
    client = cognito.create_user_pool_client(
        UserPoolId=world.pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    refusals = [
        (
            cognito.admin_set_user_password,
            {"UserPoolId": world.pool_id, "Username": made.username, "Password": PASSWORD},
            "InvalidParameterException",
        ),
        (
            cognito.admin_reset_user_password,
            {"UserPoolId": world.pool_id, "Username": made.username},
            "NotAuthorizedException",
        ),
        (
            cognito.forgot_password,
            {"ClientId": client["ClientId"], "Username": made.username},
            "NotAuthorizedException",
        ),
        (
            cognito.initiate_auth,
            {
                "ClientId": client["ClientId"],
                "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": made.username, "PASSWORD": PASSWORD},
            },
            "NotAuthorizedException",
        ),
    ]
    for call, arguments, wanted in refusals:
        code, _ = error_of(call, **arguments)
        assert code == wanted, call
    assert user_of(cognito, world, made.username)["UserStatus"] == "EXTERNAL_PROVIDER"
    # Deleting the user deletes its link: the identity's next sign-in makes a new user.
    cognito.admin_delete_user(UserPoolId=world.pool_id, Username=made.username)
    again = federated_sign_in(server, world, "fed-1")
    assert again.username == made.username and again.sub != made.sub

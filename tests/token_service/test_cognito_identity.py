"""Cognito Identity (developer identities) through boto3's `cognito-identity` client,
against a real `token-service serve`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from typing import Any

import httpx
import jwt
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import (
    PASSWORD,
    SECRET_ACCESS_KEY,
    Pool,
    Server,
    cognito_client,
    create_user,
    signed_headers,
)

DEVELOPER = "login.partner.backend"
IDENTITY_ID = re.compile(
    r"^us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
TARGET = "AWSCognitoIdentityService."


def identity_client(url: str, **config: Any) -> Any:
    return cognito_client(url, service="cognito-identity", **config)


@pytest.fixture(scope="module")
def identity(server: Server) -> Any:
    return identity_client(server.url)


@pytest.fixture(scope="module")
def public_identity(server: Server) -> Any:
    return identity_client(server.url, signature_version=UNSIGNED)


def provider_name(pool: Pool) -> str:
    return f"cognito-idp.us-east-1.amazonaws.com/{pool.id}"


def developer_pool(identity: Any, pool: Pool, name: str) -> str:
    """An identity pool with the developer provider, logged in to by `pool`'s ID tokens."""
    created = identity.create_identity_pool(
        IdentityPoolName=name,
        AllowUnauthenticatedIdentities=False,
        DeveloperProviderName=DEVELOPER,
        CognitoIdentityProviders=[
            {"ProviderName": provider_name(pool), "ClientId": pool.public_client}
        ],
    )
    return str(created["IdentityPoolId"])


@pytest.fixture(scope="module")
def identity_pool(identity: Any, pool: Pool) -> str:
    return developer_pool(identity, pool, "partners")


@pytest.fixture(scope="module")
def fuzzed_pool(identity: Any, pool: Pool) -> str:
    """The property test's own pool: its bodies may update or delete it."""
    return developer_pool(identity, pool, "fuzzed")


def developer_token(identity: Any, pool_id: str, user: str, **extra: Any) -> dict[str, Any]:
    return identity.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={DEVELOPER: user}, **extra
    )


def verified(server: Server, token: str, audience: str) -> dict[str, Any]:
    """The token's claims, checked as a resource server would: discovery, JWKS, RS256."""
    issuer = f"{server.url}/identity"
    config = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert config["issuer"] == issuer
    key = jwt.PyJWKClient(config["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=issuer)


def code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def id_token(cognito: Any, pool: Pool, username: str) -> str:
    result = cognito.initiate_auth(
        ClientId=pool.public_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return str(result["AuthenticationResult"]["IdToken"])


# identity pools
def test_identity_pool_lifecycle(identity: Any, pool: Pool) -> None:
    settings_ = {
        "IdentityPoolName": "lifecycle pool",
        "AllowUnauthenticatedIdentities": True,
        "AllowClassicFlow": False,
        "SupportedLoginProviders": {"graph.facebook.com": "123"},
        "DeveloperProviderName": "login.lifecycle",
        "OpenIdConnectProviderARNs": ["arn:aws:iam::000000000000:oidc-provider/example.com"],
        "CognitoIdentityProviders": [
            {
                "ProviderName": f"127.0.0.1:{pool.issuer.split(':')[2]}",
                "ClientId": pool.public_client,
                "ServerSideTokenCheck": False,
            }
        ],
        "IdentityPoolTags": {"team": "partners"},
    }
    created = identity.create_identity_pool(**settings_)
    pool_id = created.pop("IdentityPoolId")
    created.pop("ResponseMetadata")
    assert IDENTITY_ID.match(pool_id)
    assert created == settings_
    described = identity.describe_identity_pool(IdentityPoolId=pool_id)
    assert described["IdentityPoolName"] == "lifecycle pool"
    updated = identity.update_identity_pool(
        IdentityPoolId=pool_id, IdentityPoolName="renamed", AllowUnauthenticatedIdentities=False
    )
    # An update replaces every setting, but the developer provider stays.
    assert updated["IdentityPoolName"] == "renamed"
    assert updated["DeveloperProviderName"] == "login.lifecycle"
    assert "SupportedLoginProviders" not in updated
    with pytest.raises(ClientError) as error:
        identity.update_identity_pool(
            IdentityPoolId=pool_id,
            IdentityPoolName="renamed",
            AllowUnauthenticatedIdentities=False,
            DeveloperProviderName="login.other",
        )
    assert code(error) == "InvalidParameterException"
    listed = identity.list_identity_pools(MaxResults=60)["IdentityPools"]
    assert {"IdentityPoolId": pool_id, "IdentityPoolName": "renamed"} in listed
    identity.delete_identity_pool(IdentityPoolId=pool_id)
    with pytest.raises(ClientError) as error:
        identity.describe_identity_pool(IdentityPoolId=pool_id)
    assert code(error) == "ResourceNotFoundException"


def test_list_identity_pools_pages(identity: Any) -> None:
    for n in range(3):
        identity.create_identity_pool(
            IdentityPoolName=f"page {n}", AllowUnauthenticatedIdentities=False
        )
    seen, token = [], None
    while True:
        page = identity.list_identity_pools(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["IdentityPools"]) <= 2
        seen += page["IdentityPools"]
        token = page.get("NextToken")
        if not token:
            break
    assert len({p["IdentityPoolId"] for p in seen}) == len(seen) >= 3
    paginator = identity.get_paginator("list_identity_pools")
    assert sum(len(p["IdentityPools"]) for p in paginator.paginate(MaxResults=1)) == len(seen)


@pytest.mark.parametrize(
    "change",
    [
        {"IdentityPoolName": "slash/name"},
        {"DeveloperProviderName": "has space"},
        {
            "CognitoIdentityProviders": [
                {
                    "ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_Nope",
                    "ClientId": "abc",
                }
            ]
        },
        {"SupportedLoginProviders": {"x": 1}},
        {"AllowUnauthenticatedIdentities": "yes"},
    ],
)
def test_create_identity_pool_refuses_bad_settings(server: Server, change: dict[str, Any]) -> None:
    body = {"IdentityPoolName": "ok", "AllowUnauthenticatedIdentities": False, **change}
    response = signed_call(server, "CreateIdentityPool", body)
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidParameterException"


# developer identities
def test_developer_token_creates_the_identity_once_and_verifies(
    server: Server, identity: Any, identity_pool: str
) -> None:
    first = developer_token(identity, identity_pool, "partner-user-1", TokenDuration=3600)
    assert IDENTITY_ID.match(first["IdentityId"])
    again = developer_token(identity, identity_pool, "partner-user-1")
    assert again["IdentityId"] == first["IdentityId"]
    claims = verified(server, first["Token"], identity_pool)
    assert claims["sub"] == first["IdentityId"]
    assert claims["amr"] == [
        "authenticated",
        DEVELOPER,
        f"{DEVELOPER}:{identity_pool}:partner-user-1",
    ]
    assert claims["exp"] - claims["iat"] == 3600
    assert "token_use" not in claims
    assert jwt.get_unverified_header(first["Token"])["alg"] == "RS256"
    default = jwt.decode(again["Token"], options={"verify_signature": False})
    assert default["exp"] - default["iat"] == 900


def test_developer_token_refusals(server: Server, identity: Any, identity_pool: str) -> None:
    for duration in (0, 86401):
        response = signed_call(
            server,
            "GetOpenIdTokenForDeveloperIdentity",
            {
                "IdentityPoolId": identity_pool,
                "Logins": {DEVELOPER: "u"},
                "TokenDuration": duration,
            },
        )
        assert response.status_code == 400
        assert response.json()["__type"] == "InvalidParameterException"
    with pytest.raises(ClientError) as error:
        identity.get_open_id_token_for_developer_identity(
            IdentityPoolId=identity_pool, Logins={"login.someone.else": "u"}
        )
    assert code(error) == "InvalidParameterException"
    with pytest.raises(ClientError) as error:
        developer_token(identity, "us-east-1:00000000-0000-4000-8000-000000000000", "u")
    assert code(error) == "ResourceNotFoundException"


def test_lookup_unlink_and_a_fresh_identity_after(identity: Any, identity_pool: str) -> None:
    user = f"lookup-{uuid.uuid4()}"
    identity_id = developer_token(identity, identity_pool, user)["IdentityId"]
    by_user = identity.lookup_developer_identity(
        IdentityPoolId=identity_pool, DeveloperUserIdentifier=user
    )
    assert by_user["IdentityId"] == identity_id
    assert by_user["DeveloperUserIdentifierList"] == [user]
    by_id = identity.lookup_developer_identity(IdentityPoolId=identity_pool, IdentityId=identity_id)
    assert by_id["DeveloperUserIdentifierList"] == [user]
    other = developer_token(identity, identity_pool, f"other-{uuid.uuid4()}")["IdentityId"]
    with pytest.raises(ClientError) as error:
        identity.lookup_developer_identity(
            IdentityPoolId=identity_pool, IdentityId=other, DeveloperUserIdentifier=user
        )
    assert code(error) == "ResourceConflictException"
    described = identity.describe_identity(IdentityId=identity_id)
    assert described["Logins"] == [DEVELOPER]

    identity.unlink_developer_identity(
        IdentityId=identity_id,
        IdentityPoolId=identity_pool,
        DeveloperProviderName=DEVELOPER,
        DeveloperUserIdentifier=user,
    )
    with pytest.raises(ClientError) as error:
        identity.lookup_developer_identity(
            IdentityPoolId=identity_pool, DeveloperUserIdentifier=user
        )
    assert code(error) == "ResourceNotFoundException"
    assert "Logins" not in identity.describe_identity(IdentityId=identity_id)
    with pytest.raises(ClientError) as error:
        identity.unlink_developer_identity(
            IdentityId=identity_id,
            IdentityPoolId=identity_pool,
            DeveloperProviderName=DEVELOPER,
            DeveloperUserIdentifier=user,
        )
    assert code(error) == "ResourceNotFoundException"
    assert developer_token(identity, identity_pool, user)["IdentityId"] != identity_id


def test_linking_a_second_developer_user_and_registered_elsewhere(
    identity: Any, identity_pool: str
) -> None:
    a, b, c = (f"{n}-{uuid.uuid4()}" for n in "abc")
    first = developer_token(identity, identity_pool, a)["IdentityId"]
    second = developer_token(identity, identity_pool, b)["IdentityId"]
    with pytest.raises(ClientError) as error:
        developer_token(identity, identity_pool, b, IdentityId=first)
    assert code(error) == "DeveloperUserAlreadyRegisteredException"
    linked = developer_token(identity, identity_pool, c, IdentityId=first)
    assert linked["IdentityId"] == first
    listed = identity.lookup_developer_identity(IdentityPoolId=identity_pool, IdentityId=first)
    assert listed["DeveloperUserIdentifierList"] == [a, c]
    page = identity.lookup_developer_identity(
        IdentityPoolId=identity_pool, IdentityId=first, MaxResults=1
    )
    assert page["DeveloperUserIdentifierList"] == [a] and page["NextToken"]
    rest = identity.lookup_developer_identity(
        IdentityPoolId=identity_pool, IdentityId=first, MaxResults=1, NextToken=page["NextToken"]
    )
    assert rest["DeveloperUserIdentifierList"] == [c] and "NextToken" not in rest

    merged = identity.merge_developer_identities(
        SourceUserIdentifier=b,
        DestinationUserIdentifier=a,
        DeveloperProviderName=DEVELOPER,
        IdentityPoolId=identity_pool,
    )
    assert merged["IdentityId"] == first
    by_b = identity.lookup_developer_identity(
        IdentityPoolId=identity_pool, DeveloperUserIdentifier=b
    )
    assert by_b["IdentityId"] == first
    with pytest.raises(ClientError) as error:
        identity.describe_identity(IdentityId=second)
    assert code(error) == "ResourceNotFoundException"


def test_list_describe_and_delete_identities(identity: Any) -> None:
    pool_id = identity.create_identity_pool(
        IdentityPoolName="listing",
        AllowUnauthenticatedIdentities=False,
        DeveloperProviderName=DEVELOPER,
    )["IdentityPoolId"]
    ids = [developer_token(identity, pool_id, f"u{n}")["IdentityId"] for n in range(3)]
    first = identity.list_identities(IdentityPoolId=pool_id, MaxResults=2)
    assert first["IdentityPoolId"] == pool_id and len(first["Identities"]) == 2
    rest = identity.list_identities(
        IdentityPoolId=pool_id, MaxResults=2, NextToken=first["NextToken"]
    )
    listed = first["Identities"] + rest["Identities"]
    assert [i["IdentityId"] for i in listed] == ids
    assert all(i["Logins"] == [DEVELOPER] and i["CreationDate"] for i in listed)
    unknown = "us-east-1:00000000-0000-4000-8000-000000000000"
    deleted = identity.delete_identities(IdentityIdsToDelete=[ids[0], unknown])
    assert deleted["UnprocessedIdentityIds"] == []
    with pytest.raises(ClientError) as error:
        identity.describe_identity(IdentityId=ids[0])
    assert code(error) == "ResourceNotFoundException"
    identity.delete_identity_pool(IdentityPoolId=pool_id)
    with pytest.raises(ClientError) as error:
        identity.describe_identity(IdentityId=ids[1])
    assert code(error) == "ResourceNotFoundException"


# who may call what
DEVELOPER_OPERATIONS = {
    "CreateIdentityPool": {"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": False},
    "DescribeIdentityPool": {"IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000"},
    "UpdateIdentityPool": {
        "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
        "IdentityPoolName": "x",
        "AllowUnauthenticatedIdentities": False,
    },
    "DeleteIdentityPool": {"IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000"},
    "ListIdentityPools": {"MaxResults": 1},
    "GetOpenIdTokenForDeveloperIdentity": {
        "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
        "Logins": {DEVELOPER: "u"},
    },
    "LookupDeveloperIdentity": {
        "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
        "DeveloperUserIdentifier": "u",
    },
    "UnlinkDeveloperIdentity": {
        "IdentityId": "us-east-1:00000000-0000-4000-8000-000000000001",
        "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
        "DeveloperProviderName": DEVELOPER,
        "DeveloperUserIdentifier": "u",
    },
    "MergeDeveloperIdentities": {
        "SourceUserIdentifier": "a",
        "DestinationUserIdentifier": "b",
        "DeveloperProviderName": DEVELOPER,
        "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
    },
    "DescribeIdentity": {"IdentityId": "us-east-1:00000000-0000-4000-8000-000000000001"},
    "ListIdentities": {
        "IdentityPoolId": "us-east-1:00000000-0000-4000-8000-000000000000",
        "MaxResults": 1,
    },
    "DeleteIdentities": {"IdentityIdsToDelete": ["us-east-1:00000000-0000-4000-8000-000000000001"]},
}


def signed_call(
    server: Server,
    operation: str,
    body: Any,
    *,
    service: str = "cognito-identity",
    secret: str = SECRET_ACCESS_KEY,
) -> httpx.Response:
    """A raw JSON call signed as botocore signs one (any body, any service scope)."""
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    url = server.url + "/"
    return httpx.post(
        url, content=data, headers=signed_headers(url, TARGET + operation, data, service, secret)
    )


@pytest.mark.parametrize("operation", sorted(DEVELOPER_OPERATIONS))
def test_developer_operations_need_the_admin_signature(server: Server, operation: str) -> None:
    body = DEVELOPER_OPERATIONS[operation]
    unsigned = httpx.post(
        server.url + "/",
        json=body,
        headers={"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"},
    )
    assert unsigned.status_code == 400
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    wrong_secret = signed_call(server, operation, body, secret="not-the-secret")
    assert wrong_secret.json()["__type"] == "InvalidSignatureException"
    other_service = signed_call(server, operation, body, service="cognito-idp")
    assert other_service.json()["__type"] == "InvalidSignatureException"


def test_boto3_without_credentials_cannot_mint_developer_tokens(
    public_identity: Any, identity_pool: str
) -> None:
    with pytest.raises(ClientError) as error:
        developer_token(public_identity, identity_pool, "partner-user-1")
    assert code(error) == "MissingAuthenticationTokenException"
    # Nor claim a developer login on the public operations.
    with pytest.raises(ClientError) as error:
        public_identity.get_id(IdentityPoolId=identity_pool, Logins={DEVELOPER: "partner-user-1"})
    assert code(error) == "NotAuthorizedException"


# user pool logins and guests (public operations)
def test_get_id_and_open_id_token_with_a_user_pool_id_token(
    server: Server, cognito: Any, public_identity: Any, pool: Pool, identity_pool: str
) -> None:
    username = f"idp-{uuid.uuid4().hex[:8]}"
    sub = create_user(cognito, pool.id, username)
    token = id_token(cognito, pool, username)
    logins = {provider_name(pool): token}
    identity_id = public_identity.get_id(IdentityPoolId=identity_pool, Logins=logins)["IdentityId"]
    assert IDENTITY_ID.match(identity_id)
    assert public_identity.get_id(IdentityPoolId=identity_pool, Logins=logins)["IdentityId"] == (
        identity_id
    )
    answer = public_identity.get_open_id_token(IdentityId=identity_id, Logins=logins)
    claims = verified(server, answer["Token"], identity_pool)
    assert claims["sub"] == identity_id
    assert claims["amr"] == [
        "authenticated",
        provider_name(pool),
        f"{provider_name(pool)}:CognitoSignIn:{sub}",
    ]
    assert claims["exp"] - claims["iat"] == 600
    with pytest.raises(ClientError) as error:
        public_identity.get_open_id_token(IdentityId=identity_id)
    assert code(error) == "NotAuthorizedException"


def _forged(token: str) -> list[str]:
    header, payload, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    other_sub = {**claims, "sub": str(uuid.uuid4())}
    body = jwt.utils.base64url_encode(json.dumps(other_sub).encode()).decode()
    return [
        f"{header}.{body}.{signature}",
        f"{header}.{payload}.{signature[:-4]}AAAA",
        jwt.encode(
            claims,
            "a-guessed-secret-of-thirty-two-bytes",
            algorithm="HS256",
            headers={"kid": jwt.get_unverified_header(token)["kid"]},
        ),
        f"{header}.{payload}.",
        "not-a-jwt",
    ]


def test_forged_and_wrong_tokens_are_refused(
    cognito: Any, public_identity: Any, pool: Pool, identity_pool: str
) -> None:
    username = f"forge-{uuid.uuid4().hex[:8]}"
    create_user(cognito, pool.id, username)
    good = cognito.initiate_auth(
        ClientId=pool.public_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    other_client = cognito.admin_initiate_auth(
        UserPoolId=pool.id,
        ClientId=pool.confidential_client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": username,
            "PASSWORD": PASSWORD,
            "SECRET_HASH": secret_hash(username, pool),
        },
    )["AuthenticationResult"]["IdToken"]
    bad = [*_forged(good["IdToken"]), good["AccessToken"], other_client]
    before = public_identity.get_id(
        IdentityPoolId=identity_pool, Logins={provider_name(pool): good["IdToken"]}
    )["IdentityId"]
    for token in bad:
        with pytest.raises(ClientError) as error:
            public_identity.get_id(
                IdentityPoolId=identity_pool, Logins={provider_name(pool): token}
            )
        assert code(error) == "NotAuthorizedException", token
    cognito.admin_disable_user(UserPoolId=pool.id, Username=username)
    with pytest.raises(ClientError) as error:
        public_identity.get_open_id_token(
            IdentityId=before, Logins={provider_name(pool): good["IdToken"]}
        )
    assert code(error) == "NotAuthorizedException"
    # A provider the identity pool does not name is refused as well.
    with pytest.raises(ClientError) as error:
        public_identity.get_id(
            IdentityPoolId=identity_pool, Logins={"accounts.google.com": good["IdToken"]}
        )
    assert code(error) == "NotAuthorizedException"


def secret_hash(username: str, pool: Pool) -> str:
    digest = hmac.new(
        pool.confidential_secret.encode(),
        (username + pool.confidential_client).encode(),
        hashlib.sha256,
    ).digest()
    return base64.b64encode(digest).decode()


def test_guests_only_where_allowed(
    server: Server, identity: Any, public_identity: Any, identity_pool: str
) -> None:
    with pytest.raises(ClientError) as error:
        public_identity.get_id(IdentityPoolId=identity_pool)
    assert code(error) == "NotAuthorizedException"
    guests = identity.create_identity_pool(
        IdentityPoolName="guests", AllowUnauthenticatedIdentities=True
    )
    guest = public_identity.get_id(IdentityPoolId=guests["IdentityPoolId"])["IdentityId"]
    token = public_identity.get_open_id_token(IdentityId=guest)["Token"]
    assert verified(server, token, guests["IdentityPoolId"])["amr"] == ["unauthenticated"]
    identity.update_identity_pool(
        IdentityPoolId=guests["IdentityPoolId"],
        IdentityPoolName="guests",
        AllowUnauthenticatedIdentities=False,
    )
    with pytest.raises(ClientError) as error:
        public_identity.get_open_id_token(IdentityId=guest)
    assert code(error) == "NotAuthorizedException"


# keys
def test_rotated_keys_keep_verifying_old_tokens(
    server: Server, identity: Any, identity_pool: str
) -> None:
    old = developer_token(identity, identity_pool, "rotation-user")["Token"]
    rotated = server.cli("identity-pool", "rotate-keys", "--json")
    assert rotated.returncode == 0, rotated.stderr
    kid = json.loads(rotated.stdout)["kid"]
    new = developer_token(identity, identity_pool, "rotation-user")["Token"]
    assert jwt.get_unverified_header(new)["kid"] == kid != jwt.get_unverified_header(old)["kid"]
    assert (
        verified(server, old, identity_pool)["sub"] == verified(server, new, identity_pool)["sub"]
    )


# malformed input
# Any text, lone surrogates included (JSON can carry them; UTF-8 and so the store cannot).
TEXT = st.text(st.characters(exclude_categories=()), max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
FIELDS = sorted(
    {name for body in DEVELOPER_OPERATIONS.values() for name in body}
    | {"Logins", "TokenDuration", "NextToken", "PrincipalTags", "HideDisabled"}
)


def bodies(identity_pool: str) -> st.SearchStrategy[Any]:
    """Bodies that reach past the pool lookup too: the real pool id, the developer provider."""
    value = JSON | st.sampled_from([identity_pool, DEVELOPER, TARGET])
    logins = st.dictionaries(st.sampled_from([DEVELOPER, "accounts.google.com"]) | TEXT, JSON)
    fields = st.dictionaries(st.sampled_from(FIELDS), value, max_size=6)
    return (
        st.builds(lambda given, entries: {**given, "Logins": entries}, fields, logins)
        | fields
        | JSON
    )


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    operation=st.sampled_from(sorted([*DEVELOPER_OPERATIONS, "GetId", "GetOpenIdToken"])),
    data=st.data(),
)
def test_malformed_bodies_are_4xx_never_5xx(
    server: Server, fuzzed_pool: str, operation: str, data: st.DataObject
) -> None:
    body = data.draw(bodies(fuzzed_pool))
    response = signed_call(server, operation, body)
    assert 200 <= response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["__type"].endswith("Exception")


@pytest.mark.parametrize("user", ["\ud800", "a\u0000b", "x" * 1025])
@pytest.mark.parametrize(
    "operation", ["GetOpenIdTokenForDeveloperIdentity", "LookupDeveloperIdentity"]
)
def test_developer_user_ids_the_store_cannot_hold(
    server: Server, identity_pool: str, operation: str, user: str
) -> None:
    body = {"IdentityPoolId": identity_pool, "Logins": {DEVELOPER: user}}
    if operation == "LookupDeveloperIdentity":
        body = {"IdentityPoolId": identity_pool, "DeveloperUserIdentifier": user}
    response = signed_call(server, operation, body)
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidParameterException"


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b"\xff", b'{"IdentityPoolId": "\\u0000"}'])
def test_unparsable_bodies(server: Server, raw: bytes) -> None:
    response = signed_call(server, "DescribeIdentityPool", raw)
    assert response.status_code == 400


def test_a_user_pool_named_by_its_issuer_here_logs_in_too(
    server: Server, cognito: Any, identity: Any, public_identity: Any, pool: Pool
) -> None:
    name = pool.issuer.split("://", 1)[1]
    pool_id = identity.create_identity_pool(
        IdentityPoolName="issuer names",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": name, "ClientId": pool.public_client}],
    )["IdentityPoolId"]
    username = f"issuer-{uuid.uuid4().hex[:8]}"
    sub = create_user(cognito, pool.id, username)
    logins = {name: id_token(cognito, pool, username)}
    identity_id = public_identity.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    token = public_identity.get_open_id_token(IdentityId=identity_id, Logins=logins)["Token"]
    assert verified(server, token, pool_id)["amr"][2] == f"{name}:CognitoSignIn:{sub}"
    # The same token under Cognito's spelling is a provider this identity pool does not name.
    with pytest.raises(ClientError) as error:
        public_identity.get_id(IdentityPoolId=pool_id, Logins={provider_name(pool): logins[name]})
    assert code(error) == "NotAuthorizedException"


def test_operations_cognito_identity_lacks_are_unknown(server: Server) -> None:
    for operation in ("GetCredentialsForIdentity", "CreateUserPool"):
        response = signed_call(server, operation, {"IdentityId": "us-east-1:0"})
        assert response.status_code == 400
        assert response.json()["__type"] == "UnknownOperationException"


def test_the_command_line_provisions_identity_pools(
    server: Server, identity: Any, pool: Pool
) -> None:
    def run(*args: str) -> Any:
        result = server.cli("identity-pool", *args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    created = run(
        "create",
        "--name",
        "from the cli",
        "--developer-provider-name",
        "login.cli",
        "--provider",
        f"{provider_name(pool)}={pool.public_client}",
    )
    described = identity.describe_identity_pool(IdentityPoolId=created["id"])
    assert described["DeveloperProviderName"] == "login.cli"
    assert described["CognitoIdentityProviders"][0]["ClientId"] == pool.public_client
    assert run("describe", created["id"])["name"] == "from the cli"
    assert created["id"] in {p["id"] for p in run("list")}
    assert run("delete", created["id"]) == {"deleted": created["id"]}
    for args in (("describe", created["id"]), ("create", "--name", "bad/name")):
        failed = server.cli("identity-pool", *args)
        assert failed.returncode != 0
        assert len(failed.stderr.strip().splitlines()) == 1

"""RFC 8693 token exchange of Entra ID-shaped partner tokens at a real `token-service serve`.

The partner is an Entra-shaped issuer on its own port (tests.support.entra_issuer), registered
on the pool with boto3 as Cognito registers OIDC providers; clients talk to /oauth2/token with
httpx. Every refusal is checked for its reason and for creating nothing.
"""

from __future__ import annotations

import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.entra_issuer import EntraIssuer
from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
)

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ID = "urn:ietf:params:oauth:token-type:id_token"
TENANT = "11111111-1111-4111-8111-111111111111"
OTHER_TENANT = "22222222-2222-4222-8222-222222222222"
SINGLE_TENANT = "33333333-3333-4333-8333-333333333333"
AUDIENCE = "6a0e7f51-aaaa-4bbb-8ccc-000000000001"
OFF_AUDIENCE = "6a0e7f51-aaaa-4bbb-8ccc-000000000002"
NO_EXCHANGE_AUDIENCE = "6a0e7f51-aaaa-4bbb-8ccc-000000000003"
LINK_AUDIENCE = "6a0e7f51-aaaa-4bbb-8ccc-000000000004"


@dataclass
class World:
    pool_id: str
    issuer: str
    app: tuple[str, str]
    other_app: tuple[str, str]
    entra: EntraIssuer


def oidc_provider(
    cognito: Any, pool_id: str, name: str, issuer: str, client_id: str, **ours: str
) -> None:
    cognito.create_identity_provider(
        UserPoolId=pool_id,
        ProviderName=name,
        ProviderType="OIDC",
        ProviderDetails={
            "client_id": client_id,
            "authorize_scopes": "openid profile email",
            "attributes_request_method": "GET",
            "oidc_issuer": issuer,
            **ours,
        },
        AttributeMapping={"username": "oid", "email": "email", "name": "name"},
    )


def make_world(cognito: Any, server: Server, entra: EntraIssuer) -> World:
    """A pool with the partner's providers and two app clients, one supporting them."""
    pool_id = cognito.create_user_pool(PoolName="exchange")["UserPool"]["Id"]
    oidc_provider(
        cognito, pool_id, "Entra", entra.template_issuer, AUDIENCE, allowed_tenants=TENANT
    )
    single = entra.issuer(SINGLE_TENANT)
    oidc_provider(cognito, pool_id, "Off", single, OFF_AUDIENCE, enabled="false")
    oidc_provider(
        cognito, pool_id, "NoExchange", single, NO_EXCHANGE_AUDIENCE, token_exchange="false"
    )
    oidc_provider(
        cognito, pool_id, "Linker", single, LINK_AUDIENCE, first_sign_in="link_verified_email"
    )

    def client(name: str, providers: list[str]) -> tuple[str, str]:
        made = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=name,
            GenerateSecret=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", "email", "profile"],
            CallbackURLs=["https://app.example/callback"],
            SupportedIdentityProviders=providers,
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]
        return made["ClientId"], made["ClientSecret"]

    app = client("partner-api", ["Entra", "Off", "NoExchange", "Linker"])
    other = client("native-only", ["COGNITO"])
    return World(pool_id, f"{server.url}/{pool_id}", app, other, entra)


@pytest.fixture(scope="module")
def world(cognito: Any, server: Server, entra: EntraIssuer) -> World:
    return make_world(cognito, server, entra)


@pytest.fixture(scope="module")
def postgres_stack(postgres_server: Server, entra: EntraIssuer) -> tuple[Server, Any, World]:
    """A second `token-service serve`, on PostgreSQL, with the same partner."""
    cognito = cognito_client(postgres_server.url)
    return postgres_server, cognito, make_world(cognito, postgres_server, entra)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest) -> tuple[Server, Any, World]:
    if request.param == "sqlite":
        return (
            request.getfixturevalue("server"),
            request.getfixturevalue("cognito"),
            request.getfixturevalue("world"),
        )
    return request.getfixturevalue("postgres_stack")


def exchange(
    http: httpx.Client, client: tuple[str, str], token: str, **form: str
) -> httpx.Response:
    body = {"grant_type": GRANT, "subject_token": token, "subject_token_type": ACCESS, **form}
    return http.post("/oauth2/token", data=body, auth=client)


def usernames(cognito: Any, pool_id: str) -> set[str]:
    users = cognito.list_users(UserPoolId=pool_id)["Users"]
    return {user["Username"] for user in users}


def our_claims(http: httpx.Client, world: World, token: str) -> dict[str, Any]:
    jwks = http.get(f"/{world.pool_id}/.well-known/jwks.json").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(
        token, key.key, algorithms=["RS256"], options={"verify_aud": False}, issuer=world.issuer
    )


def test_exchange_signs_a_partner_user_in_once(http, cognito, world) -> None:
    oid = str(uuid.uuid4())
    token = world.entra.token(TENANT, AUDIENCE, oid, email="ann@partner.example")
    answer = exchange(http, world.app, token, scope="openid email")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued_token_type"] == ACCESS
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid email"
    assert body["expires_in"] > 0 and body["refresh_token"]
    assert answer.headers["cache-control"] == "no-store"
    access = our_claims(http, world, body["access_token"])
    identity = our_claims(http, world, body["id_token"])
    assert access["sub"] == identity["sub"] and access["token_use"] == "access"
    assert identity["cognito:username"] == f"Entra_{oid}"
    assert [i["providerName"] for i in identity["identities"]] == ["Entra"]
    assert identity["identities"][0]["userId"] == oid
    # The same oid under another pairwise sub (another Entra app) is the same user.
    again = world.entra.token(TENANT, AUDIENCE, oid, sub="another-pairwise-sub", alg="ES256")
    second = exchange(http, world.app, again, subject_token_type=ID)
    assert second.status_code == 200, second.text
    assert our_claims(http, world, second.json()["access_token"])["sub"] == access["sub"]
    assert "id_token" not in exchange(http, world.app, again, scope="email").json()
    assert sum(name == f"Entra_{oid}" for name in usernames(cognito, world.pool_id)) == 1
    user = cognito.admin_get_user(UserPoolId=world.pool_id, Username=f"Entra_{oid}")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["email"] == "ann@partner.example"
    assert attributes["email_verified"] == "false"


def test_exchanged_refresh_token_refreshes(http, world) -> None:
    token = world.entra.token(TENANT, AUDIENCE, str(uuid.uuid4()), alg="PS256")
    body = exchange(http, world.app, token, scope="openid").json()
    refreshed = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=world.app,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert (
        our_claims(http, world, refreshed.json()["id_token"])["sub"]
        == our_claims(http, world, body["id_token"])["sub"]
    )


def test_parallel_first_exchanges_make_one_user(any_store) -> None:
    """Eight exchanges of one new identity at once: every one answered, all with one user
    (a loser of the race retries by itself and finds the winner's)."""
    server, cognito, world = any_store
    oid = str(uuid.uuid4())
    token = world.entra.token(TENANT, AUDIENCE, oid)

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            return exchange(client, world.app, token)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    assert [answer.status_code for answer in answers] == [200] * 8, [a.text for a in answers]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        subs = {our_claims(http, world, a.json()["access_token"])["sub"] for a in answers}
    assert len(subs) == 1
    assert sum(name == f"Entra_{oid}" for name in usernames(cognito, world.pool_id)) == 1


def forged(world: World, kind: str) -> str:
    entra, oid = world.entra, str(uuid.uuid4())
    return {
        "other-tenant": lambda: entra.token(OTHER_TENANT, AUDIENCE, oid),
        "other-audience": lambda: entra.token(TENANT, "another-app", oid),
        "unknown-kid": lambda: entra.token(TENANT, AUDIENCE, oid, kid="not-a-published-kid"),
        "alg-none": lambda: entra.unsigned_token(TENANT, AUDIENCE, oid),
        "hs256-public-key": lambda: entra.hs256_with_public_key(TENANT, AUDIENCE, oid),
        "foreign-key": lambda: entra.foreign_token(TENANT, AUDIENCE, oid),
        "expired": lambda: entra.token(
            TENANT, AUDIENCE, oid, exp=1_600_000_000, iat=1_599_990_000, nbf=1_599_990_000
        ),
        "nbf-future": lambda: entra.token(TENANT, AUDIENCE, oid, nbf=4_000_000_000),
        "iat-future": lambda: entra.token(TENANT, AUDIENCE, oid, iat=4_000_000_000),
        "exp-string": lambda: entra.token(TENANT, AUDIENCE, oid, exp="4000000000"),
        "wrong-issuer": lambda: entra.token(
            TENANT, AUDIENCE, oid, iss="https://login.example/other/v2.0"
        ),
        "version-1": lambda: entra.token(TENANT, AUDIENCE, oid, ver="1.0"),
        "no-oid": lambda: entra.token(TENANT, AUDIENCE, oid, oid=None),
        "disabled": lambda: entra.token(SINGLE_TENANT, OFF_AUDIENCE, oid),
        "no-exchange": lambda: entra.token(SINGLE_TENANT, NO_EXCHANGE_AUDIENCE, oid),
        "not-a-jwt": lambda: "not.a.jwt",
    }[kind]()


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("other-tenant", "tenant (tid) is not allowed"),
        ("other-audience", "audience is not the identity provider's client_id"),
        ("unknown-kid", "kid is not a signing key"),
        ("alg-none", "algorithm 'none' is not allowed"),
        ("hs256-public-key", "algorithm 'HS256' is not allowed"),
        ("foreign-key", "signature does not verify"),
        ("expired", "it has expired"),
        ("nbf-future", "not valid yet"),
        ("iat-future", "issued in the future"),
        ("exp-string", "exp claim is not a number"),
        ("wrong-issuer", "issuer is not an identity provider of this pool"),
        ("version-1", 'version (ver) is not "2.0"'),
        ("no-oid", "no oid claim"),
        ("disabled", "identity provider Off is disabled"),
        ("no-exchange", "NoExchange does not allow token exchange"),
        ("not-a-jwt", "not a signed JWT"),
    ],
)
def test_bad_partner_tokens_are_refused_with_their_reason(
    http, cognito, world, kind, reason
) -> None:
    before = usernames(cognito, world.pool_id)
    answer = exchange(http, world.app, forged(world, kind), scope="openid")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_grant"
    assert reason in answer.json()["error_description"]
    assert usernames(cognito, world.pool_id) == before


def test_a_client_without_the_provider_is_unauthorized(http, cognito, world) -> None:
    before = usernames(cognito, world.pool_id)
    answer = exchange(http, world.other_app, world.entra.token(TENANT, AUDIENCE, str(uuid.uuid4())))
    assert answer.status_code == 400
    assert answer.json()["error"] == "unauthorized_client"
    assert "Entra" in answer.json()["error_description"]
    assert usernames(cognito, world.pool_id) == before


def test_unverified_email_does_not_link(http, cognito, world) -> None:
    cognito.admin_create_user(
        UserPoolId=world.pool_id,
        Username="native-bea",
        UserAttributes=[
            {"Name": "email", "Value": "bea@partner.example"},
            {"Name": "email_verified", "Value": "true"},
        ],
        TemporaryPassword=PASSWORD,
        MessageAction="SUPPRESS",
    )
    native = cognito.admin_get_user(UserPoolId=world.pool_id, Username="native-bea")
    native_sub = next(a["Value"] for a in native["UserAttributes"] if a["Name"] == "sub")
    unverified = world.entra.token(
        SINGLE_TENANT, LINK_AUDIENCE, str(uuid.uuid4()), email="bea@partner.example"
    )
    body = exchange(http, world.app, unverified).json()
    assert our_claims(http, world, body["access_token"])["sub"] != native_sub
    verified = world.entra.token(
        SINGLE_TENANT,
        LINK_AUDIENCE,
        str(uuid.uuid4()),
        email="bea@partner.example",
        email_verified=True,
    )
    linked = exchange(http, world.app, verified).json()
    assert our_claims(http, world, linked["access_token"])["sub"] == native_sub


def test_a_deleted_providers_tokens_are_refused(http, cognito, world) -> None:
    issuer = world.entra.issuer("44444444-4444-4444-8444-444444444444")
    audience = "gone-app"
    oidc_provider(cognito, world.pool_id, "Gone", issuer, audience)
    client_id = world.app[0]
    described = cognito.describe_user_pool_client(UserPoolId=world.pool_id, ClientId=client_id)
    cognito.update_user_pool_client(
        UserPoolId=world.pool_id,
        ClientId=client_id,
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=["https://app.example/callback"],
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
        SupportedIdentityProviders=[
            *described["UserPoolClient"]["SupportedIdentityProviders"],
            "Gone",
        ],
    )
    oid = str(uuid.uuid4())
    token = world.entra.token("44444444-4444-4444-8444-444444444444", audience, oid)
    assert exchange(http, world.app, token).status_code == 200
    cognito.delete_identity_provider(UserPoolId=world.pool_id, ProviderName="Gone")
    refused = exchange(http, world.app, token)
    # Only the Entra template provider still has this issuer, for other tenants and audiences.
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert "audience is not" in refused.json()["error_description"]
    # The user it made stays, as in Cognito; it signs in through that provider no more.
    assert cognito.admin_get_user(UserPoolId=world.pool_id, Username=f"Gone_{oid}")


def test_disabled_users_and_identities_are_refused(http, cognito, world) -> None:
    oid = str(uuid.uuid4())
    token = world.entra.token(TENANT, AUDIENCE, oid)
    assert exchange(http, world.app, token).status_code == 200
    username = f"Entra_{oid}"
    cognito.admin_disable_user(UserPoolId=world.pool_id, Username=username)
    refused = exchange(http, world.app, token)
    assert refused.json() == {**refused.json(), "error": "invalid_grant"}
    assert "disabled" in refused.json()["error_description"]
    cognito.admin_enable_user(UserPoolId=world.pool_id, Username=username)
    assert exchange(http, world.app, token).status_code == 200
    cognito.admin_disable_provider_for_user(
        UserPoolId=world.pool_id,
        User={
            "ProviderName": "Entra",
            "ProviderAttributeName": "Cognito_Subject",
            "ProviderAttributeValue": oid,
        },
    )
    refused = exchange(http, world.app, token)
    assert refused.status_code == 400
    assert "disabled" in refused.json()["error_description"]


@pytest.mark.parametrize(
    "form, error, says",
    [
        ({"actor_token": "x", "actor_token_type": ACCESS}, "invalid_request", "actor_token"),
        ({"audience": "https://api.example"}, "invalid_target", "audience"),
        ({"resource": "https://api.example"}, "invalid_target", "resource"),
        ({"requested_token_type": ID}, "invalid_request", "requested_token_type"),
        (
            {"subject_token_type": "urn:ietf:params:oauth:token-type:saml2"},
            "invalid_request",
            "subject_token_type",
        ),
        ({"subject_token_type": ""}, "invalid_request", "subject_token_type"),
        ({"subject_token": ""}, "invalid_request", "subject_token"),
        ({"scope": "openid aws.cognito.signin.user.admin"}, "invalid_scope", "scope"),
    ],
)
def test_malformed_requests_name_the_parameter(http, world, form, error, says) -> None:
    token = world.entra.token(TENANT, AUDIENCE, str(uuid.uuid4()))
    answer = exchange(http, world.app, token, **form)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    assert says in answer.json()["error_description"]


def test_client_authentication_is_required(http, world) -> None:
    token = world.entra.token(TENANT, AUDIENCE, str(uuid.uuid4()))
    client_id, _ = world.app
    answer = exchange(http, (client_id, "wrong-secret"), token)
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


def test_exchanges_are_sign_in_events(server, world) -> None:
    listed = server.cli("events", "--pool", world.pool_id, "--json")
    assert listed.returncode == 0, listed.stderr
    events = [e for e in json.loads(listed.stdout)["events"] if e["step"] == "token_exchange"]
    assert {e["result"] for e in events} == {"pass", "fail"}
    passed = next(e for e in events if e["result"] == "pass")
    assert passed["user_sub"] and passed["reason"] == "ext"
    assert all("eyJ" not in (e["reason"] or "") for e in events), "no token in the records"


FORM_VALUES = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    [GRANT, ACCESS, ID, "openid", "a.b.c", "eyJhbGciOiJub25lIn0.e30."]
)
FORM_KEYS = st.sampled_from(
    [
        "grant_type",
        "subject_token",
        "subject_token_type",
        "scope",
        "actor_token",
        "audience",
        "resource",
        "requested_token_type",
        "client_id",
        "client_secret",
    ]
) | st.text(max_size=10)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(FORM_KEYS, FORM_VALUES, max_size=6),
    raw=st.binary(max_size=60),
    use_raw=st.booleans(),
)
def test_malformed_bodies_are_4xx_json(http, world, fields, raw, use_raw) -> None:
    content = (
        raw if use_raw else httpx.QueryParams({"grant_type": GRANT, **fields}).__str__().encode()
    )
    credentials = base64.b64encode(f"{world.app[0]}:{world.app[1]}".encode()).decode()
    answer = http.post(
        "/oauth2/token",
        content=content,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Basic {credentials}",
        },
    )
    assert answer.status_code in (400, 401), answer.text
    assert isinstance(answer.json()["error"], str)

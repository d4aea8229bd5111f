"""Token shapes claim by claim, verified against the served JWKS; and the /oauth2 endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx
import jwt
import pytest

from tests.token_service.conftest import PASSWORD, Pool, Server, create_user

TENANT = "2f0c6a9e-1111-4222-8333-444455556666"


def verify(token: str, pool: Pool, **options: Any) -> dict[str, Any]:
    """Verify as any resource server would: key from the served JWKS, RS256, issuer."""
    jwks = jwt.PyJWKClient(f"{pool.issuer}/.well-known/jwks.json", cache_keys=False)
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=pool.issuer, **options)


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def machine_token(http: httpx.Client, pool: Pool, **form: str) -> httpx.Response:
    return http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        headers=basic(pool.machine_client, pool.machine_secret),
    )


@pytest.fixture(scope="module")
def signed_in(cognito: Any, pool: Pool) -> dict[str, Any]:
    """Tokens of a user in two groups, from the confidential client (60 min access, 30 min id)."""
    cognito.create_group(UserPoolId=pool.id, GroupName="readers", Precedence=5)
    cognito.create_group(UserPoolId=pool.id, GroupName="admins", Precedence=1)
    sub = create_user(cognito, pool.id, "tina", tenant=TENANT, groups=("readers", "admins"))
    digest = hmac.new(
        pool.confidential_secret.encode(),
        ("tina" + pool.confidential_client).encode(),
        hashlib.sha256,
    )
    result = cognito.initiate_auth(
        ClientId=pool.confidential_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": "tina",
            "PASSWORD": PASSWORD,
            "SECRET_HASH": base64.b64encode(digest.digest()).decode(),
        },
    )["AuthenticationResult"]
    return {"sub": sub, **result}


def test_header_is_cognito_shaped(signed_in: dict[str, Any], pool: Pool) -> None:
    header = jwt.get_unverified_header(signed_in["AccessToken"])
    assert set(header) == {"kid", "alg"}
    assert header["alg"] == "RS256"
    kids = [k["kid"] for k in httpx.get(f"{pool.issuer}/.well-known/jwks.json").json()["keys"]]
    assert header["kid"] in kids


def test_user_access_token_claims(signed_in: dict[str, Any], pool: Pool) -> None:
    claims = verify(signed_in["AccessToken"], pool)
    assert set(claims) == {
        "sub", "cognito:groups", "iss", "version", "client_id", "origin_jti", "event_id",
        "token_use", "scope", "auth_time", "amr", "exp", "iat", "jti", "username",
    }  # fmt: skip
    assert claims["amr"] == ["pwd"]
    assert claims["sub"] == signed_in["sub"]
    assert claims["cognito:groups"] == ["admins", "readers"]
    assert claims["iss"] == pool.issuer
    assert claims["version"] == 2
    assert claims["client_id"] == pool.confidential_client
    assert claims["token_use"] == "access"
    assert claims["scope"] == "aws.cognito.signin.user.admin"
    assert claims["username"] == "tina"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["auth_time"] <= claims["iat"]
    assert "aud" not in claims


def test_id_token_claims(signed_in: dict[str, Any], pool: Pool) -> None:
    claims = verify(signed_in["IdToken"], pool, audience=pool.confidential_client)
    assert set(claims) == {
        "sub", "cognito:groups", "email_verified", "iss", "cognito:username", "origin_jti", "aud",
        "event_id", "token_use", "auth_time", "amr", "exp", "iat", "jti", "email",
        "custom:tenant_id",
    }  # fmt: skip
    assert claims["amr"] == ["pwd"]
    access = verify(signed_in["AccessToken"], pool)
    assert claims["sub"] == signed_in["sub"]
    assert claims["email_verified"] is True
    assert claims["email"] == "tina@example.com"
    assert claims["custom:tenant_id"] == TENANT
    assert claims["cognito:username"] == "tina"
    assert claims["aud"] == pool.confidential_client
    assert claims["token_use"] == "id"
    assert claims["origin_jti"] == access["origin_jti"]
    assert claims["event_id"] == access["event_id"]
    assert claims["jti"] != access["jti"]
    assert claims["exp"] - claims["iat"] == 1800


def test_machine_token_claims(http: httpx.Client, pool: Pool) -> None:
    response = machine_token(http, pool)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 8 * 3600
    assert response.headers["cache-control"] == "no-store"
    claims = verify(body["access_token"], pool)
    assert set(claims) == {
        "sub",
        "client_id",
        "token_use",
        "scope",
        "auth_time",
        "iss",
        "exp",
        "iat",
        "version",
        "jti",
    }
    assert claims["sub"] == claims["client_id"] == pool.machine_client
    assert claims["token_use"] == "access"
    assert claims["scope"] == "pdp/decide"
    assert claims["version"] == 2
    assert claims["exp"] - claims["iat"] == 8 * 3600


def test_client_credentials_in_form_and_scopes(http: httpx.Client, pool: Pool) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": pool.admin_machine_client,
        "client_secret": pool.admin_machine_secret,
    }
    everything = verify(http.post("/oauth2/token", data=form).json()["access_token"], pool)
    assert everything["scope"].split() == ["pdp/admin", "pdp/decide"]
    narrowed = http.post("/oauth2/token", data={**form, "scope": "pdp/admin"}).json()
    assert verify(narrowed["access_token"], pool)["scope"] == "pdp/admin"


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        ({"scope": "pdp/admin"}, None, 400, "invalid_scope"),
        (
            {"grant_type": "password", "username": "x", "password": "y"},
            None,
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": ""}, None, 400, "invalid_request"),
        (
            {},
            {"Authorization": "Basic " + base64.b64encode(b"nobody:secret").decode()},
            401,
            "invalid_client",
        ),
        ({}, {"Authorization": "Basic !!!"}, 401, "invalid_client"),
    ],
)
def test_token_endpoint_errors(
    http: httpx.Client,
    pool: Pool,
    form: dict[str, str],
    headers: dict[str, str] | None,
    status: int,
    error: str,
) -> None:
    data = {"grant_type": "client_credentials", **form}
    response = http.post(
        "/oauth2/token",
        data=data,
        headers=headers or basic(pool.machine_client, pool.machine_secret),
    )
    assert response.status_code == status
    assert response.json()["error"] == error
    assert "access_token" not in response.json()


def test_wrong_client_secret(http: httpx.Client, pool: Pool) -> None:
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(pool.machine_client, "x" * 51),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_public_client_cannot_use_client_credentials(http: httpx.Client, pool: Pool) -> None:
    response = http.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "client_id": pool.public_client}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_client_without_the_grant(http: httpx.Client, pool: Pool) -> None:
    response = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=basic(pool.confidential_client, pool.confidential_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_token_endpoint_requires_form_encoding(http: httpx.Client, pool: Pool) -> None:
    response = http.post(
        "/oauth2/token",
        json={"grant_type": "client_credentials"},
        headers=basic(pool.machine_client, pool.machine_secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_refresh_token_grant_and_revocation(
    http: httpx.Client, signed_in: dict[str, Any], cognito: Any, pool: Pool
) -> None:
    auth = basic(pool.confidential_client, pool.confidential_secret)
    refreshed = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": signed_in["RefreshToken"]},
        headers=auth,
    )
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert set(body) == {"access_token", "id_token", "expires_in", "token_type"}
    claims = verify(body["access_token"], pool)
    original = verify(signed_in["AccessToken"], pool)
    assert claims["origin_jti"] == original["origin_jti"]
    assert claims["auth_time"] == original["auth_time"]

    wrong = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": signed_in["RefreshToken"]},
        headers=basic(pool.confidential_client, "y" * 51),
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    unknown = http.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": signed_in["RefreshToken"],
            "client_id": "nobody",
        },
    )
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")

    # Revoking through another client is refused and changes nothing.
    other = http.post(
        "/oauth2/revoke", data={"token": signed_in["RefreshToken"], "client_id": pool.public_client}
    )
    assert (other.status_code, other.json()["error"]) == (400, "unauthorized_client")
    still = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": signed_in["RefreshToken"]},
        headers=auth,
    )
    assert still.status_code == 200

    access = http.post("/oauth2/revoke", data={"token": signed_in["AccessToken"]}, headers=auth)
    assert (access.status_code, access.json()["error"]) == (400, "unsupported_token_type")

    for _ in range(2):  # revoking twice is fine (RFC 7009)
        assert (
            http.post(
                "/oauth2/revoke", data={"token": signed_in["RefreshToken"]}, headers=auth
            ).status_code
            == 200
        )
    assert http.post("/oauth2/revoke", data={"token": "unknown"}, headers=auth).status_code == 200
    revoked = http.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": signed_in["RefreshToken"]},
        headers=auth,
    )
    assert (revoked.status_code, revoked.json()["error"]) == (400, "invalid_grant")
    assert revoked.json()["error_description"] == "Refresh Token has been revoked"
    bad = http.post(
        "/oauth2/revoke",
        data={"token": signed_in["RefreshToken"]},
        headers=basic(pool.confidential_client, "z" * 51),
    )
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_client")


def test_user_info(http: httpx.Client, cognito: Any, pool: Pool) -> None:
    sub = create_user(cognito, pool.id, "uma", tenant=TENANT)
    tokens = cognito.initiate_auth(
        ClientId=pool.public_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "uma", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    response = http.get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['AccessToken']}"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "sub": sub,
        "email": "uma@example.com",
        "email_verified": "true",
        "custom:tenant_id": TENANT,
        "username": "uma",
    }
    machine = machine_token(http, pool).json()["access_token"]
    for headers in (
        {"Authorization": f"Bearer {machine}"},
        {"Authorization": "Bearer junk"},
        {"Authorization": f"Bearer {tokens['IdToken']}"},
    ):
        refused = http.get("/oauth2/userInfo", headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_token"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert http.get("/oauth2/userInfo").status_code == 401


def test_discovery(http: httpx.Client, server: Server, pool: Pool) -> None:
    config = http.get(f"/{pool.id}/.well-known/openid-configuration").json()
    assert config["issuer"] == pool.issuer
    assert config["jwks_uri"] == f"{server.url}/{pool.id}/.well-known/jwks.json"
    assert config["token_endpoint"] == f"{server.url}/oauth2/token"
    keys = http.get(f"/{pool.id}/.well-known/jwks.json").json()["keys"]
    assert all(set(k) == {"alg", "e", "kid", "kty", "n", "use"} for k in keys)
    assert all("d" not in k for k in keys)
    assert http.get("/us-east-1_missing00/.well-known/jwks.json").status_code == 404

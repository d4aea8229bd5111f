"""OpenID Connect Discovery: the document validates as OpenID Provider and RFC 8414 metadata,
and everything it advertises answers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.token_service.conftest import Pool, Server


@pytest.fixture(scope="module")
def document(http: httpx.Client, pool: Pool) -> dict[str, Any]:
    answer = http.get(f"/{pool.id}/.well-known/openid-configuration")
    assert answer.status_code == 200
    return dict(answer.json())


def test_document_is_valid_openid_provider_metadata(document: dict[str, Any]) -> None:
    OpenIDProviderMetadata(document).validate()
    AuthorizationServerMetadata(document).validate()


@pytest.mark.parametrize(
    "field",
    [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ],
)
def test_required_fields_are_present(document: dict[str, Any], field: str) -> None:
    assert document[field]
    broken = {k: v for k, v in document.items() if k != field}
    with pytest.raises(ValueError):
        OpenIDProviderMetadata(broken).validate()


def test_issuer_names_the_pool(document: dict[str, Any], pool: Pool) -> None:
    assert document["issuer"] == pool.issuer


def path(url: str) -> str:
    return urlsplit(url).path


def test_every_advertised_endpoint_answers(http: httpx.Client, document: dict[str, Any]) -> None:
    assert http.get(path(document["jwks_uri"])).json()["keys"]
    # Without parameters each endpoint refuses the request; none is missing (404).
    assert http.get(path(document["authorization_endpoint"])).status_code == 400
    assert http.post(path(document["token_endpoint"])).status_code == 400
    assert http.get(path(document["userinfo_endpoint"])).status_code == 401
    assert http.post(path(document["revocation_endpoint"])).status_code == 400
    assert http.get(path(document["end_session_endpoint"])).status_code != 404


def test_advertised_grants_are_the_token_endpoints(
    http: httpx.Client, document: dict[str, Any], pool: Pool
) -> None:
    """Each advertised grant reaches its own checks; anything else is unsupported_grant_type."""
    auth = (pool.confidential_client, pool.confidential_secret)
    for grant in document["grant_types_supported"]:
        answer = http.post("/oauth2/token", data={"grant_type": grant}, auth=auth)
        assert answer.json()["error"] != "unsupported_grant_type", grant
    answer = http.post("/oauth2/token", data={"grant_type": "password"}, auth=auth)
    assert answer.json()["error"] == "unsupported_grant_type"


def test_unknown_pool_has_no_document(http: httpx.Client, server: Server) -> None:
    answer = http.get("/us-east-1_missing00/.well-known/openid-configuration")
    assert answer.status_code == 404
    assert answer.json()["__type"] == "ResourceNotFoundException"

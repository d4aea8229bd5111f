"""A partner the tests control, for OIDC browser federation: the hostile IdP, a pool that
trusts it, and httpx as the browser (its cookies kept, each redirect followed by hand).

The IdP's `/authorize` comes straight back with a code and `/token` answers with the ID token
the test crafts (tests/support/hostile_idp.py). Shared by the OIDC federation test modules;
they import the fixtures.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.hostile_idp import CLIENT_ID, CLIENT_SECRET, HostileIdp
from tests.token_service.conftest import Server
from tests.token_service.test_authorize import CALLBACK, authorize_params, pkce, query_of

PROVIDER = "Hostile"
DOMAIN = "hostile.example"


@dataclass
class World:
    pool: str
    client: str
    idp: HostileIdp


def provider_details(idp: HostileIdp, **extra: str) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_scopes": "openid email",
        "oidc_issuer": idp.tenant_issuer,
        "attributes_request_method": "GET",
        **extra,
    }


def make_pool(cognito: Any, idp: HostileIdp, name: str, **details: str) -> World:
    pool = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
    cognito.create_identity_provider(
        UserPoolId=pool,
        ProviderName=PROVIDER,
        ProviderType="OIDC",
        ProviderDetails=provider_details(idp, **details),
        AttributeMapping={"username": "oid", "email": "email", "name": "name"},
        IdpIdentifiers=[DOMAIN],
    )
    client = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="spa",
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO", PROVIDER],
    )["UserPoolClient"]["ClientId"]
    return World(pool, client, idp)


@pytest.fixture(scope="module")
def idp() -> Iterator[HostileIdp]:
    running = HostileIdp()
    yield running
    running.close()


@pytest.fixture(scope="module")
def world(cognito: Any, idp: HostileIdp) -> World:
    return make_pool(cognito, idp, "hostile-partner")


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def good_idp(idp: HostileIdp) -> Iterator[None]:
    """Each test starts with an IdP that answers well."""
    idp.error, idp.token_status, idp.response_issuer, idp.userinfo = None, 200, None, {}
    idp.mint = lambda nonce: idp.id_token(nonce)
    yield


def to_idp(browser: httpx.Client, world: World, **extra: str) -> tuple[httpx.Response, str]:
    """Our authorize redirect to the IdP, and the PKCE verifier of the app's request."""
    verifier, challenge = pkce()
    params = authorize_params(world.client, challenge, identity_provider=PROVIDER, **extra)
    return browser.get("/oauth2/authorize", params=params), verifier


def round_trip(browser: httpx.Client, world: World, **extra: str) -> tuple[str, str]:
    """Out to the IdP and back: the URL the IdP sends the browser back to, and the verifier."""
    leaving, verifier = to_idp(browser, world, **extra)
    assert leaving.status_code == 303, leaving.text
    back = httpx.get(leaving.headers["location"])
    assert back.status_code == 302
    return back.headers["location"], verifier


def finish(browser: httpx.Client, back: str) -> httpx.Response:
    return browser.get(back.removeprefix(str(browser.base_url).rstrip("/")))


def onward(answer: httpx.Response) -> str:
    """Where the idpresponse page moves the browser on to (its meta refresh and link)."""
    assert answer.status_code == 200, answer.text
    refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', answer.text)
    link = re.search(r'id="continue" href="([^"]+)"', answer.text)
    assert refresh and link and refresh.group(1) == link.group(1), answer.text
    return html.unescape(link.group(1))


def code_of(answer: httpx.Response) -> str:
    return query_of(onward(answer))["code"]


def refused_at_app(answer: httpx.Response) -> dict[str, str]:
    location = onward(answer) if answer.status_code == 200 else answer.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    query = query_of(location)
    assert "code" not in query and query["state"].startswith("st-")
    return query


def no_user(cognito: Any, world: World, oid: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=world.pool, Username=f"{PROVIDER}_{oid}")
    except ClientError as error:
        return error.response["Error"]["Code"] == "UserNotFoundException"
    return False

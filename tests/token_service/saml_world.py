"""A pool federated with the pysaml2 partner IdP, and the HTTP steps of a SAML sign-in: the
fixtures (the IdP, its pool, an httpx browser) and helpers the SAML test modules share.

Entra ID-style attribute names (claim URIs) as the partner sends them; the pool's
AttributeMapping maps them onto email, email_verified and name.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.saml_idp import IdpUser, SamlIdp, SeenRequest, running_idp
from tests.token_service.conftest import Server
from tests.token_service.oidc_world import onward
from tests.token_service.test_authorize import (
    CALLBACK,
    SIGNED_OUT,
    authorize_params,
    query_of,
)

EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
MAPPING = {"email": EMAIL, "email_verified": "email_verified", "name": NAME}
PARTNER_PASSWORD = "partner-Passw0rd"


def partner_user(name_id: str, email: str, *, verified: bool = True) -> IdpUser:
    attributes = {EMAIL: [email], NAME: [name_id.title()], GROUPS: ["engineering", "admins"]}
    if verified:
        attributes["email_verified"] = ["true"]
    return IdpUser(PARTNER_PASSWORD, name_id, attributes)


@dataclass
class SamlWorld:
    """A pool, its app client (COGNITO and the SAML provider) and the IdP it trusts."""

    pool: str
    client: str
    provider: str
    idp: SamlIdp
    server_url: str

    @property
    def acs(self) -> str:
        return f"{self.server_url}/saml2/idpresponse"

    @property
    def entity_id(self) -> str:
        return f"urn:amazon:cognito:sp:{self.pool}"


def make_world(
    cognito: Any,
    server_url: str,
    idp: SamlIdp,
    name: str,
    provider: str = "Partner",
    redirect_uri: str = CALLBACK,
    metadata: str | None = None,
    supported: list[str] | None = None,
    **details: str,
) -> SamlWorld:
    """A pool trusting `idp` (its metadata, or the `metadata` given) as SAML provider
    `provider`, and an app client that may use it (and COGNITO, unless `supported` says)."""
    pool = cognito.create_user_pool(
        PoolName=name,
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    sp_metadata = httpx.get(f"{server_url}/{pool}/saml2/metadata", timeout=10)
    assert sp_metadata.status_code == 200, sp_metadata.text
    idp.trust(sp_metadata.text)
    cognito.create_identity_provider(
        UserPoolId=pool,
        ProviderName=provider,
        ProviderType="SAML",
        ProviderDetails={"MetadataFile": metadata or idp.metadata(), **details},
        AttributeMapping=MAPPING,
    )
    client = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="web",
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=[redirect_uri],
        LogoutURLs=[SIGNED_OUT],
        SupportedIdentityProviders=supported or ["COGNITO", provider],
    )["UserPoolClient"]["ClientId"]
    return SamlWorld(pool, client, provider, idp, server_url)


def start(
    browser: httpx.Client, world: SamlWorld, challenge: str, **extra: str
) -> tuple[SeenRequest, dict[str, str]]:
    """Our /oauth2/authorize to the IdP: the AuthnRequest it accepted, and our query."""
    params = authorize_params(world.client, challenge, identity_provider=world.provider, **extra)
    response = browser.get("/oauth2/authorize", params=params)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"{world.idp.url}/sso?"), location
    return world.idp.accept_request(query_of(location)), params


def post_back(browser: httpx.Client, xml: str, relay_state: str) -> httpx.Response:
    """The IdP's HTTP-POST binding form, as the browser submits it to our ACS."""
    encoded = base64.b64encode(xml.encode()).decode()
    return browser.post(
        "/saml2/idpresponse", data={"SAMLResponse": encoded, "RelayState": relay_state}
    )


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    yield from running_idp(tmp_path_factory.mktemp("saml-idp"), {})


@pytest.fixture(scope="module")
def world(cognito: Any, server: Server, idp: SamlIdp) -> SamlWorld:
    return make_world(cognito, server.url, idp, "SAML partners")


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def refused(response: httpx.Response) -> str:
    """The error_description of an access_denied sent to the app: by a redirect from
    /oauth2/authorize, by the page that moves the browser on from the ACS."""
    if response.status_code == 200:
        location = onward(response)
    else:
        assert response.status_code == 303, response.text
        location = response.headers["location"]
    assert location.startswith(CALLBACK), location
    answer = query_of(location)
    assert answer["error"] == "access_denied" and "code" not in answer, answer
    return answer["error_description"]


def user_exists(cognito: Any, pool: str, username: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=pool, Username=username)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "UserNotFoundException"
        return False
    return True

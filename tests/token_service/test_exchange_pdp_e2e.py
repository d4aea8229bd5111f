"""End to end: a partner's Entra-shaped token -> token exchange -> our ID token -> `/decide`.

Real processes throughout: `token-service serve` (the session's), the Entra-shaped issuer on
its own port, and a `pdp serve` whose directory (imported with `pdp directory import`) has a
partner company declaring the pool's `Entra` provider. The partner's user, never listed in the
directory, gets the company's roles from the first decision.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.pdp.pdp_env import ACME, DEMO_DIRECTORY, GLOBEX, document_request
from tests.support.entra_issuer import EntraIssuer
from tests.support.processes import REPO, pdp_with_directory
from tests.token_service.conftest import PASSWORD, Server, machine_client
from tests.token_service.test_cognito_api import secret_hash

pytestmark = pytest.mark.e2e

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
PARTNER_TENANT = "55555555-5555-4555-8555-555555555555"
AUDIENCE = "api://our-documents"


@pytest.fixture(scope="module")
def stack(
    server: Server, cognito: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    entra = EntraIssuer()
    pool_id = cognito.create_user_pool(PoolName="partner-e2e")["UserPool"]["Id"]
    issuer = f"{server.url}/{pool_id}"
    cognito.create_resource_server(
        UserPoolId=pool_id,
        Identifier="pdp",
        Name="PDP",
        Scopes=[{"ScopeName": "decide", "ScopeDescription": "decide"}],
    )
    cognito.create_identity_provider(
        UserPoolId=pool_id,
        ProviderName="Entra",
        ProviderType="OIDC",
        ProviderDetails={
            "client_id": AUDIENCE,
            "authorize_scopes": "openid email",
            "attributes_request_method": "GET",
            "oidc_issuer": entra.template_issuer,
            "allowed_tenants": PARTNER_TENANT,
        },
        AttributeMapping={"username": "oid", "email": "preferred_username"},
    )
    pep = machine_client(cognito, pool_id)
    app = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="documents-backend",
        GenerateSecret=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=["https://documents.example/callback"],
        SupportedIdentityProviders=["Entra", "COGNITO"],
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    tmp: Path = tmp_path_factory.mktemp("exchange-pdp")
    directory = yaml.safe_load(DEMO_DIRECTORY.read_text())
    acme = next(t for t in directory["tenants"] if t["id"] == ACME)
    acme["companies"].append(
        {
            "id": "fabrikam",
            "roles": ["commenter"],
            "identity_providers": [{"issuer": issuer, "provider": "Entra"}],
        }
    )
    (tmp / "directory.yaml").write_text(yaml.safe_dump(directory))
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": f'[{{"issuer": "{issuer}", "jwks_uri": "{issuer}/.well-known/jwks.json"}}]',
        "PDP_BUNDLE": str(REPO / "policies"),
    }
    pdp = pdp_with_directory(tmp / "directory.yaml", env, log_path=tmp / "pdp.log")
    machine = httpx.post(
        f"{server.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "pdp/decide"},
        auth=(pep["ClientId"], pep["ClientSecret"]),
    ).json()["access_token"]
    yield {
        "pool_id": pool_id,
        "app": (app["ClientId"], app["ClientSecret"]),
        "pdp": pdp.url,
        "pep": {"Authorization": f"Bearer {machine}"},
        "entra": entra,
    }
    pdp.stop()
    entra.close()


def exchanged(server: Server, stack: dict[str, Any], oid: str) -> dict[str, Any]:
    partner_token = stack["entra"].token(PARTNER_TENANT, AUDIENCE, oid)
    answer = httpx.post(
        f"{server.url}/oauth2/token",
        data={
            "grant_type": GRANT,
            "subject_token": partner_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "scope": "openid email",
        },
        auth=stack["app"],
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def decide(stack: dict[str, Any], token: str, action: str, **resource: Any) -> dict[str, Any]:
    body = document_request({"token": token}, action, **resource)
    answer = httpx.post(f"{stack['pdp']}/decide", json=body, headers=stack["pep"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_partner_user_gets_the_companys_roles_from_the_first_decision(
    server: Server, stack: dict[str, Any]
) -> None:
    tokens = exchanged(server, stack, str(uuid.uuid4()))
    first = decide(stack, tokens["id_token"], "document:comment")
    assert first["allow"] is True, first
    assert decide(stack, tokens["id_token"], "document:read")["allow"] is True
    assert decide(stack, tokens["id_token"], "document:write")["allow"] is False
    other_tenant = decide(stack, tokens["id_token"], "document:read", tenant_id=GLOBEX)
    assert other_tenant["allow"] is False
    assert "tenant_mismatch" in other_tenant["reasons"]


def test_access_tokens_and_username_prefixes_prove_no_company(
    server: Server, cognito: Any, stack: dict[str, Any]
) -> None:
    tokens = exchanged(server, stack, str(uuid.uuid4()))
    assert decide(stack, tokens["access_token"], "document:read")["reasons"] == ["unknown_subject"]
    impostor = f"Entra_{uuid.uuid4()}"
    cognito.admin_create_user(
        UserPoolId=stack["pool_id"], Username=impostor, MessageAction="SUPPRESS"
    )
    cognito.admin_set_user_password(
        UserPoolId=stack["pool_id"], Username=impostor, Password=PASSWORD, Permanent=True
    )
    signed_in = cognito.initiate_auth(
        ClientId=stack["app"][0],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": impostor,
            "PASSWORD": PASSWORD,
            "SECRET_HASH": secret_hash(stack["app"][1], impostor, stack["app"][0]),
        },
    )["AuthenticationResult"]
    answer = decide(stack, signed_in["IdToken"], "document:read")
    assert answer["reasons"] == ["unknown_subject"]
    # Nor can anyone give a native user the `identities` the PDP reads.
    forged = [{"Name": "identities", "Value": '[{"providerName": "Entra", "userId": "x"}]'}]
    with pytest.raises(cognito.exceptions.InvalidParameterException):
        cognito.admin_update_user_attributes(
            UserPoolId=stack["pool_id"], Username=impostor, UserAttributes=forged
        )
    with pytest.raises(cognito.exceptions.InvalidParameterException):
        cognito.update_user_attributes(AccessToken=signed_in["AccessToken"], UserAttributes=forged)

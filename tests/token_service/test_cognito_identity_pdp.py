"""End to end: a developer identity's OpenID token is a subject at a real PDP, found in the
directory by its identity id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from botocore import UNSIGNED

from tests.pdp.pdp_env import ACME, POLICIES, document_request
from tests.support.processes import pdp_with_directory
from tests.token_service.conftest import Pool, Server
from tests.token_service.test_cognito_identity import DEVELOPER, developer_token, identity_client

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(
    server: Server, pool: Pool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    identity = identity_client(server.url)
    identity_pool = identity.create_identity_pool(
        IdentityPoolName="pdp subjects",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName=DEVELOPER,
    )["IdentityPoolId"]
    known = developer_token(identity, identity_pool, "partner-alice")["IdentityId"]
    tmp: Path = tmp_path_factory.mktemp("identity-pdp")
    directory = tmp / "directory.yaml"
    tenant = {
        "id": ACME,
        "name": "acme",
        "timezone": "UTC",
        "users": [{"id": known, "roles": ["viewer"]}],
    }
    directory.write_text(yaml.safe_dump({"tenants": [tenant]}))
    identity_issuer = f"{server.url}/identity"
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        # The identity issuer's tokens name subjects; the user pool's authenticate the PEP.
        "PDP_TRUSTED_ISSUERS": json.dumps(
            [
                {"issuer": identity_issuer, "client_ids": [identity_pool]},
                {"issuer": pool.issuer},
            ]
        ),
        "PDP_BUNDLE": str(POLICIES),
    }
    pdp = pdp_with_directory(directory, env, log_path=tmp / "pdp.log")
    pep = httpx.post(
        f"{server.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "pdp/decide"},
        auth=(pool.machine_client, pool.machine_secret),
    ).json()["access_token"]
    yield {"identity": identity, "pool": identity_pool, "pdp": pdp.url, "pep": pep, "known": known}
    pdp.stop()


def decide(stack: dict[str, Any], token: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack['pdp']}/decide",
        json=document_request({"token": token}),
        headers={"Authorization": f"Bearer {stack['pep']}"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_developer_identity_gets_its_directory_roles(stack: dict[str, Any]) -> None:
    token = developer_token(stack["identity"], stack["pool"], "partner-alice")
    assert token["IdentityId"] == stack["known"]
    assert decide(stack, token["Token"])["allow"] is True


def test_an_identity_the_directory_does_not_know_is_denied(stack: dict[str, Any]) -> None:
    token = developer_token(stack["identity"], stack["pool"], "partner-stranger")["Token"]
    decision = decide(stack, token)
    assert decision["allow"] is False
    assert decision["reasons"] == ["unknown_subject"]


def test_a_guest_token_is_refused(server: Server, stack: dict[str, Any]) -> None:
    public = identity_client(server.url, signature_version=UNSIGNED)
    guest = public.get_id(IdentityPoolId=stack["pool"])["IdentityId"]
    token = public.get_open_id_token(IdentityId=guest)["Token"]
    decision = decide(stack, token)
    assert decision["allow"] is False
    assert decision["reasons"] == ["invalid_token", "bad_token_use"]

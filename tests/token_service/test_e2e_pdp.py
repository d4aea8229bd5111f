"""End to end: tokens from this service authenticate a PEP at a real PDP and name its subject."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.pdp.pdp_env import ACME, ALICE, BOB, DEMO_DIRECTORY, POLICIES, document_request
from tests.support.processes import pdp_with_directory
from tests.token_service.conftest import PASSWORD, Server

pytestmark = pytest.mark.e2e


def provision(server: Server) -> dict[str, Any]:
    """What the demo does with the CLI: pool, pdp scopes, a PEP client, a public app, alice."""

    def run(*args: str) -> Any:
        result = server.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    pool = run("pool", "create", "--name", "e2e", "--custom-attribute", "tenant_id")["id"]
    run(
        "resource-server",
        "create",
        "--pool",
        pool,
        "--identifier",
        "pdp",
        "--scope",
        "decide",
        "--scope",
        "admin",
    )
    pep = run(
        "client",
        "create",
        "--pool",
        pool,
        "--name",
        "pep",
        "--secret",
        "--flow",
        "client_credentials",
        "--scope",
        "pdp/decide",
    )
    app = run("client", "create", "--pool", pool, "--name", "app")
    for username, sub in (("alice", ALICE), ("bob", BOB)):
        run(
            "user", "create", "--pool", pool, "--username", username, "--email", f"{username}@acme.test",
            "--email-verified", "--attribute", f"custom:tenant_id={ACME}", "--sub", sub, "--password", PASSWORD,
        )  # fmt: skip
    return {"pool": pool, "pep": pep, "app": app}


@pytest.fixture(scope="module")
def stack(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    ids = provision(server)
    tmp: Path = tmp_path_factory.mktemp("e2e-pdp")
    issuer = f"{server.url}/{ids['pool']}"
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": json.dumps(
            [{"issuer": issuer, "jwks_uri": f"{issuer}/.well-known/jwks.json"}]
        ),
        "PDP_BUNDLE": str(POLICIES),
    }
    pdp = pdp_with_directory(DEMO_DIRECTORY, env, log_path=tmp / "pdp.log")
    yield {**ids, "pdp": pdp.url}
    pdp.stop()


def machine_token(server: Server, pep: dict[str, str]) -> str:
    response = httpx.post(
        f"{server.url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "pdp/decide"},
        auth=(pep["client_id"], pep["client_secret"]),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def test_machine_and_user_tokens_drive_a_decision(
    server: Server, cognito: Any, stack: dict[str, Any]
) -> None:
    pep = {"Authorization": f"Bearer {machine_token(server, stack['pep'])}"}
    alice = cognito.initiate_auth(
        ClientId=stack["app"]["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    body = document_request({"token": alice["AccessToken"]}, "document:write")
    body["resource"]["attributes"] = {"department": "engineering"}
    allowed = httpx.post(f"{stack['pdp']}/decide", json=body, headers=pep)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["allow"] is True

    bob = cognito.initiate_auth(
        ClientId=stack["app"]["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    denied = httpx.post(
        f"{stack['pdp']}/decide",
        json=document_request({"token": bob["AccessToken"]}, "document:write"),
        headers=pep,
    )
    assert denied.status_code == 200
    assert denied.json()["allow"] is False


def test_pdp_refuses_a_pep_without_a_valid_token(server: Server, stack: dict[str, Any]) -> None:
    body = document_request({"id": ALICE}, "document:read")
    assert httpx.post(f"{stack['pdp']}/decide", json=body).status_code == 401
    forged = machine_token(server, stack["pep"])[:-4] + "AAAA"
    assert (
        httpx.post(
            f"{stack['pdp']}/decide", json=body, headers={"Authorization": f"Bearer {forged}"}
        ).status_code
        == 401
    )


def _confused(token: str) -> str:
    """The token's claims under its own (RSA) kid, but signed ES256 with some EC key."""
    claims = jwt.decode(token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(token)["kid"]
    return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), "ES256", {"kid": kid})


def test_pdp_refuses_an_ec_alg_under_the_pools_rsa_kid(
    server: Server, cognito: Any, stack: dict[str, Any]
) -> None:
    """As a PEP token: 401 with a short body. As a subject token in a batch: that item only."""
    good = machine_token(server, stack["pep"])
    body = document_request({"id": ALICE}, "document:read")
    refused = httpx.post(
        f"{stack['pdp']}/decide", json=body, headers={"Authorization": f"Bearer {_confused(good)}"}
    )
    assert refused.status_code == 401
    assert len(refused.content) < 1000
    alice = cognito.initiate_auth(
        ClientId=stack["app"]["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    requests = [
        document_request({"token": alice}),
        document_request({"token": _confused(alice)}),
        document_request({"id": ALICE}),
    ]
    batch = httpx.post(
        f"{stack['pdp']}/decide/batch",
        json={"requests": requests},
        headers={"Authorization": f"Bearer {good}"},
    )
    assert batch.status_code == 200, batch.text
    results = batch.json()["results"]
    assert [r["allow"] for r in results] == [True, False, True]
    assert results[1]["reasons"] == ["invalid_token", "bad_algorithm"]

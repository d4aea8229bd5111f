"""Cognito's own verifier accepts our tokens: aws-jwt-verify's CognitoJwtVerifier, on Node.

With `TOKEN_SERVICE_ISSUER_BASE=https://cognito-idp.us-east-1.amazonaws.com` the issuer is
exactly what the verifier derives from the pool id, so code written for Amazon Cognito
verifies these tokens unchanged once handed this service's JWKS. `scripts/test` installs the
package under `.venv/node`; without Node or the package these tests are skipped, saying so.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.cognito_js import NODE_MODULES
from tests.support.matrix.jwt_rows import run_verifier
from tests.token_service.conftest import PASSWORD, Server, cognito_client, start_server, stop_server
from tests.token_service.test_e2e_pdp import machine_token, provision

COGNITO_BASE = "https://cognito-idp.us-east-1.amazonaws.com"


def verify_with_cognito_verifier(pool: str, jwks: dict, cases: list[dict]) -> list[dict]:
    """Each case verified by `CognitoJwtVerifier` for `pool`, with `jwks` cached."""
    return run_verifier(pool, f"{COGNITO_BASE}/{pool}", jwks, cases)


@pytest.fixture(scope="module")
def cognito_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if shutil.which("node") is None or not (NODE_MODULES / "aws-jwt-verify").is_dir():
        pytest.skip("Node.js or aws-jwt-verify (npm, under .venv/node) missing: skipped")
    running = start_server(
        tmp_path_factory.mktemp("cognito-issuer"), TOKEN_SERVICE_ISSUER_BASE=COGNITO_BASE
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def ids(cognito_issuer: Server) -> dict[str, Any]:
    return provision(cognito_issuer)


def test_cognito_jwt_verifier_accepts_machine_access_and_id_tokens(
    cognito_issuer: Server, ids: dict[str, Any]
) -> None:
    pool, pep, app = ids["pool"], ids["pep"], ids["app"]
    machine = machine_token(cognito_issuer, pep)
    signed_in: Any = cognito_client(cognito_issuer.url).initiate_auth(
        ClientId=app["client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    jwks = httpx.get(f"{cognito_issuer.url}/{pool}/.well-known/jwks.json").json()
    tampered = machine[:-6] + ("AAAAAA" if not machine.endswith("AAAAAA") else "BBBBBB")
    cases = [
        {
            "token": machine,
            "tokenUse": "access",
            "clientId": pep["client_id"],
            "scope": "pdp/decide",
        },
        {"token": signed_in["AccessToken"], "tokenUse": "access", "clientId": app["client_id"]},
        {"token": signed_in["IdToken"], "tokenUse": "id", "clientId": app["client_id"]},
        # What the verifier must refuse: another client, the wrong token use, a bad signature.
        {"token": machine, "tokenUse": "access", "clientId": "someone-else"},
        {"token": signed_in["IdToken"], "tokenUse": "access", "clientId": app["client_id"]},
        {"token": tampered, "tokenUse": "access", "clientId": pep["client_id"]},
    ]
    results = verify_with_cognito_verifier(pool, jwks, cases)
    assert [r["ok"] for r in results] == [True, True, True, False, False, False], results
    assert results[0]["sub"] == pep["client_id"]
    assert results[1]["sub"] == results[2]["sub"]
    assert [r["error"] for r in results[3:]] == [
        "CognitoJwtInvalidClientIdError",
        "CognitoJwtInvalidTokenUseError",
        "JwtInvalidSignatureError",
    ]


def test_the_issuer_is_the_cognito_url_of_the_pool(
    cognito_issuer: Server, ids: dict[str, Any]
) -> None:
    configuration = httpx.get(
        f"{cognito_issuer.url}/{ids['pool']}/.well-known/openid-configuration"
    ).json()
    assert configuration["issuer"] == f"{COGNITO_BASE}/{ids['pool']}"

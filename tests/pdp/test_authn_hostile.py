"""Hostile tokens: a kid of one key family under another family's alg, and NumericDate claims
that are not numbers. Each is an `invalid_token` refusal, never a 500, on every endpoint."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm

from pdp.authn import Authenticator
from pdp.errors import TokenError
from pdp.services import Services
from pdp.settings import TrustedIssuer
from tests.pdp.pdp_env import ALICE, BOB, document_request, running_pdp
from tests.pdp.test_authn import refusal_reason
from tests.support.issuer import TestIssuer

# Open to anyone: they take no token, so they cannot be fooled by one.
PUBLIC_PATHS = {"/health", "/metrics", "/.well-known/authzen-configuration"}
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "ES256", "ES384", "ES512"]


class MixedIssuer(TestIssuer):
    """An issuer whose JWKS holds an RSA key and EC keys on P-256 and P-384, as issuers
    that rotate between families do: a token's kid can then name a key of either family."""

    def __init__(self) -> None:
        super().__init__(pool_id="us-east-1_MixedPool")
        self.ec_keys = {
            "ec-p256": ec.generate_private_key(ec.SECP256R1()),
            "ec-p384": ec.generate_private_key(ec.SECP384R1()),
        }

    def jwks(self) -> dict[str, Any]:
        keys = super().jwks()["keys"]
        for kid, key in self.ec_keys.items():
            jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": keys}

    def claims(self, sub: str, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "sub": sub,
            "client_id": sub,
            "iss": self.issuer,
            "token_use": "access",
            "scope": "pdp/decide pdp/admin",
            "exp": now + 3600,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        claims.update(extra)
        return claims

    def confused(self, alg: str, kid: str, claims: dict[str, Any]) -> str:
        """Signed with the private key of the family `alg` needs, under the other family's kid."""
        if alg.startswith("ES"):
            curve = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1, "ES512": ec.SECP521R1}[alg]
            key: Any = ec.generate_private_key(curve())
            if kid in self.ec_keys and isinstance(self.ec_keys[kid].curve, curve):
                key = self.ec_keys[kid]
        else:
            key = self.key
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


# (alg, kid) pairs where the kid names a key of another family or curve than the alg needs.
MISMATCHES = [
    ("ES256", "rsa"),
    ("ES384", "rsa"),
    ("ES512", "rsa"),
    ("RS256", "ec-p256"),
    ("PS256", "ec-p256"),
    ("ES384", "ec-p256"),
    ("ES256", "ec-p384"),
]


@pytest.fixture(scope="module")
def mixed() -> Iterator[MixedIssuer]:
    issuer = MixedIssuer()
    yield issuer
    issuer.close()


@pytest.fixture(scope="module")
def authenticator(mixed: MixedIssuer) -> Authenticator:
    return Authenticator([TrustedIssuer(issuer=mixed.issuer, jwks_uri=mixed.jwks_uri)])


def _kid(mixed: MixedIssuer, name: str) -> str:
    return mixed.kid if name == "rsa" else name


# --- the authenticator --------------------------------------------------------------------


@pytest.mark.parametrize(("alg", "kid"), MISMATCHES)
def test_a_kid_of_another_key_family_is_a_bad_algorithm(authenticator, mixed, alg, kid):
    token = mixed.confused(alg, _kid(mixed, kid), mixed.claims("pep"))
    assert refusal_reason(authenticator, token) == "bad_algorithm"


@pytest.mark.parametrize(("alg", "kid"), [("RS256", "rsa"), ("ES256", "ec-p256")])
def test_the_right_family_still_verifies(authenticator, mixed, alg, kid):
    token = mixed.confused(alg, _kid(mixed, kid), mixed.claims("pep"))
    assert authenticator.verify(token)["sub"] == "pep"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["numeric string", "not a number", True, [1], None])
def test_a_numeric_date_that_is_not_a_number_is_malformed(authenticator, mixed, claim, value):
    good = mixed.claims("pep")
    text = str(good["exp"] if claim == "exp" else good["iat"])
    claims = {**good, claim: text if value == "numeric string" else value}
    assert refusal_reason(authenticator, mixed.sign(claims)) == "malformed_token"


def test_an_infinite_exp_is_malformed(authenticator, mixed):
    token = mixed.sign(mixed.claims("pep")).split(".")
    payload = jwt.utils.base64url_encode(
        json.dumps(mixed.claims("pep")).replace('"exp": ', '"exp": 1e999, "x": ').encode()
    ).decode()
    assert refusal_reason(authenticator, f"{token[0]}.{payload}.{token[2]}") == "malformed_token"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    alg=st.sampled_from([*ALGORITHMS, "HS256", "none", "EdDSA"]),
    kid=st.sampled_from(["rsa", "ec-p256", "ec-p384", "unknown"]),
    signer=st.sampled_from(["rsa", "ec-p256", "ec-p384"]),
    exp=st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=12)),
)
def test_verification_raises_only_token_errors(authenticator, mixed, alg, kid, signer, exp):
    """Whatever the header says about alg and kid, and whichever key signed: a TokenError or
    verified claims, nothing else (PyJWT signs with the alg of the header we want to send)."""
    key: Any = mixed.key if signer == "rsa" else mixed.ec_keys[signer]
    header = {"kid": _kid(mixed, kid), "alg": alg}
    body = jwt.utils.base64url_encode(json.dumps(mixed.claims("pep", exp=exp)).encode())
    head = jwt.utils.base64url_encode(json.dumps(header).encode())
    signing_input = head + b"." + body
    algorithm = jwt.get_algorithm_by_name("RS256" if signer == "rsa" else "ES256")
    signature = jwt.utils.base64url_encode(algorithm.sign(signing_input, key))
    token = (signing_input + b"." + signature).decode()
    try:
        claims = authenticator.verify(token)
    except TokenError:
        return
    assert (alg, kid, signer) in {("RS256", "rsa", "rsa"), ("ES256", "ec-p256", "ec-p256")}
    assert isinstance(claims["exp"], int | float)


# --- over HTTP: every authenticated endpoint, and subject tokens in decisions ---------------


@pytest.fixture(scope="module")
def pdp(tmp_path_factory, mixed) -> Iterator[tuple[TestClient, Services]]:
    with running_pdp(tmp_path_factory.mktemp("hostile"), mixed) as running:
        yield running


def _authenticated_routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    routes = []
    for path, operations in paths.items():
        if path in PUBLIC_PATHS:
            continue
        concrete = path.replace("{path}", "authz/decision")
        for part in ("tenant_id", "object_id", "group_id", "subject_id", "binding_id"):
            concrete = concrete.replace("{" + part + "}", str(uuid.uuid4()))
        concrete = concrete.replace("{decision_id}", "d").replace("{revision}", "r")
        routes.extend((method.upper(), concrete.replace("{name}", "b")) for method in operations)
    return routes


def test_every_authenticated_endpoint_refuses_a_confused_pep_token(client, mixed):
    routes = _authenticated_routes(client)
    assert len(routes) > 40
    for method, path in routes:
        assert client.request(method, path).status_code == 401, (method, path)
        for alg, kid in MISMATCHES:
            token = mixed.confused(alg, _kid(mixed, kid), mixed.claims("pep-hostile"))
            headers = {"Authorization": f"Bearer {token}"}
            response = client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, alg, kid, response.text[:200])
            assert len(response.content) < 1000


@pytest.fixture(scope="module")
def pep(mixed: MixedIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {mixed.sign(mixed.claims('pep-documents'))}"}


@pytest.mark.parametrize(("alg", "kid"), MISMATCHES)
def test_a_confused_subject_token_is_a_deny(client, mixed, pep, alg, kid):
    subject = mixed.confused(alg, _kid(mixed, kid), mixed.claims(ALICE))
    response = client.post("/decide", json=document_request({"token": subject}), headers=pep)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["allow"], result["reasons"]) == (False, ["invalid_token", "bad_algorithm"])


def test_one_hostile_subject_token_denies_only_its_batch_item(client, mixed, pep):
    confused = mixed.confused("ES256", mixed.kid, mixed.claims(ALICE))
    numeric_string = mixed.sign(mixed.claims(ALICE, exp=str(int(time.time()) + 600)))
    requests = [
        document_request({"id": ALICE}),
        document_request({"token": confused}),
        document_request({"id": BOB}, "document:write"),
        document_request({"token": numeric_string}),
        document_request({"id": ALICE}),
    ]
    response = client.post("/decide/batch", json={"requests": requests}, headers=pep)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["allow"] for r in results] == [True, False, False, False, True]
    assert results[1]["reasons"] == ["invalid_token", "bad_algorithm"]
    assert results[3]["reasons"] == ["invalid_token", "malformed_token"]
    assert results[2]["reasons"] != results[1]["reasons"]

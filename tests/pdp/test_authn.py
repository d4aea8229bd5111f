"""Token verification: what a resource server must accept and refuse."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.authn import Authenticator
from pdp.errors import TokenError
from pdp.settings import SettingsError, TrustedIssuer, parse_trusted_issuers
from tests.support.issuer import TestIssuer


@pytest.fixture(scope="module")
def authenticator(issuer: TestIssuer) -> Authenticator:
    return Authenticator([TrustedIssuer(issuer=issuer.issuer, jwks_uri=issuer.jwks_uri)])


def refusal_reason(authenticator: Authenticator, token: str) -> str:
    """The reason `authenticator` refuses `token` with (it must refuse it)."""
    with pytest.raises(TokenError) as caught:
        authenticator.verify(token)
    return caught.value.reason


def test_machine_token_verifies_and_carries_scopes(authenticator, issuer):
    principal = authenticator.authenticate_caller(
        issuer.machine_token("pep-1", scope="pdp/decide other/x")
    )
    assert principal.client_id == "pep-1"
    assert principal.scopes == {"pdp/decide", "other/x"}


def test_id_token_verifies_but_cannot_authenticate_a_caller(authenticator, issuer):
    token = issuer.user_id_token("alice", "4f1c2d3e-0000-4000-8000-000000000001")
    assert authenticator.verify(token)["custom:tenant_id"].startswith("4f1c")
    with pytest.raises(TokenError):
        authenticator.authenticate_caller(token)


def test_expired_token(authenticator, issuer):
    past = int(time.time()) - 7200
    token = issuer.machine_token("pep-1", exp=past + 3600, iat=past)
    assert refusal_reason(authenticator, token) == "token_expired"


def test_unknown_key(authenticator, issuer):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = issuer.sign(
        {"sub": "x", "iss": issuer.issuer, "exp": time.time() + 60, "iat": time.time()},
        key=other,
        kid="not-a-known-kid",
    )
    assert refusal_reason(authenticator, token) == "unknown_key"


def test_right_kid_wrong_key_is_a_bad_signature(authenticator, issuer):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    token = issuer.sign(
        {"sub": "x", "iss": issuer.issuer, "exp": now + 60, "iat": now, "token_use": "access"},
        key=other,
    )
    assert refusal_reason(authenticator, token) == "bad_signature"


def test_untrusted_issuer(authenticator, rogue_issuer):
    assert refusal_reason(authenticator, rogue_issuer.machine_token("pep-1")) == "untrusted_issuer"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_alg_none_is_refused(authenticator, issuer):
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT", "kid": issuer.kid}
    claims = {"sub": "x", "iss": issuer.issuer, "exp": now + 60, "iat": now, "token_use": "access"}
    token = f"{_b64(header)}.{_b64(claims)}."
    assert refusal_reason(authenticator, token) == "bad_algorithm"


def test_hmac_keyed_with_the_public_key_is_refused(authenticator, issuer):
    now = int(time.time())
    claims = {"sub": "x", "iss": issuer.issuer, "exp": now + 60, "iat": now, "token_use": "access"}
    token = jwt.encode(claims, "secret", algorithm="HS256", headers={"kid": issuer.kid})
    assert refusal_reason(authenticator, token) == "bad_algorithm"


def test_token_use_must_be_access_or_id(authenticator, issuer):
    assert (
        refusal_reason(authenticator, issuer.machine_token("c", token_use="refresh"))
        == "bad_token_use"
    )


def test_client_allow_list(issuer):
    only_a = Authenticator(
        [TrustedIssuer(issuer=issuer.issuer, jwks_uri=issuer.jwks_uri, client_ids=("a",))]
    )
    assert only_a.verify(issuer.machine_token("a"))["client_id"] == "a"
    assert refusal_reason(only_a, issuer.machine_token("b")) == "untrusted_client"


def test_ec_keys_are_accepted(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    test_issuer = TestIssuer(pool_id="us-east-1_EcPool")
    try:
        from jwt.algorithms import ECAlgorithm

        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
        jwk["kid"] = "ec-1"
        test_issuer.jwks = lambda: {"keys": [jwk]}  # type: ignore[method-assign]
        now = int(time.time())
        token = jwt.encode(
            {
                "sub": "svc",
                "client_id": "svc",
                "iss": test_issuer.issuer,
                "exp": now + 60,
                "iat": now,
                "token_use": "access",
            },
            key,
            algorithm="ES256",
            headers={"kid": "ec-1"},
        )
        auth = Authenticator([TrustedIssuer(test_issuer.issuer, test_issuer.jwks_uri)])
        assert auth.verify(token)["sub"] == "svc"
    finally:
        test_issuer.close()


def test_unreachable_jwks_is_a_token_error():
    auth = Authenticator([TrustedIssuer("http://127.0.0.1:9/pool", "http://127.0.0.1:9/jwks")])
    token = jwt.encode(
        {"iss": "http://127.0.0.1:9/pool", "sub": "x", "exp": time.time() + 60, "iat": 0},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "k"},
    )
    assert refusal_reason(auth, token) == "jwks_unavailable"


def test_jwks_is_cached(issuer):
    auth = Authenticator([TrustedIssuer(issuer.issuer, issuer.jwks_uri)])
    before = issuer.jwks_requests
    for _ in range(20):
        auth.verify(issuer.machine_token("pep"))
    assert issuer.jwks_requests - before == 1


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_arbitrary_strings_never_verify(authenticator, garbage):
    with pytest.raises(TokenError):
        authenticator.verify(garbage)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_tampered_tokens_never_verify(authenticator, issuer, position, replacement):
    token = issuer.machine_token("pep")
    index = position % len(token)
    tampered = token[:index] + replacement + token[index + 1 :]
    if tampered == token:
        return
    try:
        claims = authenticator.verify(tampered)
    except TokenError:
        return
    # Base64 slack bits can decode to the same bytes; then the claims must be the real ones.
    assert claims == jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize(
    "raw",
    ["not json", "{}", '[{"jwks_uri": "x"}]', '[{"issuer": "a", "client_ids": "x"}]'],
)
def test_bad_trusted_issuers_setting(raw):
    with pytest.raises(SettingsError):
        parse_trusted_issuers(raw)


def test_trusted_issuers_default_jwks_uri():
    (parsed,) = parse_trusted_issuers('[{"issuer": "https://idp.example/pool"}]')
    assert parsed.jwks_uri == "https://idp.example/pool/.well-known/jwks.json"

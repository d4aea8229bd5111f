"""Properties of the checks every partner JWT passes (browser ID tokens and token exchange):
for any `exp`, `nbf` and `iat`, a token is accepted exactly when the times allow it, and
refused naming the check otherwise; the algorithm allow-list holds for any header."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from token_service.federation import partner_jwt
from token_service.federation.partner_jwt import LEEWAY_SECONDS, PartnerJwtInvalid

NOW = 1_800_000_000.0
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
HEADER = {"alg": "RS256", "kid": "k1"}
TIMES = st.one_of(
    st.none(),
    st.integers(min_value=int(NOW) - 10_000, max_value=int(NOW) + 10_000),
    st.floats(allow_nan=False, allow_infinity=False, min_value=NOW - 10_000, max_value=NOW + 1e4),
    st.booleans(),
    st.text(max_size=12),
)


def expected_check(claims: dict[str, Any]) -> str | None:
    """The rule, written out: which check refuses these times (None: accepted)."""
    for name in partner_jwt.NUMERIC_DATES:
        value = claims.get(name)
        if value is None and name in partner_jwt.REQUIRED_DATES:
            return "missing_claim"
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return "not_a_number"
    if claims["exp"] <= NOW - LEEWAY_SECONDS:
        return "expired"
    if claims.get("nbf") is not None and claims["nbf"] > NOW + LEEWAY_SECONDS:
        return "not_yet_valid"
    if claims["iat"] > NOW + LEEWAY_SECONDS:
        return "issued_in_future"
    return None


def part(value: Any) -> str:
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: dict[str, Any]) -> str:
    """RS256 over any JSON claims (pyjwt's encoder refuses some of the values tested)."""
    signing_input = f"{part(HEADER)}.{part(claims)}"
    signature = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).sign(
        signing_input.encode(), KEY
    )
    return f"{signing_input}.{part(signature)}"


@given(exp=TIMES, nbf=TIMES, iat=TIMES)
def test_times_are_accepted_exactly_as_the_rule_says(exp: Any, nbf: Any, iat: Any) -> None:
    claims = {
        name: value
        for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat))
        if value is not None
    }
    token = signed({"iss": "https://idp.example", **claims})
    expected = expected_check(claims)
    if expected is None:
        assert partner_jwt.verified_claims(token, KEY.public_key(), HEADER, NOW) == {
            "iss": "https://idp.example",
            **claims,
        }
        return
    with pytest.raises(PartnerJwtInvalid) as refused:
        partner_jwt.verified_claims(token, KEY.public_key(), HEADER, NOW)
    assert refused.value.check == expected


@given(alg=st.one_of(st.text(max_size=10), st.sampled_from(["none", "HS256", "RS512", "ES384"])))
def test_only_the_allow_listed_algorithms_get_past_the_header(alg: str) -> None:
    token = f"{part({'alg': alg, 'kid': 'k1'})}.{part({'iss': 'x'})}.{part(b'sig')}"
    if alg in partner_jwt.ALGORITHMS:
        assert partner_jwt.read_header(token)["alg"] == alg
        return
    with pytest.raises(PartnerJwtInvalid) as refused:
        partner_jwt.read_header(token)
    assert refused.value.check == "bad_algorithm"

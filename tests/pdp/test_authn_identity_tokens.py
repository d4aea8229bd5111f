"""Cognito Identity OpenID tokens as PDP subjects: no token_use, aud = the identity pool."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pdp.authn import Authenticator
from pdp.errors import TokenError
from pdp.settings import TrustedIssuer
from tests.pdp.test_authn import refusal_reason
from tests.support.issuer import TestIssuer

POOL = "us-east-1:2b7c0c3e-0000-4000-8000-000000000001"
IDENTITY = "us-east-1:6f0b2c1e-0000-4000-8000-0000000000aa"


def identity_token(issuer: TestIssuer, amr: Any, aud: str = POOL) -> str:
    now = int(time.time())
    claims = {"sub": IDENTITY, "aud": aud, "amr": amr, "iss": issuer.issuer}
    return issuer.sign({**claims, "exp": now + 600, "iat": now})


@pytest.fixture(scope="module")
def authenticator(issuer: TestIssuer) -> Authenticator:
    trusted = TrustedIssuer(issuer=issuer.issuer, jwks_uri=issuer.jwks_uri, client_ids=(POOL,))
    return Authenticator([trusted])


def test_an_authenticated_identity_token_is_a_subject_but_not_a_caller(authenticator, issuer):
    amr = ["authenticated", "login.partner", f"login.partner:{POOL}:u-1"]
    token = identity_token(issuer, amr)
    assert authenticator.verify(token)["sub"] == IDENTITY
    with pytest.raises(TokenError) as caught:
        authenticator.authenticate_caller(token)
    assert caught.value.reason == "bad_token_use"


def test_another_identity_pool_is_an_untrusted_client(authenticator, issuer):
    other = "us-east-1:2b7c0c3e-0000-4000-8000-0000000000ff"
    assert refusal_reason(authenticator, identity_token(issuer, ["authenticated"], other)) == (
        "untrusted_client"
    )


@pytest.mark.parametrize(
    "amr", [["unauthenticated"], [], "authenticated", None, ["login.partner", "authenticated"]]
)
def test_guests_and_tokens_without_token_use_or_amr_are_refused(authenticator, issuer, amr):
    assert refusal_reason(authenticator, identity_token(issuer, amr)) == "bad_token_use"

"""Properties of the token-exchange request parser and the subject token reader: whatever
the form holds, the answer is a parsed request or a refusal that names what is wrong."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from token_service.errors import TokenServiceError
from token_service.federation.exchange import ACCESS_TOKEN_TYPE, parse_request
from token_service.federation.partner_jwt import ALGORITHMS
from token_service.federation.partner_token import read_token

NAMES = (
    "subject_token",
    "subject_token_type",
    "scope",
    "actor_token",
    "actor_token_type",
    "audience",
    "resource",
    "requested_token_type",
)
KEYS = st.sampled_from(NAMES)
VALUES = st.text(max_size=30) | st.sampled_from([ACCESS_TOKEN_TYPE, "", "openid email"])


@given(st.dictionaries(KEYS, VALUES))
def test_any_form_parses_or_is_refused_by_name(form: dict[str, str]) -> None:
    try:
        request = parse_request(form)
    except TokenServiceError as refusal:
        assert refusal.oauth_error in ("invalid_request", "invalid_target")
        assert any(name in refusal.message for name in (*NAMES, "delegation"))
        return
    assert request.subject_token == form["subject_token"]
    assert form["subject_token_type"] and "actor_token" not in form


def _segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    header=st.dictionaries(
        st.sampled_from(["alg", "kid", "typ"]), JSON | st.sampled_from(ALGORITHMS)
    ),
    claims=JSON
    | st.dictionaries(st.sampled_from(["iss", "tid", "aud"]), JSON | st.text(max_size=10)),
    signature=st.text(alphabet="abcXYZ019-_", max_size=20),
)
def test_any_jwt_shape_is_read_or_refused(header: dict, claims: object, signature: str) -> None:
    token = f"{_segment(header)}.{_segment(claims)}.{signature}"
    try:
        read = read_token(token)
    except TokenServiceError as refusal:
        assert refusal.oauth_error == "invalid_grant"
        assert refusal.message.startswith("subject_token refused: ")
        return
    assert read.header["alg"] in ALGORITHMS
    assert isinstance(read.issuer, str) and read.issuer

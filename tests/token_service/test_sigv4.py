"""The SigV4 verifier against requests signed by botocore itself, and against tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from token_service.cognito import sigv4
from token_service.cognito.errors import (
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)
from token_service.errors import TokenServiceError

KEY_ID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDENTIALS = {KEY_ID: SECRET}


def botocore_signed(
    body: bytes = b'{"UserPoolId": "us-east-1_abc"}',
    path: str = "/",
    query: str = "",
    target: str = "AWSCognitoIdentityProviderService.AdminGetUser",
    region: str = "us-east-1",
    service: str = "cognito-idp",
    secret: str = SECRET,
) -> sigv4.ReceivedRequest:
    url = f"http://127.0.0.1:9229{path}" + (f"?{query}" if query else "")
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(KEY_ID, secret), service, region).add_auth(request)
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    headers.append(("host", "127.0.0.1:9229"))
    return sigv4.ReceivedRequest("POST", path, query, headers, body)


def signed_at(request: sigv4.ReceivedRequest) -> datetime:
    amz_date = dict(request.headers).get("x-amz-date", "20260101T000000Z")
    return datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def check(request: sigv4.ReceivedRequest, now: datetime | None = None) -> str:
    """Verify at `now`, by default the signing time, so slow test runs never read as skew."""
    return sigv4.verify(
        request,
        CREDENTIALS,
        service="cognito-idp",
        now=now or signed_at(request),
        max_skew_seconds=300,
    )


def replace_header(request: sigv4.ReceivedRequest, name: str, value: str) -> sigv4.ReceivedRequest:
    headers = [(k, value if k == name else v) for k, v in request.headers]
    return sigv4.ReceivedRequest(
        request.method, request.raw_path, request.query_string, headers, request.body
    )


def test_accepts_botocore_signature() -> None:
    assert check(botocore_signed()) == KEY_ID


def test_accepts_other_regions_paths_and_queries() -> None:
    assert (
        check(botocore_signed(region="eu-west-1", path="/a%20b/./c", query="b=2&a=1&a=0&x=%2F"))
        == KEY_ID
    )


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (sigv4.ReceivedRequest("POST", "/", "", [("host", "h")], b""), MissingAuthenticationToken),
        (botocore_signed(secret="wrong"), InvalidSignature),
        (botocore_signed(service="s3"), InvalidSignature),
    ],
)
def test_refusals(request_: sigv4.ReceivedRequest, error: type[TokenServiceError]) -> None:
    with pytest.raises(error):
        check(request_)


def test_unknown_key_and_malformed_header() -> None:
    signed = botocore_signed()
    authorization = dict(signed.headers)["authorization"]
    with pytest.raises(UnrecognizedClient):
        check(replace_header(signed, "authorization", authorization.replace(KEY_ID, "AKIDOTHER")))
    with pytest.raises(IncompleteSignature):
        check(replace_header(signed, "authorization", "AWS4-HMAC-SHA256 Credential=x"))
    without_host = authorization.replace(
        "SignedHeaders=content-type;host;", "SignedHeaders=content-type;"
    )
    with pytest.raises(IncompleteSignature):
        check(replace_header(signed, "authorization", without_host))


def test_clock_skew() -> None:
    signed = botocore_signed()
    with pytest.raises(InvalidSignature, match="expired"):
        check(signed, now=signed_at(signed) + timedelta(minutes=6))
    with pytest.raises(InvalidSignature, match="expired"):
        check(signed, now=signed_at(signed) - timedelta(minutes=6))
    assert check(signed, now=signed_at(signed) + timedelta(minutes=4)) == KEY_ID


SIGNED = botocore_signed()


@settings(max_examples=150, deadline=None)
@given(
    part=st.sampled_from(["method", "path", "query", "body", "header"]),
    data=st.binary(min_size=1, max_size=40),
)
def test_never_accepts_a_tampered_request(part: str, data: bytes) -> None:
    """Change any signed part of the request and the signature no longer verifies."""
    if part == "method":
        request = sigv4.ReceivedRequest(
            "PUT" if data[0] % 2 else "GET", "/", "", SIGNED.headers, SIGNED.body
        )
    elif part == "path":
        request = sigv4.ReceivedRequest("POST", "/x" + data.hex(), "", SIGNED.headers, SIGNED.body)
    elif part == "query":
        request = sigv4.ReceivedRequest("POST", "/", "q=" + data.hex(), SIGNED.headers, SIGNED.body)
    elif part == "body":
        request = sigv4.ReceivedRequest("POST", "/", "", SIGNED.headers, SIGNED.body + data)
    else:
        target = dict(SIGNED.headers)["x-amz-target"]
        request = replace_header(SIGNED, "x-amz-target", target + "x" + data.hex())
    with pytest.raises(InvalidSignature, match="does not match"):
        check(request)


@settings(max_examples=100, deadline=None)
@given(position=st.integers(min_value=0, max_value=63), digit=st.sampled_from("0123456789abcdef"))
def test_never_accepts_a_changed_signature(position: int, digit: str) -> None:
    authorization = dict(SIGNED.headers)["authorization"]
    signature = authorization[-64:]
    if signature[position] == digit:
        return
    changed = signature[:position] + digit + signature[position + 1 :]
    with pytest.raises(InvalidSignature, match="does not match"):
        check(replace_header(SIGNED, "authorization", authorization[:-64] + changed))

"""Verification of AWS Signature Version 4 on admin requests, following the AWS spec.

The server recomputes the canonical request from what it received (method, raw path,
query, the signed headers, a hash of the body), derives the signing key from the secret
of the presented access key id, and compares signatures in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from token_service.cognito.errors import (
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    UnrecognizedClient,
)

ALGORITHM = "AWS4-HMAC-SHA256"
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)\s*,\s*Signature=([0-9a-f]{64})\s*$"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as it arrived; header names lower-case, repeated headers kept in order."""

    method: str
    raw_path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def canonical_uri(raw_path: str) -> str:
    """The path as botocore signs it: normalized, then URI-encoded once more."""
    path = posixpath.normpath(raw_path) if raw_path not in ("", "/") else "/"
    if raw_path.endswith("/") and path != "/":
        path += "/"
    return quote(path, safe="/~")


def canonical_query(query_string: str) -> str:
    pairs = []
    for part in query_string.split("&") if query_string else []:
        key, _, value = part.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_request(request: ReceivedRequest, signed_headers: list[str]) -> str:
    values: dict[str, list[str]] = {}
    for name, value in request.headers:
        values.setdefault(name.lower(), []).append(_SPACES.sub(" ", value.strip()))
    lines = [f"{name}:{','.join(values.get(name, []))}" for name in signed_headers]
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.query_string),
            "\n".join(lines) + "\n",
            ";".join(signed_headers),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def verify(
    request: ReceivedRequest,
    credentials: Mapping[str, str],
    *,
    service: str,
    now: datetime,
    max_skew_seconds: int,
) -> str:
    """Return the access key id of a correctly signed request, or raise a Cognito-style error."""
    header = next((v for n, v in request.headers if n.lower() == "authorization"), None)
    if header is None:
        raise MissingAuthenticationToken("Missing Authentication Token")
    match = _AUTH.match(header.strip())
    if match is None:
        raise IncompleteSignature(
            "Authorization header requires Credential, SignedHeaders and Signature."
        )
    credential, signed, signature = match.groups()
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise IncompleteSignature(
            "Credential must have the form KEY/DATE/REGION/SERVICE/aws4_request."
        )
    access_key, date, region, scoped_service, _ = parts
    # Unknown keys are told apart from bad signatures, as AWS does; the key id is not secret.
    secret = credentials.get(access_key)
    if secret is None or not secret:
        raise UnrecognizedClient("The security token included in the request is invalid.")
    if scoped_service != service:
        raise InvalidSignature(f"Credential should be scoped to correct service: '{service}'.")
    signed_headers = signed.split(";")
    if signed_headers != sorted(set(signed_headers)) or "host" not in signed_headers:
        raise IncompleteSignature("SignedHeaders must be sorted, unique and include host.")
    if "x-amz-date" not in signed_headers:
        raise IncompleteSignature("SignedHeaders must include x-amz-date.")
    amz_date = next((v for n, v in request.headers if n.lower() == "x-amz-date"), "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise IncompleteSignature("X-Amz-Date must be in the form YYYYMMDDTHHMMSSZ.") from None
    if amz_date[:8] != date:
        raise InvalidSignature("Credential date does not match X-Amz-Date.")
    if abs((now - signed_at).total_seconds()) > max_skew_seconds:
        raise InvalidSignature(
            "Signature expired: the request time is too far from the server time."
        )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = string_to_sign(amz_date, scope, canonical_request(request, signed_headers))
    expected = hmac.new(
        signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256
    )
    if not hmac.compare_digest(expected.hexdigest(), signature):
        raise InvalidSignature(
            "The request signature we calculated does not match the signature you provided."
        )
    return access_key

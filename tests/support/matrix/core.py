"""The matrix's vocabulary: a row, the endpoint it runs against, and the checks rows share.

A row is one thing a Cognito client does (an operation, a flow, an error it must get), run
with the real client library against an endpoint: our `token-service serve` or moto's
`moto_server`. It raises `Mismatch` saying what Amazon Cognito would have answered instead.
Rows check correctness (a wrong password refused, Cognito's claims present), not only the
absence of an exception, so a peer that accepts anything does not pass.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import importlib.util
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
import jwt
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.cognito_js import missing_requirements
from tests.support.processes import REPO

PASSWORD = "Corr3ct-Horse!"
OTHER_PASSWORD = "N3w-Battery-Staple!"
REGION = "us-east-1"
COGNITO_ISSUER_BASE = f"https://cognito-idp.{REGION}.amazonaws.com"
AWS_CLI = REPO / ".venv" / "awscli" / "bin" / "aws"
# Claims Cognito puts in every user access and ID token (its documented token payloads).
ACCESS_CLAIMS = {
    "sub",
    "iss",
    "client_id",
    "origin_jti",
    "event_id",
    "token_use",
    "scope",
    "auth_time",
    "exp",
    "iat",
    "jti",
    "username",
}
ID_CLAIMS = {
    "sub",
    "aud",
    "iss",
    "cognito:username",
    "origin_jti",
    "event_id",
    "token_use",
    "auth_time",
    "exp",
    "iat",
    "jti",
}


class Mismatch(AssertionError):
    """The endpoint answered otherwise than Amazon Cognito would."""


@dataclass(frozen=True)
class Target:
    """An endpoint speaking Cognito's API: our server or moto's, and how to reach its parts."""

    name: str
    url: str
    access_key: str
    secret_key: str
    # Issuer prefix of the endpoint's tokens: `<issuer_base>/<pool id>`.
    issuer_base: str
    # (pool id, destination address) -> the last code delivered there.
    read_code: Callable[[str, str], str]

    def admin(self) -> Any:
        """A boto3 client signed with the admin credentials, as a backend holds it."""
        return _client(self.url, self.access_key, self.secret_key)

    def public(self) -> Any:
        """An unsigned boto3 client, as a browser or mobile app calls the public operations."""
        return _client(self.url, None, None)

    def issuer(self, pool_id: str) -> str:
        return f"{self.issuer_base}/{pool_id}"

    def jwks(self, pool_id: str) -> dict[str, Any]:
        response = self.get(f"/{pool_id}/.well-known/jwks.json")
        check(response.status_code == 200, f"JWKS answered {response.status_code}")
        return response.json()

    def get(self, path: str) -> httpx.Response:
        """GET a path of the endpoint (one shared HTTP client: making one costs 0.1 s)."""
        return _http().get(self.url + path)

    def post(self, path: str, **request: Any) -> httpx.Response:
        return _http().post(self.url + path, **request)


@functools.cache
def _http() -> httpx.Client:
    return httpx.Client(timeout=10)


@functools.cache
def _client(url: str, access_key: str | None, secret_key: str | None) -> Any:
    """One boto3 client per endpoint and credentials (None: unsigned), shared by the rows, as
    an application keeps one: making a client costs more than most calls it makes."""
    config = Config(retries={"max_attempts": 1})
    if access_key is None:
        config = config.merge(Config(signature_version=UNSIGNED))
    return boto3.client(
        "cognito-idp",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


@dataclass(frozen=True)
class Row:
    """One client operation or flow, run with the client named, against one endpoint."""

    id: str
    client: str
    description: str
    run: Callable[[Target], None]
    # What must be installed: a Python module name, "node:<package>" or "awscli".
    needs: tuple[str, ...] = ()


@dataclass
class Rows:
    """Rows a client family module declares with `@rows.row(...)`."""

    client: str
    needs: tuple[str, ...] = ()
    all: list[Row] = field(default_factory=list)

    def row(
        self, id: str, description: str, *, needs: tuple[str, ...] = ()
    ) -> Callable[[Callable[[Target], None]], Callable[[Target], None]]:
        def register(run: Callable[[Target], None]) -> Callable[[Target], None]:
            self.all.append(Row(id, self.client, description, run, self.needs + needs))
            return run

        return register


def missing(row: Row) -> str | None:
    """Why the row's client cannot run here (which install is missing), or None."""
    for need in row.needs:
        if need == "awscli":
            if not AWS_CLI.exists():
                return "AWS CLI v1 not installed in .venv/awscli (scripts/test installs it)"
        elif need.startswith("node:"):
            reason = missing_requirements([need.removeprefix("node:")])
            if reason:
                return reason
        elif importlib.util.find_spec(need) is None:
            return f"Python package {need} not installed"
    return None


def check(condition: object, message: str) -> None:
    if not condition:
        raise Mismatch(message)


def equal(actual: object, expected: object, what: str) -> None:
    if actual != expected:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


@contextmanager
def cognito_error(code: str | tuple[str, ...], message: str | None = None) -> Iterator[None]:
    """The block must fail with Cognito's error `code` (one of them, when Cognito documents
    several for the case) and, when given, `message` in its text."""
    codes = (code,) if isinstance(code, str) else code
    try:
        yield
    except ClientError as error:
        got = error.response.get("Error", {})
        if got.get("Code") not in codes:
            raise Mismatch(
                f"expected {code}, got {got.get('Code')}: {got.get('Message')}"
            ) from None
        if message is not None and message not in str(got.get("Message")):
            raise Mismatch(
                f"{code} message: expected {message!r}, got {got.get('Message')!r}"
            ) from None
        return
    raise Mismatch(f"expected {code}, but the call succeeded")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def secret_hash(username: str, client_id: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (for rows that verify separately or only read)."""
    return jwt.decode(token, options={"verify_signature": False})


def attribute(attributes: list[dict[str, str]], name: str) -> str | None:
    return next((a["Value"] for a in attributes if a["Name"] == name), None)


def verify_token(
    target: Target,
    pool_id: str,
    token: str,
    use: str,
    client_id: str,
    required: set[str] | None = None,
) -> dict[str, Any]:
    """Verify as Cognito's documentation says (RS256 under the pool's JWKS, iss, token_use,
    aud or client_id) and require every claim Cognito puts in that kind of token (a user's,
    unless `required` names another set)."""
    header = jwt.get_unverified_header(token)
    keys = {key["kid"]: key for key in target.jwks(pool_id)["keys"]}
    check(header.get("kid") in keys, f"token kid {header.get('kid')!r} is not in the pool's JWKS")
    equal(header.get("alg"), "RS256", "token alg")
    key = jwt.PyJWK(keys[header["kid"]]).key
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=target.issuer(pool_id),
            audience=client_id if use == "id" else None,
            options={"verify_aud": use == "id"},
        )
    except jwt.PyJWTError as error:
        raise Mismatch(f"{use} token does not verify: {error}") from None
    equal(payload.get("token_use"), use, "token_use")
    if required is None:
        required = ACCESS_CLAIMS if use == "access" else ID_CLAIMS
    absent = required - payload.keys()
    check(not absent, f"{use} token lacks Cognito's claims {sorted(absent)}")
    if use == "access":
        equal(payload["client_id"], client_id, "access token client_id")
    return payload


def verify_pair(
    target: Target, pool_id: str, access_token: str, id_token: str, client_id: str, username: str
) -> dict[str, Any]:
    """A sign-in's access and ID tokens verify, both name the user; the access claims."""
    access = verify_token(target, pool_id, access_token, "access", client_id)
    identity = verify_token(target, pool_id, id_token, "id", client_id)
    equal(access["username"], username, "access token username")
    equal(identity["cognito:username"], username, "ID token cognito:username")
    equal(access["sub"], identity["sub"], "sub of access and ID tokens")
    return access


def verify_sign_in(
    target: Target, pool_id: str, result: dict[str, Any], client_id: str, username: str
) -> dict[str, Any]:
    """An AuthenticationResult as Cognito's: Bearer, ExpiresIn, both tokens naming the user."""
    equal(result.get("TokenType"), "Bearer", "TokenType")
    check(isinstance(result.get("ExpiresIn"), int), "ExpiresIn missing")
    return verify_pair(
        target, pool_id, result["AccessToken"], result["IdToken"], client_id, username
    )

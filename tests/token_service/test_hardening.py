"""Hostile requests against a real token service: oversized bodies and parallel password guesses."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
    create_user,
    start_server,
    stop_server,
)
from token_service.settings import DEFAULT_MAX_BODY_BYTES, Settings, SettingsError

LIMIT = 4096
TARGET = "AWSCognitoIdentityProviderService.InitiateAuth"
COGNITO_HEADERS = {"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("limited"), TOKEN_SERVICE_MAX_BODY_BYTES=str(LIMIT)
    )
    yield server
    stop_server(server)


def _raw_exchange(server: Server, head: str, body_parts: list[bytes]) -> tuple[int, dict, bytes]:
    """Send a request head and the given body bytes on a plain socket; read the answer.

    A socket, not an HTTP client, so the test controls what is sent: a Content-Length far
    beyond what is ever written, or chunks that stop once they pass the limit.
    """
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode())
        for part in body_parts:
            sock.sendall(part)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    header_block, _, body = answer.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (h.split(": ", 1) for h in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _head(path: str, extra: str) -> str:
    target = f"X-Amz-Target: {TARGET}\r\n" if path == "/" else ""
    return f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{target}{extra}\r\n"


def test_a_declared_length_over_the_limit_is_refused_before_the_body(limited):
    # 400 MB announced, not one byte sent: the answer comes at once.
    status, headers, body = _raw_exchange(
        limited,
        _head("/", "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 400000000\r\n"),
        [],
    )
    assert status == 413
    assert headers["x-amzn-errortype"] == "RequestTooLargeException"
    assert json.loads(body) == {
        "__type": "RequestTooLargeException",
        "message": f"The request body is larger than {LIMIT} bytes.",
    }


def test_oauth2_endpoints_answer_in_the_oauth_shape(limited):
    extra = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400000000\r\n"
    for path in ("/oauth2/token", "/oauth2/revoke"):
        status, _, body = _raw_exchange(limited, _head(path, extra), [])
        assert status == 413
        assert json.loads(body)["error"] == "invalid_request"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_chunked_body_is_cut_off_at_the_limit(limited):
    head = _head("/", "Content-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n")
    # One byte past the limit, in 1 KiB chunks, and no final chunk: the server stops reading.
    parts = [_chunk(b" " * 1024) for _ in range(LIMIT // 1024)] + [_chunk(b" ")]
    status, _, body = _raw_exchange(limited, head, parts)
    assert status == 413
    assert json.loads(body)["__type"] == "RequestTooLargeException"
    assert "Traceback" not in limited.log()


def test_a_body_at_the_limit_is_read(limited):
    body = json.dumps({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "x"}).encode()
    padded = body[:-1] + b" " * (LIMIT - len(body)) + b"}"
    response = httpx.post(limited.url + "/", content=padded, headers=COGNITO_HEADERS)
    assert response.status_code == 400
    assert response.json()["__type"] != "RequestTooLargeException"
    chunked = httpx.post(limited.url + "/", content=iter([padded]), headers=COGNITO_HEADERS)
    assert chunked.json()["__type"] == response.json()["__type"]


def test_the_limit_setting(monkeypatch):
    monkeypatch.delenv("TOKEN_SERVICE_MAX_BODY_BYTES", raising=False)
    assert Settings.from_env().max_body_bytes == DEFAULT_MAX_BODY_BYTES == 1 << 20
    monkeypatch.setenv("TOKEN_SERVICE_MAX_BODY_BYTES", "10")
    with pytest.raises(SettingsError, match="TOKEN_SERVICE_MAX_BODY_BYTES"):
        Settings.from_env()


# --- access tokens with a kid of the pool's RSA key under another alg, over HTTP ---------------


def test_a_confused_access_token_is_refused_by_every_endpoint_that_takes_one(
    server, pool, cognito, unsigned_cognito, http
):
    create_user(cognito, pool.id, "confused")
    signed_in = unsigned_cognito.initiate_auth(
        ClientId=pool.public_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "confused", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    claims = jwt.decode(signed_in, options={"verify_signature": False})
    kid = jwt.get_unverified_header(signed_in)["kid"]
    for curve, alg in ((ec.SECP256R1(), "ES256"), (ec.SECP384R1(), "ES384")):
        token = jwt.encode(claims, ec.generate_private_key(curve), alg, headers={"kid": kid})
        info = http.get("/oauth2/userInfo", headers={"Authorization": f"Bearer {token}"})
        assert (info.status_code, info.json()["error"]) == (401, "invalid_token")
        for operation in ("GetUser", "GlobalSignOut"):
            target = {**COGNITO_HEADERS, "X-Amz-Target": f"{TARGET.rsplit('.', 1)[0]}.{operation}"}
            answer = http.post("/", json={"AccessToken": token}, headers=target)
            assert (answer.status_code, answer.json()["__type"]) == (400, "NotAuthorizedException")
    assert unsigned_cognito.get_user(AccessToken=signed_in)["Username"] == "confused"
    assert "Traceback" not in server.log()


# --- lockout under concurrency, on SQLite and PostgreSQL ------------------------------------

THRESHOLD = 5
BURST = 24


@pytest.fixture
def lockout_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    server = start_server(
        tmp_path,
        TOKEN_SERVICE_DATABASE_URL=database_url,
        TOKEN_SERVICE_LOCKOUT_THRESHOLD=str(THRESHOLD),
        TOKEN_SERVICE_LOCKOUT_SECONDS="600",
        # A password check slow enough (about 10 ms) that parallel requests overlap in it.
        TOKEN_SERVICE_ARGON2_TIME_COST="2",
        TOKEN_SERVICE_ARGON2_MEMORY_KIB="8192",
    )
    yield server
    stop_server(server)


def _user_client(server: Server, username: str) -> str:
    cognito = cognito_client(server.url)
    pool_id = cognito.create_user_pool(
        PoolName=f"lockout-{username}",
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]
    create_user(cognito, pool_id, username)
    return str(client["ClientId"])


def _sign_in(server: Server, client_id: str, username: str, password: str) -> dict[str, Any]:
    body = {
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": client_id,
        "AuthParameters": {"USERNAME": username, "PASSWORD": password},
    }
    response = httpx.post(server.url + "/", json=body, headers=COGNITO_HEADERS, timeout=60)
    return response.json()


def test_parallel_wrong_passwords_are_evaluated_up_to_the_threshold_only(lockout_server):
    client_id = _user_client(lockout_server, "burst")
    start = threading.Barrier(BURST)

    def guess(i: int) -> str:
        start.wait()
        answer = _sign_in(lockout_server, client_id, "burst", f"Wr0ng!guess{i}")
        return str(answer.get("message"))

    with ThreadPoolExecutor(BURST) as pool:
        messages = Counter(pool.map(guess, range(BURST)))
    # The threshold-th failure itself answers "exceeded": so threshold - 1 say "incorrect".
    assert messages == {
        "Incorrect username or password.": THRESHOLD - 1,
        "Password attempts exceeded": BURST - THRESHOLD + 1,
    }
    answer = _sign_in(lockout_server, client_id, "burst", PASSWORD)
    assert answer == {"__type": "NotAuthorizedException", "message": "Password attempts exceeded"}


def test_parallel_first_failures_of_an_unknown_username_are_all_counted(lockout_server):
    """The failure row does not exist yet when the burst starts: it must still serialize."""
    client_id = _user_client(lockout_server, "known")
    start = threading.Barrier(THRESHOLD)

    def guess(i: int) -> str:
        start.wait()
        return str(_sign_in(lockout_server, client_id, "nobody", f"guess{i}").get("message"))

    with ThreadPoolExecutor(THRESHOLD) as pool:
        messages = Counter(pool.map(guess, range(THRESHOLD)))
    assert messages == {
        "Incorrect username or password.": THRESHOLD - 1,
        "Password attempts exceeded": 1,
    }

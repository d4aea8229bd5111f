"""A hosted sign-in completes with a hosted session and a code, minting no tokens of its own.

The store is read directly (the server's own SQLite file) to count the sign-in rows
(refresh tokens) a user has: the code's redemption must be the only one.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx

from tests.token_service.conftest import Server, create_user
from tests.token_service.test_authorize import (
    authorize_params,
    make_oauth_pool,
    pkce,
    redeem,
    sign_in,
)


def refresh_rows(server: Server, sub: str) -> list[tuple[Any, ...]]:
    path = server.env["TOKEN_SERVICE_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        query = "SELECT origin_jti, revoked_at FROM refresh_tokens WHERE user_sub = ?"
        return db.execute(query, (sub,)).fetchall()


def test_a_hosted_sign_in_writes_only_the_refresh_token_its_code_redeems(
    cognito: Any, server: Server
) -> None:
    pool = make_oauth_pool(cognito, "completion")
    sub = create_user(cognito, pool.id, "carol")
    verifier, challenge = pkce()
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        code = sign_in(browser, authorize_params(pool.spa, challenge), "carol")["code"]
    assert refresh_rows(server, sub) == []
    with httpx.Client(base_url=server.url, timeout=10) as http:
        answer = redeem(http, pool.spa, code, verifier)
    assert answer.status_code == 200, answer.text
    rows = refresh_rows(server, sub)
    assert len(rows) == 1 and rows[0][1] is None  # one live sign-in: the app's

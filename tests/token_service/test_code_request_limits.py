"""Codes per user and purpose are limited (LimitExceededException), in the store: the same for a
username without a user, shared by every process serving the database, and over any hour."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
    start_server,
    stop_server,
)
from tests.token_service.test_accounts import MailPool, make_mail_pool
from tests.token_service.test_delivery import CODE, outbox_records
from token_service.accounts.limits import HOUR, CodeRequestLimit
from token_service.errors import LimitExceeded
from token_service.store.repositories import Store

PER_HOUR = 3
TOO_MANY = ("LimitExceededException", "Attempt limit exceeded, please try after some time.")


def _refused(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The outbox as delivery, and three codes per user and purpose an hour."""
    running = start_server(
        tmp_path_factory.mktemp("limits"), TOKEN_SERVICE_CODE_REQUESTS_PER_HOUR=str(PER_HOUR)
    )
    yield running
    stop_server(running)


def _user(admin: Any, pool: MailPool) -> tuple[str, str]:
    name = f"l{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.com"
    admin.admin_create_user(
        UserPoolId=pool.id,
        Username=name,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    admin.admin_set_user_password(
        UserPoolId=pool.id, Username=name, Password=PASSWORD, Permanent=True
    )
    return name, email


def test_forgot_password_is_limited_per_user_and_purpose(limited: Server) -> None:
    admin = cognito_client(limited.url)
    public = cognito_client(limited.url, signature_version=UNSIGNED)
    pool = make_mail_pool(admin)
    name, email = _user(admin, pool)
    for _ in range(PER_HOUR):
        public.forgot_password(ClientId=pool.client, Username=name)
    assert _refused(public.forgot_password, ClientId=pool.client, Username=name) == TOO_MANY
    # An administrator's reset sends the same kind of code: refused too, and nothing changes.
    assert _refused(admin.admin_reset_user_password, UserPoolId=pool.id, Username=name) == (
        TOO_MANY
    )
    assert admin.admin_get_user(UserPoolId=pool.id, Username=name)["UserStatus"] == "CONFIRMED"
    sent = outbox_records(limited, "--to", email)
    assert len(sent) == PER_HOUR
    # The limit stops new codes, not the last one sent.
    code = CODE.search(sent[0]["body"])
    assert code is not None
    public.confirm_forgot_password(
        ClientId=pool.client, Username=name, ConfirmationCode=code.group(1), Password=PASSWORD
    )

    # Another purpose has its own count.
    token = public.initiate_auth(
        ClientId=pool.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    for _ in range(PER_HOUR):
        public.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    assert (
        _refused(
            public.get_user_attribute_verification_code, AccessToken=token, AttributeName="email"
        )
        == TOO_MANY
    )
    # Changing the address again and again mails no one more often; the change is refused.
    moved = _refused(
        public.update_user_attributes,
        AccessToken=token,
        UserAttributes=[{"Name": "email", "Value": f"moved-{email}"}],
    )
    assert moved == TOO_MANY
    attributes = admin.admin_get_user(UserPoolId=pool.id, Username=name)["UserAttributes"]
    assert {"Name": "email", "Value": email} in attributes
    assert len(outbox_records(limited, "--to", email)) == 2 * PER_HOUR
    assert outbox_records(limited, "--to", f"moved-{email}") == []


def test_resend_confirmation_code_counts_the_sign_up_code(limited: Server) -> None:
    admin = cognito_client(limited.url)
    public = cognito_client(limited.url, signature_version=UNSIGNED)
    pool = make_mail_pool(admin)
    name = f"s{uuid.uuid4().hex[:8]}"
    public.sign_up(
        ClientId=pool.client,
        Username=name,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
    )
    for _ in range(PER_HOUR - 1):
        public.resend_confirmation_code(ClientId=pool.client, Username=name)
    refused = _refused(public.resend_confirmation_code, ClientId=pool.client, Username=name)
    assert refused == TOO_MANY


def test_a_username_without_a_user_reaches_the_same_limit(limited: Server) -> None:
    admin = cognito_client(limited.url)
    public = cognito_client(limited.url, signature_version=UNSIGNED)
    pool = make_mail_pool(admin)
    ghost = f"ghost{uuid.uuid4().hex[:8]}"
    for _ in range(PER_HOUR):
        public.forgot_password(ClientId=pool.client, Username=ghost)
    assert _refused(public.forgot_password, ClientId=pool.client, Username=ghost) == TOO_MANY
    # The name is counted as asked for, whatever its case.
    refused = _refused(public.forgot_password, ClientId=pool.client, Username=ghost.upper())
    assert refused == TOO_MANY
    for _ in range(PER_HOUR):
        public.resend_confirmation_code(ClientId=pool.client, Username=ghost)
    refused = _refused(public.resend_confirmation_code, ClientId=pool.client, Username=ghost)
    assert refused == TOO_MANY
    # A LEGACY client admits the name is unknown: there is nothing to count.
    assert _refused(public.forgot_password, ClientId=pool.legacy, Username=ghost)[0] == (
        "UserNotFoundException"
    )


def test_every_process_serving_the_database_shares_the_count(tmp_path: Path) -> None:
    shared = {
        "TOKEN_SERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}",
        "TOKEN_SERVICE_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "TOKEN_SERVICE_CODE_REQUESTS_PER_HOUR": str(PER_HOUR),
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start_server(tmp_path / "a", **shared)
    second = start_server(tmp_path / "b", **shared)
    try:
        pool = make_mail_pool(cognito_client(first.url))
        name, _ = _user(cognito_client(first.url), pool)
        clients = [
            cognito_client(s.url, signature_version=UNSIGNED) for s in (first, second, first)
        ]
        for username in (name, f"ghost{uuid.uuid4().hex[:8]}"):
            for client in clients:
                client.forgot_password(ClientId=pool.client, Username=username)
            for client in clients[:2]:
                refused = _refused(client.forgot_password, ClientId=pool.client, Username=username)
                assert refused == TOO_MANY
    finally:
        stop_server(first)
        stop_server(second)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path_factory.mktemp('limit') / 'limit.db'}")
    yield opened
    opened.dispose()


@settings(max_examples=60, deadline=None)
@given(
    per_hour=st.integers(min_value=1, max_value=4),
    gaps=st.lists(st.floats(min_value=0, max_value=2 * HOUR), min_size=1, max_size=12),
)
def test_at_most_the_limit_in_any_hour(store: Store, per_hour: int, gaps: list[float]) -> None:
    limit = CodeRequestLimit(per_hour, b"k" * 32)
    requester, now, granted = f"sub:{uuid.uuid4()}", 1_000_000.0, []
    for gap in gaps:
        now += gap
        expected = sum(1 for t in granted if t > now - HOUR) < per_hour
        try:
            with store.transaction() as repo:
                limit.take(repo, "us-east-1_Limit0000", requester, "forgot_password", now)
            granted.append(now)
            assert expected
        except LimitExceeded:
            assert not expected

"""Message delivery: the outbox (the embedded default), SMTP with AUTH, delivery failures that
void the code and are on record, the SMTP URL setting, message templates, and the one-time code
check itself."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import (
    FAST_ARGON2,
    PASSWORD,
    Server,
    cli_command,
    cognito_client,
    server_env,
    start_server,
    stop_server,
)
from tests.token_service.mailbox import SmtpServer, tls_files
from tests.token_service.test_accounts import make_mail_pool
from token_service.accounts.codes import Codes
from token_service.accounts.delivery import (
    Message,
    SmtpMailer,
    SmtpTarget,
    verification_message,
)
from token_service.errors import CodeDeliveryFailure, CodeMismatch, ExpiredCode, LimitExceeded
from token_service.services import Services, build_services
from token_service.settings import Settings
from token_service.store.models import Pool, User

CODE = re.compile(r"\b(\d{6})\b")


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def outbox_records(server: Server, *args: str) -> list[dict[str, Any]]:
    """`token-service outbox --json`, as an operator runs it."""
    listed = server.cli("outbox", "--json", *args)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


@pytest.fixture(scope="module")
def outbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No TOKEN_SERVICE_SMTP_URL: the outbox table is the delivery."""
    running = start_server(tmp_path_factory.mktemp("outbox"))
    yield running
    stop_server(running)


# the outbox, read through the CLI


def test_without_smtp_the_outbox_holds_the_code(outbox_server: Server) -> None:
    admin = cognito_client(outbox_server.url)
    public = cognito_client(outbox_server.url, signature_version=UNSIGNED)
    pool = make_mail_pool(admin)
    name = f"o{uuid.uuid4().hex[:8]}"
    email = f"{name}@example.com"
    public.sign_up(
        ClientId=pool.client,
        Username=name,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    messages = outbox_records(outbox_server, "--pool", pool.id, "--to", email.upper())
    assert [(m["medium"], m["to"], m["delivered_by"]) for m in messages] == [
        ("EMAIL", email, "outbox")
    ]
    assert messages[0]["subject"] == "Your verification code"
    match = CODE.fullmatch(messages[0]["body"].removeprefix("Your verification code is ")[:-1])
    assert match, messages[0]["body"]
    public.confirm_sign_up(ClientId=pool.client, Username=name, ConfirmationCode=match.group(1))

    public.forgot_password(ClientId=pool.client, Username=name)
    newest = outbox_records(outbox_server, "--pool", pool.id, "--to", email, "--limit", "1")
    assert len(newest) == 1 and newest[0]["id"] > messages[0]["id"]
    assert outbox_records(outbox_server, "--pool", pool.id, "--to", "nobody@example.com") == []
    text = outbox_server.cli("outbox", "--pool", pool.id)
    assert text.returncode == 0 and f"to={email}" in text.stdout
    refused = outbox_server.cli("outbox", "--limit", "0")
    assert refused.returncode == 1 and "--limit" in refused.stderr


def test_sms_codes_and_the_pools_template_go_to_the_outbox(outbox_server: Server) -> None:
    admin = cognito_client(outbox_server.url)
    public = cognito_client(outbox_server.url, signature_version=UNSIGNED)
    pool_id = admin.create_user_pool(
        PoolName="sms",
        AutoVerifiedAttributes=["phone_number"],
        VerificationMessageTemplate={
            "SmsMessage": "Acme code: {####}",
            "EmailMessage": "Acme mail code {####} - thanks",
            "EmailSubject": "Acme verification",
        },
    )["UserPool"]["Id"]
    client = admin.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    phone = "+15550001234"
    signed_up = public.sign_up(
        ClientId=client,
        Username="phoney",
        Password=PASSWORD,
        UserAttributes=[
            {"Name": "phone_number", "Value": phone},
            {"Name": "email", "Value": "phoney@example.com"},
        ],
    )
    assert signed_up["CodeDeliveryDetails"] == {
        "Destination": "+*******1234",
        "DeliveryMedium": "SMS",
        "AttributeName": "phone_number",
    }
    [sms] = outbox_records(outbox_server, "--to", phone)
    assert sms["medium"] == "SMS" and sms["subject"] == ""
    code = re.fullmatch(r"Acme code: (\d{6})", sms["body"])
    assert code, sms["body"]
    public.confirm_sign_up(ClientId=client, Username="phoney", ConfirmationCode=code.group(1))
    token = public.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "phoney", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    attributes = {
        a["Name"]: a["Value"] for a in public.get_user(AccessToken=token)["UserAttributes"]
    }
    assert attributes["phone_number_verified"] == "true"
    assert attributes["email_verified"] == "false"
    public.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    [mail] = outbox_records(outbox_server, "--to", "phoney@example.com")
    assert mail["subject"] == "Acme verification"
    assert re.fullmatch(r"Acme mail code \d{6} - thanks", mail["body"]), mail["body"]


# SMTP


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_with_credentials(tmp_path: Path) -> None:
    smtp = SmtpServer(credentials=("mailer", "p@ss word"))
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = start_server(
        tmp_path / "good",
        TOKEN_SERVICE_SMTP_URL=f"smtp://mailer:p%40ss%20word@127.0.0.1:{smtp.port}",
    )
    # A refused login leaves the exchange hanging until the SMTP timeout.
    bad = start_server(
        tmp_path / "bad",
        TOKEN_SERVICE_SMTP_URL=f"smtp://mailer:wrong@127.0.0.1:{smtp.port}",
        TOKEN_SERVICE_SMTP_TIMEOUT_SECONDS="1",
    )
    try:
        for server, delivered in ((good, True), (bad, False)):
            admin = cognito_client(server.url)
            public = cognito_client(server.url, signature_version=UNSIGNED)
            pool = make_mail_pool(admin)
            email = f"{uuid.uuid4().hex[:8]}@example.com"
            arguments = {
                "ClientId": pool.client,
                "Username": email.split("@")[0],
                "Password": PASSWORD,
                "UserAttributes": [{"Name": "email", "Value": email}],
            }
            if delivered:
                public.sign_up(**arguments)
                assert CODE.search(smtp.mailbox.to(email)[0].get_payload(decode=True).decode())
            else:
                failed = _error(public.sign_up, **arguments)
                assert failed["Error"]["Code"] == "CodeDeliveryFailureException"
                assert smtp.mailbox.to(email) == []
            # The password never reaches the log, nor an error message.
            assert "p@ss" not in server.log() and "wrong" not in server.log()
        assert smtp.logins == [("mailer", True), ("mailer", False)]
    finally:
        stop_server(good)
        stop_server(bad)
        smtp.stop()


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "smtps"])
def test_smtp_over_tls_verifies_the_servers_certificate(tmp_path: Path, implicit_tls: bool) -> None:
    ca_file, context = tls_files(tmp_path)
    smtp = SmtpServer(tls=context, implicit_tls=implicit_tls)
    url = smtp.url if implicit_tls else f"{smtp.url}?starttls=true"
    (tmp_path / "trusted").mkdir()
    (tmp_path / "untrusted").mkdir()
    # The trusting server knows the test CA; the other has only the system's CAs.
    trusting = start_server(
        tmp_path / "trusted", TOKEN_SERVICE_SMTP_URL=url, SSL_CERT_FILE=str(ca_file)
    )
    untrusting = start_server(tmp_path / "untrusted", TOKEN_SERVICE_SMTP_URL=url)
    try:
        for server, delivered in ((trusting, True), (untrusting, False)):
            public = cognito_client(server.url, signature_version=UNSIGNED)
            pool = make_mail_pool(cognito_client(server.url))
            email = f"{uuid.uuid4().hex[:8]}@example.com"
            arguments = {
                "ClientId": pool.client,
                "Username": email.split("@")[0],
                "Password": PASSWORD,
                "UserAttributes": [{"Name": "email", "Value": email}],
            }
            if delivered:
                public.sign_up(**arguments)
                assert len(smtp.mailbox.to(email)) == 1
            else:
                failed = _error(public.sign_up, **arguments)
                assert failed["Error"]["Code"] == "CodeDeliveryFailureException"
                assert smtp.mailbox.to(email) == []
    finally:
        stop_server(trusting)
        stop_server(untrusting)
        smtp.stop()


def test_smtp_down_fails_the_operation_and_voids_the_code(tmp_path: Path) -> None:
    down = SmtpServer()
    down.stop()  # nothing listens on its port any more
    server = start_server(tmp_path, TOKEN_SERVICE_SMTP_URL=down.url)
    try:
        admin = cognito_client(server.url)
        public = cognito_client(server.url, signature_version=UNSIGNED)
        pool = make_mail_pool(admin)
        failed = _error(
            public.sign_up,
            ClientId=pool.client,
            Username="nomail",
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "nomail@example.com"}],
        )
        assert failed["Error"]["Code"] == "CodeDeliveryFailureException"
        assert failed["Error"]["Message"] == "Unable to deliver the verification code."
        # As in Cognito, the user exists, unconfirmed; the code that never arrived is void.
        signed_up = admin.admin_get_user(UserPoolId=pool.id, Username="nomail")
        assert signed_up["UserStatus"] == "UNCONFIRMED"
        unconfirmed = _error(
            public.confirm_sign_up,
            ClientId=pool.client,
            Username="nomail",
            ConfirmationCode="123456",
        )
        assert unconfirmed["Error"]["Code"] == "CodeMismatchException"

        for name in ("known", "other"):
            admin.admin_create_user(
                UserPoolId=pool.id,
                Username=name,
                UserAttributes=[
                    {"Name": "email", "Value": f"{name}@example.com"},
                    {"Name": "email_verified", "Value": "true"},
                ],
                MessageAction="SUPPRESS",
            )
            admin.admin_set_user_password(
                UserPoolId=pool.id, Username=name, Password=PASSWORD, Permanent=True
            )
        reset = _error(public.forgot_password, ClientId=pool.client, Username="known")
        assert reset["Error"]["Code"] == "CodeDeliveryFailureException"
        no_code = _error(
            public.confirm_forgot_password,
            ClientId=pool.client,
            Username="known",
            ConfirmationCode="123456",
            Password="N3w-Passw0rd!",
        )
        assert no_code["Error"]["Code"] == "CodeMismatchException"
        token = public.initiate_auth(
            ClientId=pool.client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "known", "PASSWORD": PASSWORD},
        )["AuthenticationResult"]["AccessToken"]
        update = _error(
            public.update_user_attributes,
            AccessToken=token,
            UserAttributes=[{"Name": "email", "Value": "moved@example.com"}],
        )
        assert update["Error"]["Code"] == "CodeDeliveryFailureException"
        user = admin.admin_get_user(UserPoolId=pool.id, Username="known")
        attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
        assert (attributes["email"], attributes["email_verified"]) == (
            "moved@example.com",
            "false",
        )
        not_coded = _error(
            public.verify_user_attribute,
            AccessToken=token,
            AttributeName="email",
            Code="123456",
        )
        assert not_coded["Error"]["Code"] == "CodeMismatchException"
        reset_by_admin = _error(
            admin.admin_reset_user_password, UserPoolId=pool.id, Username="other"
        )
        assert reset_by_admin["Error"]["Code"] == "CodeDeliveryFailureException"
        assert admin.admin_get_user(UserPoolId=pool.id, Username="other")["UserStatus"] == (
            "RESET_REQUIRED"
        )
        # Every failure is on record for the operator, without a code.
        records = outbox_records(server)
        assert [(m["to"], m["status"], m["delivered_by"]) for m in records] == [
            ("other@example.com", "failed", "smtp"),
            ("moved@example.com", "failed", "smtp"),
            ("known@example.com", "failed", "smtp"),
            ("nomail@example.com", "failed", "smtp"),
        ]
        assert all(not CODE.search(m["body"]) for m in records)
        assert "Traceback" not in server.log()
    finally:
        stop_server(server)


def test_a_malformed_smtp_url_stops_the_service(tmp_path: Path) -> None:
    for url in (
        "http://mail.example.com",
        "smtp://",
        "smtp://mailer:s3cretpw@host:notaport",
        "smtp://host?starttls=maybe",
    ):
        refused = subprocess.run(
            [*cli_command(), "outbox"],
            env=server_env(tmp_path, TOKEN_SERVICE_SMTP_URL=url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 1, url
        assert refused.stderr.startswith("token-service: error: TOKEN_SERVICE_SMTP_URL"), url
        assert "s3cretpw" not in refused.stderr


def test_smtp_urls() -> None:
    assert SmtpTarget.parse("smtp://mail.example.com") == SmtpTarget(
        "mail.example.com", 25, False, False, None, None
    )
    assert SmtpTarget.parse("smtps://u%3Ax:p%2Fw@mail.example.com") == SmtpTarget(
        "mail.example.com", 465, True, False, "u:x", "p/w"
    )
    assert SmtpTarget.parse("smtp://mail.example.com:587?starttls=true") == SmtpTarget(
        "mail.example.com", 587, False, True, None, None
    )


@given(
    user=st.text(min_size=1, max_size=20),
    password=st.text(min_size=1, max_size=20),
    port=st.integers(min_value=1, max_value=65535),
    secure=st.booleans(),
    starttls=st.booleans(),
)
def test_smtp_url_credentials_round_trip(
    user: str, password: str, port: int, secure: bool, starttls: bool
) -> None:
    scheme = "smtps" if secure else "smtp"
    url = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@mail.example.com:{port}"
    parsed = SmtpTarget.parse(url + ("?starttls=true" if starttls else ""))
    assert parsed == SmtpTarget("mail.example.com", port, secure, starttls, user, password)


# templates


def _pool(extra: dict[str, Any] | None) -> Pool:
    return Pool(id="us-east-1_TemplateA", extra=extra)


def test_templates_fall_back_to_cognitos_defaults() -> None:
    default = verification_message(_pool(None), "EMAIL", "a@example.com", "123456")
    assert (default.subject, default.body) == (
        "Your verification code",
        "Your verification code is 123456.",
    )
    assert "123456" not in default.audit_body
    legacy = verification_message(
        _pool({"EmailVerificationMessage": "Code {####}!", "EmailVerificationSubject": "Hi"}),
        "EMAIL",
        "a@example.com",
        "654321",
    )
    assert (legacy.subject, legacy.body) == ("Hi", "Code 654321!")
    # A template without the placeholder would deliver no code: the default is used instead.
    broken = verification_message(
        _pool({"VerificationMessageTemplate": {"SmsMessage": "no code here"}}), "SMS", "+1", "1"
    )
    assert broken.body == "Your verification code is 1."


# the code check, as a property


def _code_services(database_url: str, key_file: Path) -> tuple[Services, User]:
    """The real services on their own store, with one user to send codes to."""
    settings = Settings(
        database_url=database_url,
        key_file=str(key_file),
        code_max_attempts=3,
        argon2_time_cost=int(FAST_ARGON2["TOKEN_SERVICE_ARGON2_TIME_COST"]),
        argon2_memory_kib=int(FAST_ARGON2["TOKEN_SERVICE_ARGON2_MEMORY_KIB"]),
        argon2_parallelism=int(FAST_ARGON2["TOKEN_SERVICE_ARGON2_PARALLELISM"]),
    )
    services = build_services(settings)
    pool = services.admin.create_pool("codes")
    return services, services.admin.create_user(pool.id, "coder", {})


@pytest.fixture(scope="module")
def code_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, User]]:
    tmp = tmp_path_factory.mktemp("codes")
    services, user = _code_services(f"sqlite:///{tmp / 'codes.db'}", tmp / "key")
    yield services, user
    services.core.store.dispose()


@settings(max_examples=150, deadline=None)
@given(guess=st.one_of(st.from_regex(r"\A\d{6}\Z"), st.text(max_size=12)), reuse=st.booleans())
def test_only_the_exact_live_code_passes(
    code_store: tuple[Services, User], guess: str, reuse: bool
) -> None:
    services, user = code_store
    codes: Codes = services.accounts.codes
    store, now = services.core.store, 1_000_000.0
    with store.transaction() as repo:
        code = codes.issue(repo, user, "signup", now)
    assert re.fullmatch(r"\d{6}", code)
    with store.transaction() as repo:
        failure = codes.check(repo, user, "signup", guess, now + 1)
    if guess == code:
        assert failure is None
    else:
        assert isinstance(failure, CodeMismatch)
    if reuse or guess == code:
        with store.transaction() as repo:
            second = codes.check(repo, user, "signup", code, now + 2)
        # The right code passes once, never twice.
        assert (second is None) == (guess != code)
    with store.transaction() as repo:
        late = codes.check(repo, user, "signup", code, now + codes.lifetime("signup") + 1)
    assert isinstance(late, ExpiredCode)


@pytest.mark.parametrize(
    ("destination", "subject"),
    [
        ("victim@example.com\r\nBcc: attacker@example.com", "Your code"),
        ("victim@example.com", "Your code\r\nBcc: attacker@example.com"),
    ],
)
def test_a_message_smtp_cannot_carry_is_a_delivery_failure(destination: str, subject: str) -> None:
    smtp = SmtpServer()
    mailer = SmtpMailer(SmtpTarget.parse(smtp.url), "auth@example.test", 5)
    message = Message("us-east-1_Mailer000", "EMAIL", destination, subject, "1", "x")
    try:
        with pytest.raises(CodeDeliveryFailure):
            mailer.transmit(message)
        assert smtp.mailbox.messages == []
    finally:
        smtp.stop()


def test_wrong_guesses_void_the_code(database_url: str, tmp_path: Path) -> None:
    services, user = _code_services(database_url, tmp_path / "key")
    codes, store, now = services.accounts.codes, services.core.store, 2_000_000.0
    try:
        with store.transaction() as repo:
            code = codes.issue(repo, user, "forgot_password", now)
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        results = []
        for guess in (wrong, wrong, wrong, code):
            with store.transaction() as repo:
                results.append(type(codes.check(repo, user, "forgot_password", guess, now)))
        assert results == [CodeMismatch, CodeMismatch, LimitExceeded, LimitExceeded]

        with store.transaction() as repo:
            fresh = codes.issue(repo, user, "forgot_password", now)
            stored = repo.verification_code(user.sub, "forgot_password")
            assert stored is not None and fresh not in stored.code_hash

        def guess(_: int) -> str:
            with store.transaction() as repo:
                failure = codes.check(repo, user, "forgot_password", wrong, now)
            return type(failure).__name__

        # Each check locks the code's row: parallel guesses are counted one after the other.
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = sorted(pool.map(guess, range(6)))
        assert answers == ["CodeMismatch"] * 2 + ["LimitExceeded"] * 4
    finally:
        services.core.store.dispose()

"""Self-service accounts end to end: a real token server sending mail to a real SMTP server.

The token server runs with TOKEN_SERVICE_SMTP_URL pointing at aiosmtpd in this process; codes
are read from the mail it received, as a user would read them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from pycognito import Cognito

from tests.token_service.conftest import (
    ACCESS_KEY_ID,
    PASSWORD,
    SECRET_ACCESS_KEY,
    Server,
    cognito_client,
    start_server,
    stop_server,
)
from tests.token_service.mailbox import SmtpServer

NEW_PASSWORD = "N3w-Passw0rd!"
pytestmark = pytest.mark.e2e


@dataclass
class MailPool:
    """A pool that auto-verifies email, with a public, a confidential and a LEGACY client."""

    id: str
    client: str
    confidential: str
    secret: str
    legacy: str


def _secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def _code_of(response: dict[str, Any]) -> str:
    return str(response["Error"]["Code"])


def make_mail_pool(cognito: Any, **pool_args: Any) -> MailPool:
    pool_id = cognito.create_user_pool(
        PoolName=f"accounts-{uuid.uuid4().hex[:6]}", AutoVerifiedAttributes=["email"], **pool_args
    )["UserPool"]["Id"]
    flows = [
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    public = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=flows
    )["UserPoolClient"]
    confidential = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="backend", GenerateSecret=True, ExplicitAuthFlows=flows
    )["UserPoolClient"]
    legacy = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="legacy",
        ExplicitAuthFlows=flows,
        PreventUserExistenceErrors="LEGACY",
    )["UserPoolClient"]
    return MailPool(
        pool_id,
        public["ClientId"],
        confidential["ClientId"],
        confidential["ClientSecret"],
        legacy["ClientId"],
    )


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("accounts"),
        TOKEN_SERVICE_SMTP_URL=smtp.url,
        TOKEN_SERVICE_MAIL_FROM="auth@example.test",
        TOKEN_SERVICE_CODE_MAX_ATTEMPTS="3",
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def admin(mail_server: Server) -> Any:
    return cognito_client(mail_server.url)


@pytest.fixture(scope="module")
def public(mail_server: Server) -> Any:
    """Unsigned, as an app in a browser or on a phone calls these operations."""
    return cognito_client(mail_server.url, signature_version=UNSIGNED)


@pytest.fixture(scope="module")
def mail_pool(admin: Any) -> MailPool:
    return make_mail_pool(admin)


def _address() -> tuple[str, str]:
    name = f"u{uuid.uuid4().hex[:10]}"
    return name, f"{name}@example.com"


def _sign_up(public: Any, pool: MailPool, username: str, email: str) -> dict[str, Any]:
    return public.sign_up(
        ClientId=pool.client,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )


def _confirmed_user(public: Any, smtp: SmtpServer, pool: MailPool) -> tuple[str, str]:
    username, email = _address()
    _sign_up(public, pool, username, email)
    public.confirm_sign_up(
        ClientId=pool.client, Username=username, ConfirmationCode=smtp.mailbox.last_code(email)
    )
    return username, email


def _sign_in(public: Any, pool: MailPool, username: str, password: str = PASSWORD) -> str:
    result = public.initiate_auth(
        ClientId=pool.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["AccessToken"])


def _pycognito(server: Server, pool: MailPool, username: str) -> Cognito:
    """pycognito's client for one user; admin credentials for its Admin* calls."""
    return Cognito(
        pool.id,
        pool.client,
        username=username,
        access_key=ACCESS_KEY_ID,
        secret_key=SECRET_ACCESS_KEY,
        boto3_client_kwargs={"endpoint_url": server.url},
    )


def _attributes(public: Any, access_token: str) -> dict[str, str]:
    user = public.get_user(AccessToken=access_token)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


# sign-up


def test_sign_up_mails_a_code_and_the_user_signs_in_only_once_confirmed(
    public: Any, admin: Any, smtp: SmtpServer, mail_pool: MailPool, mail_server: Server
) -> None:
    username, email = _address()
    signed_up = _sign_up(public, mail_pool, username, email)
    assert signed_up["UserConfirmed"] is False
    assert str(uuid.UUID(signed_up["UserSub"])) == signed_up["UserSub"]
    assert signed_up["CodeDeliveryDetails"] == {
        "Destination": f"{username[0]}***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    mail = smtp.mailbox.to(email)[-1]
    assert mail["From"] == "auth@example.test"
    assert mail["Subject"] == "Your verification code"
    code = smtp.mailbox.last_code(email)
    assert mail.get_payload(decode=True).decode().strip() == f"Your verification code is {code}."
    user = admin.admin_get_user(UserPoolId=mail_pool.id, Username=username)
    assert user["UserStatus"] == "UNCONFIRMED"

    # A wrong password learns nothing about the account's state; the right one does.
    wrong = _error(
        public.initiate_auth,
        ClientId=mail_pool.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": "Wr0ng-password!"},
    )
    assert _code_of(wrong) == "NotAuthorizedException"
    unconfirmed = _error(_sign_in, public=public, pool=mail_pool, username=username)
    assert _code_of(unconfirmed) == "UserNotConfirmedException"
    assert unconfirmed["Error"]["Message"] == "User is not confirmed."

    public.confirm_sign_up(ClientId=mail_pool.client, Username=username, ConfirmationCode=code)
    attributes = _attributes(public, _sign_in(public, mail_pool, username))
    assert attributes["email"] == email
    assert attributes["email_verified"] == "true"
    again = _error(
        public.confirm_sign_up,
        ClientId=mail_pool.client,
        Username=username,
        ConfirmationCode=code,
    )
    assert _code_of(again) == "NotAuthorizedException"
    assert again["Error"]["Message"] == "User cannot be confirmed. Current status is CONFIRMED"

    # With SMTP the outbox records each delivery without its code.
    listed = mail_server.cli("outbox", "--pool", mail_pool.id, "--to", email, "--json")
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert [r["delivered_by"] for r in records] == ["smtp"]
    assert records[0]["body"] == "Your verification code is [code withheld]."
    assert code not in listed.stdout


def test_sign_up_with_a_secret_needs_the_secret_hash(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    arguments = {
        "ClientId": mail_pool.confidential,
        "Username": username,
        "Password": PASSWORD,
        "UserAttributes": [{"Name": "email", "Value": email}],
    }
    assert _code_of(_error(public.sign_up, **arguments)) == "NotAuthorizedException"
    bad = _error(public.sign_up, **arguments, SecretHash=base64.b64encode(b"x" * 32).decode())
    assert _code_of(bad) == "NotAuthorizedException"
    good = _secret_hash(mail_pool.secret, username, mail_pool.confidential)
    public.sign_up(**arguments, SecretHash=good)
    public.confirm_sign_up(
        ClientId=mail_pool.confidential,
        Username=username,
        ConfirmationCode=smtp.mailbox.last_code(email),
        SecretHash=good,
    )


def test_sign_up_refuses_what_cognito_refuses(
    public: Any, admin: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    weak = _error(
        public.sign_up,
        ClientId=mail_pool.client,
        Username=username,
        Password="short",
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    assert _code_of(weak) == "InvalidPasswordException"
    assert weak["Error"]["Message"].startswith("Password did not conform with policy")
    for attributes, expected in [
        ([{"Name": "email", "Value": "not-an-address"}], "InvalidParameterException"),
        ([{"Name": "custom:nope", "Value": "x"}], "InvalidParameterException"),
        ([{"Name": "email_verified", "Value": "true"}], "NotAuthorizedException"),
    ]:
        refused = _error(
            public.sign_up,
            ClientId=mail_pool.client,
            Username=username,
            Password=PASSWORD,
            UserAttributes=attributes,
        )
        assert _code_of(refused) == expected, attributes
    nothing_written = _error(admin.admin_get_user, UserPoolId=mail_pool.id, Username=username)
    assert _code_of(nothing_written) == "UserNotFoundException"
    assert smtp.mailbox.to(email) == []

    _sign_up(public, mail_pool, username, email)
    taken = _error(_sign_up, public=public, pool=mail_pool, username=username.upper(), email=email)
    assert _code_of(taken) == "UsernameExistsException"
    unknown_client = _error(
        public.sign_up, ClientId="nosuchclient", Username=username, Password=PASSWORD
    )
    assert _code_of(unknown_client) == "ResourceNotFoundException"


def test_sign_up_is_refused_when_only_admins_create_users(admin: Any, public: Any) -> None:
    closed = make_mail_pool(admin, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    refused = _error(_sign_up, public=public, pool=closed, username="x", email="x@example.com")
    assert _code_of(refused) == "NotAuthorizedException"
    assert refused["Error"]["Message"] == "SignUp is not permitted for this user pool"


def test_resend_replaces_the_code_and_admin_confirm_needs_none(
    public: Any, admin: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    _sign_up(public, mail_pool, username, email)
    first = smtp.mailbox.last_code(email)
    resent = public.resend_confirmation_code(ClientId=mail_pool.client, Username=username)
    assert resent["CodeDeliveryDetails"]["Destination"] == f"{username[0]}***@e***"
    assert len(smtp.mailbox.to(email)) == 2
    second = smtp.mailbox.last_code(email)
    if first != second:
        stale = _error(
            public.confirm_sign_up,
            ClientId=mail_pool.client,
            Username=username,
            ConfirmationCode=first,
        )
        assert _code_of(stale) == "CodeMismatchException"

    other, other_email = _address()
    _sign_up(public, mail_pool, other, other_email)
    admin.admin_confirm_sign_up(UserPoolId=mail_pool.id, Username=other)
    assert admin.admin_get_user(UserPoolId=mail_pool.id, Username=other)["UserStatus"] == (
        "CONFIRMED"
    )
    _sign_in(public, mail_pool, other)
    twice = _error(admin.admin_confirm_sign_up, UserPoolId=mail_pool.id, Username=other)
    assert _code_of(twice) == "NotAuthorizedException"
    confirmed = _error(public.resend_confirmation_code, ClientId=mail_pool.client, Username=other)
    assert _code_of(confirmed) == "InvalidParameterException"
    unsigned = _error(public.admin_confirm_sign_up, UserPoolId=mail_pool.id, Username=username)
    assert _code_of(unsigned) == "MissingAuthenticationTokenException"


# codes


def test_wrong_reused_and_too_many_codes(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    _sign_up(public, mail_pool, username, email)
    code = smtp.mailbox.last_code(email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    def confirm(value: str) -> dict[str, Any]:
        return _error(
            public.confirm_sign_up,
            ClientId=mail_pool.client,
            Username=username,
            ConfirmationCode=value,
        )

    mismatch = confirm(wrong)
    assert _code_of(mismatch) == "CodeMismatchException"
    assert mismatch["Error"]["Message"] == "Invalid verification code provided, please try again."
    assert _code_of(confirm("not a code")) == "InvalidParameterException"
    assert _code_of(confirm(wrong)) == "CodeMismatchException"
    # The third wrong guess (TOKEN_SERVICE_CODE_MAX_ATTEMPTS=3) voids the code ...
    assert _code_of(confirm(wrong)) == "LimitExceededException"
    # ... so even the right one is refused until a new code is sent.
    void = confirm(code)
    assert _code_of(void) == "LimitExceededException"
    assert void["Error"]["Message"] == "Attempt limit exceeded, please try after some time."

    public.resend_confirmation_code(ClientId=mail_pool.client, Username=username)
    fresh = smtp.mailbox.last_code(email)
    public.confirm_sign_up(ClientId=mail_pool.client, Username=username, ConfirmationCode=fresh)

    # A reset code is single-use: the second ConfirmForgotPassword with it is refused.
    public.forgot_password(ClientId=mail_pool.client, Username=username)
    reset = smtp.mailbox.last_code(email)
    public.confirm_forgot_password(
        ClientId=mail_pool.client, Username=username, ConfirmationCode=reset, Password=NEW_PASSWORD
    )
    reused = _error(
        public.confirm_forgot_password,
        ClientId=mail_pool.client,
        Username=username,
        ConfirmationCode=reset,
        Password=PASSWORD,
    )
    assert _code_of(reused) == "ExpiredCodeException"
    _sign_in(public, mail_pool, username, NEW_PASSWORD)


def test_parallel_wrong_codes_are_counted_one_by_one(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    _sign_up(public, mail_pool, username, email)
    code = smtp.mailbox.last_code(email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    def guess(_: int) -> str:
        try:
            public.confirm_sign_up(
                ClientId=mail_pool.client, Username=username, ConfirmationCode=wrong
            )
        except ClientError as error:
            return _code_of(error.response)
        return "accepted"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = sorted(pool.map(guess, range(8)))
    # TOKEN_SERVICE_CODE_MAX_ATTEMPTS=3: two mismatches, then the code is void for everyone.
    assert answers == ["CodeMismatchException"] * 2 + ["LimitExceededException"] * 6


def test_srp_sign_in_learns_the_account_state_after_the_right_password(
    mail_server: Server, admin: Any, public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    _sign_up(public, mail_pool, username, email)

    def srp(password: str) -> str:
        try:
            _pycognito(mail_server, mail_pool, username).authenticate(password)
        except ClientError as error:
            return _code_of(error.response)
        return "signed in"

    assert srp("Wr0ng-password!") == "NotAuthorizedException"
    assert srp(PASSWORD) == "UserNotConfirmedException"
    public.confirm_sign_up(
        ClientId=mail_pool.client, Username=username, ConfirmationCode=smtp.mailbox.last_code(email)
    )
    assert srp(PASSWORD) == "signed in"
    admin.admin_reset_user_password(UserPoolId=mail_pool.id, Username=username)
    assert srp(PASSWORD) == "PasswordResetRequiredException"


def test_expired_codes_are_refused(tmp_path: Path, smtp: SmtpServer) -> None:
    server = start_server(
        tmp_path,
        TOKEN_SERVICE_SMTP_URL=smtp.url,
        TOKEN_SERVICE_SIGNUP_CODE_SECONDS="1",
        TOKEN_SERVICE_RESET_CODE_SECONDS="1",
    )
    try:
        admin = cognito_client(server.url)
        public = cognito_client(server.url, signature_version=UNSIGNED)
        pool = make_mail_pool(admin)
        username, email = _address()
        _sign_up(public, pool, username, email)
        code = smtp.mailbox.last_code(email)
        _wait_past(1.0)
        expired = _error(
            public.confirm_sign_up, ClientId=pool.client, Username=username, ConfirmationCode=code
        )
        assert _code_of(expired) == "ExpiredCodeException"
        assert expired["Error"]["Message"] == "Invalid code provided, please request a code again."
        admin.admin_confirm_sign_up(UserPoolId=pool.id, Username=username)
    finally:
        stop_server(server)


def _wait_past(seconds: float) -> None:
    """Let a configured lifetime of `seconds` pass on the server's clock."""
    time.sleep(seconds + 0.2)


# password reset and enumeration


def test_forgot_password_resets_with_the_mailed_code(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _confirmed_user(public, smtp, mail_pool)
    sent = public.forgot_password(ClientId=mail_pool.client, Username=username)
    assert sent["CodeDeliveryDetails"] == {
        "Destination": f"{username[0]}***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    code = smtp.mailbox.last_code(email)
    weak = _error(
        public.confirm_forgot_password,
        ClientId=mail_pool.client,
        Username=username,
        ConfirmationCode=code,
        Password="weak",
    )
    assert _code_of(weak) == "InvalidPasswordException"
    # The policy is checked before the code, so the code is still good.
    public.confirm_forgot_password(
        ClientId=mail_pool.client, Username=username, ConfirmationCode=code, Password=NEW_PASSWORD
    )
    _sign_in(public, mail_pool, username, NEW_PASSWORD)
    old = _error(_sign_in, public=public, pool=mail_pool, username=username)
    assert _code_of(old) == "NotAuthorizedException"


def test_unknown_users_answer_like_known_ones(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    known, _ = _confirmed_user(public, smtp, mail_pool)
    pending, _ = _address()
    _sign_up(public, mail_pool, pending, f"{pending}@example.com")
    unknown = f"ghost{uuid.uuid4().hex[:8]}"

    def shape(response: dict[str, Any]) -> tuple[Any, ...]:
        details = response["CodeDeliveryDetails"]
        return (
            response["ResponseMetadata"]["HTTPStatusCode"],
            sorted(k for k in response if k != "ResponseMetadata"),
            sorted(details),
            details["DeliveryMedium"],
            details["AttributeName"],
            re.sub("[a-z]", "x", details["Destination"]),
        )

    mails = len(smtp.mailbox.messages)
    decoy = public.forgot_password(ClientId=mail_pool.client, Username=unknown)
    resend_decoy = public.resend_confirmation_code(ClientId=mail_pool.client, Username=unknown)
    # Nothing is sent for a name without a user, and asking again shows the same address.
    assert len(smtp.mailbox.messages) == mails
    again = public.forgot_password(ClientId=mail_pool.client, Username=unknown)
    assert again["CodeDeliveryDetails"] == decoy["CodeDeliveryDetails"]
    real = public.forgot_password(ClientId=mail_pool.client, Username=known)
    resend_real = public.resend_confirmation_code(ClientId=mail_pool.client, Username=pending)
    assert shape(decoy) == shape(real)
    assert shape(resend_decoy) == shape(resend_real)

    for username in (known, unknown):
        mismatch = _error(
            public.confirm_forgot_password,
            ClientId=mail_pool.client,
            Username=username,
            ConfirmationCode="000000",
            Password=NEW_PASSWORD,
        )
        assert _code_of(mismatch) == "CodeMismatchException"
        assert mismatch["ResponseMetadata"]["HTTPStatusCode"] == 400
    for username in (pending, unknown):
        signup = _error(
            public.confirm_sign_up,
            ClientId=mail_pool.client,
            Username=username,
            ConfirmationCode="000000",
        )
        assert _code_of(signup) == "CodeMismatchException"

    # A LEGACY client says the user does not exist.
    for call, extra in [
        (public.forgot_password, {}),
        (public.resend_confirmation_code, {}),
        (public.confirm_sign_up, {"ConfirmationCode": "123456"}),
        (
            public.confirm_forgot_password,
            {"ConfirmationCode": "123456", "Password": NEW_PASSWORD},
        ),
    ]:
        legacy = _error(call, ClientId=mail_pool.legacy, Username=unknown, **extra)
        assert _code_of(legacy) == "UserNotFoundException"
        assert legacy["Error"]["Message"] == "Username/client id combination not found."


def test_forgot_password_needs_a_verified_address(
    public: Any, admin: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    admin.admin_create_user(
        UserPoolId=mail_pool.id,
        Username=username,
        UserAttributes=[{"Name": "email", "Value": email}],
        MessageAction="SUPPRESS",
    )
    admin.admin_set_user_password(
        UserPoolId=mail_pool.id, Username=username, Password=PASSWORD, Permanent=True
    )
    refused = _error(public.forgot_password, ClientId=mail_pool.client, Username=username)
    assert _code_of(refused) == "InvalidParameterException"
    assert "no registered/verified email or phone_number" in refused["Error"]["Message"]
    assert smtp.mailbox.to(email) == []


def test_admin_reset_requires_the_mailed_code(
    public: Any, admin: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _confirmed_user(public, smtp, mail_pool)
    admin.admin_reset_user_password(UserPoolId=mail_pool.id, Username=username)
    assert admin.admin_get_user(UserPoolId=mail_pool.id, Username=username)["UserStatus"] == (
        "RESET_REQUIRED"
    )
    required = _error(_sign_in, public=public, pool=mail_pool, username=username)
    assert _code_of(required) == "PasswordResetRequiredException"
    wrong = _error(
        _sign_in, public=public, pool=mail_pool, username=username, password="Wr0ng-password!"
    )
    assert _code_of(wrong) == "NotAuthorizedException"
    public.confirm_forgot_password(
        ClientId=mail_pool.client,
        Username=username,
        ConfirmationCode=smtp.mailbox.last_code(email),
        Password=NEW_PASSWORD,
    )
    assert admin.admin_get_user(UserPoolId=mail_pool.id, Username=username)["UserStatus"] == (
        "CONFIRMED"
    )
    _sign_in(public, mail_pool, username, NEW_PASSWORD)
    missing = _error(admin.admin_reset_user_password, UserPoolId=mail_pool.id, Username="nobody")
    assert _code_of(missing) == "UserNotFoundException"


# the signed-in user's own account


def test_change_password_counts_wrong_previous_passwords(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, _ = _confirmed_user(public, smtp, mail_pool)
    token = _sign_in(public, mail_pool, username)
    weak = _error(
        public.change_password, AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword="x"
    )
    assert _code_of(weak) == "InvalidPasswordException"
    public.change_password(
        AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD
    )
    _sign_in(public, mail_pool, username, NEW_PASSWORD)
    # The suite's server locks a username after 3 failures (TOKEN_SERVICE_LOCKOUT_THRESHOLD).
    answers = [
        _error(
            public.change_password,
            AccessToken=token,
            PreviousPassword="Wr0ng-password!",
            ProposedPassword=PASSWORD,
        )["Error"]["Message"]
        for _ in range(3)
    ]
    assert answers == [
        "Incorrect username or password.",
        "Incorrect username or password.",
        "Password attempts exceeded",
    ]
    locked = _error(
        _sign_in, public=public, pool=mail_pool, username=username, password=NEW_PASSWORD
    )
    assert locked["Error"]["Message"] == "Password attempts exceeded"
    bad_token = _error(
        public.change_password,
        AccessToken="not.a.token",
        PreviousPassword=PASSWORD,
        ProposedPassword=NEW_PASSWORD,
    )
    assert _code_of(bad_token) == "NotAuthorizedException"


def test_changing_the_email_unverifies_it_until_the_mailed_code(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, _ = _confirmed_user(public, smtp, mail_pool)
    token = _sign_in(public, mail_pool, username)
    _, new_email = _address()
    updated = public.update_user_attributes(
        AccessToken=token,
        UserAttributes=[
            {"Name": "email", "Value": new_email},
            {"Name": "given_name", "Value": "Ada"},
        ],
    )
    assert updated["CodeDeliveryDetailsList"] == [
        {
            "Destination": f"{new_email[0]}***@e***",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        }
    ]
    attributes = _attributes(public, token)
    assert (attributes["email"], attributes["email_verified"], attributes["given_name"]) == (
        new_email,
        "false",
        "Ada",
    )
    wrong = _error(
        public.verify_user_attribute, AccessToken=token, AttributeName="email", Code="000000"
    )
    assert _code_of(wrong) == "CodeMismatchException"
    public.verify_user_attribute(
        AccessToken=token, AttributeName="email", Code=smtp.mailbox.last_code(new_email)
    )
    assert _attributes(public, token)["email_verified"] == "true"

    # Not auto-verified attributes change without a code; *_verified is not the user's to set.
    plain = public.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "family_name", "Value": "Lovelace"}]
    )
    assert plain["CodeDeliveryDetailsList"] == []
    forged = _error(
        public.update_user_attributes,
        AccessToken=token,
        UserAttributes=[{"Name": "email_verified", "Value": "true"}],
    )
    assert _code_of(forged) == "NotAuthorizedException"


def test_attribute_verification_code_on_request(
    public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _confirmed_user(public, smtp, mail_pool)
    token = _sign_in(public, mail_pool, username)
    sent = public.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    assert sent["CodeDeliveryDetails"]["AttributeName"] == "email"
    public.verify_user_attribute(
        AccessToken=token, AttributeName="email", Code=smtp.mailbox.last_code(email)
    )
    for name in ("phone_number", "given_name"):
        refused = _error(
            public.get_user_attribute_verification_code, AccessToken=token, AttributeName=name
        )
        assert _code_of(refused) == "InvalidParameterException"


def test_delete_user_removes_the_account(
    public: Any, admin: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, _ = _confirmed_user(public, smtp, mail_pool)
    token = _sign_in(public, mail_pool, username)
    public.delete_user(AccessToken=token)
    gone = _error(admin.admin_get_user, UserPoolId=mail_pool.id, Username=username)
    assert _code_of(gone) == "UserNotFoundException"
    assert _code_of(_error(public.get_user, AccessToken=token)) == "NotAuthorizedException"
    assert _code_of(_error(public.delete_user, AccessToken=token)) == "NotAuthorizedException"


# email as the username


def test_email_username_pools_sign_in_with_the_email(
    admin: Any, public: Any, smtp: SmtpServer
) -> None:
    pool = make_mail_pool(admin, UsernameAttributes=["email"])
    _, email = _address()
    signed_up = public.sign_up(ClientId=pool.client, Username=email, Password=PASSWORD)
    not_email = _error(
        public.sign_up, ClientId=pool.client, Username="plainname", Password=PASSWORD
    )
    assert _code_of(not_email) == "InvalidParameterException"
    # The address is the username: another email attribute is refused, as AdminCreateUser does.
    _, other = _address()
    two_addresses = _error(
        public.sign_up,
        ClientId=pool.client,
        Username=other,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    assert _code_of(two_addresses) == "InvalidParameterException"
    assert "differs from Username" in two_addresses["Error"]["Message"]
    public.confirm_sign_up(
        ClientId=pool.client, Username=email, ConfirmationCode=smtp.mailbox.last_code(email)
    )
    user = public.get_user(AccessToken=_sign_in(public, pool, email.upper()))
    assert user["Username"] == signed_up["UserSub"]
    taken = _error(public.sign_up, ClientId=pool.client, Username=email, Password=PASSWORD)
    assert _code_of(taken) == "UsernameExistsException"
    # Wrong previous passwords lock the name the user signs in with: the email.
    token = _sign_in(public, pool, email)
    for _ in range(3):
        _error(
            public.change_password,
            AccessToken=token,
            PreviousPassword="Wr0ng-password!",
            ProposedPassword=NEW_PASSWORD,
        )
    locked = _error(_sign_in, public=public, pool=pool, username=email)
    assert locked["Error"]["Message"] == "Password attempts exceeded"


# pycognito


def test_pycognito_drives_every_self_service_step(
    mail_server: Server, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()

    def cognito() -> Cognito:
        return _pycognito(mail_server, mail_pool, username)

    user = cognito()
    user.set_base_attributes(email=email)
    registered = user.register(username, PASSWORD)
    assert registered["UserConfirmed"] is False
    user.confirm_sign_up(smtp.mailbox.last_code(email), username=username)

    user.admin_authenticate(PASSWORD)  # verifies the tokens against the pool's JWKS
    assert user.access_claims["username"] == username
    _, new_email = _address()
    user.update_profile({"email": new_email, "given_name": "Grace"})
    user.validate_verification(smtp.mailbox.last_code(new_email), "email")
    assert user.get_user().email_verified is True
    user.send_verification("email")
    user.validate_verification(smtp.mailbox.last_code(new_email), "email")
    user.change_password(PASSWORD, NEW_PASSWORD)

    resetting = cognito()
    resetting.initiate_forgot_password()
    resetting.confirm_forgot_password(smtp.mailbox.last_code(new_email), PASSWORD)
    again = cognito()
    again.admin_authenticate(PASSWORD)
    again.delete_user()
    gone = cognito()
    with pytest.raises(ClientError) as caught:
        gone.admin_authenticate(PASSWORD)
    assert caught.value.response["Error"]["Code"] == "NotAuthorizedException"


# what must never leak


def test_codes_never_reach_the_server_log(
    mail_server: Server, smtp: SmtpServer, mail_pool: MailPool, public: Any
) -> None:
    _confirmed_user(public, smtp, mail_pool)
    codes = smtp.mailbox.codes()
    assert codes
    log = mail_server.log()
    assert [c for c in codes if re.search(rf"\b{c}\b", log)] == []


def test_malformed_requests_name_the_parameter(mail_server: Server, mail_pool: MailPool) -> None:
    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            mail_server.url,
            content=json.dumps(params),
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
            },
            timeout=10,
        )
        assert response.status_code == 400
        return dict(response.json())

    client = mail_pool.client
    for operation, params, named in [
        ("UpdateUserAttributes", {"AccessToken": "x.y.z"}, "userAttributes"),
        ("SignUp", {"ClientId": client, "Username": "a b", "Password": PASSWORD}, "username"),
        ("SignUp", {"ClientId": client, "Username": "ab"}, "Password"),
        (
            "ConfirmSignUp",
            {"ClientId": client, "Username": "ab", "ConfirmationCode": "1 2"},
            "confirmationCode",
        ),
        ("ForgotPassword", {"Username": "ab"}, "ClientId"),
        ("VerifyUserAttribute", {"AccessToken": "x.y.z", "AttributeName": "email"}, "Code"),
        (
            "SignUp",
            {"ClientId": client, "Username": "ab", "Password": PASSWORD, "UserAttributes": "x"},
            "UserAttributes",
        ),
    ]:
        body = call(operation, params)
        assert body["__type"] == "InvalidParameterException", (operation, body)
        assert named in body["message"], (operation, body)


def test_pycognito_admin_steps_and_resend(
    mail_server: Server, admin: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    username, email = _address()
    user = _pycognito(mail_server, mail_pool, username)
    user.set_base_attributes(email=email)
    user.register(username, PASSWORD)
    first = smtp.mailbox.last_code(email)
    user.resend_confirmation_code(username)
    assert len(smtp.mailbox.to(email)) == 2
    user.admin_confirm_sign_up(username)
    # Confirmed by the administrator: the code mailed for sign-up no longer confirms anything.
    with pytest.raises(ClientError) as caught:
        user.confirm_sign_up(first, username=username)
    assert caught.value.response["Error"]["Code"] == "NotAuthorizedException"
    user.admin_authenticate(PASSWORD)

    user.admin_reset_password(username)
    status = admin.admin_get_user(UserPoolId=mail_pool.id, Username=username)["UserStatus"]
    assert status == "RESET_REQUIRED"
    # The user's email was never verified (the administrator confirmed the account), so no
    # reset code was sent; an administrator sets the password instead.
    assert len(smtp.mailbox.to(email)) == 2
    with pytest.raises(ClientError) as caught:
        user.admin_authenticate(PASSWORD)
    assert caught.value.response["Error"]["Code"] == "PasswordResetRequiredException"


def test_a_clients_write_attributes_bound_what_its_users_set(
    admin: Any, public: Any, smtp: SmtpServer, mail_pool: MailPool
) -> None:
    limited = admin.create_user_pool_client(
        UserPoolId=mail_pool.id,
        ClientName="limited",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        WriteAttributes=["email", "given_name"],
    )["UserPoolClient"]["ClientId"]
    username, email = _address()
    refused = _error(
        public.sign_up,
        ClientId=limited,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "nickname", "Value": "n"}],
    )
    assert refused["Error"] == {
        "Code": "NotAuthorizedException",
        "Message": "A client attempted to write unauthorized attribute",
    }
    public.sign_up(
        ClientId=limited,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    public.confirm_sign_up(
        ClientId=limited, Username=username, ConfirmationCode=smtp.mailbox.last_code(email)
    )
    token = public.initiate_auth(
        ClientId=limited,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]
    public.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "given_name", "Value": "Ada"}]
    )
    forbidden = _error(
        public.update_user_attributes,
        AccessToken=token,
        UserAttributes=[{"Name": "nickname", "Value": "n"}],
    )
    assert forbidden["Error"]["Code"] == "NotAuthorizedException"
    assert "nickname" not in _attributes(public, token)

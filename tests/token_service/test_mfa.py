"""TOTP MFA (authenticator apps) against the real server, with boto3, pycognito,
amazon-cognito-identity-js and codes computed by pyotp as an authenticator app does.

A code is accepted once, for a step after the last accepted one, so tests pick the step of
each code they send (`code(secret, at, steps)`) and first wait, when a 30-second step is
about to end, for the next one to begin (`steady`): the codes of a test are then judged in
the step they were computed for.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cognito_js import run_node
from tests.token_service.conftest import (
    PASSWORD,
    Pool,
    Server,
    cognito_client,
    create_user,
    make_pool,
    start_server,
    stop_server,
)
from tests.token_service.test_cognito_api import TARGET, error_of, secret_hash, signed_post
from token_service.sealing import Sealer
from token_service.signin import totp

STEP = 30
BAD_SESSION = "Invalid session for the user, session is expired."
WRONG_CODE = ("CodeMismatchException", "Invalid code or auth state for the user.")
WRONG_SETUP_CODE = (
    "EnableSoftwareTokenMFAException",
    "Code mismatch and fail enable Software Token MFA",
)
LOCKED = ("NotAuthorizedException", "Password attempts exceeded")


def steady() -> float:
    """Now, once at least 8 s of the current step are left (waiting for the next if not)."""
    left = STEP - time.time() % STEP
    if left < 8:
        time.sleep(left + 0.2)
    return time.time()


def code(secret: str, at: float, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(at + steps * STEP)


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def username() -> str:
    return f"mfa-{uuid.uuid4().hex[:10]}"


def set_mode(cognito: Any, pool_id: str, mode: str) -> dict[str, Any]:
    factor = {"SoftwareTokenMfaConfiguration": {"Enabled": True}} if mode != "OFF" else {}
    return cognito.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration=mode, **factor)


@pytest.fixture(scope="module")
def optional(cognito: Any, server: Server) -> Pool:
    pool = make_pool(cognito, server, "mfa-optional")
    set_mode(cognito, pool.id, "OPTIONAL")
    return pool


@pytest.fixture(scope="module")
def required(cognito: Any, server: Server) -> Pool:
    pool = make_pool(cognito, server, "mfa-on")
    set_mode(cognito, pool.id, "ON")
    return pool


def password_step(
    public: Any, pool: Pool, name: str, *, confidential: bool = False
) -> dict[str, Any]:
    parameters = {"USERNAME": name, "PASSWORD": PASSWORD}
    client = pool.public_client
    if confidential:
        client = pool.confidential_client
        parameters["SECRET_HASH"] = secret_hash(pool.confidential_secret, name, client)
    return public.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=parameters
    )


def answer(public: Any, pool: Pool, name: str, session: str, value: str) -> dict[str, Any]:
    return public.respond_to_auth_challenge(
        ClientId=pool.public_client,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=session,
        ChallengeResponses={"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": value},
    )


def refusal(public: Any, pool: Pool, name: str, session: str, value: str) -> tuple[str, str]:
    """The error code and message answering SOFTWARE_TOKEN_MFA with `value` gets."""
    return error_of(answer, public=public, pool=pool, name=name, session=session, value=value)


def associate(public: Any, pool: Pool, name: str) -> tuple[str, str]:
    """Sign in (no factor yet) and associate a secret: (access token, secret)."""
    token = password_step(public, pool, name)["AuthenticationResult"]["AccessToken"]
    return token, public.associate_software_token(AccessToken=token)["SecretCode"]


def enrol(public: Any, pool: Pool, name: str) -> tuple[str, float]:
    """A verified, turned-on factor whose code of the step before `at` was accepted.

    So `code(secret, at)` and `code(secret, at, 1)` are still good once each.
    """
    token, secret = associate(public, pool, name)
    at = steady()
    verified = public.verify_software_token(
        AccessToken=token, UserCode=code(secret, at, -1), FriendlyDeviceName="phone"
    )
    assert verified["Status"] == "SUCCESS"
    public.set_user_mfa_preference(
        AccessToken=token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return secret, at


def assert_no_secrets(server: Server, *values: str) -> None:
    log = server.log()
    for value in values:
        assert value not in log
    assert "Traceback" not in log


# the TOTP arithmetic, as a property of pyotp's own codes


@settings(max_examples=200, deadline=None)
@given(
    secret_bytes=st.binary(min_size=20, max_size=20),
    at=st.floats(min_value=1e9, max_value=4e9),
    offset=st.integers(min_value=-5, max_value=5),
)
def test_a_code_is_accepted_for_its_step_and_its_neighbours_only(secret_bytes, at, offset):
    secret = base64.b32encode(secret_bytes).decode().rstrip("=")
    sent = pyotp.TOTP(secret).at(at + offset * STEP)
    step = totp.accepted_step(secret, sent, at, last_step=0)
    if abs(offset) <= 1:
        assert step == totp.step_at(at) + offset
        # never twice, and never a step at or before the last accepted one
        assert totp.accepted_step(secret, sent, at, last_step=step) is None
    else:
        # A code from further away is accepted only when a neighbour's code collides with it.
        current = totp.step_at(at)
        colliding = [
            s
            for s in (current - 1, current, current + 1)
            if pyotp.TOTP(secret).at(s * STEP) == sent
        ]
        assert step == (max(colliding) if colliding else None)


@given(st.text(max_size=12))
def test_only_six_ascii_digits_are_a_code(text):
    assert totp.is_code(text) == (len(text) == 6 and all(c in "0123456789" for c in text))
    if not totp.is_code(text):
        assert totp.accepted_step(totp.new_secret(), text, time.time(), 0) is None


def test_new_secrets_are_160_bit_base32_that_authenticators_accept():
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert len(secret) == 32 and len(base64.b32decode(secret)) == 20
        uri = pyotp.TOTP(secret).provisioning_uri(name="alice", issuer_name="pool")
        assert pyotp.parse_uri(uri).secret == secret


# pool configuration


def test_pool_mfa_configuration_is_set_read_and_described(cognito, server):
    pool = make_pool(cognito, server, "mfa-config")
    assert cognito.get_user_pool_mfa_config(UserPoolId=pool.id)["MfaConfiguration"] == "OFF"
    for mode in ("OPTIONAL", "ON", "OFF"):
        answered = set_mode(cognito, pool.id, mode)
        read = cognito.get_user_pool_mfa_config(UserPoolId=pool.id)
        for shape in (answered, read):
            assert shape["MfaConfiguration"] == mode
            expected = {"Enabled": True} if mode != "OFF" else None
            assert shape.get("SoftwareTokenMfaConfiguration") == expected
        described = cognito.describe_user_pool(UserPoolId=pool.id)["UserPool"]
        assert described["MfaConfiguration"] == mode


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (
            {"MfaConfiguration": "ON"},
            (
                "InvalidParameterException",
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
            ),
        ),
        (
            {"MfaConfiguration": "OPTIONAL", "SoftwareTokenMfaConfiguration": {"Enabled": False}},
            (
                "InvalidParameterException",
                "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.",
            ),
        ),
        (
            {"MfaConfiguration": "OFF", "SoftwareTokenMfaConfiguration": {"Enabled": True}},
            (
                "InvalidParameterException",
                "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
            ),
        ),
        (
            {
                "MfaConfiguration": "ON",
                "SoftwareTokenMfaConfiguration": {"Enabled": True},
                "SmsMfaConfiguration": {
                    "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms"}
                },
            },
            (
                "InvalidSmsRoleTrustRelationshipException",
                "Role does not have a trust relationship allowing Cognito to assume the role.",
            ),
        ),
        (
            {
                "MfaConfiguration": "OPTIONAL",
                "SoftwareTokenMfaConfiguration": {"Enabled": True},
                "SmsMfaConfiguration": {"SmsAuthenticationMessage": "code {####}"},
            },
            ("InvalidParameterException", "SMS configuration and Auto verification"),
        ),
        (
            {
                "MfaConfiguration": "OPTIONAL",
                "SoftwareTokenMfaConfiguration": {"Enabled": True},
                "EmailMfaConfiguration": {"Message": "code {####}"},
            },
            ("InvalidParameterException", "EmailMfaConfiguration"),
        ),
        (
            {"MfaConfiguration": "OPTIONAL", "WebAuthnConfiguration": {"RelyingPartyId": "x.test"}},
            ("InvalidParameterException", "WebAuthnConfiguration"),
        ),
        (
            {"MfaConfiguration": "SOMETIMES", "SoftwareTokenMfaConfiguration": {"Enabled": True}},
            ("InvalidParameterException", "'mfaConfiguration'"),
        ),
    ],
)
def test_pool_mfa_configurations_that_cannot_work_are_refused_and_change_nothing(
    cognito, optional, request_, error
):
    code_, message = error_of(cognito.set_user_pool_mfa_config, UserPoolId=optional.id, **request_)
    assert code_ == error[0]
    assert message.startswith(error[1]) or error[1] in message
    assert (
        cognito.get_user_pool_mfa_config(UserPoolId=optional.id)["MfaConfiguration"] == "OPTIONAL"
    )


def test_pool_operations_share_one_mfa_configuration_rule(cognito, server):
    """SetUserPoolMfaConfig, CreateUserPool and UpdateUserPool refuse a mode alike."""
    pool = make_pool(cognito, server, "mfa-rule")
    invalid = (
        "InvalidParameterException",
        "1 validation error detected: Value 'SOMETIMES' at 'mfaConfiguration' failed to "
        "satisfy constraint: Member must satisfy enum value set: [OFF, ON, OPTIONAL]",
    )
    calls = [
        (cognito.set_user_pool_mfa_config, {"UserPoolId": pool.id}),
        (cognito.update_user_pool, {"UserPoolId": pool.id}),
        (cognito.create_user_pool, {"PoolName": "mfa-rule-refused"}),
    ]
    for call, request_ in calls:
        assert error_of(call, MfaConfiguration="SOMETIMES", **request_) == invalid
    assert cognito.get_user_pool_mfa_config(UserPoolId=pool.id)["MfaConfiguration"] == "OFF"


def test_pool_mfa_configuration_of_an_unknown_pool(cognito):
    for call in (cognito.get_user_pool_mfa_config, cognito.set_user_pool_mfa_config):
        assert error_of(call, UserPoolId="us-east-1_Nope00000")[0] == "ResourceNotFoundException"


def test_pool_mfa_configuration_needs_the_admin_signature(unsigned_cognito, optional):
    code_, _ = error_of(unsigned_cognito.get_user_pool_mfa_config, UserPoolId=optional.id)
    assert code_ == "MissingAuthenticationTokenException"


# OPTIONAL pools


def test_optional_without_a_factor_signs_in_with_the_password_alone(
    cognito, unsigned_cognito, optional
):
    name = username()
    create_user(cognito, optional.id, name)
    result = password_step(unsigned_cognito, optional, name)["AuthenticationResult"]
    assert claims(result["AccessToken"])["amr"] == ["pwd"]
    assert claims(result["IdToken"])["amr"] == ["pwd"]
    user = cognito.admin_get_user(UserPoolId=optional.id, Username=name)
    assert "UserMFASettingList" not in user and "PreferredMfaSetting" not in user


def test_optional_with_a_factor_asks_for_a_code_and_marks_the_tokens(
    cognito, unsigned_cognito, optional, server
):
    name = username()
    create_user(cognito, optional.id, name)
    secret, at = enrol(unsigned_cognito, optional, name)
    challenge = password_step(unsigned_cognito, optional, name)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert challenge["ChallengeParameters"] == {"USER_ID_FOR_SRP": name}
    assert "AuthenticationResult" not in challenge
    sent = code(secret, at)
    result = answer(unsigned_cognito, optional, name, challenge["Session"], sent)[
        "AuthenticationResult"
    ]
    assert claims(result["AccessToken"])["amr"] == ["pwd", "mfa"]
    assert claims(result["IdToken"])["amr"] == ["pwd", "mfa"]
    me = unsigned_cognito.get_user(AccessToken=result["AccessToken"])
    admin_view = cognito.admin_get_user(UserPoolId=optional.id, Username=name)
    for shape in (me, admin_view):
        assert shape["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
        assert shape["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    refreshed = unsigned_cognito.initiate_auth(
        ClientId=optional.public_client,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
    )["AuthenticationResult"]
    assert claims(refreshed["AccessToken"])["amr"] == ["pwd", "mfa"]
    assert claims(refreshed["IdToken"])["amr"] == ["pwd", "mfa"]
    assert_no_secrets(server, secret, sent, challenge["Session"])


def test_a_verified_factor_asks_for_codes_only_once_turned_on(cognito, unsigned_cognito, optional):
    name = username()
    create_user(cognito, optional.id, name)
    token = password_step(unsigned_cognito, optional, name)["AuthenticationResult"]["AccessToken"]
    code_, message = error_of(
        unsigned_cognito.verify_software_token, AccessToken=token, UserCode="123456"
    )
    assert (code_, message) == (
        "SoftwareTokenMFANotFoundException",
        "Software Token MFA does not exist for the user.",
    )
    turn_on = {"AccessToken": token, "SoftwareTokenMfaSettings": {"Enabled": True}}
    code_, message = error_of(unsigned_cognito.set_user_mfa_preference, **turn_on)
    assert code_ == "InvalidParameterException" and "SOFTWARE_TOKEN_MFA" in message
    secret = unsigned_cognito.associate_software_token(AccessToken=token)["SecretCode"]
    at = steady()
    unsigned_cognito.verify_software_token(AccessToken=token, UserCode=code(secret, at))
    # verified but not turned on: the password alone still signs in
    assert "AuthenticationResult" in password_step(unsigned_cognito, optional, name)
    unsigned_cognito.set_user_mfa_preference(**turn_on)
    user = cognito.admin_get_user(UserPoolId=optional.id, Username=name)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert "PreferredMfaSetting" not in user
    assert password_step(unsigned_cognito, optional, name)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    for other in ("SMSMfaSettings", "EmailMfaSettings"):
        code_, message = error_of(
            unsigned_cognito.set_user_mfa_preference,
            AccessToken=token,
            **{other: {"Enabled": True}},
        )
        assert code_ == "InvalidParameterException" and "delivery config" in message


def test_codes_are_judged_by_step_and_never_accepted_twice(cognito, unsigned_cognito, optional):
    name = username()
    create_user(cognito, optional.id, name)
    token, secret = associate(unsigned_cognito, optional, name)
    at = steady()
    for far in (-2, 2):
        assert (
            error_of(
                unsigned_cognito.verify_software_token,
                AccessToken=token,
                UserCode=code(secret, at, far),
            )
            == WRONG_SETUP_CODE
        )
    # the step before this one (a phone's clock a little behind) is accepted
    unsigned_cognito.verify_software_token(AccessToken=token, UserCode=code(secret, at, -1))
    unsigned_cognito.set_user_mfa_preference(
        AccessToken=token, SoftwareTokenMfaSettings={"Enabled": True}
    )
    session = password_step(unsigned_cognito, optional, name)["Session"]
    # the code just used, again: refused, and the session still takes the right answer
    assert refusal(unsigned_cognito, optional, name, session, code(secret, at, -1)) == WRONG_CODE
    # the step after this one (a phone's clock a little ahead) is accepted
    answer(unsigned_cognito, optional, name, session, code(secret, at, 1))
    session = password_step(unsigned_cognito, optional, name)["Session"]
    for stale in (0, 1):  # within the window, but not after the last accepted step
        assert (
            refusal(unsigned_cognito, optional, name, session, code(secret, at, stale))
            == WRONG_CODE
        )


@pytest.fixture
def store_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server on SQLite or PostgreSQL, threshold 5, whose lock outlasts the test."""
    running = start_server(
        tmp_path,
        TOKEN_SERVICE_DATABASE_URL=database_url,
        TOKEN_SERVICE_LOCKOUT_THRESHOLD="5",
        TOKEN_SERVICE_LOCKOUT_SECONDS="600",
    )
    yield running
    stop_server(running)


def _parallel_answers(server: Server, values: list[str]) -> list[str]:
    """Enrol a user, open one session per value, answer them all at once: the outcomes."""
    admin = cognito_client(server.url)
    pool = make_pool(admin, server, "mfa-parallel")
    set_mode(admin, pool.id, "OPTIONAL")
    name = username()
    create_user(admin, pool.id, name)
    secret, at = enrol(admin, pool, name)
    sessions = [password_step(admin, pool, name)["Session"] for _ in values]
    start = threading.Barrier(len(values))

    def attempt(session: str, value: str) -> str:
        start.wait()
        try:
            answer(admin, pool, name, session, value.format(now=code(secret, at)))
        except ClientError as error:
            return error.response["Error"]["Code"] + ": " + error.response["Error"]["Message"]
        return "tokens"

    with ThreadPoolExecutor(len(values)) as workers:
        return sorted(workers.map(attempt, sessions, values))


def test_one_code_sent_in_parallel_signs_in_once(store_server):
    # five: the four refused stay under the threshold (each counts as a wrong code)
    outcomes = _parallel_answers(store_server, ["{now}"] * 5)
    assert outcomes == [": ".join(WRONG_CODE)] * 4 + ["tokens"]


def test_parallel_wrong_codes_are_counted_up_to_the_threshold(store_server):
    outcomes = _parallel_answers(store_server, ["000000", "999999"] * 5)
    # four refused as wrong, the fifth locks the username, and the rest find it locked
    assert outcomes == [": ".join(WRONG_CODE)] * 4 + [": ".join(LOCKED)] * 6


# sessions


def _reseal(server: Server, session: str, **changes: Any) -> str:
    """The session with fields changed, sealed again with the server's own key."""
    key = base64.urlsafe_b64decode(server.env["TOKEN_SERVICE_ENCRYPTION_KEY"])
    sealer = Sealer(key)
    payload = json.loads(sealer.open(base64.urlsafe_b64decode(session), "auth-session") or b"")
    payload.update(changes)
    return base64.urlsafe_b64encode(
        sealer.seal(json.dumps(payload).encode(), "auth-session")
    ).decode()


def test_expired_tampered_foreign_and_spent_sessions_are_refused(
    cognito, unsigned_cognito, optional, server
):
    name = username()
    create_user(cognito, optional.id, name)
    secret, at = enrol(unsigned_cognito, optional, name)
    session = password_step(unsigned_cognito, optional, name)["Session"]
    tampered = session[:-6] + ("A" if session[-6] != "A" else "B") + session[-5:]
    sent = code(secret, at)
    for bad in (tampered, _reseal(server, session, exp=time.time() - 1), "x" * 40):
        assert refusal(unsigned_cognito, optional, name, bad, sent) == (
            "NotAuthorizedException",
            BAD_SESSION,
        )
    # another client's answer with this session, and another user's name for it
    other_client = {
        "ClientId": optional.confidential_client,
        "ChallengeName": "SOFTWARE_TOKEN_MFA",
        "Session": session,
        "ChallengeResponses": {
            "USERNAME": name,
            "SOFTWARE_TOKEN_MFA_CODE": sent,
            "SECRET_HASH": secret_hash(
                optional.confidential_secret, name, optional.confidential_client
            ),
        },
    }
    assert error_of(unsigned_cognito.respond_to_auth_challenge, **other_client) == (
        "NotAuthorizedException",
        BAD_SESSION,
    )
    stranger = username()
    create_user(cognito, optional.id, stranger)
    assert refusal(unsigned_cognito, optional, stranger, session, sent) == (
        "NotAuthorizedException",
        BAD_SESSION,
    )
    # none of those spent the session or the code
    answer(unsigned_cognito, optional, name, session, sent)
    assert refusal(unsigned_cognito, optional, name, session, code(secret, at, 1)) == (
        "NotAuthorizedException",
        BAD_SESSION,
    )


def test_admin_respond_to_auth_challenge_with_a_secret_hash(cognito, optional):
    name = username()
    create_user(cognito, optional.id, name)
    hashed = secret_hash(optional.confidential_secret, name, optional.confidential_client)
    token = password_step(cognito, optional, name, confidential=True)["AuthenticationResult"][
        "AccessToken"
    ]
    secret = cognito.associate_software_token(AccessToken=token)["SecretCode"]
    at = steady()
    cognito.verify_software_token(AccessToken=token, UserCode=code(secret, at, -1))
    cognito.admin_set_user_mfa_preference(
        UserPoolId=optional.id,
        Username=name,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
    )
    challenge = cognito.admin_initiate_auth(
        UserPoolId=optional.id,
        ClientId=optional.confidential_client,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD, "SECRET_HASH": hashed},
    )
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    respond = {
        "UserPoolId": optional.id,
        "ClientId": optional.confidential_client,
        "ChallengeName": "SOFTWARE_TOKEN_MFA",
        "Session": challenge["Session"],
        "ChallengeResponses": {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": code(secret, at)},
    }
    code_, _ = error_of(cognito.admin_respond_to_auth_challenge, **respond)
    assert code_ == "NotAuthorizedException"  # no SECRET_HASH
    respond["ChallengeResponses"]["SECRET_HASH"] = hashed
    code_, _ = error_of(
        cognito.admin_respond_to_auth_challenge, **{**respond, "UserPoolId": "us-east-1_Other0000"}
    )
    assert code_ == "ResourceNotFoundException"
    result = cognito.admin_respond_to_auth_challenge(**respond)["AuthenticationResult"]
    assert claims(result["AccessToken"])["amr"] == ["pwd", "mfa"]


# ON pools: enrolment during sign-in


def _setup(public: Any, pool: Pool, name: str) -> tuple[str, str]:
    """Sign in to an ON pool as a user without a factor: the MFA_SETUP session, associated."""
    challenge = password_step(public, pool, name)
    assert challenge["ChallengeName"] == "MFA_SETUP"
    assert challenge["ChallengeParameters"] == {
        "MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]',
        "USER_ID_FOR_SRP": name,
    }
    associated = public.associate_software_token(Session=challenge["Session"])
    return associated["Session"], associated["SecretCode"]


def _respond_setup(public: Any, pool: Pool, name: str, session: str) -> dict[str, Any]:
    return public.respond_to_auth_challenge(
        ClientId=pool.public_client,
        ChallengeName="MFA_SETUP",
        Session=session,
        ChallengeResponses={"USERNAME": name},
    )


def test_on_makes_a_user_without_a_factor_set_one_up_while_signing_in(
    cognito, unsigned_cognito, required, server
):
    name = username()
    create_user(cognito, required.id, name)
    session, secret = _setup(unsigned_cognito, required, name)
    assert len(base64.b32decode(secret)) == 20
    # associated is not verified: MFA_SETUP cannot be answered yet
    assert error_of(
        _respond_setup, public=unsigned_cognito, pool=required, name=name, session=session
    ) == ("NotAuthorizedException", BAD_SESSION)
    at = steady()
    assert (
        error_of(
            unsigned_cognito.verify_software_token, Session=session, UserCode=code(secret, at, 3)
        )
        == WRONG_SETUP_CODE
    )
    verified = unsigned_cognito.verify_software_token(
        Session=session, UserCode=code(secret, at, -1), FriendlyDeviceName="phone"
    )
    assert verified["Status"] == "SUCCESS"
    # the sign-in session was answered: it cannot verify again
    assert error_of(
        unsigned_cognito.verify_software_token, Session=session, UserCode=code(secret, at)
    ) == (
        "NotAuthorizedException",
        BAD_SESSION,
    )
    result = _respond_setup(unsigned_cognito, required, name, verified["Session"])[
        "AuthenticationResult"
    ]
    assert claims(result["AccessToken"])["amr"] == ["pwd", "mfa"]
    assert error_of(
        _respond_setup,
        public=unsigned_cognito,
        pool=required,
        name=name,
        session=verified["Session"],
    ) == ("NotAuthorizedException", BAD_SESSION)
    user = cognito.admin_get_user(UserPoolId=required.id, Username=name)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    challenge = password_step(unsigned_cognito, required, name)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    answer(unsigned_cognito, required, name, challenge["Session"], code(secret, at))
    assert_no_secrets(server, secret, session, verified["Session"])


def test_a_temporary_password_is_replaced_before_the_factor_is_set_up(
    cognito, unsigned_cognito, required
):
    name = username()
    cognito.admin_create_user(
        UserPoolId=required.id,
        Username=name,
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
    )
    first = unsigned_cognito.initiate_auth(
        ClientId=required.public_client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": name, "PASSWORD": "Temp-Passw0rd!"},
    )
    assert first["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    second = unsigned_cognito.respond_to_auth_challenge(
        ClientId=required.public_client,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=first["Session"],
        ChallengeResponses={"USERNAME": name, "NEW_PASSWORD": PASSWORD},
    )
    assert second["ChallengeName"] == "MFA_SETUP"
    associated = unsigned_cognito.associate_software_token(Session=second["Session"])
    at = steady()
    verified = unsigned_cognito.verify_software_token(
        Session=associated["Session"], UserCode=code(associated["SecretCode"], at)
    )
    result = _respond_setup(unsigned_cognito, required, name, verified["Session"])[
        "AuthenticationResult"
    ]
    assert claims(result["IdToken"])["amr"] == ["pwd", "mfa"]


def test_an_administrator_turning_the_factor_off(cognito, unsigned_cognito, required, optional):
    for pool, after in ((required, "MFA_SETUP"), (optional, None)):
        name = username()
        create_user(cognito, pool.id, name)
        enrol_any(cognito, unsigned_cognito, pool, name)
        assert password_step(unsigned_cognito, pool, name)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        cognito.admin_set_user_mfa_preference(
            UserPoolId=pool.id, Username=name, SoftwareTokenMfaSettings={"Enabled": False}
        )
        user = cognito.admin_get_user(UserPoolId=pool.id, Username=name)
        assert "UserMFASettingList" not in user and "PreferredMfaSetting" not in user
        assert password_step(unsigned_cognito, pool, name).get("ChallengeName") == after
    code_, _ = error_of(
        cognito.admin_set_user_mfa_preference,
        UserPoolId=optional.id,
        Username="nobody-" + uuid.uuid4().hex,
        SoftwareTokenMfaSettings={"Enabled": False},
    )
    assert code_ == "UserNotFoundException"


def enrol_any(cognito: Any, public: Any, pool: Pool, name: str) -> tuple[str, float]:
    """Enrol through whatever the pool's sign-in allows (MFA_SETUP on ON pools)."""
    if cognito.get_user_pool_mfa_config(UserPoolId=pool.id)["MfaConfiguration"] != "ON":
        return enrol(public, pool, name)
    session, secret = _setup(public, pool, name)
    at = steady()
    verified = public.verify_software_token(Session=session, UserCode=code(secret, at, -1))
    _respond_setup(public, pool, name, verified["Session"])
    return secret, at


def test_associate_needs_a_pool_with_mfa(cognito, unsigned_cognito, pool):
    name = username()
    create_user(cognito, pool.id, name)
    token = password_step(unsigned_cognito, pool, name)["AuthenticationResult"]["AccessToken"]
    code_, _ = error_of(unsigned_cognito.associate_software_token, AccessToken=token)
    assert code_ == "SoftwareTokenMFANotFoundException"


# lockout


@pytest.fixture(scope="module")
def locking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose lock lasts long enough to be observed: threshold 3, 600 s."""
    running = start_server(
        tmp_path_factory.mktemp("mfa-lockout"), TOKEN_SERVICE_LOCKOUT_SECONDS="600"
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def locking_pool(locking: Server) -> tuple[Any, Any, Pool]:
    admin = cognito_client(locking.url)
    pool = make_pool(admin, locking, "mfa-lockout")
    set_mode(admin, pool.id, "OPTIONAL")
    return admin, admin, pool


def test_wrong_codes_count_toward_the_username_lockout(locking, locking_pool):
    admin, public, pool = locking_pool
    name = username()
    create_user(admin, pool.id, name)
    secret, at = enrol(public, pool, name)
    session = password_step(public, pool, name)["Session"]
    wrong = code(secret, at, 5)
    for _ in range(2):
        assert refusal(public, pool, name, session, wrong) == WRONG_CODE
    assert refusal(public, pool, name, session, wrong) == LOCKED
    # locked: the right code and the right password are refused too
    assert refusal(public, pool, name, session, code(secret, at)) == LOCKED
    assert error_of(password_step, public=public, pool=pool, name=name) == LOCKED
    # an administrator's AdminSetUserPassword lifts the lock: one more wrong code is just wrong
    admin.admin_set_user_password(
        UserPoolId=pool.id, Username=name, Password=PASSWORD, Permanent=True
    )
    session = password_step(public, pool, name)["Session"]
    assert refusal(public, pool, name, session, wrong) == WRONG_CODE
    assert "AuthenticationResult" in answer(public, pool, name, session, code(secret, at))
    assert_no_secrets(locking, secret, wrong)


def test_wrong_codes_and_wrong_passwords_share_one_count(locking, locking_pool):
    admin, public, pool = locking_pool
    name = username()
    create_user(admin, pool.id, name)
    secret, at = enrol(public, pool, name)
    session = password_step(public, pool, name)["Session"]
    for _ in range(2):
        assert refusal(public, pool, name, session, code(secret, at, 5)) == WRONG_CODE
    wrong_password = {
        "ClientId": pool.public_client,
        "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": name, "PASSWORD": "Not-the-passw0rd"},
    }
    assert error_of(public.initiate_auth, **wrong_password) == LOCKED


def test_signing_in_again_does_not_buy_more_guesses_at_the_code(locking, locking_pool):
    admin, public, pool = locking_pool
    name = username()
    create_user(admin, pool.id, name)
    secret, at = enrol(public, pool, name)
    outcomes = []
    for _ in range(3):
        session = password_step(public, pool, name)["Session"]  # a correct password each time
        outcomes.append(
            refusal(
                public,
                pool,
                name,
                session,
                code(secret, at, 5),
            )
        )
    assert outcomes == [WRONG_CODE, WRONG_CODE, LOCKED]
    assert error_of(password_step, public=public, pool=pool, name=name) == LOCKED


# malformed input


def _public_post(server: Server, operation: str, body: Any) -> httpx.Response:
    return httpx.post(
        server.url + "/",
        content=json.dumps(body),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + operation},
    )


def test_malformed_mfa_requests_are_clean_400s_naming_the_parameter(
    cognito, unsigned_cognito, optional, server
):
    name = username()
    create_user(cognito, optional.id, name)
    secret, _ = enrol(unsigned_cognito, optional, name)
    session = password_step(unsigned_cognito, optional, name)["Session"]
    respond = {
        "ClientId": optional.public_client,
        "ChallengeName": "SOFTWARE_TOKEN_MFA",
        "Session": session,
    }
    cases = [
        (
            "RespondToAuthChallenge",
            {**respond, "ChallengeResponses": {"USERNAME": name}},
            "SOFTWARE_TOKEN_MFA_CODE",
        ),
        (
            "RespondToAuthChallenge",
            {
                **respond,
                "ChallengeResponses": {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": "12a456"},
            },
            "SOFTWARE_TOKEN_MFA_CODE",
        ),
        (
            "RespondToAuthChallenge",
            {
                **respond,
                "ChallengeResponses": {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": "1" * 200_000},
            },
            "SOFTWARE_TOKEN_MFA_CODE",
        ),
        (
            "RespondToAuthChallenge",
            {
                **respond,
                "ChallengeResponses": {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": 123456},
            },
            "SOFTWARE_TOKEN_MFA_CODE",
        ),
        (
            "RespondToAuthChallenge",
            {
                **respond,
                "ChallengeResponses": {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": "١٢٣٤٥٦"},
            },
            "SOFTWARE_TOKEN_MFA_CODE",
        ),
        (
            "RespondToAuthChallenge",
            {**respond, "ChallengeResponses": {"SOFTWARE_TOKEN_MFA_CODE": "123456"}},
            "USERNAME",
        ),
        (
            "RespondToAuthChallenge",
            {
                **respond,
                "ChallengeResponses": {"USERNAME": ["x"], "SOFTWARE_TOKEN_MFA_CODE": "123456"},
            },
            "USERNAME",
        ),
        (
            "RespondToAuthChallenge",
            {**respond, "ChallengeResponses": "USERNAME"},
            "ChallengeResponses",
        ),
        (
            "RespondToAuthChallenge",
            {
                **{k: v for k, v in respond.items() if k != "Session"},
                "ChallengeResponses": {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": "123456"},
            },
            "Session",
        ),
        (
            "RespondToAuthChallenge",
            {**respond, "ChallengeName": "MFA_SETUP", "ChallengeResponses": {}},
            "USERNAME",
        ),
        ("VerifySoftwareToken", {"Session": session, "UserCode": "abcdef"}, "UserCode"),
        ("VerifySoftwareToken", {"Session": session, "UserCode": "1234567"}, "UserCode"),
        ("VerifySoftwareToken", {"Session": session}, "UserCode"),
        (
            "VerifySoftwareToken",
            {"Session": session, "AccessToken": "a.b.c", "UserCode": "123456"},
            "AccessToken",
        ),
        ("VerifySoftwareToken", {"UserCode": "123456"}, "AccessToken"),
        (
            "VerifySoftwareToken",
            {"Session": session, "UserCode": "123456", "FriendlyDeviceName": "p" * 129},
            "FriendlyDeviceName",
        ),
        ("VerifySoftwareToken", {"Session": 7, "UserCode": "123456"}, "Session"),
        ("AssociateSoftwareToken", {}, "AccessToken"),
        (
            "SetUserMFAPreference",
            {"AccessToken": "a.b.c", "SoftwareTokenMfaSettings": {"Enabled": "yes"}},
            "Enabled",
        ),
        (
            "SetUserMFAPreference",
            {"AccessToken": "a.b.c", "SoftwareTokenMfaSettings": []},
            "SoftwareTokenMfaSettings",
        ),
    ]
    for operation, body, parameter in cases:
        response = _public_post(server, operation, body)
        assert response.status_code == 400, (operation, body)
        error = response.json()
        assert error["__type"] == "InvalidParameterException", (operation, parameter, error)
        assert parameter in error["message"], (operation, parameter, error)
    # none of them spent the session or counted toward the lockout
    assert answer(unsigned_cognito, optional, name, session, code(secret, time.time()))
    signed = signed_post(
        server,
        "SetUserPoolMfaConfig",
        json.dumps({"UserPoolId": optional.id, "SoftwareTokenMfaConfiguration": "on"}).encode(),
    )
    assert signed.status_code == 400 and "SoftwareTokenMfaConfiguration" in signed.json()["message"]
    assert "Traceback" not in server.log()


def test_every_challenge_reads_its_responses_alike(server, optional):
    """A USERNAME that is not a string is refused with one message, whatever the challenge."""
    refusals = set()
    for challenge in ("SOFTWARE_TOKEN_MFA", "MFA_SETUP", "PASSWORD_VERIFIER"):
        responses = {
            "USERNAME": ["x"],
            "SOFTWARE_TOKEN_MFA_CODE": "123456",
            "PASSWORD_CLAIM_SECRET_BLOCK": "AAAA",
            "PASSWORD_CLAIM_SIGNATURE": "AAAA",
            "TIMESTAMP": "Tue Dec 1 09:05:03 UTC 2026",
        }
        body = {
            "ClientId": optional.public_client,
            "ChallengeName": challenge,
            "Session": "a-session",
            "ChallengeResponses": responses,
        }
        response = _public_post(server, "RespondToAuthChallenge", body)
        assert response.status_code == 400
        refusals.add((response.json()["__type"], response.json()["message"]))
    assert refusals == {("InvalidParameterException", "USERNAME must be a string.")}


# other clients


def test_pycognito_answers_the_challenge_after_srp(cognito, optional, server):
    from pycognito import Cognito
    from pycognito.exceptions import SoftwareTokenMFAChallengeException

    client = cognito.create_user_pool_client(
        UserPoolId=optional.id,
        ClientName="pycognito",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    name = username()
    create_user(cognito, optional.id, name)
    user = Cognito(
        optional.id, client, username=name, boto3_client_kwargs={"endpoint_url": server.url}
    )
    user.authenticate(PASSWORD)
    secret = user.associate_software_token()
    at = steady()
    assert user.verify_software_token(code(secret, at, -1), "phone")
    user.set_user_mfa_preference(False, True, preferred="SOFTWARE_TOKEN")
    again = Cognito(
        optional.id, client, username=name, boto3_client_kwargs={"endpoint_url": server.url}
    )
    with pytest.raises(SoftwareTokenMFAChallengeException):
        again.authenticate(PASSWORD)
    again.respond_to_software_token_mfa_challenge(code(secret, at))
    assert claims(again.access_token)["amr"] == ["pwd", "mfa"]


_IDENTITY_JS = """
const { CognitoUserPool, CognitoUser, AuthenticationDetails } = require("amazon-cognito-identity-js");
const crypto = require("crypto");
const pool = new CognitoUserPool({ UserPoolId: INPUT.pool, ClientId: INPUT.client, endpoint: INPUT.url });
// RFC 6238, as an authenticator app computes it: the step of now plus `offset`.
const totp = (secret, offset) => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000) + offset));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const at = mac[19] & 15;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1000000).padStart(6, "0");
};
const call = (f) => new Promise((resolve, reject) => f((e, v) => (e ? reject(e) : resolve(v))));
const events = [];
let secret = null;
// Sign in; set up the authenticator when asked (MFA_SETUP), or answer with its next code.
const signIn = () => {
  const user = new CognitoUser({ Username: INPUT.username, Pool: pool });
  user.setAuthenticationFlowType("USER_PASSWORD_AUTH");
  const details = new AuthenticationDetails({ Username: INPUT.username, Password: INPUT.password });
  return new Promise((resolve, reject) => {
    const done = { onSuccess: (session) => resolve([user, session]), onFailure: reject };
    user.authenticateUser(details, {
      ...done,
      mfaSetup: (name, parameters) => {
        events.push([name, parameters]);
        user.associateSoftwareToken({
          associateSecretCode: (code) => {
            secret = code;
            user.verifySoftwareToken(totp(secret, -1), "phone", done);
          },
          onFailure: reject,
        });
      },
      totpRequired: (name, parameters) => {
        events.push([name, parameters]);
        user.sendMFACode(totp(secret, 1), done, "SOFTWARE_TOKEN_MFA");
      },
    });
  });
};
let [user, session] = await signIn();
const first = session.getAccessToken().getJwtToken();
if (secret === null) {
  // Signed in with the password alone: enrol the signed-in user, as an account page does.
  secret = await new Promise((resolve, reject) =>
    user.associateSoftwareToken({ associateSecretCode: resolve, onFailure: reject }));
  await new Promise((resolve, reject) =>
    user.verifySoftwareToken(totp(secret, -1), "phone", { onSuccess: resolve, onFailure: reject }));
  await call((cb) => user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb));
}
[user, session] = await signIn();
done({ events, secretLength: secret.length, first, second: session.getAccessToken().getJwtToken() });
"""


@pytest.mark.parametrize("mode", ["ON", "OPTIONAL"])
def test_amazon_cognito_identity_js_sets_up_and_answers(cognito, server, mode):
    pool = make_pool(cognito, server, f"mfa-js-{mode.lower()}")
    set_mode(cognito, pool.id, mode)
    name = username()
    create_user(cognito, pool.id, name)
    payload = {
        "pool": pool.id,
        "client": pool.public_client,
        "url": server.url,
        "username": name,
        "password": PASSWORD,
    }
    steady()
    result = run_node(_IDENTITY_JS, payload, packages=("amazon-cognito-identity-js",))
    setup = [["MFA_SETUP", {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]', "USER_ID_FOR_SRP": name}]]
    challenge = [["SOFTWARE_TOKEN_MFA", {"USER_ID_FOR_SRP": name}]]
    assert result["events"] == (setup if mode == "ON" else []) + challenge
    assert result["secretLength"] == 32
    assert claims(result["first"])["amr"] == (["pwd", "mfa"] if mode == "ON" else ["pwd"])
    assert claims(result["second"])["amr"] == ["pwd", "mfa"]
    user = cognito.admin_get_user(UserPoolId=pool.id, Username=name)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_MFA_OPERATIONS = [
    "AssociateSoftwareToken",
    "VerifySoftwareToken",
    "SetUserMFAPreference",
]
_FIELDS = [
    "ClientId",
    "ChallengeName",
    "Session",
    "ChallengeResponses",
    "AccessToken",
    "UserCode",
    "FriendlyDeviceName",
    "SoftwareTokenMfaSettings",
    "SMSMfaSettings",
]


@pytest.fixture(scope="module")
def live_session(cognito: Any, unsigned_cognito: Any, optional: Pool) -> dict[str, str]:
    """A real SOFTWARE_TOKEN_MFA session and its user, so fuzzed answers reach the checks."""
    name = username()
    create_user(cognito, optional.id, name)
    enrol(unsigned_cognito, optional, name)
    return {"Session": password_step(unsigned_cognito, optional, name)["Session"], "USERNAME": name}


_ABSENT = object()
_SOMETIMES_A_CODE = _JSON_VALUES | st.from_regex(r"[0-9]{6}", fullmatch=True)
_ANSWER_STATUSES = {
    "InvalidParameterException",
    "NotAuthorizedException",
    "ResourceNotFoundException",
    "CodeMismatchException",
    "SoftwareTokenMFANotFoundException",
    "EnableSoftwareTokenMFAException",
}


_ANSWER_FIELDS = [
    ("ClientId",),
    ("ChallengeName",),
    ("Session",),
    ("ChallengeResponses",),
    ("ChallengeResponses", "USERNAME"),
    ("ChallengeResponses", "SOFTWARE_TOKEN_MFA_CODE"),
    ("ChallengeResponses", "SECRET_HASH"),
]


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    challenge=st.sampled_from(["SOFTWARE_TOKEN_MFA", "MFA_SETUP"]),
    sent=st.from_regex(r"[0-9]{6}", fullmatch=True),
    field=st.sampled_from(_ANSWER_FIELDS),
    value=_JSON_VALUES | st.just(_ABSENT),
)
def test_any_challenge_answer_is_refused_in_cognitos_shape_never_with_a_5xx(
    server, optional, live_session, challenge, sent, field, value
):
    """A well-formed answer (live session, real user, a wrong code) with one field replaced
    by any JSON value, or left out."""
    body: dict[str, Any] = {
        "ClientId": optional.public_client,
        "ChallengeName": challenge,
        "Session": live_session["Session"],
        "ChallengeResponses": {
            "USERNAME": live_session["USERNAME"],
            "SOFTWARE_TOKEN_MFA_CODE": sent,
        },
    }
    parent = body["ChallengeResponses"] if len(field) == 2 else body
    if value is _ABSENT:
        parent.pop(field[-1], None)
    else:
        parent[field[-1]] = value
    response = _public_post(server, "RespondToAuthChallenge", body)
    assert response.status_code == 400, (body, response.text)
    assert response.json()["__type"] in _ANSWER_STATUSES


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    operation=st.sampled_from(_MFA_OPERATIONS),
    body=st.dictionaries(st.sampled_from(_FIELDS), _SOMETIMES_A_CODE, max_size=6),
    live=st.booleans(),
)
def test_any_enrolment_request_is_refused_in_cognitos_shape_never_with_a_5xx(
    server, live_session, operation, body, live
):
    if live:
        body = {**body, "Session": live_session["Session"]}
    response = _public_post(server, operation, body)
    assert response.status_code == 400, (operation, body, response.text)
    assert response.json()["__type"] in _ANSWER_STATUSES

"""SRP sign-in refused, cleanly: wrong proofs (counted towards lockout), replayed, foreign,
stale or garbage secret blocks, bad A, bad or distant timestamps, malformed parameters.

Each case is driven with pycognito's own client math, so that only the one thing under test
is wrong.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pycognito.aws_srp import AWSSRP

from tests.token_service.conftest import PASSWORD
from tests.token_service.inprocess import Clock, fast_settings
from tests.token_service.srp_world import (
    BAD_CREDENTIALS,
    SRP_FLOWS,
    SrpWorld,
    answer,
    aws_srp,
    raw,
    respond,
    serve_world,
    signed_at,
    start,
)
from tests.token_service.test_cognito_api import error_of
from token_service import srp
from token_service.errors import NotAuthorized
from token_service.issue import UserTokens
from token_service.services import build_services
from token_service.signin.srp import Claim, SrpSignIn


def test_wrong_password_is_refused_and_counted_with_password_failures(world: SrpWorld) -> None:
    username = world.user()
    code, message = error_of(aws_srp(world, username, "Wrong-1!").authenticate_user)
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)
    # One count for both flows: a password guess is the second failure, an SRP one the third.
    code, message = error_of(
        world.public.initiate_auth,
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=world.client,
        AuthParameters={"USERNAME": username, "PASSWORD": "Wrong-2!"},
    )
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)
    code, message = error_of(aws_srp(world, username, "Wrong-3!").authenticate_user)
    assert (code, message) == ("NotAuthorizedException", "Password attempts exceeded")
    # Locked: even the right password is refused, at the start of SRP already.
    code, message = error_of(aws_srp(world, username, PASSWORD).authenticate_user)
    assert (code, message) == ("NotAuthorizedException", "Password attempts exceeded")


def test_a_correct_proof_clears_the_failure_count(world: SrpWorld) -> None:
    username = world.user()
    for _ in range(2):
        error_of(aws_srp(world, username, "Wrong-1!").authenticate_user)
    assert aws_srp(world, username, PASSWORD).authenticate_user()["AuthenticationResult"]
    for _ in range(2):
        assert error_of(aws_srp(world, username, "Wrong-1!").authenticate_user) == (
            "NotAuthorizedException",
            BAD_CREDENTIALS,
        )


def test_a_secret_block_is_single_use(world: SrpWorld) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    responses = answer(world, helper, start(world, helper))
    assert respond(world, world.client, responses)["AuthenticationResult"]
    code, message = error_of(respond, world=world, client_id=world.client, responses=responses)
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)


def test_a_wrong_proof_uses_up_the_block(world: SrpWorld) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    responses = answer(world, helper, start(world, helper))
    wrong = {**responses, "PASSWORD_CLAIM_SIGNATURE": base64.b64encode(b"x" * 32).decode()}
    assert error_of(respond, world=world, client_id=world.client, responses=wrong)[1] == (
        BAD_CREDENTIALS
    )
    assert error_of(respond, world=world, client_id=world.client, responses=responses)[1] == (
        BAD_CREDENTIALS
    )


def test_a_block_of_another_client_is_refused(world: SrpWorld) -> None:
    username = world.user()
    helper = aws_srp(world, username, PASSWORD)
    responses = answer(world, helper, start(world, helper))
    other = world.admin.create_user_pool_client(
        UserPoolId=world.pool_id, ClientName="other", ExplicitAuthFlows=SRP_FLOWS
    )["UserPoolClient"]["ClientId"]
    code, message = error_of(respond, world=world, client_id=other, responses=responses)
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)
    # It was not used up: the client it was made for can still finish.
    assert respond(world, world.client, responses)["AuthenticationResult"]


def test_a_block_answered_for_another_user_is_refused(world: SrpWorld) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    responses = answer(world, helper, start(world, helper))
    code, message = error_of(
        respond,
        world=world,
        client_id=world.client,
        responses={**responses, "USERNAME": world.user()},
    )
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)


@pytest.mark.parametrize("minutes", [-10, 10])
def test_a_timestamp_far_from_the_server_clock_is_refused(world: SrpWorld, minutes: int) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    challenge = start(world, helper)
    moment = datetime.now(UTC) + timedelta(minutes=minutes)
    responses = signed_at(world, helper, challenge, srp.format_timestamp(moment))
    code, message = error_of(respond, world=world, client_id=world.client, responses=responses)
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)


def test_a_correct_signature_over_a_near_timestamp_is_accepted(world: SrpWorld) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    challenge = start(world, helper)
    moment = datetime.now(UTC) - timedelta(minutes=2)
    responses = signed_at(world, helper, challenge, srp.format_timestamp(moment))
    assert respond(world, world.client, responses)["AuthenticationResult"]


def test_a_zero_padded_day_parses_but_does_not_verify(world: SrpWorld) -> None:
    """Cognito signs over its own spelling of the moment, so "Dec 01" fails like a wrong proof."""
    helper = aws_srp(world, world.user(), PASSWORD)
    challenge = start(world, helper)
    now = datetime.now(UTC)
    padded = now.strftime("%a %b %d %H:%M:%S UTC %Y")
    responses = signed_at(world, helper, challenge, padded)
    if padded == srp.format_timestamp(now):  # days 10..31: both spellings are the same
        assert respond(world, world.client, responses)["AuthenticationResult"]
    else:
        assert error_of(respond, world=world, client_id=world.client, responses=responses)[1] == (
            BAD_CREDENTIALS
        )


@pytest.mark.parametrize(
    "timestamp", ["2026-12-01T09:05:03Z", "Tue Dec 1 09:05:03 PST 2026", "yesterday"]
)
def test_a_malformed_timestamp_is_an_invalid_parameter(world: SrpWorld, timestamp: str) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    responses = {**answer(world, helper, start(world, helper)), "TIMESTAMP": timestamp}
    code, message = error_of(respond, world=world, client_id=world.client, responses=responses)
    assert code == "InvalidParameterException"
    assert message == "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english."


@pytest.mark.parametrize("a", [0, srp.N, 2 * srp.N], ids=["zero", "N", "2N"])
def test_an_a_that_is_zero_mod_n_is_refused(world: SrpWorld, a: int) -> None:
    code, message = error_of(
        world.public.initiate_auth,
        AuthFlow="USER_SRP_AUTH",
        ClientId=world.client,
        AuthParameters={"USERNAME": world.user(), "SRP_A": f"{a:x}"},
    )
    assert code == "InvalidParameterException"
    assert "SRP_A" in message


@pytest.mark.parametrize("srp_a", ["0x1234", "xyz", "12 34", "-5", "1" * 2000])
def test_a_malformed_srp_a_is_refused(world: SrpWorld, srp_a: str) -> None:
    code, message = error_of(
        world.public.initiate_auth,
        AuthFlow="USER_SRP_AUTH",
        ClientId=world.client,
        AuthParameters={"USERNAME": "anyone", "SRP_A": srp_a},
    )
    assert code == "InvalidParameterException"
    assert "SRP_A" in message


@pytest.mark.parametrize(
    "block",
    [
        "!!!not base64!!!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(600)).decode(),
        "",
    ],
    ids=["not-base64", "short", "zeros", "empty"],
)
def test_a_garbage_secret_block_is_a_clean_refusal(world: SrpWorld, block: str) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    responses = {
        **answer(world, helper, start(world, helper)),
        "PASSWORD_CLAIM_SECRET_BLOCK": block,
    }
    response = raw(
        world,
        "RespondToAuthChallenge",
        {
            "ClientId": world.client,
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeResponses": responses,
        },
    )
    assert response.status_code == 400
    expected = "InvalidParameterException" if block == "" else "NotAuthorizedException"
    assert response.json()["__type"] == expected


@pytest.mark.parametrize(
    ("operation", "body", "named"),
    [
        (
            "InitiateAuth",
            {"AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"USERNAME": "x"}},
            "SRP_A",
        ),
        (
            "InitiateAuth",
            {"AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"SRP_A": "ab"}},
            "USERNAME",
        ),
        (
            "InitiateAuth",
            {"AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"USERNAME": "x", "SRP_A": 12}},
            "SRP_A",
        ),
        (
            "InitiateAuth",
            {"AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"USERNAME": "x" * 129, "SRP_A": "ab"}},
            "USERNAME",
        ),
        ("InitiateAuth", {"AuthFlow": "USER_SRP_AUTH", "AuthParameters": ["x"]}, "AuthParameters"),
        (
            "RespondToAuthChallenge",
            {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeResponses": {"USERNAME": "x"}},
            "PASSWORD_CLAIM_SECRET_BLOCK",
        ),
        (
            "RespondToAuthChallenge",
            {
                "ChallengeName": "PASSWORD_VERIFIER",
                "ChallengeResponses": {
                    "USERNAME": "x",
                    "PASSWORD_CLAIM_SECRET_BLOCK": "AAAA",
                    "PASSWORD_CLAIM_SIGNATURE": ["x"],
                    "TIMESTAMP": "Tue Dec 1 09:05:03 UTC 2026",
                },
            },
            "PASSWORD_CLAIM_SIGNATURE",
        ),
    ],
)
def test_malformed_parameters_name_the_parameter(
    world: SrpWorld, operation: str, body: dict[str, Any], named: str
) -> None:
    response = raw(world, operation, {"ClientId": world.client, **body})
    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidParameterException"
    assert named in response.json()["message"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrpWorld]:
    yield from serve_world(tmp_path_factory)


def test_srp_needs_the_flow_enabled_for_the_client(world: SrpWorld) -> None:
    helper = AWSSRP(world.user(), PASSWORD, world.pool_id, world.password_only, client=world.public)
    code, message = error_of(helper.authenticate_user)
    assert (code, message) == (
        "InvalidParameterException",
        "USER_SRP_AUTH is not enabled for the client.",
    )


def test_custom_auth_is_not_offered(world: SrpWorld) -> None:
    code, _ = error_of(
        world.public.initiate_auth,
        AuthFlow="CUSTOM_AUTH",
        ClientId=world.client,
        AuthParameters={"USERNAME": world.user()},
    )
    assert code == "InvalidParameterException"


def test_a_secret_client_needs_secret_hash(world: SrpWorld) -> None:
    helper = aws_srp(world, world.user(), PASSWORD)
    code, message = error_of(
        world.public.initiate_auth,
        AuthFlow="USER_SRP_AUTH",
        ClientId=world.secret_client,
        AuthParameters=helper.get_auth_params(),
    )
    assert code == "NotAuthorizedException"
    assert "SECRET_HASH" in message


def test_a_disabled_user_learns_it_only_with_the_right_password(world: SrpWorld) -> None:
    username = world.user()
    world.admin.admin_disable_user(UserPoolId=world.pool_id, Username=username)
    assert error_of(aws_srp(world, username, "Wrong-1!").authenticate_user)[1] == BAD_CREDENTIALS
    assert error_of(aws_srp(world, username, PASSWORD).authenticate_user) == (
        "NotAuthorizedException",
        "User is disabled.",
    )


# lifetime of a secret block, in process with a clock the test moves


@pytest.mark.parametrize(("waited", "accepted"), [(170, True), (181, False)])
def test_a_block_lives_as_long_as_the_clients_session(
    tmp_path: Path, waited: int, accepted: bool
) -> None:
    """Three minutes, the default AuthSessionValidity; the TIMESTAMP stays within its skew."""
    config = fast_settings(
        f"sqlite:///{tmp_path / 'ts.db'}",
    )
    clock = Clock(time.time())
    services = build_services(config, clock)
    try:
        pool = services.admin.create_pool("unit")
        client = services.admin.create_client(
            pool.id, "app", explicit_auth_flows=["ALLOW_USER_SRP_AUTH"]
        ).client
        services.admin.create_user(pool.id, "una", {}, password=PASSWORD, permanent=True)
        sign_in = SrpSignIn(services.core, services.issuer)
        helper = AWSSRP("una", PASSWORD, pool.id, client.id, client=object())
        challenge = sign_in.start(client.id, "una", f"{helper.large_a_value:x}")
        clock.now += waited
        answered = helper.process_challenge(challenge.parameters, {"USERNAME": "una"})
        claim = Claim(
            secret_block=answered["PASSWORD_CLAIM_SECRET_BLOCK"],
            signature=answered["PASSWORD_CLAIM_SIGNATURE"],
            timestamp=answered["TIMESTAMP"],
        )
        if accepted:
            assert isinstance(sign_in.respond(client.id, "una", claim), UserTokens)
        else:
            with pytest.raises(NotAuthorized, match=BAD_CREDENTIALS):
                sign_in.respond(client.id, "una", claim)
    finally:
        services.core.store.dispose()

"""SRP sign-in tells nothing about which usernames exist, and keeps secrets out of the log
and out of the store's clear text; users whose password predates SRP get their verifier at
their next password sign-in.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator

import pytest
from pycognito import aws_srp as aws_srp_math
from sqlalchemy import update

from tests.token_service.conftest import PASSWORD
from tests.token_service.srp_world import (
    BAD_CREDENTIALS,
    SrpWorld,
    answer,
    aws_srp,
    respond,
    serve_world,
    start,
)
from tests.token_service.test_cognito_api import error_of
from token_service import srp
from token_service.sealing import Sealer
from token_service.store.models import User
from token_service.store.repositories import Store


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrpWorld]:
    yield from serve_world(tmp_path_factory)


def test_an_unknown_user_gets_a_challenge_like_a_real_one(world: SrpWorld) -> None:
    real = world.user()
    ghost = f"ghost-{uuid.uuid4().hex[:10]}"
    real_challenge = start(world, aws_srp(world, real, PASSWORD))
    first = start(world, aws_srp(world, ghost, PASSWORD))
    second = start(world, aws_srp(world, ghost, PASSWORD))
    for challenge in (first, second):
        assert challenge.keys() == real_challenge.keys()
        assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
        parameters = challenge["ChallengeParameters"]
        assert parameters.keys() == real_challenge["ChallengeParameters"].keys()
        assert parameters["USERNAME"] == parameters["USER_ID_FOR_SRP"] == ghost
        assert 0 < int(parameters["SRP_B"], 16) < srp.N
        assert srp.parse_hex(parameters["SALT"]) is not None
        # The block differs in size from a real one by the username's length at most.
        real_size = len(real_challenge["ChallengeParameters"]["SECRET_BLOCK"])
        assert abs(len(parameters["SECRET_BLOCK"]) - real_size) <= 4 * 60
    # The decoy salt is stable, like a real user's; B is fresh each time, like a real user's.
    assert first["ChallengeParameters"]["SALT"] == second["ChallengeParameters"]["SALT"]
    assert first["ChallengeParameters"]["SRP_B"] != second["ChallengeParameters"]["SRP_B"]
    again = start(world, aws_srp(world, real, PASSWORD))
    assert again["ChallengeParameters"]["SALT"] == real_challenge["ChallengeParameters"]["SALT"]


def test_letter_case_does_not_tell_a_known_username_from_an_unknown_one(
    world: SrpWorld,
) -> None:
    known = world.user("Known")
    unknown = f"Ghost-{uuid.uuid4().hex[:10]}"
    for name in (known, unknown):
        for spelling in (name, name.upper(), name.lower(), name.swapcase()):
            parameters = start(world, aws_srp(world, spelling, PASSWORD))["ChallengeParameters"]
            assert parameters["USERNAME"] == parameters["USER_ID_FOR_SRP"] == spelling.lower()


def test_an_unknown_user_fails_like_a_wrong_password_and_is_counted(world: SrpWorld) -> None:
    ghost = f"ghost-{uuid.uuid4().hex[:10]}"
    messages = [error_of(aws_srp(world, ghost, PASSWORD).authenticate_user) for _ in range(3)]
    assert messages[:2] == [("NotAuthorizedException", BAD_CREDENTIALS)] * 2
    assert messages[2] == ("NotAuthorizedException", "Password attempts exceeded")


def fails_until_a_password_sign_in(world: SrpWorld, username: str) -> None:
    """SRP fails like a wrong password; a password sign-in derives the verifier it needs."""
    code, message = error_of(aws_srp(world, username, PASSWORD).authenticate_user)
    assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)
    world.public.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=world.client,
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    assert aws_srp(world, username, PASSWORD).authenticate_user()["AuthenticationResult"]


def test_a_user_without_a_verifier_gets_one_at_the_next_password_sign_in(
    world: SrpWorld,
) -> None:
    """A password set before SRP support: SRP fails like a wrong password until then."""
    username = world.user()
    store = Store(world.server.env["TOKEN_SERVICE_DATABASE_URL"])
    try:
        with store.transaction() as repo:
            repo.session.execute(
                update(User)
                .where(User.pool_id == world.pool_id, User.username == username)
                .values(srp_salt=None, srp_verifier=None)
            )
        fails_until_a_password_sign_in(world, username)
        with store.transaction() as repo:
            user = repo.user_by_username(world.pool_id, username)
            assert user is not None and user.srp_verifier is not None
            assert PASSWORD not in user.srp_verifier + (user.srp_salt or "")
    finally:
        store.dispose()


@pytest.mark.parametrize("prefix", ["lower", "Mixed"])
def test_a_verifier_of_the_earlier_form(world: SrpWorld, prefix: str) -> None:
    """Verifiers were derived over the username as stored: of a lower-case username it is
    the same verifier and still signs in; of another, SRP fails until the next password
    sign-in derives it again."""
    username = world.user(prefix)
    key = base64.urlsafe_b64decode(world.server.env["TOKEN_SERVICE_ENCRYPTION_KEY"])
    store = Store(world.server.env["TOKEN_SERVICE_DATABASE_URL"])
    try:
        with store.transaction() as repo:
            user = repo.user_by_username(world.pool_id, username)
            assert user is not None
            earlier = srp.derive_verifier(world.pool_id, user.username, PASSWORD)
            sealed = Sealer(key).seal(bytes.fromhex(earlier.verifier), f"srp-verifier:{user.sub}")
            user.srp_salt = earlier.salt
            user.srp_verifier = base64.b64encode(sealed).decode()
    finally:
        store.dispose()
    if username == username.lower():
        assert aws_srp(world, username, PASSWORD).authenticate_user()["AuthenticationResult"]
        return
    fails_until_a_password_sign_in(world, username)


def test_passwords_and_proofs_stay_out_of_the_log(world: SrpWorld) -> None:
    username = world.user()
    helper = aws_srp(world, username, PASSWORD)
    responses = answer(world, helper, start(world, helper))
    respond(world, world.client, responses)
    log = world.server.log()
    assert PASSWORD not in log
    assert responses["PASSWORD_CLAIM_SIGNATURE"] not in log
    assert responses["PASSWORD_CLAIM_SECRET_BLOCK"][:40] not in log


def test_the_verifier_is_stored_sealed_and_bound_to_its_user(world: SrpWorld) -> None:
    """A stolen database holds no verifier to test guesses against, nor one to move."""
    first, second = world.user(), world.user()
    store = Store(world.server.env["TOKEN_SERVICE_DATABASE_URL"])
    try:
        with store.transaction() as repo:
            one = repo.user_by_username(world.pool_id, first)
            other = repo.user_by_username(world.pool_id, second)
            assert one is not None and other is not None
            assert one.srp_salt and one.srp_verifier
            clear = pow(srp.G, _x(world.pool_id, one.username, PASSWORD, one.srp_salt), srp.N)
            assert srp.pad_hex(clear) not in one.srp_verifier
            assert base64.b64decode(one.srp_verifier) != clear.to_bytes(384)
            # Give the second user the first one's salt and sealed verifier.
            other.srp_salt, other.srp_verifier = one.srp_salt, one.srp_verifier
        code, message = error_of(aws_srp(world, second, PASSWORD).authenticate_user)
        assert (code, message) == ("NotAuthorizedException", BAD_CREDENTIALS)
        assert aws_srp(world, first, PASSWORD).authenticate_user()["AuthenticationResult"]
    finally:
        store.dispose()


def _x(pool_id: str, user_id: str, password: str, salt_hex: str) -> int:
    """pycognito's x = H(salt | H(poolName | userId | ":" | password))."""
    inner = aws_srp_math.hash_sha256(f"{pool_id.split('_')[1]}{user_id}:{password}".encode())
    return aws_srp_math.hex_to_long(aws_srp_math.hex_hash(aws_srp_math.pad_hex(salt_hex) + inner))

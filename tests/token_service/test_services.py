"""Issuing rules that depend on time, tested in-process with a clock the test moves."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import PASSWORD
from tests.token_service.inprocess import Clock, fast_settings
from token_service.admin.clients import ClientSettings
from token_service.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidPassword,
    NotAuthorized,
    RefreshTokenReuse,
)
from token_service.issue import UserTokens, secret_hash
from token_service.passwords import DEFAULT_POLICY, Passwords, check_policy
from token_service.refresh import refresh_tokens
from token_service.services import Services, build_services
from token_service.settings import Settings
from token_service.tokens import sign


@dataclass
class World:
    services: Services
    clock: Clock
    pool_id: str
    client_id: str
    secret: str


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    config = fast_settings(
        database_url,
        lockout_threshold=2,
        lockout_seconds=60,
    )
    clock = Clock()
    services = build_services(config, clock)
    pool = services.admin.create_pool("unit", custom_attributes=["tenant_id"])
    created = services.admin.create_client(
        pool.id,
        "app",
        generate_secret=True,
        explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        access_token_seconds=600,
        id_token_seconds=900,
        refresh_token_seconds=3600,
    )
    assert created.secret is not None
    services.admin.create_user(pool.id, "una", {"email": "una@example.com"})
    services.admin.set_password(pool.id, "una", PASSWORD, permanent=True)
    yield World(services, clock, pool.id, created.client.id, created.secret)
    services.core.store.dispose()


def sign_in(world: World, password: str = PASSWORD) -> UserTokens:
    result = world.services.issuer.password_auth(
        world.client_id,
        "una",
        password,
        secret_hash_value=secret_hash(world.secret, "una", world.client_id),
    )
    assert isinstance(result, UserTokens)
    return result


def test_refresh_token_expires(world: World) -> None:
    tokens = sign_in(world)
    assert tokens.refresh_token is not None
    issuer, token = world.services.issuer, tokens.refresh_token
    world.clock.now += 3599
    refreshed = refresh_tokens(
        issuer, world.client_id, token, channel="oauth", client_secret=world.secret
    )
    assert refreshed.access_token
    world.clock.now += 2
    with pytest.raises(InvalidGrant, match="expired"):
        refresh_tokens(issuer, world.client_id, token, channel="oauth", client_secret=world.secret)


def test_access_token_expires(world: World) -> None:
    tokens = sign_in(world)
    world.clock.now += 599
    assert world.services.issuer.authenticate(tokens.access_token)[0].username == "una"
    world.clock.now += 1
    with pytest.raises(NotAuthorized, match="expired"):
        world.services.issuer.authenticate(tokens.access_token)


def test_lockout_ends(world: World) -> None:
    for message in ("Incorrect username or password.", "Password attempts exceeded"):
        with pytest.raises(NotAuthorized, match=message):
            sign_in(world, "Wr0ng!password")
    world.clock.now += 59
    with pytest.raises(NotAuthorized, match="Password attempts exceeded"):
        sign_in(world)
    world.clock.now += 2
    assert sign_in(world).access_token


def _resigned(world: World, token: str, **changes: object) -> str:
    """The token with claims changed, signed again with the pool's own key and kid."""
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    with world.services.core.store.transaction() as repo:
        kid, private_key = world.services.core.keys.signer(repo, world.pool_id)
    return sign(claims, kid, private_key)


@pytest.mark.parametrize(
    "changes",
    [{"exp": "2000000000"}, {"iat": "1900000000"}, {"nbf": "1000000000"}, {"exp": True}],
    ids=["exp", "iat", "nbf", "bool-exp"],
)
def test_a_numeric_date_that_is_not_a_number_is_refused(
    world: World, changes: dict[str, object]
) -> None:
    token = _resigned(world, sign_in(world).access_token, **changes)
    with pytest.raises(NotAuthorized, match="Invalid Access Token"):
        world.services.issuer.authenticate(token)


SIGNERS = {
    "ec-p256": ec.generate_private_key(ec.SECP256R1()),
    "ec-p384": ec.generate_private_key(ec.SECP384R1()),
    "other-rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
}


def _raw_token(header: dict[str, object], claims: dict[str, object], key: object) -> str:
    """A JWS whose header says anything, signed by `key` with its own family's algorithm."""
    head = jwt.utils.base64url_encode(json.dumps(header).encode())
    body = jwt.utils.base64url_encode(json.dumps(claims).encode())
    algorithm = jwt.get_algorithm_by_name(
        "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    )
    signature = algorithm.sign(head + b"." + body, key)
    return (head + b"." + body + b"." + jwt.utils.base64url_encode(signature)).decode()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    alg=st.sampled_from(["RS256", "RS384", "PS256", "ES256", "ES384", "ES512", "HS256", "none"]),
    signer=st.sampled_from(["pool", *SIGNERS]),
    kid=st.sampled_from(["pool", "unknown"]),
)
@example(alg="RS256", signer="pool", kid="pool")
@example(alg="ES256", signer="ec-p256", kid="pool")
def test_only_the_pools_key_and_alg_verify(world: World, alg: str, signer: str, kid: str) -> None:
    """alg x kid x signing key: NotAuthorized, or the claims when all three are the pool's."""
    access = sign_in(world).access_token
    claims = jwt.decode(access, options={"verify_signature": False})
    header = {"alg": alg, "kid": jwt.get_unverified_header(access)["kid"] if kid == "pool" else kid}
    with world.services.core.store.transaction() as repo:
        key = world.services.core.keys.signer(repo, world.pool_id)[1]
    token = _raw_token(header, claims, key if signer == "pool" else SIGNERS[signer])
    try:
        user, _ = world.services.issuer.authenticate(token)
    except NotAuthorized:
        assert (alg, signer, kid) != ("RS256", "pool", "pool")
        return
    assert (alg, signer, kid) == ("RS256", "pool", "pool")
    assert user.username == "una"


def test_rotated_key_retires_after_its_tokens_expire(world: World) -> None:
    issuer, admin = world.services.issuer, world.services.admin
    old = sign_in(world)
    old_kid = jwt.get_unverified_header(old.access_token)["kid"]
    admin.rotate_keys(world.pool_id)
    new = sign_in(world)
    assert jwt.get_unverified_header(new.access_token)["kid"] != old_kid
    published = lambda: {k["kid"] for k in issuer.jwks(world.pool_id)["keys"]}  # noqa: E731
    assert old_kid in published()
    assert issuer.authenticate(old.access_token)[0].username == "una"
    world.clock.now += 900  # the pool's longest access/id validity
    assert old_kid not in published()
    assert len(published()) == 1


def test_client_secret_and_private_keys_are_sealed_at_rest(world: World) -> None:
    with world.services.core.store.engine.connect() as connection:
        dump = "\n".join(
            str(row)
            for table in ("app_clients", "signing_keys")
            for row in connection.exec_driver_sql(f"select * from {table}")
        )
    assert world.secret not in dump
    assert "PRIVATE KEY" not in dump


@settings(max_examples=40, deadline=None)
@given(
    username=st.text(min_size=1, max_size=30),
    tamper=st.text(min_size=1, max_size=5),
)
def test_secret_hash_binds_username_and_client(username: str, tamper: str) -> None:
    """SECRET_HASH for one username or client never matches another."""
    secret, client = "s3cr3t" * 8, "client0123456789abcdefghij"
    reference = secret_hash(secret, username, client)
    assert len(base64.b64decode(reference)) == 32
    assert secret_hash(secret, username + tamper, client) != reference
    assert secret_hash(secret, username, client + tamper) != reference
    # HMAC pads short keys with zero bytes, so only a secret that differs in more than
    # trailing NULs is a different key.
    if tamper.strip("\x00"):
        assert secret_hash(secret + tamper, username, client) != reference


def test_secret_hash_known_value() -> None:
    # Computed independently: printf 'aliceclient' | openssl dgst -sha256 -hmac secret -binary | base64
    assert (
        secret_hash("secret", "alice", "client") == "RTsve+FQ659UKyESgvLg9GYmZEL+QjzQsW/OjL77/b0="
    )


def test_wrong_secret_hash_is_refused(world: World) -> None:
    with pytest.raises(InvalidClient):
        world.services.issuer.password_auth(
            world.client_id, "una", PASSWORD, secret_hash_value="AAAA"
        )


def test_default_password_hashing_is_memory_hard() -> None:
    defaults = Settings()
    assert defaults.argon2_memory_kib >= 64 * 1024
    assert defaults.argon2_time_cost >= 3
    hashed = Passwords(
        Settings(argon2_time_cost=1, argon2_memory_kib=64, argon2_parallelism=1)
    ).hash("x")
    assert hashed.startswith("$argon2id$")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt!", "long enough"),
        ("nouppercase1!", "uppercase"),
        ("NOLOWERCASE1!", "lowercase"),
        ("NoNumbers!!", "numeric"),
        ("NoSymbols123", "symbol"),
    ],
)
def test_password_policy(password: str, reason: str) -> None:
    with pytest.raises(InvalidPassword, match=reason):
        check_policy(password, DEFAULT_POLICY)
    check_policy(PASSWORD, DEFAULT_POLICY)


def test_refresh_rotation_grace_and_reuse_on_each_store(world: World) -> None:
    """Rotation moves the sign-in to a new token hash (its primary key) on SQLite and PostgreSQL."""
    issuer, admin = world.services.issuer, world.services.admin
    admin.update_client(
        world.pool_id,
        world.client_id,
        None,
        ClientSettings(
            explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH"],
            refresh_rotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 10},
        ),
    )
    original = sign_in(world).refresh_token
    assert original is not None

    def refresh(token: str) -> str:
        tokens = refresh_tokens(
            issuer, world.client_id, token, channel="get_tokens", client_secret=world.secret
        )
        assert tokens.refresh_token is not None
        return tokens.refresh_token

    rotated = refresh(original)
    world.clock.now += 10 - 0.5
    retried = refresh(original)
    current = refresh(retried)
    with pytest.raises(InvalidGrant):
        refresh(rotated)
    world.clock.now += 1
    with pytest.raises(RefreshTokenReuse):
        refresh(original)
    with pytest.raises(InvalidGrant, match="revoked"):
        refresh(current)


def test_parallel_refreshes_of_one_rotating_token_all_succeed(world: World) -> None:
    """Within the grace period, concurrent retries of one token are each answered; the row
    lock makes them take turns instead of racing on the sign-in's key."""
    issuer, admin = world.services.issuer, world.services.admin
    admin.update_client(
        world.pool_id,
        world.client_id,
        None,
        ClientSettings(
            explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH"],
            refresh_rotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 60},
        ),
    )
    original = sign_in(world).refresh_token
    assert original is not None

    def refresh(_: int) -> str | None:
        return refresh_tokens(
            issuer, world.client_id, original, channel="get_tokens", client_secret=world.secret
        ).refresh_token

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(refresh, range(8)))
    assert len(set(answers)) == 8 and None not in answers
    # Exactly one of them is the sign-in's current token now.
    current = [t for t in answers if t is not None and _works(world, t)]
    assert len(current) == 1


def _works(world: World, token: str) -> bool:
    try:
        refresh_tokens(
            world.services.issuer,
            world.client_id,
            token,
            channel="get_tokens",
            client_secret=world.secret,
        )
    except InvalidGrant:
        return False
    return True

"""Which user a partner identity signs in as, and the browser trip's state, in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.token_service.inprocess import Clock, fast_settings
from token_service.federation.linking import (
    EXTERNAL_PROVIDER,
    ExternalIdentity,
    FederationRefused,
    sign_in_external,
    sign_in_methods,
)
from token_service.federation.providers import IdentityProviders, Provider, ProviderUnavailable
from token_service.federation.relay import Relay
from token_service.services import Services, build_services
from token_service.store.models import IdentityProvider


@dataclass
class World:
    services: Services
    clock: Clock
    pool_id: str


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    config = fast_settings(
        database_url,
    )
    clock = Clock()
    services = build_services(config, clock)
    pool = services.admin.create_pool("fed", custom_attributes=["tenant_id"])
    services.admin.create_user(
        pool.id, "alice", {"email": "alice@partner.example", "email_verified": "true"}
    )
    yield World(services, clock, pool.id)
    services.core.store.dispose()


def register(world: World, name: str = "Partner", **details: str) -> Provider:
    mapping = {"username": "sub", "email": "email", "name": "name", "custom:tenant_id": "tid"}
    with world.services.core.store.transaction() as repo:
        repo.add(
            IdentityProvider(
                pool_id=world.pool_id,
                name=name,
                type="OIDC",
                details={"oidc_issuer": "https://idp.partner.example", **details},
                client_secret_sealed=IdentityProviders(world.services.core).seal_secret("s3cret"),
                attribute_mapping=mapping,
                identifiers=["partner.example"],
                created_at=world.clock.now,
                updated_at=world.clock.now,
            )
        )
        provider = IdentityProviders(world.services.core).get(repo, world.pool_id, name)
    assert provider is not None
    return provider


def sign_in(world: World, provider: Provider, subject: str, verified: bool = True, **claims):
    identity = ExternalIdentity(
        provider=provider,
        subject=subject,
        claims={"sub": subject, "email": "alice@partner.example", **claims},
        email_verified=verified,
    )
    with world.services.core.store.transaction() as repo:
        user = sign_in_external(repo, identity, world.clock.now)
        return user.sub, user.username, user.status, dict(user.attributes)


def test_first_sign_in_creates_an_external_user_and_maps_attributes(world: World) -> None:
    provider = register(world)
    sub, username, status, attributes = sign_in(world, provider, "abc", name="Ann", tid="t-1")
    assert username == "Partner_abc" and status == EXTERNAL_PROVIDER
    assert attributes["name"] == "Ann" and attributes["custom:tenant_id"] == "t-1"
    assert attributes["email_verified"] == "true"
    [entry] = json.loads(attributes["identities"])
    assert entry["userId"] == "abc" and entry["providerName"] == "Partner"
    assert entry["providerType"] == "OIDC" and entry["primary"] == "true"
    # The second sign-in is the same user, with the partner's new values.
    again = sign_in(world, provider, "abc", name="Ann B.")
    assert again[0] == sub and again[3]["name"] == "Ann B."


def test_link_verified_email_links_only_a_verified_email(world: World) -> None:
    provider = register(world, first_sign_in="link_verified_email")
    # The IdP does not vouch for the email: a new user, alice's account untouched.
    _, username, _, _ = sign_in(world, provider, "unverified", verified=False)
    assert username == "Partner_unverified"
    _, username, status, attributes = sign_in(world, provider, "verified")
    assert username == "alice" and status != EXTERNAL_PROVIDER
    assert json.loads(attributes["identities"])[0]["userId"] == "verified"


def test_refuse_policy_and_disabled_links_sign_in_no_one(world: World) -> None:
    provider = register(world, first_sign_in="refuse")
    with pytest.raises(FederationRefused, match="not linked"):
        sign_in(world, provider, "abc")
    with world.services.core.store.transaction() as repo:
        assert repo.user_by_username(world.pool_id, "Partner_abc") is None
    creating = register(world, "Other")
    sign_in(world, creating, "x")
    with world.services.core.store.transaction() as repo:
        link = repo.federated_identity(world.pool_id, "Other", "x")
        assert link is not None
        link.disabled_at = world.clock.now
    with pytest.raises(FederationRefused, match="disabled"):
        sign_in(world, creating, "x")


def test_a_native_user_is_never_taken_over_by_name(world: World) -> None:
    world.services.admin.create_user(world.pool_id, "Partner_abc", {})
    provider = register(world)
    with pytest.raises(FederationRefused, match="already exists"):
        sign_in(world, provider, "abc")


def test_client_must_support_an_enabled_provider(world: World) -> None:
    provider = register(world, enabled="false")
    client = world.services.admin.create_client(world.pool_id, "app").client
    providers = IdentityProviders(world.services.core)
    with world.services.core.store.transaction() as repo:
        with pytest.raises(ProviderUnavailable, match="does not support"):
            providers.for_client(repo, client, "Partner")
        client.supported_identity_providers = ["COGNITO", "Partner"]
        with pytest.raises(ProviderUnavailable, match="disabled"):
            providers.for_client(repo, client, "Partner")
        assert providers.client_secret(repo, provider) == "s3cret"
        assert providers.by_email_domain(repo, world.pool_id, "bob@Partner.Example") == provider


def test_entra_tenant_placeholder_matches_only_its_own_tenant(world: World) -> None:
    provider = register(
        world, "Entra", oidc_issuer="https://login.microsoftonline.com/{tenantid}/v2.0"
    )
    assert provider.issuer_matches("https://login.microsoftonline.com/t1/v2.0", "t1")
    assert not provider.issuer_matches("https://login.microsoftonline.com/t1/v2.0", "t2")
    assert not provider.issuer_matches("https://login.microsoftonline.com/t1/v2.0", None)


def test_sign_in_methods_pass_on_registered_values_only() -> None:
    assert sign_in_methods({"amr": ["pwd", "mfa", "x-custom"]}) == ["pwd", "mfa"]
    assert sign_in_methods({"amr": "pwd"}) == ["ext"]
    assert sign_in_methods({}) == ["ext"]


def test_relay_trip_is_single_use_and_bound_to_its_browser(world: World) -> None:
    provider = register(world)
    relay = Relay(world.services.core)
    store = world.services.core.store
    with store.transaction() as repo:
        state, trip, cookie = relay.start(repo, provider, {"client_id": "c"}, None)
    with pytest.raises(FederationRefused, match="this browser"), store.transaction() as repo:
        relay.finish(repo, state, "another-browser-cookie-value-000000000000000")
    with store.transaction() as repo:
        back = relay.finish(repo, state, cookie)
    assert back == trip and len(state) <= 80 and back.code_verifier
    with pytest.raises(FederationRefused, match="already used"), store.transaction() as repo:
        relay.finish(repo, state, cookie)
    with store.transaction() as repo:
        state, _, same_cookie = relay.start(repo, provider, {}, cookie)
    assert same_cookie == cookie
    world.clock.now += 601
    with pytest.raises(FederationRefused, match="expired"), store.transaction() as repo:
        relay.finish(repo, state, cookie)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subject=st.text(max_size=200))
def test_any_subject_signs_in_or_is_refused_cleanly(world: World, subject: str) -> None:
    provider = register(world, f"P{abs(hash(subject)) % 10**8}")
    try:
        _, username, _, _ = sign_in(world, provider, subject)
    except FederationRefused:
        return
    assert username == f"{provider.name}_{subject}" and len(username) <= 128

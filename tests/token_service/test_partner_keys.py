"""PartnerKeys against a real HTTP issuer: caching, the rate-limited refetch on an unknown kid,
keys kept through an outage, JWKS entries that are not signing keys, and the HTTP clients
closed when the app shuts down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.entra_issuer import EntraIssuer
from tests.support.http_server import LocalServer, QuietHandler
from tests.token_service.inprocess import fast_settings
from token_service.api.app import create_app
from token_service.federation.jwks import PartnerKeys, PartnerUnavailable, UnknownKey

TENANT = "11111111-1111-4111-8111-111111111111"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(clock: Clock) -> Iterator[PartnerKeys]:
    partner_keys = PartnerKeys(clock=clock, cache_seconds=300, min_refetch_seconds=60)
    yield partner_keys
    partner_keys.close()


def test_discovery_names_the_keys(keys: PartnerKeys, entra: EntraIssuer) -> None:
    assert keys.jwks_uri(entra.issuer(TENANT), {}) == entra.jwks_uri
    assert keys.jwks_uri(entra.issuer(TENANT), {"jwks_uri": "https://x.example/k"}) == (
        "https://x.example/k"
    )
    assert keys.key(entra.jwks_uri, entra.kid).algorithm_name == "RS256"
    assert keys.key(entra.jwks_uri, entra.ec_kid).algorithm_name == "ES256"


def test_unknown_kids_refetch_at_most_once_a_minute(
    keys: PartnerKeys, entra: EntraIssuer, clock: Clock
) -> None:
    keys.key(entra.jwks_uri, entra.kid)
    fetched = entra.key_requests
    for _ in range(20):
        with pytest.raises(UnknownKey):
            keys.key(entra.jwks_uri, "random-kid")
    assert entra.key_requests == fetched
    clock.now += 61
    with pytest.raises(UnknownKey):
        keys.key(entra.jwks_uri, "random-kid")
    assert entra.key_requests == fetched + 1
    keys.key(entra.jwks_uri, entra.kid)
    assert entra.key_requests == fetched + 1


class Flaky:
    """A JWKS endpoint that can be switched to answer 500, or to answer a given document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document: dict[str, Any] | None = document
        flaky = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if flaky.document is None:
                    self.send_error(500)
                    return
                self.send_json(flaky.document)

        self.server = LocalServer(Handler)
        self.url = f"{self.server.url}/keys"

    def close(self) -> None:
        self.server.close()


def test_an_outage_keeps_the_keys_we_had(
    keys: PartnerKeys, entra: EntraIssuer, clock: Clock
) -> None:
    flaky = Flaky(entra.jwks())
    try:
        assert keys.key(flaky.url, entra.kid)
        flaky.document = None
        clock.now += 400  # past the cache time: refetch fails, the old keys stay
        assert keys.key(flaky.url, entra.kid)
    finally:
        flaky.close()


def test_no_keys_at_all_is_unavailable(keys: PartnerKeys) -> None:
    flaky = Flaky({})
    flaky.document = None
    try:
        with pytest.raises(PartnerUnavailable):
            keys.key(flaky.url, "any")
        with pytest.raises(PartnerUnavailable):
            keys.discovery(flaky.url.removesuffix("/keys"))
    finally:
        flaky.close()


def test_entries_that_are_not_signing_keys_are_skipped(
    keys: PartnerKeys, entra: EntraIssuer
) -> None:
    good = entra.jwks()["keys"][0]
    document = {
        "keys": [
            {**good, "kid": "enc", "use": "enc"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "AA", "e": "AQAB"},
            {**good, "kid": None},
            "not an object",
            good,
        ]
    }
    flaky = Flaky(document)
    try:
        assert keys.key(flaky.url, entra.kid)
        for kid in ("enc", "hmac", "broken"):
            with pytest.raises(UnknownKey):
                keys.key(flaky.url, kid)
    finally:
        flaky.close()


def test_the_app_closes_the_partner_clients_it_built_at_shutdown(tmp_path: Path) -> None:
    app = create_app(fast_settings(f"sqlite:///{tmp_path / 'ts.db'}"))
    services = app.state.services
    with TestClient(app):
        assert not services.partner_keys._http.is_closed
    assert services.partner_keys._http.is_closed
    assert services.federation.oidc.client.http.is_closed

"""The SAML side's rows (SP key pairs, SAML sessions) on SQLite and PostgreSQL, in-process,
and the SAML parsers against arbitrary input."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.saml_idp import SamlIdp, running_idp
from tests.token_service.inprocess import Clock, fast_settings
from tests.token_service.saml_world import partner_user
from token_service.federation import saml_logout, saml_sp
from token_service.federation.providers import Provider
from token_service.federation.relay import Trip
from token_service.federation.saml import request_id
from token_service.federation.saml_keys import SamlKeys
from token_service.federation.saml_sp import SamlRefused, VerifiedAssertion
from token_service.services import Services, build_services
from token_service.settings import SettingsError
from token_service.store.models import SamlSession, SamlSigningKey

ACS = "http://127.0.0.1:9229/saml2/idpresponse"
ANY_ASSERTION = VerifiedAssertion(
    assertion_id="_a",
    name_id="bob",
    name_id_format=None,
    session_index="_s",
    authn_context=None,
    authn_instant=None,
    attributes={},
    expires_at=0.0,
)


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    # Real time: pysaml2 checks assertions against the real clock.
    running = build_services(fast_settings(database_url), Clock(time.time()))
    yield running
    running.core.store.dispose()


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    yield from running_idp(tmp_path_factory.mktemp("saml-store-idp"), {})


def test_a_pool_has_one_key_pair_sealed_at_rest(services: Services, database_url: str) -> None:
    pool = services.admin.create_pool("keys")
    keys = SamlKeys(services.core)
    first = keys.pair(pool.id)
    assert keys.pair(pool.id) == first
    with services.core.store.transaction() as repo:
        row = repo.session.get(SamlSigningKey, pool.id)
        assert row is not None and b"PRIVATE KEY" not in row.private_sealed
    other = build_services(fast_settings(database_url), Clock())
    try:
        with pytest.raises(SettingsError):
            SamlKeys(other.core).pair(pool.id)
    finally:
        other.core.store.dispose()


def test_deleting_a_pool_deletes_its_saml_rows(services: Services) -> None:
    pool = services.admin.create_pool("gone")
    SamlKeys(services.core).pair(pool.id)
    provider = Provider(pool.id, "Partner", "SAML", {"IDPSignout": "true"}, {}, [])
    assertion = ANY_ASSERTION
    services.saml.sign_out.remember("a-cookie", provider, assertion)
    services.admin.delete_pool(pool.id)
    with services.core.store.transaction() as repo:
        assert repo.session.get(SamlSigningKey, pool.id) is None
        assert repo.session.query(SamlSession).filter_by(pool_id=pool.id).count() == 0


def test_logout_of_a_session_without_a_saml_provider_goes_to_the_target(
    services: Services,
) -> None:
    pool = services.admin.create_pool("plain")
    provider = Provider(pool.id, "Removed", "SAML", {"IDPSignout": "true"}, {}, [])
    assertion = ANY_ASSERTION
    services.saml.sign_out.remember("cookie-of-bob", provider, assertion)
    sign_out = services.saml.sign_out
    assert sign_out.after_logout(None, "https://app.example/out") == "https://app.example/out"
    # Its provider is gone: straight to the target, and the row with it.
    assert sign_out.after_logout("cookie-of-bob", "https://app.example/out") == (
        "https://app.example/out"
    )
    with services.core.store.transaction() as repo:
        assert repo.session.query(SamlSession).filter_by(pool_id=pool.id).count() == 0


def test_an_assertion_is_accepted_once(services: Services, idp: SamlIdp) -> None:
    """The assertion ID is remembered: the same assertion for the same request, presented
    again (were the trip ever resumed twice), is refused."""
    pool = services.admin.create_pool("replay")
    details = {"metadata_document": idp.metadata()}
    provider = Provider(pool.id, "Partner", "SAML", details, {}, [])
    trip = Trip("Partner", pool.id, {}, "n0nce", "", time.time() + 600)
    user = partner_user("once", "once@partner.example")
    xml = idp.response("_n0nce", services.saml.acs, f"urn:amazon:cognito:sp:{pool.id}", user)
    encoded = base64.b64encode(xml.encode()).decode()
    identity, assertion = services.saml.identity(provider, request_id(trip), encoded)
    assert identity.subject == "once" and assertion.session_index
    # No AttributeMapping for email_verified: the attribute the IdP sends is not consulted.
    assert identity.email_verified is False
    with pytest.raises(SamlRefused, match="used before"):
        services.saml.identity(provider, request_id(trip), encoded)


def test_an_idp_initiated_assertion_is_fresh_for_six_minutes() -> None:
    def instant(offset: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))

    assert saml_sp.issued_recently(instant(0)) and saml_sp.issued_recently(instant(-350))
    assert not saml_sp.issued_recently(instant(-370))
    assert not saml_sp.issued_recently(instant(120)) and not saml_sp.issued_recently(None)


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300).map(base64.b64encode)))
def test_verify_response_refuses_anything_with_a_reason(
    idp_metadata: str, value: str | bytes
) -> None:
    text = value.decode() if isinstance(value, bytes) else value
    with pytest.raises(SamlRefused) as refused:
        saml_sp.verify_response("us-east-1_x", ACS, idp_metadata, text, "_request")
    assert refused.value.reason and "Traceback" not in refused.value.reason


@pytest.fixture(scope="module")
def idp_metadata(idp: SamlIdp) -> str:
    return idp.metadata()


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_logout_queries_of_any_shape_are_read_or_refused(query: str) -> None:
    found = saml_logout.logout_response_id(query)
    assert found is None or isinstance(found, str)


def test_a_parameter_twice_in_a_logout_response_is_refused() -> None:
    with pytest.raises(SamlRefused, match="more than once"):
        saml_logout.verify_logout_response(
            "us-east-1_x", ACS, ACS, "<x/>", "SAMLResponse=a&SAMLResponse=b", "_r"
        )

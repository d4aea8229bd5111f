"""Properties of the small parsers and encoders of OIDC federation, for any input.

Client credentials in HTTP Basic as RFC 6749 2.3.1 encodes them (decoded here as our own token
endpoint decodes them), the S256 challenge, the tenant an Entra-style issuer names, and which
values count as an IdP asserting `true`.
"""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import unquote_plus

from hypothesis import given
from hypothesis import strategies as st

from token_service.federation.oidc import basic_credentials
from token_service.federation.oidc_sign_in import asserted_true, code_challenge, tenant_of
from token_service.federation.providers import Provider

TENANTS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._", min_size=1
)


def provider(issuer: str) -> Provider:
    return Provider("us-east-1_pool", "Entra", "OIDC", {"oidc_issuer": issuer}, {}, [])


@given(client_id=st.text(), secret=st.text())
def test_basic_credentials_decode_to_what_was_encoded(client_id: str, secret: str) -> None:
    header = basic_credentials(client_id, secret)
    assert header.startswith("Basic ")
    decoded = base64.b64decode(header[6:], validate=True).decode()
    encoded_id, sep, encoded_secret = decoded.partition(":")
    assert sep == ":"
    assert (unquote_plus(encoded_id), unquote_plus(encoded_secret)) == (client_id, secret)


@given(verifier=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=43))
def test_code_challenge_is_unpadded_base64url_of_the_sha256(verifier: str) -> None:
    challenge = code_challenge(verifier)
    assert len(challenge) == 43 and "=" not in challenge
    padded = base64.urlsafe_b64decode(challenge + "=")
    assert padded == hashlib.sha256(verifier.encode()).digest()


@given(tenant=TENANTS, placeholder=st.sampled_from(["{tenantid}", "{tenant}"]))
def test_the_tenant_an_issuer_names_in_the_placeholders_place(
    tenant: str, placeholder: str
) -> None:
    registered = provider(f"https://login.example.com/{placeholder}/v2.0")
    issuer = f"https://login.example.com/{tenant}/v2.0"
    assert tenant_of(issuer, registered) == tenant
    assert registered.issuer_matches(issuer, tenant_of(issuer, registered))


@given(issuer=st.text())
def test_an_issuer_of_another_shape_names_no_tenant_that_matches(issuer: str) -> None:
    registered = provider("https://login.example.com/{tenantid}/v2.0")
    tenant = tenant_of(issuer, registered)
    if registered.issuer_matches(issuer, tenant):
        assert issuer == f"https://login.example.com/{tenant}/v2.0"
    assert tenant_of(issuer, provider("https://idp.example.com")) is None


@given(value=st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8)))
def test_only_true_and_the_string_true_are_asserted(value: object) -> None:
    expected = value is True or (isinstance(value, str) and value.lower() == "true")
    assert asserted_true(value) is expected

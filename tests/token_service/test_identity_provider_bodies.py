"""Any body sent to the identity-provider and linking operations is answered or refused with
a documented 400, never a server error (raw SigV4 requests: bodies boto3 would never send)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import Server
from tests.token_service.idp_world import oidc_details
from tests.token_service.test_cognito_api import signed_post

# any body: an answer or a documented refusal, never a server error
_DOCUMENTED = {
    "InvalidParameterException",
    "DuplicateProviderException",
    "ResourceNotFoundException",
    "LimitExceededException",
    "SerializationException",
}
_KEYS = [
    "client_id",
    "client_secret",
    "authorize_scopes",
    "oidc_issuer",
    "attributes_request_method",
    "jwks_uri",
    "MetadataFile",
    "MetadataURL",
    "first_sign_in",
    "allowed_tenants",
    "enabled",
]
_VALUES = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["GET", "POST", "openid", "true", "http://127.0.0.1:1/x", "<x/>", "{tenantid}"]
    ),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=2),
)
_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "ProviderName": st.one_of(st.text(max_size=40), st.integers(), st.none()),
        "ProviderType": st.one_of(st.sampled_from(["OIDC", "SAML", "Google", "x"]), _VALUES),
        "ProviderDetails": st.one_of(
            st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text(max_size=10)), _VALUES),
            _VALUES,
        ),
        "AttributeMapping": st.one_of(
            st.dictionaries(st.sampled_from(["username", "email", "x", ""]), _VALUES), _VALUES
        ),
        "IdpIdentifiers": st.one_of(st.lists(_VALUES, max_size=3), _VALUES),
        "AcrMapping": _VALUES,
    },
)


@pytest.fixture(scope="module")
def fuzz_pool(cognito: Any) -> str:
    pool_id: str = cognito.create_user_pool(PoolName="idp-fuzz")["UserPool"]["Id"]
    return pool_id


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_BODIES)
def test_any_create_body_is_answered_or_refused_never_a_server_error(
    server: Server, fuzz_pool: str, body: dict[str, Any]
) -> None:
    payload = json.dumps({"UserPoolId": fuzz_pool, **body}).encode()
    response = signed_post(server, "CreateIdentityProvider", payload)
    if response.status_code == 200:
        name = response.json()["IdentityProvider"]["ProviderName"]
        delete = json.dumps({"UserPoolId": fuzz_pool, "ProviderName": name}).encode()
        assert signed_post(server, "DeleteIdentityProvider", delete).status_code == 200
        return
    assert response.status_code == 400, response.text
    assert response.json()["__type"] in _DOCUMENTED, response.text


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_IDENTITY = st.fixed_dictionaries(
    {},
    optional={
        "ProviderName": st.one_of(st.sampled_from(["Cognito", "Partner", "Nobody"]), _JSON),
        "ProviderAttributeName": st.one_of(st.just("Cognito_Subject"), _JSON),
        "ProviderAttributeValue": st.one_of(st.text(max_size=300), _JSON),
    },
)
_OTHER_OPERATIONS = {
    "DescribeIdentityProvider": {"ProviderName": _JSON},
    "UpdateIdentityProvider": {
        "ProviderName": st.one_of(st.just("Partner"), _JSON),
        "ProviderDetails": _JSON,
        "AttributeMapping": _JSON,
        "IdpIdentifiers": _JSON,
    },
    "DeleteIdentityProvider": {"ProviderName": st.one_of(st.just("Nobody"), _JSON)},
    "ListIdentityProviders": {"MaxResults": _JSON, "NextToken": _JSON},
    "GetIdentityProviderByIdentifier": {"IdpIdentifier": _JSON},
    "AdminLinkProviderForUser": {
        "DestinationUser": st.one_of(_IDENTITY, _JSON),
        "SourceUser": st.one_of(_IDENTITY, _JSON),
    },
    "AdminDisableProviderForUser": {"User": st.one_of(_IDENTITY, _JSON)},
}


@pytest.fixture(scope="module")
def fuzz_world(cognito: Any, fuzz_pool: str) -> str:
    endpoints = {
        key: f"https://idp.partner.example/{key}"
        for key in ("authorize_url", "token_url", "attributes_url", "jwks_uri")
    }
    cognito.create_identity_provider(
        UserPoolId=fuzz_pool,
        ProviderName="Partner",
        ProviderType="OIDC",
        ProviderDetails=oidc_details("https://idp.partner.example", **endpoints),
    )
    cognito.admin_create_user(UserPoolId=fuzz_pool, Username="alice", MessageAction="SUPPRESS")
    return fuzz_pool


@pytest.mark.parametrize("operation", sorted(_OTHER_OPERATIONS))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_other_operations_refuse_any_malformed_body_cleanly(
    server: Server, fuzz_world: str, operation: str, data: st.DataObject
) -> None:
    body = data.draw(st.fixed_dictionaries({}, optional=_OTHER_OPERATIONS[operation]))
    if operation == "UpdateIdentityProvider" and body.get("ProviderName") == "Partner":
        body.pop("ProviderDetails", None)  # keep the fixture's provider as it is
    payload = json.dumps({"UserPoolId": fuzz_world, **body}).encode()
    response = signed_post(server, operation, payload)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["__type"] in _DOCUMENTED | {
            "UserNotFoundException",
            "AliasExistsException",
        }

"""Cognito's identity-provider operations with boto3 against a real `token-service serve`.

The partner OIDC issuer is a second `token-service serve` (its pools publish discovery), the
Entra-shaped issuer and the SAML IdP are the suite's test IdPs, and bad documents come from a
small HTTP server: every fetch is a real one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.entra_issuer import EntraIssuer
from tests.support.saml_idp import SamlIdp
from tests.token_service.conftest import Server, cognito_client, start_server, stop_server
from tests.token_service.idp_world import Documents, World, oidc_details, saml_metadata, store_of
from tests.token_service.test_cognito_api import error_of
from token_service.federation.providers import IdentityProviders

SECRET = "partner-issued-secret-0123456789"


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A partner Cognito: another token service, whose pools are OIDC issuers."""
    running = start_server(tmp_path_factory.mktemp("partner"))
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def partner_issuer(partner: Server) -> str:
    pool = cognito_client(partner.url).create_user_pool(PoolName="partner")["UserPool"]
    return f"{partner.url}/{pool['Id']}"


@pytest.fixture(scope="module")
def documents() -> Iterator[Documents]:
    served = Documents()
    yield served
    served.close()


@pytest.fixture(scope="module")
def entra() -> Iterator[EntraIssuer]:
    issuer = EntraIssuer()
    yield issuer
    issuer.close()


@pytest.fixture(scope="module")
def saml_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    idp = SamlIdp(tmp_path_factory.mktemp("saml-idp"), {})
    yield idp
    idp.stop()


@pytest.fixture
def world(cognito: Any, partner_issuer: str) -> World:
    pool = cognito.create_user_pool(
        PoolName=f"idp-{uuid.uuid4().hex[:8]}",
        Schema=[{"Name": "oid", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    return World(pool["Id"], partner_issuer)


def raw(value: Any) -> str:
    return json.dumps(value, default=str)


# OIDC with discovery


def refused_create(
    cognito: Any, pool_id: str, name: str, provider_type: str, details: Any, **more: Any
) -> tuple[str, str]:
    """The error code and message of a CreateIdentityProvider that must fail."""
    return error_of(
        cognito.create_identity_provider,
        UserPoolId=pool_id,
        ProviderName=name,
        ProviderType=provider_type,
        ProviderDetails=details,
        **more,
    )


def test_an_oidc_provider_is_discovered_and_its_secret_never_returned(
    cognito: Any, server: Server, world: World, partner: Server
) -> None:
    created = world.oidc(cognito, AttributeMapping={"email": "email"}, IdpIdentifiers=["p.example"])
    discovery = partner_discovery(world.issuer)
    details = created["ProviderDetails"]
    assert details["authorize_url"] == discovery["authorization_endpoint"]
    assert details["token_url"] == discovery["token_endpoint"]
    assert details["jwks_uri"] == discovery["jwks_uri"]
    assert details["attributes_url"] == discovery["userinfo_endpoint"]
    assert details["attributes_url_add_attributes"] == "false"
    assert created["AttributeMapping"] == {"username": "sub", "email": "email"}
    assert created["IdpIdentifiers"] == ["p.example"]
    described = cognito.describe_identity_provider(UserPoolId=world.pool_id, ProviderName="Partner")
    listed = cognito.list_identity_providers(UserPoolId=world.pool_id)
    by_identifier = cognito.get_identity_provider_by_identifier(
        UserPoolId=world.pool_id, IdpIdentifier="P.EXAMPLE"
    )
    assert by_identifier["IdentityProvider"] == described["IdentityProvider"]
    for answer in (created, described, listed, by_identifier):
        assert SECRET not in raw(answer) and "client_secret" not in raw(answer)
    assert listed["Providers"] == [
        {k: described["IdentityProvider"][k] for k in listed["Providers"][0]}
    ]
    assert SECRET.encode() not in Path(server.env["TOKEN_SERVICE_DATABASE_URL"][10:]).read_bytes()
    assert SECRET not in server.log()
    services = store_of(server)
    with services.core.store.transaction() as repo:
        providers = IdentityProviders(services.core)
        provider = providers.get(repo, world.pool_id, "Partner")
        assert provider is not None and providers.client_secret(repo, provider) == SECRET


def partner_discovery(issuer: str) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    return document


def test_explicit_endpoints_need_no_discovery(cognito: Any, world: World) -> None:
    endpoints = {
        "authorize_url": "https://idp.example.com/authorize",
        "token_url": "https://idp.example.com/token",
        "attributes_url": "https://idp.example.com/userinfo",
        "jwks_uri": "https://idp.example.com/jwks",
    }
    details = oidc_details("https://idp.example.com", **endpoints)
    created = world.oidc(cognito, ProviderDetails=details)
    assert {k: created["ProviderDetails"][k] for k in endpoints} == endpoints


@pytest.mark.parametrize(
    ("route", "named"),
    [
        (None, "could not be fetched"),
        ((500, "oops"), "HTTP 500"),
        ((200, "<html>"), "not JSON"),
        ((200, "[1]"), "not a JSON object"),
        ((200, json.dumps({"issuer": "https://elsewhere.example"})), "issuer"),
        ((200, "ISSUER"), "discovery does not name"),
    ],
)
def test_discovery_problems_are_refused_and_nothing_is_stored(
    cognito: Any, world: World, documents: Documents, route: Any, named: str
) -> None:
    issuer = "http://127.0.0.1:1/nowhere"
    if route is not None:
        issuer = f"{documents.url}/{uuid.uuid4().hex}"
        body = json.dumps({"issuer": issuer}) if route[1] == "ISSUER" else route[1]
        documents.serve(
            "/" + issuer.rsplit("/", 1)[1] + "/.well-known/openid-configuration", body, route[0]
        )
    code, message = refused_create(cognito, world.pool_id, "Broken", "OIDC", oidc_details(issuer))
    assert code == "InvalidParameterException" and named in message and "ProviderDetails" in message
    code, _ = error_of(
        cognito.describe_identity_provider, UserPoolId=world.pool_id, ProviderName="Broken"
    )
    assert code == "ResourceNotFoundException"


def test_an_entra_multi_tenant_issuer_needs_its_tenants(
    cognito: Any, world: World, entra: EntraIssuer
) -> None:
    tenant = str(uuid.uuid4())
    details = oidc_details(entra.template_issuer, allowed_tenants=f"{tenant}, {uuid.uuid4()}")
    created = world.oidc(
        cognito, "Entra", ProviderDetails=details, AttributeMapping={"username": "oid"}
    )
    assert created["ProviderDetails"]["jwks_uri"] == entra.jwks_uri
    assert created["ProviderDetails"]["oidc_issuer"] == entra.template_issuer
    assert created["AttributeMapping"] == {"username": "oid"}
    for bad, named in (
        (oidc_details(entra.template_issuer), "allowed_tenants is required"),
        (oidc_details(entra.template_issuer, allowed_tenants="a;b"), "allowed_tenants"),
        (oidc_details("https://login.microsoftonline.com/common/v2.0"), "{tenantid}"),
    ):
        code, message = refused_create(cognito, world.pool_id, "Entra2", "OIDC", bad)
        assert code == "InvalidParameterException" and named in message


# SAML
def test_a_saml_provider_from_its_metadata_url(
    cognito: Any, world: World, saml_idp: SamlIdp
) -> None:
    url = f"{saml_idp.url}/metadata"
    created = cognito.create_identity_provider(
        UserPoolId=world.pool_id,
        ProviderName="PartnerSAML",
        ProviderType="SAML",
        ProviderDetails={"MetadataURL": url, "IDPSignout": "false"},
        AttributeMapping={"email": "mail"},
    )["IdentityProvider"]
    details = created["ProviderDetails"]
    assert details["MetadataURL"] == url
    assert details["SSORedirectBindingURI"].startswith(saml_idp.url)
    assert set(details) - {"SLORedirectBindingURI"} == {
        "MetadataURL",
        "IDPSignout",
        "SSORedirectBindingURI",
    }
    assert created["AttributeMapping"] == {"email": "mail"}


def test_saml_metadata_is_kept_for_the_sign_in(cognito: Any, server: Server, world: World) -> None:
    document = saml_metadata()
    created = cognito.create_identity_provider(
        UserPoolId=world.pool_id,
        ProviderName="FileSAML",
        ProviderType="SAML",
        ProviderDetails={"MetadataFile": document, "IDPSignout": "true"},
    )["IdentityProvider"]
    assert created["ProviderDetails"]["SLORedirectBindingURI"] == "https://idp.partner.example/slo"
    assert created["ProviderDetails"]["MetadataFile"] == document
    with store_of(server).core.store.transaction() as repo:
        row = repo.identity_provider(world.pool_id, "FileSAML")
        assert row is not None and row.details["metadata_document"] == document


@pytest.mark.parametrize(
    ("details", "named"),
    [
        ({"MetadataFile": "<not-xml"}, "not SAML 2.0 metadata"),
        ({"MetadataFile": saml_metadata(descriptor="SPSSODescriptor")}, "exactly one SAML IdP"),
        ({"MetadataFile": saml_metadata(use="encryption")}, "signing certificate"),
        ({"MetadataFile": saml_metadata(logout=False), "IDPSignout": "true"}, "IDPSignout"),
        ({"MetadataFile": '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'}, "not SAML 2.0"),
        ({"MetadataURL": "http://127.0.0.1:1/metadata"}, "MetadataURL"),
        ({"MetadataURL": "https://x.example/m", "MetadataFile": "<x/>"}, "exactly one of"),
        ({}, "exactly one of"),
        ({"MetadataFile": saml_metadata(), "token_exchange": "true"}, "token_exchange"),
        ({"MetadataFile": saml_metadata(), "RequestSigningAlgorithm": "rsa-sha1"}, "rsa-sha256"),
    ],
)
def test_bad_saml_details_are_refused(
    cognito: Any, world: World, details: dict[str, str], named: str
) -> None:
    code, message = refused_create(cognito, world.pool_id, "BadSAML", "SAML", details)
    assert code == "InvalidParameterException" and named in message


# validation as Cognito's
BAD_OIDC = [
    ({"ProviderName": "Cognito"}, "reserved"),
    ({"ProviderName": "COGNITO"}, "reserved"),
    ({"ProviderName": "Google"}, "cannot be of type OIDC"),
    ({"ProviderName": "_Partner"}, "providerName"),
    ({"ProviderName": "Part ner"}, "providerName"),
    ({"ProviderName": "Part_ner"}, "providerName"),
    ({"ProviderName": "ab"}, "providerName"),
    ({"ProviderName": "p" * 33}, "providerName"),
    ({"ProviderType": "Google"}, "not supported"),
    ({"ProviderType": "LDAP"}, "providerType"),
    ({"drop": "client_id"}, "client_id is required"),
    ({"drop": "oidc_issuer"}, "oidc_issuer is required"),
    ({"drop": "authorize_scopes"}, "authorize_scopes is required"),
    ({"drop": "attributes_request_method"}, "attributes_request_method"),
    ({"details": {"attributes_request_method": "PUT"}}, "attributes_request_method"),
    ({"details": {"authorize_scopes": "email"}}, "openid"),
    ({"details": {"favourite_colour": "blue"}}, "favourite_colour"),
    ({"details": {"first_sign_in": "merge"}}, "first_sign_in"),
    ({"details": {"enabled": "yes"}}, "enabled"),
    ({"details": {"token_exchange": "1"}}, "token_exchange"),
    ({"details": {"oidc_issuer": "ftp://idp.example"}}, "oidc_issuer"),
    ({"details": {"oidc_issuer": "http://idp.example"}}, "HTTPS"),
    ({"details": {"jwks_uri": "http://idp.example/jwks"}}, "jwks_uri"),
    ({"AttributeMapping": {"shoe_size": "shoe"}}, "shoe_size"),
    ({"AttributeMapping": {"email": ""}}, "AttributeMapping.email"),
    ({"IdpIdentifiers": ["ok", "OK"]}, "twice"),
    ({"IdpIdentifiers": ["no/slash"]}, "IdpIdentifiers"),
    ({"IdpIdentifiers": ["x" * 41]}, "IdpIdentifiers"),
    ({"IdpIdentifiers": [f"id{i}" for i in range(51)]}, "at most 50"),
    ({"AcrMapping": {"a": "b"}}, "AcrMapping"),
]


@pytest.mark.parametrize(("change", "named"), BAD_OIDC, ids=[str(i) for i in range(len(BAD_OIDC))])
def test_create_refuses_what_cognito_refuses(
    cognito: Any, world: World, change: dict[str, Any], named: str
) -> None:
    details = oidc_details(world.issuer, **change.pop("details", {}))
    details.pop(change.pop("drop", ""), None)
    request = {
        "UserPoolId": world.pool_id,
        "ProviderName": "Partner",
        "ProviderType": "OIDC",
        "ProviderDetails": details,
        **change,
    }
    code, message = error_of(cognito.create_identity_provider, **request)
    assert code == "InvalidParameterException", message
    assert named in message
    assert cognito.list_identity_providers(UserPoolId=world.pool_id)["Providers"] == []


def test_names_and_identifiers_are_the_pool_s_once(cognito: Any, world: World) -> None:
    world.oidc(cognito, IdpIdentifiers=["partner.example"])
    code, message = refused_create(
        cognito, world.pool_id, "Partner", "OIDC", oidc_details(world.issuer)
    )
    assert code == "DuplicateProviderException" and "Partner" in message
    code, message = refused_create(
        cognito,
        world.pool_id,
        "Other",
        "OIDC",
        oidc_details(world.issuer),
        IdpIdentifiers=["PARTNER.example"],
    )
    assert code == "InvalidParameterException" and "Partner" in message
    code, _ = refused_create(
        cognito, "us-east-1_nowhere00", "Other", "OIDC", oidc_details(world.issuer)
    )
    assert code == "ResourceNotFoundException"


# update, list, find, delete
def test_update_replaces_what_it_is_given_and_keeps_the_secret(
    cognito: Any, server: Server, world: World
) -> None:
    world.oidc(cognito, AttributeMapping={"email": "email"}, IdpIdentifiers=["a.example"])
    described = cognito.describe_identity_provider(
        UserPoolId=world.pool_id, ProviderName="Partner"
    )["IdentityProvider"]
    same = cognito.update_identity_provider(
        UserPoolId=world.pool_id,
        ProviderName="Partner",
        ProviderDetails=described["ProviderDetails"],
    )["IdentityProvider"]
    assert same["ProviderDetails"] == described["ProviderDetails"]
    assert same["IdpIdentifiers"] == ["a.example"] and same["AttributeMapping"] == {
        "username": "sub",
        "email": "email",
    }
    updated = cognito.update_identity_provider(
        UserPoolId=world.pool_id,
        ProviderName="Partner",
        AttributeMapping={"username": "oid", "custom:oid": "oid"},
        IdpIdentifiers=["b.example"],
    )["IdentityProvider"]
    assert updated["AttributeMapping"] == {"username": "oid", "custom:oid": "oid"}
    assert updated["IdpIdentifiers"] == ["b.example"]
    assert updated["ProviderDetails"] == described["ProviderDetails"]
    assert updated["LastModifiedDate"] >= described["LastModifiedDate"]
    services = store_of(server)
    providers = IdentityProviders(services.core)
    with services.core.store.transaction() as repo:
        provider = providers.get(repo, world.pool_id, "Partner")
        assert provider is not None and providers.client_secret(repo, provider) == SECRET
    cognito.update_identity_provider(
        UserPoolId=world.pool_id,
        ProviderName="Partner",
        ProviderDetails={**described["ProviderDetails"], "client_secret": ""},
    )
    with services.core.store.transaction() as repo:
        provider = providers.get(repo, world.pool_id, "Partner")
        assert provider is not None and providers.client_secret(repo, provider) is None
    for bad, code_wanted in (
        ({"ProviderName": "Nobody"}, "ResourceNotFoundException"),
        ({"ProviderDetails": {"client_id": "x"}}, "InvalidParameterException"),
        ({"AttributeMapping": {"shoe_size": "x"}}, "InvalidParameterException"),
    ):
        request = {"UserPoolId": world.pool_id, "ProviderName": "Partner", **bad}
        code, _ = error_of(cognito.update_identity_provider, **request)
        assert code == code_wanted
    after = cognito.describe_identity_provider(UserPoolId=world.pool_id, ProviderName="Partner")
    assert after["IdentityProvider"]["AttributeMapping"] == updated["AttributeMapping"]


def test_list_pages_and_find_by_identifier(cognito: Any, world: World) -> None:
    names = {f"Partner{i}" for i in range(3)}
    for i, name in enumerate(sorted(names)):
        world.oidc(cognito, name, IdpIdentifiers=[f"p{i}.example"])
    pages = list(
        cognito.get_paginator("list_identity_providers").paginate(
            UserPoolId=world.pool_id, PaginationConfig={"PageSize": 2}
        )
    )
    assert len(pages) == 2
    assert {p["ProviderName"] for page in pages for p in page["Providers"]} == names
    code, _ = error_of(cognito.list_identity_providers, UserPoolId=world.pool_id, MaxResults=61)
    assert code == "InvalidParameterException"
    code, _ = error_of(
        cognito.list_identity_providers, UserPoolId=world.pool_id, NextToken="forged"
    )
    assert code == "InvalidParameterException"
    found = cognito.get_identity_provider_by_identifier(
        UserPoolId=world.pool_id, IdpIdentifier="P1.Example"
    )
    assert found["IdentityProvider"]["ProviderName"] == "Partner1"
    code, _ = error_of(
        cognito.get_identity_provider_by_identifier,
        UserPoolId=world.pool_id,
        IdpIdentifier="nobody.example",
    )
    assert code == "ResourceNotFoundException"


def test_clients_support_only_providers_of_their_pool(cognito: Any, world: World) -> None:
    code, message = error_of(
        cognito.create_user_pool_client,
        UserPoolId=world.pool_id,
        ClientName="web",
        SupportedIdentityProviders=["COGNITO", "Partner"],
    )
    assert code == "InvalidParameterException" and "Partner" in message
    world.oidc(cognito)
    client = cognito.create_user_pool_client(
        UserPoolId=world.pool_id,
        ClientName="web",
        SupportedIdentityProviders=["COGNITO", "Partner"],
    )["UserPoolClient"]
    assert client["SupportedIdentityProviders"] == ["COGNITO", "Partner"]


def test_delete_removes_the_provider_its_links_and_its_name_in_clients(
    cognito: Any, world: World
) -> None:
    world.oidc(cognito)
    client = cognito.create_user_pool_client(
        UserPoolId=world.pool_id,
        ClientName="web",
        SupportedIdentityProviders=["COGNITO", "Partner"],
    )["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=world.pool_id, Username="alice", MessageAction="SUPPRESS")
    link(cognito, world, "alice", "partner-sub-1")
    assert "identities" in attributes(cognito, world, "alice")
    cognito.delete_identity_provider(UserPoolId=world.pool_id, ProviderName="Partner")
    code, _ = error_of(
        cognito.describe_identity_provider, UserPoolId=world.pool_id, ProviderName="Partner"
    )
    assert code == "ResourceNotFoundException"
    described = cognito.describe_user_pool_client(
        UserPoolId=world.pool_id, ClientId=client["ClientId"]
    )["UserPoolClient"]
    assert described["SupportedIdentityProviders"] == ["COGNITO"]
    assert "identities" not in attributes(cognito, world, "alice")
    code, _ = error_of(
        cognito.delete_identity_provider, UserPoolId=world.pool_id, ProviderName="Partner"
    )
    assert code == "ResourceNotFoundException"


def link(
    cognito: Any, world: World, username: str, subject: str, provider: str = "Partner"
) -> None:
    cognito.admin_link_provider_for_user(
        UserPoolId=world.pool_id,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": username},
        SourceUser={
            "ProviderName": provider,
            "ProviderAttributeName": "Cognito_Subject",
            "ProviderAttributeValue": subject,
        },
    )


def attributes(cognito: Any, world: World, username: str) -> dict[str, str]:
    user = cognito.admin_get_user(UserPoolId=world.pool_id, Username=username)
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}

"""Partner users the directory does not list get their company's tenant and roles from the
identity provider their ID token names (`identities`), from their very first decision."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from pdp.directory.document import export_document, import_document
from pdp.directory.federated import providers_named
from pdp.directory.store import DirectoryStore
from pdp.errors import Conflict, InvalidRequest
from tests.pdp.pdp_env import ACME, ALICE, GLOBEX, document_request
from tests.support.issuer import TestIssuer

PROVIDER = "Entra"


def identities(*providers: str, as_text: bool = False) -> Any:
    entries = [
        {
            "userId": uuid.uuid4().hex,
            "providerName": name,
            "providerType": "OIDC",
            "issuer": None,
            "primary": "true" if i == 0 else "false",
            "dateCreated": "1700000000000",
        }
        for i, name in enumerate(providers)
    ]
    return json.dumps(entries) if as_text else entries


def id_token(issuer: TestIssuer, sub: str, **extra: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": sub,
        "iss": issuer.issuer,
        "aud": "app-client",
        "token_use": "id",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "cognito:username": f"{PROVIDER}_{sub}",
        **extra,
    }
    return issuer.sign({k: v for k, v in claims.items() if v is not None})


def decide(client: TestClient, pep: dict[str, str], token: str, action: str, **resource) -> dict:
    body = document_request({"token": token}, action, **resource)
    response = client.post("/decide", json=body, headers=pep)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def partner(pdp, admin, issuer: TestIssuer) -> str:
    """Company `partner-corp` of acme: viewers, whose users come from the pool's `Entra`."""
    client, _ = pdp
    body = {
        "id": "partner-corp",
        "roles": ["viewer"],
        "identity_providers": [{"issuer": issuer.issuer, "provider": PROVIDER}],
    }
    response = client.post(f"/admin/v1/tenants/{ACME}/companies", json=body, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["identity_providers"] == body["identity_providers"]
    return "partner-corp"


def test_first_decision_has_the_companys_roles(pdp, pep, issuer, partner) -> None:
    client, _ = pdp
    token = id_token(issuer, str(uuid.uuid4()), identities=identities(PROVIDER))
    assert decide(client, pep, token, "document:read")["allow"] is True
    denied = decide(client, pep, token, "document:write")
    assert denied["allow"] is False
    assert "unknown_subject" not in denied["reasons"]


def test_identities_as_text_count_too(pdp, pep, issuer, partner) -> None:
    client, _ = pdp
    token = id_token(issuer, str(uuid.uuid4()), identities=identities(PROVIDER, as_text=True))
    assert decide(client, pep, token, "document:read")["allow"] is True


def test_tenant_isolation_holds(pdp, pep, issuer, partner) -> None:
    client, _ = pdp
    token = id_token(issuer, str(uuid.uuid4()), identities=identities(PROVIDER))
    answer = decide(client, pep, token, "document:read", tenant_id=GLOBEX)
    assert answer == {**answer, "allow": False}
    assert "tenant_mismatch" in answer["reasons"]


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"identities": None}, id="username-prefix-only"),
        pytest.param({"identities": identities("Okta")}, id="another-provider"),
        pytest.param({"identities": "not json"}, id="garbage-identities"),
        pytest.param({"identities": [{"providerName": 7}]}, id="non-string-provider"),
    ],
)
def test_unproven_origin_is_unknown(pdp, pep, issuer, partner, claims) -> None:
    client, _ = pdp
    answer = decide(client, pep, id_token(issuer, str(uuid.uuid4()), **claims), "document:read")
    assert answer["allow"] is False
    assert answer["reasons"] == ["unknown_subject"]


def test_access_tokens_do_not_say_where_a_user_came_from(pdp, pep, issuer, partner) -> None:
    client, _ = pdp
    token = issuer.user_access_token(
        str(uuid.uuid4()), identities=identities(PROVIDER), username=f"{PROVIDER}_x"
    )
    assert decide(client, pep, token, "document:read")["reasons"] == ["unknown_subject"]


def test_a_listed_subject_is_its_own_entry(pdp, pep, issuer, partner) -> None:
    """Alice (acme-corp, engineering editor) keeps her own facts whatever her token says."""
    client, _ = pdp
    token = id_token(issuer, ALICE, identities=identities(PROVIDER))
    answer = decide(client, pep, token, "document:write", attributes={"department": "engineering"})
    assert answer["allow"] is True


def test_providers_of_two_companies_are_neither(pdp, admin, pep, issuer, partner) -> None:
    client, _ = pdp
    body = {
        "id": "okta-partner",
        "roles": ["viewer"],
        "identity_providers": [{"issuer": issuer.issuer, "provider": "Okta"}],
    }
    assert client.post(f"/admin/v1/tenants/{GLOBEX}/companies", json=body, headers=admin)
    token = id_token(issuer, str(uuid.uuid4()), identities=identities(PROVIDER, "Okta"))
    assert decide(client, pep, token, "document:read")["reasons"] == ["unknown_subject"]
    okta_only = id_token(issuer, str(uuid.uuid4()), identities=identities("Okta"))
    assert decide(client, pep, okta_only, "document:read", tenant_id=GLOBEX)["allow"] is True


def test_a_provider_belongs_to_one_company(pdp, admin, issuer, partner) -> None:
    client, _ = pdp
    body = {
        "id": "copycat",
        "identity_providers": [{"issuer": issuer.issuer, "provider": PROVIDER}],
    }
    response = client.post(f"/admin/v1/tenants/{GLOBEX}/companies", json=body, headers=admin)
    assert response.status_code == 409
    assert response.json()["field"] == "identity_providers[0]"
    assert (
        client.get(f"/admin/v1/tenants/{GLOBEX}/companies/copycat", headers=admin).status_code
        == 404
    )


@pytest.mark.parametrize(
    "entry, field",
    [
        ({"issuer": "ftp://x.example/pool", "provider": "Entra"}, "issuer"),
        ({"issuer": "https://x.example/pool", "provider": ""}, "provider"),
        ({"issuer": "https://x.example/pool", "provider": "a b"}, "provider"),
        ({"issuer": "https://x.example/pool", "provider": "x" * 33}, "provider"),
        ({"issuer": "https://x.example/pool"}, "provider"),
        ({"issuer": "https://x.example/pool", "provider": "E", "extra": 1}, "extra"),
    ],
)
def test_malformed_providers_are_400(pdp, admin, entry, field) -> None:
    client, _ = pdp
    body = {"id": "bad", "identity_providers": [entry]}
    response = client.post(f"/admin/v1/tenants/{ACME}/companies", json=body, headers=admin)
    assert response.status_code in (400, 422)
    assert response.json()["field"].endswith(field)


def test_changes_show_in_the_next_decision(pdp, admin, pep, issuer) -> None:
    client, _ = pdp
    url = f"/admin/v1/tenants/{ACME}/companies/late-partner"
    provider = {"issuer": issuer.issuer, "provider": "Late"}
    body = {"id": "late-partner", "roles": ["commenter"], "identity_providers": [provider]}
    assert (
        client.post(f"/admin/v1/tenants/{ACME}/companies", json=body, headers=admin).status_code
        == 201
    )
    token = id_token(issuer, str(uuid.uuid4()), identities=identities("Late"))
    assert decide(client, pep, token, "document:comment")["allow"] is True
    patch = client.patch(url, json={"roles": ["viewer"]}, headers=admin)
    assert patch.status_code == 200
    assert decide(client, pep, token, "document:comment")["allow"] is False
    assert client.patch(url, json={"identity_providers": []}, headers=admin).status_code == 200
    assert decide(client, pep, token, "document:read")["reasons"] == ["unknown_subject"]
    assert (
        client.patch(url, json={"identity_providers": [provider]}, headers=admin).status_code == 200
    )
    assert decide(client, pep, token, "document:read")["allow"] is True
    assert client.delete(url, headers=admin).status_code == 204
    assert decide(client, pep, token, "document:read")["reasons"] == ["unknown_subject"]


# --- the directory file ------------------------------------------------------------------------

ISSUER = "https://auth.example/us-east-1_Pool"
TENANT_A = "4f1c2d3e-0000-4000-8000-0000000000aa"
TENANT_B = "4f1c2d3e-0000-4000-8000-0000000000bb"


def document(a_providers: list[dict[str, str]], b_providers: list[dict[str, str]]) -> dict:
    return {
        "tenants": [
            {
                "id": TENANT_A,
                "name": "a",
                "companies": [{"id": "p", "roles": ["viewer"], "identity_providers": a_providers}],
            },
            {
                "id": TENANT_B,
                "name": "b",
                "companies": [{"id": "q", "roles": ["viewer"], "identity_providers": b_providers}],
            },
        ]
    }


def test_import_is_idempotent_and_exports_providers(store: DirectoryStore) -> None:
    providers = [{"issuer": ISSUER, "provider": "Okta"}, {"issuer": ISSUER, "provider": "Entra"}]
    first = import_document(store, document(providers, []))
    assert first.created["companies"] == 2
    revisions = store.revisions()
    again = import_document(store, document(list(reversed(providers)), []))
    assert not again.changed and store.revisions() == revisions
    exported = export_document(store)["tenants"][0]["companies"][0]["identity_providers"]
    assert exported == sorted(providers, key=lambda p: (p["issuer"], p["provider"]))


def test_import_moves_a_provider_between_listed_tenants(store: DirectoryStore) -> None:
    entra = [{"issuer": ISSUER, "provider": "Entra"}]
    import_document(store, document(entra, []))
    report = import_document(store, document([], entra))
    assert report.updated["companies"] == 2
    exported = {
        t["id"]: t["companies"][0]["identity_providers"] for t in export_document(store)["tenants"]
    }
    assert exported == {TENANT_A: [], TENANT_B: entra}


def test_import_refuses_a_provider_twice(store: DirectoryStore) -> None:
    entra = [{"issuer": ISSUER, "provider": "Entra"}]
    with pytest.raises(InvalidRequest) as refused:
        import_document(store, document(entra, entra))
    assert refused.value.field == "tenants[1].companies[0].identity_providers"
    assert store.tenant_ids() == []


def test_import_refuses_a_provider_of_an_unlisted_tenant(store: DirectoryStore) -> None:
    entra = [{"issuer": ISSUER, "provider": "Entra"}]
    import_document(store, document(entra, []))
    other = {
        "tenants": [
            {"id": TENANT_B, "name": "b2", "companies": [{"id": "r", "identity_providers": entra}]}
        ]
    }
    with pytest.raises(Conflict) as refused:
        import_document(store, other)
    assert refused.value.field == "tenants[0].companies[0].identity_providers"
    assert TENANT_B in store.tenant_ids()  # from the first import; the second changed nothing
    assert export_document(store, [TENANT_B])["tenants"][0]["name"] == "b"


# --- the claim ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(value=JSON | JSON.map(json.dumps), token_use=st.sampled_from(["id", "access", None]))
def test_any_identities_claim_is_read_safely(value: Any, token_use: str | None) -> None:
    names = providers_named({"identities": value, "token_use": token_use})
    assert all(isinstance(name, str) and name for name in names)
    assert token_use == "id" or names == []

"""Hostile input to the directory admin API, on SQLite and on PostgreSQL (which refuses NUL
characters and non-finite JSON numbers): every case is a 400 naming the field, never a 500,
and no store internals reach the client."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pdp.api.app import create_app
from pdp.directory.schemas import (
    MAX_ATTRIBUTE_BYTES,
    MAX_ATTRIBUTE_DEPTH,
    ClientCreate,
    CompanyCreate,
    TenantUpdate,
    UserCreate,
)
from pdp.services import Services
from pdp.settings import Settings

API = "/admin/v1/tenants"


@pytest.fixture
def admin(database_url: str, tmp_path) -> Iterator[tuple[TestClient, str]]:
    """The real app on the database, with one tenant holding a group `g`; (client, tenant)."""
    services = Services.build(
        Settings(
            database_url=database_url,
            require_pep_auth=False,
            decision_log_spool_dir=tmp_path / "spool",
        )
    )
    try:
        with TestClient(create_app(services=services), raise_server_exceptions=False) as client:
            tenant = client.post(API, json={"name": "acme"}).json()["id"]
            client.post(f"{API}/{tenant}/groups", json={"id": "g"})
            yield client, tenant
    finally:
        services.close()


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _token(*key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


# (method, path under the tenant ("" = the tenant itself, None = the tenant collection),
# raw JSON body or None, the field the 400 must name). NaN and Infinity in a body are refused
# at the door, before the route (`field` "body"); the schemas refuse them from anywhere else.
CASES = {
    "tenant attributes NaN": (
        "POST",
        None,
        '{"name": "n", "attributes": {"a": NaN}}',
        "body",
    ),
    "tenant attributes Infinity in a list": (
        "POST",
        None,
        '{"name": "n", "attributes": {"a": [1, Infinity]}}',
        "body",
    ),
    "tenant patch -Infinity": ("PATCH", "", '{"attributes": {"a": -Infinity}}', "body"),
    "user attributes NaN": (
        "POST",
        "/users",
        '{"id": "u", "attributes": {"x": NaN}}',
        "body",
    ),
    "client attributes Infinity": (
        "POST",
        "/clients",
        '{"id": "c", "attributes": {"x": {"y": Infinity}}}',
        "body",
    ),
    "company patch NaN": ("PATCH", "/companies/co", '{"attributes": {"x": NaN}}', "body"),
    "tenant name NUL": ("POST", None, '{"name": "ac\\u0000me"}', "name"),
    "tenant patch name NUL": ("PATCH", "", '{"name": "\\u0000"}', "name"),
    "attribute key NUL": (
        "POST",
        "/users",
        '{"id": "u", "attributes": {"a\\u0000": 1}}',
        "attributes",
    ),
    "attribute string NUL": (
        "POST",
        "/companies",
        '{"id": "c", "attributes": {"a": "\\u0000"}}',
        "attributes",
    ),
    "attribute lone surrogate": (
        "POST",
        None,
        '{"name": "n", "attributes": {"a": "\\ud800"}}',
        "attributes",
    ),
    "email NUL": ("POST", "/users", '{"id": "u", "email": "a\\u0000@b.c"}', "email"),
    "path id NUL": ("GET", "/users/al%00ice", None, "path.object_id"),
    "path group id NUL": ("DELETE", "/groups/g%00/members/m", None, "path.group_id"),
    "path member id NUL": ("DELETE", "/groups/g/members/m%00", None, "path.subject_id"),
    "path binding id NUL": ("DELETE", "/role-bindings/%00", None, "path.binding_id"),
    "filter subject_id NUL": ("GET", "/role-bindings?subject_id=a%00b", None, "query.subject_id"),
    "filter role NUL": ("GET", "/role-bindings?role=%00", None, "query.role"),
    "page token with NUL": ("GET", f"/users?page_token={_token(chr(0))}", None, "page_token"),
    "attributes too deep": (
        "POST",
        "/clients",
        json.dumps({"id": "c", "attributes": _nested(MAX_ATTRIBUTE_DEPTH + 1)}),
        "attributes",
    ),
    "attributes too large": (
        "POST",
        "/clients",
        json.dumps({"id": "c", "attributes": {"a": "x" * MAX_ATTRIBUTE_BYTES}}),
        "attributes",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_is_a_400_naming_the_field(admin, case):
    client, tenant = admin
    client.post(f"{API}/{tenant}/companies", json={"id": "co"})
    method, under, body, field = CASES[case]
    path = API if under is None else f"{API}/{tenant}{under}"
    headers = {"Content-Type": "application/json"}
    response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "invalid_request"
    assert answer["field"] == field
    assert set(answer) == {"error", "message", "field"}
    for internal in ("psycopg", "sqlalchemy", "sqlite", "Traceback"):
        assert internal not in response.text


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("model", [TenantUpdate, UserCreate, ClientCreate, CompanyCreate])
def test_schemas_refuse_non_finite_numbers_from_any_source(model, number):
    """The directory file (YAML has `.nan` and `.inf`) goes through the same models."""
    data = {"attributes": {"a": [{"b": number}]}}
    if model is not TenantUpdate:
        data["id"] = "x"
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    assert error.value.errors()[0]["loc"] == ("attributes",)
    assert "attributes.a[0].b" in str(error.value)


def test_attributes_at_the_limits_are_stored(admin):
    client, tenant = admin
    attributes = {"deep": _nested(MAX_ATTRIBUTE_DEPTH - 1), "n": 1.5e308}
    response = client.post(f"{API}/{tenant}/users", json={"id": "u", "attributes": attributes})
    assert response.status_code == 201, response.text
    assert client.get(f"{API}/{tenant}/users/u").json()["attributes"] == attributes


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec="utf-8") | st.sampled_from("\x00\ud800")),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from("\x00\x1f/\ud800"), max_size=20)
BODIES = st.fixed_dictionaries(
    {},
    optional={
        "id": TEXT,
        "name": TEXT,
        "email": TEXT,
        "company": TEXT,
        "roles": st.lists(TEXT, max_size=3),
        "members": st.lists(TEXT, max_size=3),
        "attributes": JSON_VALUES,
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.sampled_from(["", "/users", "/clients", "/groups", "/companies"]), body=BODIES)
def test_random_admin_bodies_never_give_a_5xx(admin, kind, body):
    client, tenant = admin
    path = f"{API}/{tenant}{kind}" if kind else API
    raw = json.dumps(body, allow_nan=True)
    response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, (raw, response.text)

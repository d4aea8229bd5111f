"""Properties over random directories and requests, through the real decision flow.

- No subject of one tenant is ever allowed on another tenant's resource (no grant names it).
- A subject with no bindings at all (no roles, groups or company roles) is never allowed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.authn import Principal
from pdp.decision import DecisionRequest
from pdp.directory.document import import_document
from pdp.services import Services
from tests.pdp.pdp_env import running_pdp

ROLES = ["viewer", "commenter", "editor", "payroll_clerk", "auditor", "document_admin", "admin"]
ACTIONS = [
    "document:read",
    "document:write",
    "document:delete",
    "payroll:read",
    "report:read",
    "folder:list",
    "anything:at-all",
]
NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)


@pytest.fixture(scope="module")
def services(tmp_path_factory, issuer) -> Iterator[Services]:
    with running_pdp(tmp_path_factory.mktemp("iso"), issuer, directory=None) as (_, svc):
        yield svc


@st.composite
def tenants(draw) -> list[dict]:
    """Two to three tenants, each with random companies, groups, users and clients."""
    result = []
    for _ in range(draw(st.integers(min_value=2, max_value=3))):
        tenant_id = str(uuid.UUID(int=draw(st.integers(min_value=1, max_value=2**64))))
        roles = st.lists(st.sampled_from(ROLES), max_size=3, unique=True)
        companies = draw(st.lists(NAMES, max_size=2, unique=True))
        user_ids = [str(uuid.uuid4()) for _ in range(draw(st.integers(1, 4)))]
        client_ids = [f"client-{uuid.uuid4().hex[:10]}" for _ in range(draw(st.integers(0, 2)))]
        groups = [
            {
                "id": name,
                "roles": draw(roles),
                "members": draw(st.lists(st.sampled_from(user_ids + client_ids), unique=True)),
            }
            for name in draw(st.lists(NAMES, max_size=3, unique=True))
        ]
        result.append(
            {
                "id": tenant_id,
                "name": f"t-{tenant_id}",
                "companies": [{"id": c, "roles": draw(roles)} for c in companies],
                "groups": groups,
                "users": [
                    {
                        "id": user_id,
                        "email": f"{user_id}@example.test",
                        "company": draw(st.sampled_from([None, *companies])),
                        "roles": draw(roles),
                        "attributes": {"department": draw(st.sampled_from(["a", "b"]))},
                    }
                    for user_id in user_ids
                ],
                "clients": [{"id": c, "roles": draw(roles)} for c in client_ids],
            }
        )
    if len({t["id"] for t in result}) < len(result):
        from hypothesis import reject

        reject()
    return result


def _strip_none(document: dict) -> dict:
    for tenant in document["tenants"]:
        for user in tenant["users"]:
            if user.get("company") is None:
                user.pop("company", None)
    return document


def _decide(services: Services, subject_id: str, action: str, tenant_id: str, ip: str):
    request = DecisionRequest.model_validate(
        {
            "subject": {"id": subject_id},
            "action": action,
            "resource": {
                "type": action.split(":")[0],
                "id": "r1",
                "tenant_id": tenant_id,
                "attributes": {"department": "a", "owner": subject_id},
            },
            "context": {"ip": ip},
        }
    )
    return services.decisions.decide(request, Principal.anonymous())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), directory=tenants())
def test_no_subject_is_allowed_on_another_tenants_resource(services, data, directory):
    import_document(services.directory, _strip_none({"tenants": directory}))
    services.snapshot.invalidate()
    subjects = [
        (tenant["id"], subject["id"])
        for tenant in directory
        for subject in tenant["users"] + tenant["clients"]
    ]
    for _ in range(10):
        own_tenant, subject_id = data.draw(st.sampled_from(subjects))
        other = data.draw(st.sampled_from([t["id"] for t in directory if t["id"] != own_tenant]))
        action = data.draw(st.sampled_from(ACTIONS))
        ip = data.draw(st.sampled_from(["10.0.0.1", "2001:db8:1::7", "192.0.2.1"]))
        decision = _decide(services, subject_id, action, other, ip)
        assert decision.allow is False, (subject_id, action, decision.reasons)
        assert "tenant_mismatch" in decision.reasons
    # The same directory does allow inside a tenant, so the denials above are not vacuous.
    admin = str(uuid.uuid4())
    directory[0]["users"].append({"id": admin, "email": "a@example.test", "roles": ["admin"]})
    import_document(services.directory, _strip_none({"tenants": directory}))
    services.snapshot.invalidate()
    assert _decide(services, admin, "report:read", directory[0]["id"], "10.0.0.1").allow
    assert not _decide(services, admin, "report:read", directory[1]["id"], "10.0.0.1").allow


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), directory=tenants())
def test_a_subject_without_bindings_is_never_allowed(services, data, directory):
    tenant = directory[0]
    bare = str(uuid.uuid4())
    tenant["users"].append({"id": bare, "email": "bare@example.test", "roles": []})
    import_document(services.directory, _strip_none({"tenants": directory}))
    services.snapshot.invalidate()
    for action in ACTIONS:
        ip = data.draw(st.sampled_from(["10.0.0.1", "172.16.0.9", "2001:db8:2::1"]))
        decision = _decide(services, bare, action, tenant["id"], ip)
        assert decision.allow is False, (action, decision.reasons)
        assert "unknown_subject" not in decision.reasons

"""The Bundles, Directory and Playground pages over HTTP, in process: malformed parameters
and forms are 400 pages naming the field, unknown things 404 pages, writes need pdp/admin
and the CSRF token, and nothing is half-written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pdp.directory.store import COMPANY
from tests.pdp.pdp_env import ACME, BOB
from tests.pdp.test_console_http import csrf_of, sign_in

BINDINGS = f"/console/directory/{ACME}/role-bindings"


@pytest.fixture
def admin(pdp, issuer) -> Iterator[tuple[TestClient, str]]:
    client = pdp[0]
    client.cookies.clear()
    yield client, sign_in(client, issuer.machine_token("admin", scope="pdp/admin"))
    client.cookies.clear()


@pytest.mark.parametrize(
    ("path", "status", "shown"),
    [
        ("/console/bundles/diff?to=r1", 400, "from"),
        ("/console/bundles/diff?from=r0&to=r1", 404, "no revision r0"),
        ("/console/bundles/activate?revision=r9", 404, "no revision r9"),
        ("/console/bundles/activate?revision=r1&directory=live", 400, "directory"),
        ("/console/bundles?page_token=xyz", 400, "page_token"),
        ("/console/bundles/rollback", 409, "no earlier activation"),
        ("/console/directory/not-a-uuid/users", 400, "tenant_id"),
        (f"/console/directory/{ACME}/people", 404, "people"),
        (f"/console/directory/{ACME}/role-bindings/x", 404, "role-bindings"),
        (f"/console/directory/{ACME}/users?id=a%00b", 400, "id"),
        (f"{BINDINGS}?subject_type=robot", 400, "subject_type"),
        (f"/console/directory/{ACME}/users/nobody", 404, "nobody"),
    ],
)
def test_malformed_or_unknown_is_a_page_that_says_what(admin, path, status, shown) -> None:
    client, _ = admin
    answer = client.get(path)
    assert answer.status_code == status, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert shown in answer.text


def test_forms_without_the_csrf_token_change_nothing(admin, pdp) -> None:
    client, _ = admin
    services = pdp[1]
    before = services.directory.list_role_bindings(ACME).items
    for path, form in (
        (BINDINGS, {"subject_type": "user", "subject_id": BOB, "role": "admin"}),
        ("/console/directory/tenants", {"name": "sneaky"}),
        ("/console/playground", {"file": "a.rego", "text": "package a"}),
    ):
        assert client.post(path, data=form).status_code == 403, path
    assert services.directory.list_role_bindings(ACME).items == before
    assert all(t.name != "sneaky" for t in services.directory.list_tenants().items)


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (
            {"subject_type": "robot", "subject_id": BOB, "role": "x"},
            "subject_type",
            "Input should be",
        ),
        ({"subject_type": "user", "subject_id": "", "role": "x"}, "subject_id", "at least 1"),
        ({"subject_type": "user", "subject_id": "a/b", "role": "x"}, "subject_id", "pattern"),
        ({"subject_type": "user", "subject_id": "ghost", "role": "x"}, "subject_id", "ghost"),
        ({"subject_type": "user", "subject_id": BOB}, "role", "at least 1"),
    ],
)
def test_a_refused_binding_names_its_field_and_stores_nothing(
    admin, pdp, form, field, message
) -> None:
    client, csrf = admin
    before = pdp[1].directory.list_role_bindings(ACME).items
    answer = client.post(BINDINGS, data={**form, "csrf_token": csrf})
    assert answer.status_code == 400
    assert f'id="new-{field}-error"' in answer.text
    assert message in answer.text
    assert pdp[1].directory.list_role_bindings(ACME).items == before


def test_a_new_tenant_with_a_bad_time_zone_is_refused(admin, pdp) -> None:
    client, csrf = admin
    answer = client.post(
        "/console/directory/tenants",
        data={"name": "initech", "timezone": "Mars/Olympus", "csrf_token": csrf},
    )
    assert answer.status_code == 400
    assert 'id="tenant-new-timezone-error"' in answer.text
    assert all(t.name != "initech" for t in pdp[1].directory.list_tenants().items)


def test_the_playground_form_names_bad_json_and_bad_module_names(admin) -> None:
    client, csrf = admin
    page = client.get("/console/playground")
    assert csrf_of(page.text) == csrf
    bad_json = client.post(
        "/console/playground",
        data={"csrf_token": csrf, "file": "a.rego", "text": "package a", "input": "[1]"},
    )
    assert bad_json.status_code == 400
    assert 'id="input-error"' in bad_json.text and "must be a JSON object" in bad_json.text
    bad_name = client.post(
        "/console/playground",
        data={"csrf_token": csrf, "file": "../a.rego", "text": "package a", "input": "{}"},
    )
    assert bad_name.status_code == 400 and 'id="modules-error"' in bad_name.text


@pytest.mark.parametrize(
    "path",
    [
        "/console/bundles?done=activated&revision=evil",
        "/console/bundles?done=Your%20account%20is%20locked",
        f"/console/directory/{ACME}/users?done=Call%20this%20number",
        "/console/directory?done=saved-ish",
    ],
)
def test_a_link_cannot_make_a_page_announce_anything(admin, path) -> None:
    client, _ = admin
    answer = client.get(path)
    assert answer.status_code == 200
    assert 'role="status"' not in answer.text


def test_a_write_announces_itself_with_fixed_words(admin) -> None:
    client, _ = admin
    assert 'role="status">Saved.' in client.get(f"/console/directory/{ACME}/users?done=saved").text


def test_a_company_edit_form_takes_its_identity_providers_as_json(admin, pdp) -> None:
    client, csrf = admin
    path = f"/console/directory/{ACME}/companies/acme-corp"
    form = client.get(path)
    assert re.search(r'<textarea id="edit-identity_providers"[^>]*>\[\]</textarea>', form.text)
    providers = [{"issuer": "https://login.acme.test/pool", "provider": "AcmeEntra"}]
    saved = client.post(
        path,
        data={"attributes": "{}", "identity_providers": json.dumps(providers), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    company = pdp[1].directory.get_object(COMPANY, ACME, "acme-corp")
    assert [p.model_dump() for p in company.identity_providers] == providers
    shown = client.get(path).text
    assert "AcmeEntra" in shown and 'id="edit-identity_providers-error"' not in shown
    twice = client.post(
        path,
        data={"identity_providers": json.dumps(providers * 2), "csrf_token": csrf},
    )
    assert twice.status_code == 400 and 'id="edit-identity_providers-error"' in twice.text
    company = pdp[1].directory.get_object(COMPANY, ACME, "acme-corp")
    assert [p.model_dump() for p in company.identity_providers] == providers

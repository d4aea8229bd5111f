"""The console's Directory in Chromium against a real `pdp serve`: tenants and their objects
browsed and found, a role binding added and removed with the very next `/decide` changing,
field errors next to their fields (the admin API's validation), and a read-only auditor."""

from __future__ import annotations

import httpx
import pytest

from tests.pdp.console_browser import bearer, fits_the_screen, screenshot, served_policies
from tests.pdp.pdp_env import ACME, BOB, document_request
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e
BINDINGS = f"/console/directory/{ACME}/role-bindings"
server = served_policies("directory")


def bob_may_comment(server: ServerProcess, issuer: TestIssuer) -> bool:
    body = document_request({"id": BOB}, "document:comment")
    answer = httpx.post(
        server.url + "/decide", json=body, headers=bearer(issuer, "pdp/decide", "pep")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["allow"]


def new_binding(page, subject_id: str, role: str) -> None:
    form = page.locator("form").filter(has=page.get_by_role("button", name="Create"))
    form.get_by_label("Subject type").select_option("user")
    form.get_by_label("Subject id").fill(subject_id)
    form.get_by_label("Role").fill(role)
    form.get_by_role("button", name="Create").click()


def test_browse_find_and_bind_a_role_that_the_next_decision_uses(server, issuer, console) -> None:
    with console("directory-admin") as page:
        page.goto(server.url + "/console/directory")
        page.get_by_role("link", name="acme").click()
        users = page.get_by_role("table", name="Users")
        assert BOB in users.inner_text()
        assert fits_the_screen(page)
        screenshot(page, "directory")

        page.get_by_label("Find by id").fill(BOB)
        page.get_by_role("button", name="Search").click()
        assert page.get_by_role("table", name="Users").get_by_role("row").count() == 2
        page.get_by_label("Find by id").fill("nobody-at-all")
        page.get_by_role("button", name="Search").click()
        assert "Nothing here" in page.get_by_role("table", name="Users").inner_text()

        assert bob_may_comment(server, issuer) is False
        page.goto(server.url + BINDINGS)
        new_binding(page, BOB, "commenter")
        page.wait_for_url("**/role-bindings?done=**")
        assert bob_may_comment(server, issuer) is True

        page.get_by_label("Subject id", exact=True).first.fill(BOB)
        page.get_by_role("button", name="Search").click()
        rows = page.get_by_role("table", name="Role bindings").get_by_role("row")
        assert "commenter" in rows.nth(1).inner_text()
        rows.nth(1).get_by_role("button", name="Delete").click()
        page.wait_for_url("**/role-bindings?done=**")
        assert "deleted" in page.get_by_role("status").inner_text()
        assert bob_may_comment(server, issuer) is False


def test_invalid_values_are_named_next_to_their_field(server, issuer, console) -> None:
    with console("directory-admin") as page:
        page.goto(server.url + BINDINGS)
        new_binding(page, "nobody-here", "commenter")
        error = page.locator("#new-subject_id-error")
        assert "nobody-here" in error.inner_text()
        assert page.locator("#new-subject_id").get_attribute("aria-invalid") == "true"
        # What was typed stays in the form.
        assert page.locator("#new-subject_id").input_value() == "nobody-here"

        new_binding(page, BOB, "not a role!")
        assert page.locator("#new-role-error").inner_text()
        assert fits_the_screen(page)
        screenshot(page, "directory-errors")

        page.goto(f"{server.url}/console/directory/{ACME}/users/{BOB}")
        page.get_by_label("Attributes (JSON)").fill("{department: sales")
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Save").click()
        assert posted.value.status == 400
        assert "not valid JSON" in page.locator("#edit-attributes-error").inner_text()
        page.get_by_label("Attributes (JSON)").fill('{"department": "sales", "country": "FR"}')
        page.get_by_role("button", name="Save").click()
        page.wait_for_url("**/users?done=**")
        bob = httpx.get(
            f"{server.url}/admin/v1/tenants/{ACME}/users/{BOB}", headers=bearer(issuer, "pdp/admin")
        ).json()
        assert bob["attributes"]["country"] == "FR"

        page.goto(server.url + "/console/directory?tenant=not-a-uuid")
        assert page.locator("#tenant-error").inner_text() == "no tenant has this id"


def test_an_auditor_browses_but_cannot_edit(server, issuer, console) -> None:
    with console("auditor-1", "pdp/audit") as page:
        page.goto(server.url + BINDINGS)
        assert page.get_by_role("table", name="Role bindings").get_by_role("row").count() > 1
        assert page.get_by_role("button", name="Create").count() == 0
        assert page.get_by_role("button", name="Delete").count() == 0
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        posted = page.request.post(
            server.url + BINDINGS,
            form={
                "csrf_token": csrf or "",
                "subject_type": "user",
                "subject_id": BOB,
                "role": "admin",
            },
        )
        assert posted.status == 403
    assert bob_may_comment(server, issuer) is False


def test_create_then_delete_a_user_and_edit_the_tenant(server, issuer, console) -> None:
    admin = bearer(issuer, "pdp/admin")
    with console("directory-admin") as page:
        page.goto(f"{server.url}/console/directory/{ACME}/users")
        page.get_by_label("Id *").fill("erin")
        page.get_by_label("Email").fill("erin@acme.test")
        page.get_by_label("Roles (comma-separated)").fill("viewer, commenter")
        page.get_by_role("button", name="Create").click()
        page.wait_for_url("**/users?done=**")
        erin = httpx.get(f"{server.url}/admin/v1/tenants/{ACME}/users/erin", headers=admin).json()
        assert (erin["email"], sorted(erin["roles"])) == ("erin@acme.test", ["commenter", "viewer"])

        page.get_by_role("link", name="erin").click()
        page.get_by_role("button", name="Delete erin").click()
        page.wait_for_url("**/users?done=**")
        gone = httpx.get(f"{server.url}/admin/v1/tenants/{ACME}/users/erin", headers=admin)
        assert gone.status_code == 404

        page.get_by_role("link", name="Tenant settings").click()
        page.get_by_label("Timezone").fill("Mars/Olympus")
        page.get_by_role("button", name="Save").click()
        assert page.locator("#edit-timezone-error").inner_text()
        page.get_by_label("Timezone").fill("Europe/Berlin")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url("**/users?done=**")
        tenant = httpx.get(f"{server.url}/admin/v1/tenants/{ACME}", headers=admin).json()
        assert tenant["timezone"] == "Europe/Berlin"

"""The console's Playground in Chromium against a real `pdp serve`: the served policy as a
starting point, an edited policy evaluated without touching what is served, problems at
file:line:col, field errors next to their field, and an auditor who cannot evaluate."""

from __future__ import annotations

import httpx
import pytest

from tests.pdp.console_browser import fits_the_screen, screenshot, served_policies
from tests.pdp.pdp_env import ACME, ALICE

pytestmark = pytest.mark.e2e
CLOSED = 'package authz\n\nimport rego.v1\n\ndecision := {"allow": false, "reasons": ["closed"]}\n'
server = served_policies("playground")


def module_text(page, file: str):
    """The Rego textarea of the module whose file name field holds `file`."""
    fieldset = page.locator("fieldset").filter(has=page.locator(f'input[value="{file}"]'))
    return fieldset.get_by_label("Rego")


def test_evaluate_the_served_policy_then_an_edited_one(server, console) -> None:
    served = httpx.get(server.url + "/health").json()["bundle_revision"]
    with console("author") as page:
        page.goto(server.url + "/console/playground")
        assert "package authz" in module_text(page, "authz/decision.rego").input_value()
        page.get_by_role("button", name="Evaluate").click()
        assert page.locator("#decision").inner_text() == "allow"
        assert "role:viewer via user:smoke-subject" in page.locator("#reasons").inner_text()
        assert fits_the_screen(page)
        screenshot(page, "playground")

        module_text(page, "authz/decision.rego").fill(CLOSED)
        page.get_by_role("button", name="Evaluate").click()
        assert page.locator("#decision").inner_text() == "deny"
        assert page.locator("#reasons").inner_text() == "closed"
        # The edit stays in the form, and the PDP still serves what it served.
        assert module_text(page, "authz/decision.rego").input_value() == CLOSED
        assert httpx.get(server.url + "/health").json()["bundle_revision"] == served

        module_text(page, "authz/decision.rego").fill(CLOSED.replace("false,", "false,,"))
        page.get_by_role("button", name="Evaluate").click()
        assert "authz/decision.rego:5:" in page.locator("#problems").inner_text()
        assert page.locator("#decision").count() == 0


def test_malformed_input_is_named_next_to_its_field(server, console) -> None:
    with console("author") as page:
        page.goto(server.url + "/console/playground")
        page.get_by_label("Input (JSON)").fill('{"subject": ')
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.get_by_role("button", name="Evaluate").click()
        assert posted.value.status == 400
        field = page.get_by_label("Input (JSON)")
        assert field.get_attribute("aria-invalid") == "true"
        assert "not valid JSON" in page.locator("#input-error").inner_text()
        page.get_by_label("Input (JSON)").fill("{}")
        page.get_by_label("Entrypoint").fill("data.")
        page.get_by_role("button", name="Evaluate").click()
        assert page.locator("#entrypoint-error").inner_text()
        page.get_by_label("Entrypoint").fill("data.authz.decision")
        page.get_by_label("File name").first.fill("../escape.rego")
        page.get_by_role("button", name="Evaluate").click()
        assert "must be a relative path" in page.locator("#modules-error").inner_text()


def test_an_auditor_cannot_evaluate(server, console) -> None:
    with console("auditor-1", "pdp/audit") as page:
        page.goto(server.url + "/console/playground")
        assert page.get_by_role("button", name="Evaluate").is_disabled()
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        posted = page.request.post(
            server.url + "/console/playground",
            form={"csrf_token": csrf or "", "file": "a.rego", "text": CLOSED},
        )
        assert posted.status == 403


CASE = f"""
name: alice reads through her group
request:
  subject: {{id: {ALICE}}}
  action: document:read
  resource: {{type: document, id: d1, tenant_id: {ACME}}}
  context: {{ip: 10.1.2.3}}
expect:
  allow: true
  reasons: ["role:editor via group:engineering"]
"""


def test_a_decision_table_case_is_decided_and_checked(server, console) -> None:
    with console("author") as page:
        page.goto(server.url + "/console/playground")
        page.get_by_label("Or a decision-table case (YAML)").fill(CASE)
        page.get_by_role("button", name="Evaluate").click()
        assert "passed" in page.locator("#case-outcome").inner_text()
        assert page.locator("#decision").inner_text() == "allow"
        assert "engineering" in page.locator("#case-input").text_content()
        assert fits_the_screen(page)
        screenshot(page, "playground-case")
        page.get_by_label("Or a decision-table case (YAML)").fill(CASE.replace("true", "false"))
        page.get_by_role("button", name="Evaluate").click()
        assert "failed" in page.locator("#case-outcome").inner_text()
        page.get_by_label("Or a decision-table case (YAML)").fill("name: [unclosed")
        page.get_by_role("button", name="Evaluate").click()
        assert "not valid YAML" in page.locator("#case-error").inner_text()

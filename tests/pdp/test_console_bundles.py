"""The console's Bundles page in Chromium against a real `pdp serve`: the history with who
published each revision, a diff of two, activation behind its replay impact, a rollback,
and an auditor who sees it all and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.pdp.console_browser import (
    bearer,
    console_pdp,
    decide_alice,
    fits_the_screen,
    logged_decisions,
    screenshot,
)
from tests.pdp.review_env import R2_COMMENT, review_bundles
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer) -> Iterator[ServerProcess]:
    """r1 published and active with three of alice's reads logged; r2 published by another
    client, not active."""
    tmp = tmp_path_factory.mktemp("console-bundles")
    r1, r2 = review_bundles(tmp)
    with console_pdp(tmp, issuer) as running:
        for archive, publisher in ((r1, "release-ci"), (r2, "policy-author")):
            published = httpx.post(
                running.url + "/admin/v1/bundles",
                content=archive,
                headers={
                    **bearer(issuer, "pdp/admin", publisher),
                    "Content-Type": "application/gzip",
                },
                timeout=120,
            )
            assert published.status_code == 201, published.text
        activated = httpx.post(
            running.url + "/admin/v1/bundles/r1/activate", headers=bearer(issuer, "pdp/admin")
        )
        assert activated.status_code == 200, activated.text
        for _ in range(3):
            assert decide_alice(running, issuer)["allow"] is True
        logged_decisions(running, issuer, 3)
        yield running


def test_diff_activate_with_impact_and_roll_back(server, issuer, console) -> None:
    with console("console-admin") as page:
        page.goto(server.url + "/console/bundles")
        history = page.get_by_role("table", name="History")
        r2_row = history.get_by_role("row").filter(has_text="r2")
        assert "policy-author" in r2_row.inner_text()
        assert "unsigned" in r2_row.inner_text()
        assert "active" in history.get_by_role("row").filter(has_text="r1").inner_text()
        assert fits_the_screen(page)
        screenshot(page, "bundles")

        page.get_by_label("From", exact=True).select_option("r1")
        page.get_by_label("To", exact=True).select_option("r2")
        page.get_by_role("button", name="Show the diff").click()
        page.wait_for_url("**/console/bundles/diff**")
        assert R2_COMMENT in page.get_by_role("region", name="authz/decision.rego").inner_text()
        data = page.get_by_role("table", name="Data")
        assert "data.roles.viewer.permissions" in data.inner_text()
        assert "data.roles.reviewer" in data.inner_text()
        assert fits_the_screen(page)
        screenshot(page, "bundle-diff")

        page.goto(server.url + "/console/bundles")
        # From the keyboard alone: Tab to the link, Enter follows it.
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent").startswith(
                "Review and activate r2"
            ):
                break
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/bundles/activate**")
        flips = int(page.locator("[data-figure=changed]").inner_text())
        assert flips >= 3
        assert int(page.locator("[data-figure=allow_to_deny]").inner_text()) == flips
        examples = page.get_by_role("table", name="Examples").inner_text()
        assert "document:read" in examples and "deny" in examples
        # Nothing changed yet: the confirmation only replayed.
        assert httpx.get(server.url + "/health").json()["bundle_revision"] == "r1"
        assert fits_the_screen(page)
        screenshot(page, "bundle-activate")

        page.get_by_label("Subjects' roles and attributes").select_option("current")
        page.get_by_role("button", name="Replay again").click()
        page.wait_for_url("**directory=current**")
        assert int(page.locator("[data-figure=changed]").inner_text()) == flips
        page.get_by_role("button", name="Activate r2").click()
        page.wait_for_url("**/console/bundles?done=**")
        assert "Revision r2 is active" in page.get_by_role("status").inner_text()
        assert httpx.get(server.url + "/health").json()["bundle_revision"] == "r2"
        assert decide_alice(server, issuer)["allow"] is False
        activations = page.get_by_role("table", name="Recent activations").inner_text()
        assert "console-admin" in activations

        page.get_by_role("link", name="Roll back to r1…").click()
        page.wait_for_url("**/console/bundles/rollback**")
        assert page.get_by_role("heading", level=1).inner_text() == "Roll back to r1?"
        page.get_by_role("button", name="Roll back to r1").click()
        page.wait_for_url("**/console/bundles?done=**")
        assert "r1 is active" in page.get_by_role("status").inner_text()
        assert httpx.get(server.url + "/health").json()["bundle_revision"] == "r1"
        assert decide_alice(server, issuer)["allow"] is True


def test_an_auditor_sees_the_history_and_diff_but_cannot_activate(server, console) -> None:
    with console("auditor-1", "pdp/audit") as page:
        page.goto(server.url + "/console/bundles")
        assert page.get_by_role("link", name="Review and activate r2").count() == 0
        assert page.get_by_role("link", name="Roll back", exact=False).count() == 0
        page.goto(server.url + "/console/bundles/diff?from=r1&to=r2")
        assert R2_COMMENT in page.get_by_role("region", name="authz/decision.rego").inner_text()
        refused = page.goto(server.url + "/console/bundles/activate?revision=r2")
        assert refused is not None and refused.status == 403
        # Posting the form anyway, with the session's own CSRF token, is refused too.
        page.goto(server.url + "/console/bundles")
        csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
        posted = page.request.post(
            server.url + "/console/bundles/activate",
            form={"csrf_token": csrf or "", "revision": "r2"},
        )
        assert posted.status == 403
    assert httpx.get(server.url + "/health").json()["bundle_revision"] == "r1"


def test_a_post_without_the_csrf_token_is_refused(server, console) -> None:
    with console("console-admin") as page:
        posted = page.request.post(
            server.url + "/console/bundles/activate", form={"revision": "r2"}
        )
        assert posted.status == 403
    assert httpx.get(server.url + "/health").json()["bundle_revision"] == "r1"

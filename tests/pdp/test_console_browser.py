"""The console in Debian's Chromium against real servers: `token-service serve` and two
`pdp serve`, one signing in through the hosted login (code + PKCE), one (no console client
configured) taking a pasted token. Screenshots go to docs/images/console-*.png."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pdp.console_browser import VIEWPORT
from tests.pdp.pdp_env import ACME, ALICE, BOB, DEMO_DIRECTORY, POLICIES, document_request
from tests.support.browser import fresh_page, screenshot
from tests.support.processes import ServerProcess, pdp_with_directory
from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
    create_user,
    start_server,
    stop_server,
)
from tests.token_service.test_hosted_login import fill_login

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    token_service: Server
    pool: str
    console_client: str
    machines: dict[str, tuple[str, str]]  # name -> (client id, secret)
    hosted: ServerProcess  # a PDP whose console signs in through the hosted login
    pasted: ServerProcess  # a PDP whose console takes a pasted token

    def token(self, machine: str, scope: str) -> str:
        client_id, secret = self.machines[machine]
        answer = httpx.post(
            f"{self.token_service.url}/oauth2/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(client_id, secret),
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


def start_pdp(tmp: Path, issuer: str, **console: str) -> ServerProcess:
    """`pdp serve` on the demo directory and the policies on disk."""
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": json.dumps([{"issuer": issuer}]),
        "PDP_BUNDLE": str(POLICIES),
        "PDP_DECISION_LOG_SPOOL_DIR": str(tmp / "spool"),
        **console,
    }
    return pdp_with_directory(DEMO_DIRECTORY, env, log_path=tmp / "pdp.log")


def console_client_settings(pdp_url: str) -> dict[str, Any]:
    return {
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthScopes": ["openid", "pdp/admin"],
        "CallbackURLs": [f"{pdp_url}/console/callback"],
        "LogoutURLs": [f"{pdp_url}/console/signin"],
        "SupportedIdentityProviders": ["COGNITO"],
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with ExitStack() as cleanup:
        token_service = start_server(tmp_path_factory.mktemp("console-token-service"))
        cleanup.callback(stop_server, token_service)
        cognito = cognito_client(token_service.url)
        pool = cognito.create_user_pool(
            PoolName="operators",
            Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
        )["UserPool"]["Id"]
        cognito.create_resource_server(
            UserPoolId=pool,
            Identifier="pdp",
            Name="PDP",
            Scopes=[{"ScopeName": n, "ScopeDescription": n} for n in ("decide", "admin", "audit")],
        )
        machines = {}
        for name, scope in (("pep", "pdp/decide"), ("auditor", "pdp/audit")):
            made = cognito.create_user_pool_client(
                UserPoolId=pool,
                ClientName=name,
                GenerateSecret=True,
                AllowedOAuthFlows=["client_credentials"],
                AllowedOAuthFlowsUserPoolClient=True,
                AllowedOAuthScopes=[scope],
            )["UserPoolClient"]
            machines[name] = (made["ClientId"], made["ClientSecret"])
        # The console's public client; its URLs are set once the PDP's port is known.
        console_client = cognito.create_user_pool_client(
            UserPoolId=pool, ClientName="pdp-console", **console_client_settings("http://127.0.0.1")
        )["UserPoolClient"]["ClientId"]
        create_user(cognito, pool, "root")
        issuer = f"{token_service.url}/{pool}"
        hosted = start_pdp(
            tmp_path_factory.mktemp("console-hosted"),
            issuer,
            PDP_CONSOLE_ISSUER=issuer,
            PDP_CONSOLE_CLIENT_ID=console_client,
        )
        cleanup.callback(hosted.stop)
        cognito.update_user_pool_client(
            UserPoolId=pool,
            ClientId=console_client,
            ClientName="pdp-console",
            **console_client_settings(hosted.url),
        )
        pasted = start_pdp(tmp_path_factory.mktemp("console-pasted"), issuer)
        cleanup.callback(pasted.stop)
        running = Stack(token_service, pool, console_client, machines, hosted, pasted)
        pep = {"Authorization": f"Bearer {running.token('pep', 'pdp/decide')}"}
        for pdp in (hosted, pasted):
            for subject, action in ((ALICE, "document:read"), (BOB, "document:write")):
                body = document_request({"id": subject, "tenant_id": ACME}, action)
                assert httpx.post(f"{pdp.url}/decide", json=body, headers=pep).status_code == 200
        yield running


@pytest.fixture
def page(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """A page in a fresh profile, recording every URL it requests."""
    with fresh_page(playwright, tmp_path / "profile", VIEWPORT) as opened:
        opened.requested = []
        opened.on("request", lambda request: opened.requested.append(request.url))
        opened.console_errors = []
        opened.on("console", lambda m: m.type == "error" and opened.console_errors.append(m.text))
        yield opened


def paste_token(page: Any, pdp: ServerProcess, token: str) -> None:
    page.goto(f"{pdp.url}/console/signin")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/console/signin" not in url)


def test_sign_in_through_the_hosted_login_then_explain_a_denied_decision(
    page: Any, stack: Stack
) -> None:
    console = stack.hosted.url + "/console"
    page.goto(console)
    page.get_by_role("link", name="Sign in with the token service").click()
    page.wait_for_url(f"{stack.token_service.url}/**")
    fill_login(page, "root", PASSWORD)
    page.wait_for_url(f"{console}/decisions")
    page.get_by_role("heading", name="Decisions", exact=True).wait_for()
    assert page.locator(".who").inner_text().split()[:2] == ["root", "admin"]
    pep = {"Authorization": f"Bearer {stack.token('pep', 'pdp/decide')}"}
    body = document_request({"id": ALICE, "tenant_id": ACME}, "folder:read")
    for _ in range(3):
        httpx.post(f"{stack.hosted.url}/decide", json=body, headers=pep)
    # The live figures refresh themselves (htmx polling): the rate appears at the next update.
    page.locator("#live svg[aria-labelledby^=rates]").wait_for(timeout=15_000)
    screenshot(page, "console-decisions", full_page=False)

    page.get_by_label("Result").select_option("deny")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**allow=deny**")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "no_matching_role" in rows.first.inner_text()  # BOB's write
    rows.first.get_by_role("link").click()
    page.get_by_role("heading", name="Decision deny").wait_for()
    assert BOB in page.locator("pre").inner_text()  # the input the PIP built
    screenshot(page, "console-decision", full_page=False)

    page.get_by_role("link", name="Why? Explain this decision").click()
    explanation = page.locator("#explanation")
    explanation.wait_for()
    assert "no_matching_role" in explanation.inner_text()
    roles = page.locator("table").inner_text()
    assert "company:acme-corp" in roles and "through the company" in roles
    assert "editor" in page.get_by_text("Roles of the bundle that grant").inner_text()
    screenshot(page, "console-why")
    assert not page.console_errors, page.console_errors  # no CSP violation, no script error

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{console}/signin**")
    page.goto(f"{console}/decisions")
    page.wait_for_url(f"{console}/signin")


def test_no_token_or_code_verifier_is_ever_in_a_url(page: Any, stack: Stack) -> None:
    console = stack.hosted.url + "/console"
    page.goto(f"{console}/login")
    fill_login(page, "root", PASSWORD)
    page.wait_for_url(f"{console}/decisions")
    page.goto(
        f"{console}/why?subject_id={ALICE}&action=document:write&resource_type=document&resource_id=d1"
    )
    page.locator("#explanation").wait_for()
    assert "department_mismatch" in page.locator("#explanation").inner_text()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["pdp_console"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    for url in page.requested:
        assert "access_token" not in url and "id_token" not in url and "code_verifier" not in url
        assert "eyJ" not in url  # no JWT in any URL
    html = page.content()
    assert "eyJ" not in html


def test_keyboard_reaches_the_navigation_and_focus_is_visible(page: Any, stack: Stack) -> None:
    paste_token(page, stack.pasted, stack.token("auditor", "pdp/audit"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Decisions"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"]  # no sideways scrolling at 1366x768


def test_an_auditor_reads_but_is_marked_read_only(page: Any, stack: Stack) -> None:
    paste_token(page, stack.pasted, stack.token("auditor", "pdp/audit"))
    assert page.get_by_text("auditor (read-only)").is_visible()
    page.get_by_role("link", name="Why", exact=True).click()
    page.get_by_label("Subject id").fill(BOB)
    page.get_by_label("Action", exact=True).fill("document:write")
    page.get_by_label("Resource type").fill("document")
    page.get_by_label("Resource id").fill("d1")
    page.get_by_role("button", name="Explain").click()
    assert "no_matching_role" in page.locator("#explanation").inner_text()
    screenshot(page, "console-auditor", full_page=False)
    # Changing anything needs pdp/admin: the console refuses the auditor its write pages.
    page.goto(f"{stack.pasted.url}/console/bundles/rollback")
    page.get_by_role("heading", name="Not allowed").wait_for()
    assert "pdp/admin" in page.content()
    # The token's scope reads the admin API and writes nothing there either.
    auditor = {"Authorization": f"Bearer {stack.token('auditor', 'pdp/audit')}"}
    api = stack.pasted.url + "/admin/v1"
    assert httpx.get(f"{api}/decisions", headers=auditor).status_code == 200
    refused = httpx.post(f"{api}/tenants", json={"name": "x"}, headers=auditor)
    assert refused.status_code == 403


def test_a_token_without_console_scopes_is_refused(page: Any, stack: Stack) -> None:
    paste_token(page, stack.pasted, stack.token("pep", "pdp/decide"))
    page.get_by_role("heading", name="Not allowed").wait_for()
    assert "pdp/admin or pdp/audit" in page.content()
    screenshot(page, "console-refused", full_page=False)

"""A real `pdp serve` following its store, and Debian's Chromium signed in to its console
with a pasted token (the console's sign-in when no hosted login is configured)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pdp.pdp_env import ALICE, DEMO_DIRECTORY, POLICIES, document_request
from tests.pdp.test_e2e_serve import pdp_cli
from tests.support import browser
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

# The laptop screen the console is built for.
VIEWPORT = {"width": 1366, "height": 768}


@contextmanager
def console_pdp(
    tmp: Path, issuer: TestIssuer, bundle: Path | None = None
) -> Iterator[ServerProcess]:
    """`pdp serve` on the demo directory, serving whatever its store activates (or the fixed
    `bundle`)."""
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        **({"PDP_BUNDLE": str(bundle)} if bundle else {}),
    }
    imported = pdp_cli("directory", "import", str(DEMO_DIRECTORY), "--json", env=env)
    assert imported.returncode == 0, imported.stderr
    server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp / "pdp.log")
    try:
        yield server
    finally:
        server.stop()


def served_policies(name: str) -> Any:
    """A module's `server` fixture: `console_pdp` serving the default policies from disk."""

    @pytest.fixture(scope="module")
    def server(
        tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
    ) -> Iterator[ServerProcess]:
        with console_pdp(tmp_path_factory.mktemp(name), issuer, bundle=POLICIES) as running:
            yield running

    return server


def bearer(issuer: TestIssuer, scope: str, client_id: str = "release-ci") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token(client_id, scope=scope)}"}


def decide_alice(server: ServerProcess, issuer: TestIssuer) -> dict[str, Any]:
    """Alice reading an acme document: allowed by the default policy (viewer, via her roles)."""
    body = document_request({"id": ALICE}, "document:read")
    answer = httpx.post(
        server.url + "/decide", json=body, headers=bearer(issuer, "pdp/decide", "pep")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


@contextmanager
def console_page(playwright: Any, tmp: Path, url: str, token: str) -> Iterator[Any]:
    """A page in a fresh profile, signed in to the console at `url` with `token`."""
    with browser.fresh_page(playwright, tmp, VIEWPORT) as page:
        page.goto(url + "/console/signin")
        page.get_by_label("Access token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda u: "/console/signin" not in u)
        yield page


def logged_decisions(server: ServerProcess, issuer: TestIssuer, at_least: int) -> list[dict]:
    """The decision log once it holds `at_least` records (it is written asynchronously)."""
    while True:
        answer = httpx.get(
            server.url + "/admin/v1/decisions", headers=bearer(issuer, "pdp/admin")
        ).json()
        if len(answer["items"]) >= at_least:
            return answer["items"]


def fits_the_screen(page: Any) -> bool:
    """No sideways scrolling at the page's width (long lines scroll inside their own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def screenshot(page: Any, name: str) -> None:
    """The whole page as docs/images/console-<name>.png."""
    browser.screenshot(page, f"console-{name}")


@pytest.fixture
def console(
    playwright: Any, tmp_path: Path, server: Any, issuer: TestIssuer
) -> Callable[..., AbstractContextManager[Any]]:
    """`with console(client_id, scope) as page`: Chromium in a fresh profile, signed in to
    the module's `server` with that client's token (scope `pdp/admin` unless said)."""

    def signed_in(client_id: str, scope: str = "pdp/admin") -> AbstractContextManager[Any]:
        token = issuer.machine_token(client_id, scope=scope)
        return console_page(playwright, tmp_path, server.url, token)

    return signed_in

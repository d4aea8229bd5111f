"""The console over HTTP, in process: headers, sessions, CSRF, scopes, the pages' input
checks, and no token anywhere a browser could show or send it on."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pdp.services import Services
from tests.pdp.pdp_env import ACME, ALICE, BOB, document_request, running_pdp
from tests.support.issuer import TestIssuer

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'"
)


@pytest.fixture(scope="module")
def pdp(
    issuer: TestIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Services]]:
    with running_pdp(tmp_path_factory.mktemp("console"), issuer) as running:
        client, services = running
        pep = {"Authorization": f"Bearer {issuer.machine_token('pep')}"}
        for subject, action in (
            (ALICE, "document:read"),
            (BOB, "document:write"),
            (BOB, "document:delete"),
        ):
            body = document_request({"id": subject, "tenant_id": ACME}, action)
            assert client.post("/decide", json=body, headers=pep).status_code == 200
        assert services.decision_log.flush()
        yield running


@pytest.fixture
def client(pdp: tuple[TestClient, Services]) -> Iterator[TestClient]:
    """The module's app, with a browser's empty cookie jar for each test."""
    shared = pdp[0]
    shared.cookies.clear()
    yield shared
    shared.cookies.clear()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Paste `token` into the sign-in form; the session's CSRF token."""
    form = client.get("/console/signin")
    answer = client.post(
        "/console/token",
        data={"token": token, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console"
    return csrf_of(client.get("/console/decisions").text)


def test_every_console_response_carries_the_strict_policy(client: TestClient) -> None:
    for path in ("/console/signin", "/console/static/console.css", "/console/nowhere"):
        headers = client.get(path).headers
        assert headers["content-security-policy"].startswith(CSP), path
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
    assert client.get("/console/signin").headers["cache-control"] == "no-store"
    # The API keeps its own headers.
    assert "content-security-policy" not in client.get("/health").headers


def test_pages_carry_no_inline_script_or_style(client: TestClient, issuer: TestIssuer) -> None:
    sign_in(client, issuer.machine_token("ops", scope="pdp/admin"))
    for path in (
        "/console/signin",
        "/console/decisions",
        "/console/why",
        "/console/decisions/live",
    ):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_signed_out_browsers_go_to_the_sign_in_page(client: TestClient) -> None:
    for path in ("/console", "/console/decisions", "/console/why"):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/signin")
    fragment = client.get("/console/decisions/live", headers={"HX-Request": "true"})
    assert fragment.status_code == 401
    assert fragment.headers["hx-redirect"] == "/console/signin"


def test_the_session_cookie_is_opaque_http_only_and_lax(
    client: TestClient, issuer: TestIssuer
) -> None:
    form = client.get("/console/signin")
    pending = form.cookies["pdp_console"]
    token = issuer.machine_token("ops", scope="pdp/admin")
    answer = client.post(
        "/console/token",
        data={"token": token, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https gets Secure
    session_id = answer.cookies["pdp_console"]
    # A new id at sign-in: one planted before it is worth nothing.
    assert session_id != pending and token not in cookie
    # Signed in, the sign-in page sends the browser on and keeps its session.
    again = client.get("/console/signin", follow_redirects=False)
    assert again.headers["location"] == "/console" and "set-cookie" not in again.headers


def test_sign_in_without_the_form_csrf_token_is_refused(
    client: TestClient, issuer: TestIssuer
) -> None:
    client.get("/console/signin")
    token = issuer.machine_token("ops", scope="pdp/admin")
    for data in ({"token": token}, {"token": token, "csrf_token": "forged"}):
        answer = client.post("/console/token", data=data, follow_redirects=False)
        assert answer.status_code == 403
    assert client.get("/console/decisions", follow_redirects=False).status_code == 303


def test_a_post_from_another_origin_is_refused(client: TestClient, issuer: TestIssuer) -> None:
    csrf = sign_in(client, issuer.machine_token("ops", scope="pdp/admin"))
    answer = client.post(
        "/console/logout",
        data={"csrf_token": csrf},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert client.get("/console/decisions").status_code == 200


def test_logout_needs_the_csrf_token_and_ends_the_session(
    client: TestClient, issuer: TestIssuer
) -> None:
    csrf = sign_in(client, issuer.machine_token("ops", scope="pdp/admin"))
    assert client.post("/console/logout", follow_redirects=False).status_code == 403
    answer = client.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.headers["location"] == "/console/signin?notice=signed_out"
    assert client.get("/console/decisions", follow_redirects=False).status_code == 303


def test_tokens_that_do_not_verify_are_not_taken(client: TestClient, issuer: TestIssuer) -> None:
    expired = issuer.machine_token("ops", scope="pdp/admin", exp=int(time.time()) - 60)
    id_token = issuer.user_id_token(ALICE, ACME)
    for token in ("not-a-jwt", expired, id_token):
        form = client.get("/console/signin")
        answer = client.post(
            "/console/token", data={"token": token, "csrf_token": csrf_of(form.text)}
        )
        assert answer.status_code == 400
        assert "the token was refused" in answer.text
        assert token not in answer.text


def test_a_token_that_stops_verifying_ends_the_session(
    client: TestClient, pdp: tuple[TestClient, Services], issuer: TestIssuer
) -> None:
    sign_in(client, issuer.machine_token("ops", scope="pdp/admin"))
    console = client.app.state.console
    session = console.sessions.get(client.cookies["pdp_console"])
    session.token = issuer.machine_token("ops", scope="pdp/admin", exp=int(time.time()) - 1)
    answer = client.get("/console/decisions", follow_redirects=False)
    assert answer.headers["location"] == "/console/signin?notice=expired"
    assert console.sessions.get(client.cookies["pdp_console"]) is None
    assert "token expired" in client.get(answer.headers["location"]).text


def test_a_token_without_console_scopes_gets_the_403_page(
    client: TestClient, issuer: TestIssuer
) -> None:
    sign_in(client, issuer.machine_token("pep", scope="pdp/decide"))
    for path in ("/console/decisions", "/console/why", "/console/decisions/live"):
        answer = client.get(path)
        assert answer.status_code == 403
        assert "pdp/admin or pdp/audit" in answer.text


def test_an_auditor_reads_every_page_and_is_shown_as_read_only(
    client: TestClient, issuer: TestIssuer
) -> None:
    sign_in(client, issuer.machine_token("audit-team", scope="pdp/audit"))
    page = client.get("/console/decisions")
    assert page.status_code == 200 and "auditor (read-only)" in page.text
    assert client.get("/console/why").status_code == 200
    # Writes need pdp/admin, even with a valid CSRF token.
    csrf = csrf_of(page.text)
    for path, form in (
        ("/console/bundles/activate", {"revision": "r1"}),
        ("/console/bundles/rollback", {"expected": "r1"}),
    ):
        refused = client.post(path, data={**form, "csrf_token": csrf})
        assert refused.status_code == 403 and "pdp/admin" in refused.text, path


def test_the_admin_api_reads_for_auditors_and_refuses_their_writes(
    client: TestClient, issuer: TestIssuer
) -> None:
    auditor = {"Authorization": f"Bearer {issuer.machine_token('audit', scope='pdp/audit')}"}
    for path in ("/admin/v1/decisions", "/admin/v1/tenants", f"/admin/v1/tenants/{ACME}/users"):
        assert client.get(path, headers=auditor).status_code == 200, path
    tenant = {"name": "audited"}
    assert client.post("/admin/v1/tenants", json=tenant, headers=auditor).status_code == 403
    assert (
        client.patch(f"/admin/v1/tenants/{ACME}", json=tenant, headers=auditor).status_code == 403
    )
    assert client.delete(f"/admin/v1/tenants/{ACME}", headers=auditor).status_code == 403
    assert client.post("/admin/v1/bundles/rollback", headers=auditor).status_code == 403
    pep = {"Authorization": f"Bearer {issuer.machine_token('pep')}"}
    assert client.get("/admin/v1/decisions", headers=pep).status_code == 403


def test_no_token_in_any_url_or_body(client: TestClient, issuer: TestIssuer) -> None:
    token = issuer.machine_token("ops", scope="pdp/admin")
    form = client.get("/console/signin")
    signed = client.post("/console/token", data={"token": token, "csrf_token": csrf_of(form.text)})
    seen = [signed]
    decisions = client.get("/console/decisions?allow=deny")
    seen.append(decisions)
    decision_id = re.search(r"/console/decisions/([0-9a-f-]{36})", decisions.text).group(1)
    for path in (
        "/console/decisions/live",
        f"/console/decisions/{decision_id}",
        f"/console/why?decision_id={decision_id}",
        "/console/nowhere",
    ):
        seen.append(client.get(path))
    for answer in seen:
        assert token not in answer.text
        assert token not in str(answer.url)
        assert all(token not in value for value in answer.headers.values())
        for hop in answer.history:
            assert token not in hop.headers.get("location", "")


def test_the_decision_log_filters_and_pages(client: TestClient, issuer: TestIssuer) -> None:
    sign_in(client, issuer.machine_token("ops", scope="pdp/admin"))
    denied = client.get("/console/decisions", params={"allow": "deny", "subject_id": BOB}).text
    assert denied.count('class="deny"') == 2 and 'class="allow"' not in denied
    by_reason = client.get("/console/decisions", params={"reason": "via group:engineering"}).text
    assert by_reason.count('href="/console/decisions/') == 1
    assert (
        "No decision matches"
        in client.get("/console/decisions", params={"bundle_revision": "never-published"}).text
    )
    future = client.get("/console/decisions", params={"since": "2999-01-01T00:00"}).text
    assert "No decision matches" in future
    admin = {"Authorization": f"Bearer {issuer.machine_token('ops', scope='pdp/admin')}"}
    api = client.get(
        "/admin/v1/decisions",
        params={"reason": "no_matching_role", "subject_id": BOB},
        headers=admin,
    ).json()["items"]
    assert len(api) == 2 and all(r["reasons"] == ["no_matching_role"] for r in api)
    revision = api[0]["bundle_revision"]
    same = client.get("/admin/v1/decisions", params={"bundle_revision": revision}, headers=admin)
    assert all(r["bundle_revision"] == revision for r in same.json()["items"])
    # Wildcards of SQL LIKE are taken literally.
    assert "No decision matches" in client.get("/console/decisions", params={"reason": "%"}).text


def test_the_decision_log_pages_with_older_and_newest(
    client: TestClient, pdp: tuple[TestClient, Services], issuer: TestIssuer
) -> None:
    _, services = pdp
    pep = {"Authorization": f"Bearer {issuer.machine_token('pep')}"}
    body = document_request({"id": ALICE, "tenant_id": ACME}, "folder:list")
    for _ in range(26):
        client.post("/decide", json=body, headers=pep)
    assert services.decision_log.flush()
    sign_in(client, issuer.machine_token("ops", scope="pdp/admin"))
    first = client.get("/console/decisions", params={"action": "folder:list"}).text
    older = re.search(r'href="(/console/decisions\?[^"]*page_token=[^"]+)">Older', first)
    assert older and first.count("<tr>") == 26  # the header row and 25 decisions
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert second.count("<tr>") == 2 and ">Newest<" in second


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00"}, "until"),
        ({"allow": "maybe"}, "allow"),
        ({"subject_id": "x" * 257}, "subject_id"),
        ({"page_token": "%%%"}, "page_token"),
    ],
)
def test_bad_filters_get_a_400_page_naming_the_field(
    client: TestClient, issuer: TestIssuer, params: dict[str, str], field: str
) -> None:
    sign_in(client, issuer.machine_token("ops", scope="pdp/audit"))
    answer = client.get("/console/decisions", params=params)
    assert answer.status_code == 400
    assert f"({field})" in answer.text
    assert "Traceback" not in answer.text


def test_an_unknown_decision_is_a_404_page(client: TestClient, issuer: TestIssuer) -> None:
    sign_in(client, issuer.machine_token("ops", scope="pdp/audit"))
    answer = client.get("/console/decisions/00000000-0000-4000-8000-000000000000")
    assert answer.status_code == 404 and "no decision" in answer.text.lower()


def test_callbacks_that_this_browser_did_not_start_are_refused(
    issuer: TestIssuer, tmp_path: Path
) -> None:
    with running_pdp(
        tmp_path, issuer, console_issuer=issuer.issuer, console_client_id="console"
    ) as (client, _):
        page = client.get("/console/signin")
        assert "Sign in with the token service" in page.text and "Access token" not in page.text
        policy = page.headers["content-security-policy"]
        assert f"form-action 'self' {issuer.issuer.rsplit('/', 1)[0]};" in policy
        for params in ({"code": "c", "state": "s"}, {"error": "access_denied"}, {}):
            answer = client.get("/console/callback", params=params)
            assert answer.status_code == 400
            assert "sign in again" in answer.text
        # With a console client, no pasted token is taken.
        token = issuer.machine_token("ops", scope="pdp/admin")
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page.text).group(1)
        pasted = client.post("/console/token", data={"token": token, "csrf_token": csrf})
        assert pasted.status_code == 400
        assert client.get("/console/decisions", follow_redirects=False).status_code == 303


def test_over_https_the_session_cookie_is_secure(
    pdp: tuple[TestClient, Services], issuer: TestIssuer
) -> None:
    secure = TestClient(pdp[0].app, base_url="https://testserver")
    form = secure.get("/console/signin")
    assert "Secure" in form.headers["set-cookie"]
    token = issuer.machine_token("ops", scope="pdp/admin")
    answer = secure.post(
        "/console/token",
        data={"token": token, "csrf_token": csrf_of(form.text)},
        headers={"Origin": "https://testserver"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]

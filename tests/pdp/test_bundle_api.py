"""The bundle admin API and the OPA bundle service, in process, on the default policy."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pdp.bundles.archive import read_archive, source_from_files, write_archive
from pdp.bundles.build import build_bundle
from pdp.bundles.loader import load_policy_source
from pdp.bundles.store import BundleStore
from pdp.directory.store import DirectoryStore
from pdp.services import Services
from tests.pdp.pdp_env import ALICE, POLICIES, document_request, running_pdp
from tests.pdp.test_bundle_publish import (
    CRASHING_POLICY,
    TINY_TEST,
    bundle_files,
    new_key_pair,
    signed_files,
    store_unvalidated,
)
from tests.support.issuer import TestIssuer

UPLOAD = {"Content-Type": "application/gzip"}


def default_bundle(revision: str) -> bytes:
    """The repository's default policy with its Rego tests, as `pdp bundle build` packs it."""
    return build_bundle(POLICIES, revision=revision, include_tests=True)


@pytest.fixture(scope="module")
def r1() -> bytes:
    return default_bundle("r1")


@pytest.fixture(scope="module")
def r2() -> bytes:
    return default_bundle("r2")


@pytest.fixture
def pdp(tmp_path: Path, issuer: TestIssuer) -> Iterator[tuple[TestClient, Services]]:
    with running_pdp(tmp_path, issuer, bundle=None, bundle_max_bytes=3 << 20) as running:
        yield running


def auth(issuer: TestIssuer, client_id: str = "release-ci", scope: str = "pdp/admin") -> dict:
    return {"Authorization": f"Bearer {issuer.machine_token(client_id, scope=scope)}"}


def decide(client: TestClient, issuer: TestIssuer) -> dict:
    body = document_request({"id": ALICE}, "document:read")
    response = client.post("/decide", json=body, headers=auth(issuer, "pep", "pdp/decide"))
    assert response.status_code == 200
    return response.json()


def test_publish_activate_decide_rollback(pdp, issuer, r1, r2) -> None:
    client, _ = pdp
    admin = {**auth(issuer), **UPLOAD}
    assert client.get("/health?bundles").status_code == 500
    assert decide(client, issuer)["reasons"] == ["no_bundle"]

    created = client.post("/admin/v1/bundles?name=main", content=r1, headers=admin)
    assert created.status_code == 201, created.text
    record = created.json()
    assert {k: record[k] for k in ("name", "revision", "size", "published_by", "active")} == {
        "name": "main",
        "revision": "r1",
        "size": len(r1),
        "published_by": "release-ci",
        "active": False,
    }
    assert record["digest"].startswith("sha256:")
    assert record["signature"] == {"status": "unsigned", "key_id": None}
    assert record["published_at"].endswith("Z")
    assert record["stored"] is True
    again = client.post("/admin/v1/bundles", content=r1, headers=admin)
    assert (again.status_code, again.json()) == (200, {**record, "stored": False})

    activated = client.post("/admin/v1/bundles/r1/activate?name=main", headers=admin)
    assert activated.status_code == 200
    del record["stored"]
    assert activated.json() == {
        **record,
        "active": True,
        "bundle_mode": "store",
        "served_revision": "r1",
    }
    assert client.get("/health?bundles").json()["bundle_revision"] == "r1"
    first = decide(client, issuer)
    assert (first["allow"], first["bundle_revision"]) == (True, "r1")

    assert client.post("/admin/v1/bundles", content=r2, headers=admin).status_code == 201
    assert client.post("/admin/v1/bundles/r2/activate", headers=admin).json()["active"]
    assert client.get("/health").json()["bundle_revision"] == "r2"
    assert decide(client, issuer)["bundle_revision"] == "r2"

    listed = client.get("/admin/v1/bundles?name=main", headers=admin).json()
    assert [(b["revision"], b["active"]) for b in listed["items"]] == [("r2", True), ("r1", False)]
    assert listed["next_page_token"] is None
    page = client.get("/admin/v1/bundles?limit=1", headers=admin).json()
    assert [b["revision"] for b in page["items"]] == ["r2"]
    rest = client.get(
        f"/admin/v1/bundles?limit=1&page_token={page['next_page_token']}", headers=admin
    )
    assert [b["revision"] for b in rest.json()["items"]] == ["r1"]

    rolled = client.post("/admin/v1/bundles/rollback?name=main", headers=admin)
    assert (rolled.status_code, rolled.json()["revision"], rolled.json()["active"]) == (
        200,
        "r1",
        True,
    )
    assert decide(client, issuer)["bundle_revision"] == "r1"
    assert client.get("/health").json() == {
        "status": "ok",
        "bundle_revision": "r1",
        "bundle_mode": "store",
        "bundle_error": None,
    }
    nothing_left = client.post("/admin/v1/bundles/rollback", headers=admin)
    assert nothing_left.status_code == 409
    assert nothing_left.json()["error"] == "conflict"
    history = client.get("/admin/v1/bundle-activations", headers=admin).json()["items"]
    assert [(h["revision"], h["action"], h["activated_by"]) for h in history] == [
        ("r1", "rollback", "release-ci"),
        ("r2", "activate", "release-ci"),
        ("r1", "activate", "release-ci"),
    ]


def test_activation_errors(pdp, issuer, r1) -> None:
    client, _ = pdp
    admin = auth(issuer)
    missing = client.post("/admin/v1/bundles/r9/activate", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert client.post("/admin/v1/bundles/rollback", headers=admin).status_code == 409
    assert client.post("/admin/v1/bundles", content=r1, headers=admin).status_code == 201
    rebuilt = default_bundle("r1")  # builds are deterministic: the same bytes again
    assert client.post("/admin/v1/bundles", content=rebuilt, headers=admin).status_code == 200
    changed = write_archive({**bundle_files("r1"), "authz/extra_test.rego": TINY_TEST.encode()})
    conflict = client.post("/admin/v1/bundles", content=changed, headers=admin)
    assert conflict.status_code == 409
    assert conflict.json()["field"] == "body"


def test_revisions_with_slashes_activate(pdp, issuer) -> None:
    client, _ = pdp
    admin = auth(issuer)
    data = write_archive(bundle_files("release/2026.11"))
    assert client.post("/admin/v1/bundles", content=data, headers=admin).status_code == 201
    response = client.post("/admin/v1/bundles/release%2F2026.11/activate", headers=admin)
    assert (response.status_code, response.json()["revision"]) == (200, "release/2026.11")


def test_refusals_are_400_and_store_nothing(pdp, issuer) -> None:
    client, services = pdp
    admin = auth(issuer)
    failing = TINY_TEST.replace('"document:read"', '"document:delete"')
    cases = {
        "invalid_bundle": b"definitely not gzip",
        "bundle_refused": write_archive(bundle_files("r1", test=failing)),
    }
    for code, data in cases.items():
        response = client.post("/admin/v1/bundles", content=data, headers=admin)
        assert response.status_code == 400, response.text
        body = response.json()
        assert (body["error"], body["field"]) == (code, "body")
        assert body["message"]
    assert client.get("/admin/v1/bundles", headers=admin).json()["items"] == []
    assert services.bundles.store.list("main")[0] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("name=a%20b", "name"),
        ("name=", "name"),
        ("limit=0", "query.limit"),
        ("limit=abc", "query.limit"),
        ("page_token=zzz", "page_token"),
    ],
)
def test_bad_list_queries(pdp, issuer, query: str, field: str) -> None:
    client, _ = pdp
    response = client.get(f"/admin/v1/bundles?{query}", headers=auth(issuer))
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_admin_scope_is_required(pdp, issuer, r1) -> None:
    client, _ = pdp
    assert client.post("/admin/v1/bundles", content=r1).status_code == 401
    decide_only = auth(issuer, "pep", "pdp/decide")
    for method, path in [
        ("post", "/admin/v1/bundles"),
        ("get", "/admin/v1/bundles"),
        ("post", "/admin/v1/bundles/r1/activate"),
        ("post", "/admin/v1/bundles/rollback"),
        ("get", "/admin/v1/bundle-activations"),
    ]:
        response = client.request(method, path, content=r1, headers=decide_only)
        assert response.status_code == 403, path
    bundles_only = auth(issuer, "opa-agent", "pdp/bundles")
    assert client.get("/admin/v1/bundles", headers=bundles_only).status_code == 403
    assert client.get("/admin/v1/bundles").status_code == 401


def test_upload_limits(pdp, issuer) -> None:
    client, _ = pdp
    admin = auth(issuer)
    # Incompressible data: an archive over the app-wide 1 MiB limit, under the bundle limit.
    padding = base64.b64encode(os.urandom(1_200_000)).decode()
    big = write_archive({**bundle_files("big"), "pad/data.json": json.dumps(padding).encode()})
    assert 1 << 20 < len(big) < 3 << 20
    response = client.post("/admin/v1/bundles", content=big, headers=admin)
    assert response.status_code == 201, response.text
    huge = os.urandom((3 << 20) + 1)
    too_large = client.post("/admin/v1/bundles", content=huge, headers=admin)
    assert too_large.status_code == 413
    assert too_large.json()["error"] == "payload_too_large"
    # Every other route keeps the app-wide limit.
    decide_body = client.post(
        "/decide", content=b"{" + b" " * (1 << 20) + b"}", headers=auth(issuer, "pep", "pdp/decide")
    )
    assert decide_body.status_code == 413


def test_pep_auth_off_publishes_as_anonymous(tmp_path, issuer) -> None:
    with running_pdp(tmp_path, issuer, bundle=None, require_pep_auth=False) as (client, _):
        response = client.post("/admin/v1/bundles", content=write_archive(bundle_files("r1")))
        assert response.json()["published_by"] == "anonymous"
        assert client.get("/bundles/main").status_code == 404


def test_verification_keys_refuse_unsigned_uploads(tmp_path, issuer) -> None:
    private, public = new_key_pair()
    keys = {"ci-key": public}
    with running_pdp(tmp_path, issuer, bundle=None, bundle_verification_keys=keys) as (client, _):
        admin = auth(issuer)
        plain = write_archive(bundle_files("r1"))
        unsigned = client.post("/admin/v1/bundles", content=plain, headers=admin)
        assert unsigned.status_code == 400
        assert (unsigned.json()["error"], unsigned.json()["field"]) == ("unsigned", "body")
        signed = write_archive(signed_files(private))
        response = client.post("/admin/v1/bundles", content=signed, headers=admin)
        assert response.status_code == 201
        assert response.json()["signature"] == {"status": "verified", "key_id": "ci-key"}


def test_a_replica_starts_even_when_the_active_bundle_cannot_load(tmp_path, issuer) -> None:
    store = BundleStore(DirectoryStore(f"sqlite:///{tmp_path / 'pdp.db'}").engine)
    store_unvalidated(store, "crash", write_archive(bundle_files("crash", policy=CRASHING_POLICY)))
    store.activate("main", "crash", "someone")
    with running_pdp(tmp_path, issuer, bundle=None) as (client, _):
        health = client.get("/health").json()
        assert health["bundle_revision"] is None
        assert health["bundle_error"]["revision"] == "crash"
        assert "authz/decision" in health["bundle_error"]["message"]
        assert client.get("/health?bundles").status_code == 500
        assert "pdp_bundle_load_failures_total 1.0" in client.get("/metrics").text
        assert decide(client, issuer)["reasons"] == ["no_bundle"]
        admin = auth(issuer)
        client.post("/admin/v1/bundles", content=write_archive(bundle_files("good")), headers=admin)
        client.post("/admin/v1/bundles/good/activate", headers=admin)
        assert client.get("/health").json() == {
            "status": "ok",
            "bundle_revision": "good",
            "bundle_mode": "store",
            "bundle_error": None,
        }


# --- the OPA bundle service ---------------------------------------------------------------------


def test_bundle_service_serves_the_active_archive(pdp, issuer, r1, r2, tmp_path) -> None:
    client, _ = pdp
    admin = auth(issuer)
    agent = auth(issuer, "opa-agent", "pdp/bundles")
    assert client.get("/bundles/main", headers=agent).status_code == 404
    for data in (r1, r2):
        client.post("/admin/v1/bundles", content=data, headers=admin)
    assert client.get("/bundles/main", headers=agent).status_code == 404  # none active yet
    client.post("/admin/v1/bundles/r1/activate", headers=admin)

    served = client.get("/bundles/main", headers=agent)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/gzip"
    assert served.content == r1
    etag = served.headers["etag"]
    assert etag.startswith('"sha256:')
    assert client.get("/bundles/main", headers=admin).status_code == 200  # admins may read too

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        unchanged = client.get("/bundles/main", headers={**agent, "If-None-Match": header})
        assert unchanged.status_code == 304, header
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
    stale = client.get("/bundles/main", headers={**agent, "If-None-Match": '"sha256:old"'})
    assert stale.status_code == 200

    files = read_archive(served.content)
    assert source_from_files(files, require_manifest=True).revision == "r1"
    path = tmp_path / "served.tar.gz"
    path.write_bytes(served.content)
    assert load_policy_source(path).revision == "r1"

    client.post("/admin/v1/bundles/r2/activate", headers=admin)
    changed = client.get("/bundles/main", headers={**agent, "If-None-Match": etag})
    assert (changed.status_code, changed.content) == (200, r2)
    assert changed.headers["etag"] != etag


def test_bundle_service_needs_a_reader_scope(pdp, issuer) -> None:
    client, _ = pdp
    assert client.get("/bundles/main").status_code == 401
    forbidden = client.get("/bundles/main", headers=auth(issuer, "pep", "pdp/decide"))
    assert forbidden.status_code == 403
    assert forbidden.json()["message"] == "the token lacks scope pdp/bundles or pdp/admin"

"""The review endpoints of the admin API: a diff of two stored revisions, and the replay
impact of a stored revision before it is activated; bad input is a 400 naming the field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pdp.errors import Conflict
from pdp.services import Services
from tests.pdp.pdp_env import ALICE, document_request, running_pdp
from tests.pdp.review_env import R2_COMMENT, review_bundles
from tests.support.issuer import TestIssuer


def auth(issuer: TestIssuer, scope: str = "pdp/admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('release-ci', scope=scope)}"}


@pytest.fixture(scope="module")
def pdp(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
) -> Iterator[tuple[TestClient, Services]]:
    """r1 active and decided on (alice reads, allowed); r2 stored, never activated."""
    tmp = tmp_path_factory.mktemp("review")
    r1, r2 = review_bundles(tmp)
    with running_pdp(tmp, issuer, bundle=None) as (client, services):
        upload = {**auth(issuer), "Content-Type": "application/gzip"}
        for archive in (r1, r2):
            assert client.post("/admin/v1/bundles", content=archive, headers=upload).is_success
        assert client.post("/admin/v1/bundles/r1/activate", headers=auth(issuer)).is_success
        pep = auth(issuer, "pdp/decide")
        for _ in range(3):
            body = document_request({"id": ALICE}, "document:read")
            assert client.post("/decide", json=body, headers=pep).json()["allow"] is True
        assert services.decision_log.flush()
        yield client, services


def test_diff_shows_rego_lines_and_data_paths(pdp, issuer) -> None:
    client, _ = pdp
    answer = client.get("/admin/v1/bundle-diff?from=r1&to=r2", headers=auth(issuer))
    assert answer.status_code == 200, answer.text
    diff = answer.json()
    assert (diff["from"], diff["to"], diff["name"]) == ("r1", "r2", "main")
    files = {f["file"]: f for f in diff["files"]}
    assert files["authz/decision.rego"]["status"] == "modified"
    assert f"+{R2_COMMENT}\n" in files["authz/decision.rego"]["diff"]
    assert files["authz/decision.rego"]["diff"].startswith("--- r1/authz/decision.rego\n")
    # r2 was built without its tests: the test module is gone from it.
    assert files["authz/decision_test.rego"]["status"] == "removed"
    changes = {c["path"]: c for c in diff["data"]}
    viewer = changes["data.roles.viewer.permissions"]
    assert viewer["kind"] == "changed" and "document:read" in viewer["before"]
    assert "document:read" not in viewer["after"]
    assert changes["data.roles.reviewer"]["kind"] == "added"
    assert "before" not in changes["data.roles.reviewer"]
    assert diff["data_truncated"] is False


def test_diff_of_a_revision_with_itself_is_empty(pdp, issuer) -> None:
    client, _ = pdp
    diff = client.get("/admin/v1/bundle-diff?from=r2&to=r2", headers=auth(issuer)).json()
    assert (diff["files"], diff["data"]) == ([], [])


def test_replay_counts_the_flips_of_the_candidate_with_examples(pdp, issuer) -> None:
    client, services = pdp
    answer = client.post("/admin/v1/bundles/r2/replay?examples=2", headers=auth(issuer))
    assert answer.status_code == 200, answer.text
    impact = answer.json()
    assert (impact["revision"], impact["active_revision"]) == ("r2", "r1")
    assert impact["replayed"] >= 3 and impact["allow_to_deny"] >= 3
    assert impact["changed"] == impact["allow_to_deny"] + impact["deny_to_allow"]
    example = impact["examples"]["allow_to_deny"][0]
    assert example["subject"] == ALICE and example["action"] == "document:read"
    assert (example["old"]["allow"], example["new"]["allow"]) == (True, False)
    assert len(impact["examples"]["allow_to_deny"]) == 2
    # Nothing was activated.
    assert services.policy.revision == "r1"
    assert client.get("/health").json()["bundle_revision"] == "r1"


def test_replay_of_the_active_revision_changes_nothing(pdp, issuer) -> None:
    client, _ = pdp
    impact = client.post(
        "/admin/v1/bundles/r1/replay?decisions=2&directory=current", headers=auth(issuer)
    ).json()
    assert (impact["replayed"], impact["changed"], impact["directory"]) == (2, 0, "current")


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/admin/v1/bundle-diff?to=r2", "query.from"),
        ("GET", "/admin/v1/bundle-diff?from=r1", "query.to"),
        ("GET", "/admin/v1/bundle-diff?from=r1&to=r2&name=no%20such", "name"),
        ("POST", "/admin/v1/bundles/r2/replay?decisions=0", "query.decisions"),
        ("POST", "/admin/v1/bundles/r2/replay?decisions=100001", "query.decisions"),
        ("POST", "/admin/v1/bundles/r2/replay?directory=live", "query.directory"),
        ("POST", "/admin/v1/bundles/r2/replay?since=yesterday", "query.since"),
        ("POST", "/admin/v1/bundles/r2/replay?examples=-1", "query.examples"),
        ("POST", "/admin/v1/bundles/r2/replay?name=a/b", "name"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(pdp, issuer, method, url, field) -> None:
    client, _ = pdp
    answer = client.request(method, url, headers=auth(issuer))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["field"] == field


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/admin/v1/bundle-diff?from=r0&to=r2", "from"),
        ("GET", "/admin/v1/bundle-diff?from=r1&to=r9", "to"),
        ("POST", "/admin/v1/bundles/r9/replay", "revision"),
    ],
)
def test_unknown_revisions_are_404_naming_the_parameter(pdp, issuer, method, url, field) -> None:
    client, _ = pdp
    answer = client.request(method, url, headers=auth(issuer))
    assert (answer.status_code, answer.json()["field"]) == (404, field)


@pytest.mark.parametrize("scope", ["pdp/decide", "pdp/bundles"])
def test_review_needs_the_admin_scope(pdp, issuer, scope) -> None:
    client, _ = pdp
    for method, url in (
        ("GET", "/admin/v1/bundle-diff?from=r1&to=r2"),
        ("POST", "/admin/v1/bundles/r2/replay"),
    ):
        assert client.request(method, url, headers=auth(issuer, scope)).status_code == 403
        assert client.request(method, url).status_code == 401


def test_auditors_read_the_diff_but_cannot_replay(pdp, issuer) -> None:
    client, _ = pdp
    audit = auth(issuer, "pdp/audit")
    assert client.get("/admin/v1/bundle-diff?from=r1&to=r2", headers=audit).status_code == 200
    assert client.post("/admin/v1/bundles/r2/replay", headers=audit).status_code == 403


def test_a_rollback_confirmed_for_one_revision_never_returns_to_another(pdp) -> None:
    _, services = pdp
    bundles = services.bundles
    bundles.activate("main", "r2", "admin-a")
    assert bundles.store.rollback_target("main") == "r1"
    with pytest.raises(Conflict) as refused:
        bundles.rollback("main", "admin-b", expected="r2")
    assert "returns to r1, not r2" in str(refused.value)
    assert bundles.active("main").revision == "r2"
    assert bundles.rollback("main", "admin-b", expected="r1").revision == "r1"
    assert services.policy.revision == "r1"

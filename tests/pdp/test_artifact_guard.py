"""The PDP serves only an artifact proven to decide like the compiled policy.

regopy 1.5.2 corrupts `sprintf("%s", [s])` over data strings once a bundle is saved in its
binary format and loaded again: a deny list compared through sprintf stops matching. These
tests pin the fix (the JSON artifact) through every path that serves a bundle (`pdp serve
--bundle`, publish and activate, `pdp test` decision tables, replay, the Data API), and
prove the guard refuses a defective round trip, forced with the `PDP_TEST_ARTIFACT_FORMAT`
seam. Each regression test fails with that seam set for the whole run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.bundles import write_archive
from pdp.bundles.publish import BundleRejected, BundleService
from pdp.bundles.store import BundleStore
from pdp.cli import main
from pdp.directory.document import import_document
from pdp.directory.store import DirectoryStore
from pdp.engine import CompileError, Evaluator, PolicySource, compile_policy
from pdp.engine.artifact import TEST_FORMAT_VARIABLE
from pdp.metrics import Metrics
from pdp.policy import SMOKE_INPUT, BundleFollower, PolicyRuntime
from pdp.replay import replay
from pdp.services import Services
from tests.pdp.pdp_env import ACME, running_pdp
from tests.pdp.test_e2e_serve import pdp_cli
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

DENY_LIST = """package authz

import rego.v1

blocked if {
	some listed in data.blocklist.subjects
	sprintf("%s/any", [listed]) == sprintf("%s/any", [input.subject.id])
}

decision := {"allow": true, "reasons": ["ok"]} if not blocked

decision := {"allow": false, "reasons": ["blocked"]} if blocked
"""
# The variant whose reasons are formatted from data: refused at load before the JSON artifact.
DATA_REASONS = """package authz

import rego.v1

blocked if {
	some listed in data.blocklist.subjects
	sprintf("%s/any", [listed]) == sprintf("%s/any", [input.subject.id])
}

decision := {"allow": true, "reasons": [sprintf("%s:%s", [data.labels.granted, input.subject.id])]} if {
	not blocked
}

decision := {"allow": false, "reasons": [sprintf("%s", [data.labels.listed])]} if blocked
"""
DENY_LIST_TEST = """package authz_test

import rego.v1

test_mallory_is_blocked if {
	not data.authz.decision.allow with input.subject.id as "mallory"
}

test_alice_is_allowed if {
	data.authz.decision.allow with input.subject.id as "alice"
}
"""
DATA = {"blocklist": {"subjects": ["mallory"]}, "labels": {"granted": "ok", "listed": "listed"}}
MALLORY = {"subject": {"id": "mallory"}}
DIRECTORY = {
    "tenants": [
        {
            "id": ACME,
            "name": "acme",
            "users": [{"id": "mallory", "roles": []}, {"id": "alice", "roles": []}],
        }
    ]
}
CASES = f"""cases:
  - name: mallory is on the deny list
    request:
      subject: {{id: mallory, tenant_id: {ACME}}}
      action: document:read
      resource: {{type: document, id: d1}}
    expect: {{allow: false}}
  - name: alice is not
    request:
      subject: {{id: alice, tenant_id: {ACME}}}
      action: document:read
      resource: {{type: document, id: d1}}
    expect: {{allow: true}}
"""


def write_bundle(root: Path, policy: str, *, cases: bool = False, tests: bool = False) -> Path:
    """A policy directory with `policy` at data.authz and the deny list in its data."""
    (root / "authz").mkdir(parents=True)
    (root / "authz" / "policy.rego").write_text(policy)
    (root / "data.json").write_text(json.dumps(DATA))
    if cases:
        (root / "authz" / "policy.cases.yaml").write_text(CASES)
    if tests:
        (root / "authz" / "policy_test.rego").write_text(DENY_LIST_TEST)
    return root


def source(policy: str) -> PolicySource:
    return PolicySource(modules={"authz/policy.rego": policy}, data=DATA, revision="r1")


def decide(subject_id: str) -> dict:
    return {
        "subject": {"id": subject_id},
        "action": "document:read",
        "resource": {"type": "document", "id": "d1", "tenant_id": ACME},
    }


@pytest.fixture(scope="module")
def deny_list_evaluator() -> Evaluator:
    return Evaluator(PolicyRuntime("data.authz.decision", Metrics()).compile(source(DENY_LIST)))


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_the_served_artifact_denies_exactly_the_listed_subjects(
    deny_list_evaluator: Evaluator, subject_id: str
) -> None:
    decision = deny_list_evaluator.evaluate("authz/decision", {"subject": {"id": subject_id}})
    assert decision["allow"] is (subject_id != "mallory")
    blocked = deny_list_evaluator.evaluate("authz/decision", MALLORY)
    assert blocked == {"allow": False, "reasons": ["blocked"]}


def test_reasons_formatted_from_data_serve() -> None:
    compiled = PolicyRuntime("data.authz.decision", Metrics()).compile(source(DATA_REASONS))
    evaluator = Evaluator(compiled)
    assert evaluator.evaluate("authz/decision", {"subject": {"id": "alice"}}) == {
        "allow": True,
        "reasons": ["ok:alice"],
    }
    assert evaluator.evaluate("authz/decision", MALLORY)["reasons"] == ["listed"]


def test_the_guard_refuses_a_round_trip_that_decides_otherwise() -> None:
    """The binary format reproduces the real defect: the deny list stops matching."""
    with pytest.raises(CompileError) as refused:
        compile_policy(
            source(DENY_LIST),
            ["data.authz.decision"],
            compare_inputs=[("the mallory input", MALLORY)],
            artifact_format="binary",
        )
    assert str(refused.value.problems[0]) == (
        "the engine decides differently once this bundle is saved and loaded (an engine"
        " defect): data.authz.decision on the mallory input gave"
        ' {"allow": false, "reasons": ["blocked"]} in memory and'
        ' {"allow": true, "reasons": ["ok"]} loaded; see policies/README.md'
    )


def test_the_guard_compares_the_smoke_inputs_on_every_served_entrypoint() -> None:
    runtime = PolicyRuntime("data.authz.decision", Metrics())
    with pytest.raises(CompileError) as refused:
        compile_policy(
            source(DATA_REASONS),
            ["data.authz.decision"],
            smoke_inputs=[SMOKE_INPUT],
            artifact_format="binary",
        )
    message = str(refused.value)
    assert message.startswith(
        "the engine decides differently once this bundle is saved and loaded (an engine"
        " defect): data.authz.decision on smoke input #0 gave"
        ' {"allow": true, "reasons": ["ok:smoke-subject"]} in memory and an error'
    )
    # The same bundle in the served format passes the same comparison.
    assert runtime.compile(source(DATA_REASONS)).artifact_format == "json"


def test_the_guard_compares_the_rego_tests_on_the_loaded_set(monkeypatch) -> None:
    monkeypatch.setenv(TEST_FORMAT_VARIABLE, "binary")
    tested = PolicySource(
        modules={"authz/policy.rego": DENY_LIST, "authz/policy_test.rego": DENY_LIST_TEST},
        data=DATA,
    )
    runtime = PolicyRuntime("data.authz.decision", Metrics())
    with pytest.raises(CompileError) as refused:
        runtime.compile(source(DENY_LIST), tested=tested)
    assert str(refused.value.problems[0]) == (
        "the engine decides differently once this bundle is saved and loaded (an engine"
        " defect): data.authz_test.test_mallory_is_blocked on an empty input (a Rego test)"
        " gave true in memory and undefined loaded; see policies/README.md"
    )


def bundle_archive(revision: str, policy: str = DENY_LIST) -> bytes:
    return write_archive(
        {
            ".manifest": json.dumps({"revision": revision, "roots": [""]}).encode(),
            "authz/policy.rego": policy.encode(),
            "authz/policy_test.rego": DENY_LIST_TEST.encode(),
            "data.json": json.dumps(DATA).encode(),
        }
    )


def test_published_and_activated_bundles_deny_the_listed_subject(
    monkeypatch, tmp_path: Path
) -> None:
    directory = DirectoryStore(f"sqlite:///{tmp_path / 'pdp.db'}")
    store = BundleStore(directory.engine)
    runtime = PolicyRuntime("data.authz.decision", Metrics())
    follower = BundleFollower(runtime, store, "main", max_bytes=1 << 20)
    service = BundleService(
        store, runtime, verification_keys={}, max_bytes=1 << 20, follower=follower
    )
    try:
        assert service.publish("main", bundle_archive("r1"), "admin").created
        service.activate("main", "r1", "admin")
        assert runtime.active is not None
        assert runtime.active.evaluator.evaluate("authz/decision", MALLORY)["allow"] is False
        assert service.publish("main", bundle_archive("r3", DATA_REASONS), "admin").created
        service.activate("main", "r3", "admin")
        assert runtime.active.evaluator.evaluate("authz/decision", MALLORY) == {
            "allow": False,
            "reasons": ["listed"],
        }
        monkeypatch.setenv(TEST_FORMAT_VARIABLE, "binary")
        with pytest.raises(BundleRejected) as rejected:
            service.publish("main", bundle_archive("r2"), "admin")
    finally:
        directory.close()
    assert rejected.value.code == "bundle_refused"
    assert "test_mallory_is_blocked" in rejected.value.message
    assert "decides differently once this bundle is saved and loaded" in rejected.value.message


def run_pdp_test(capsys, root: Path) -> tuple[int, dict[str, dict]]:
    """`pdp test ROOT --format json`: the exit code and each outcome by name."""
    code = main(["test", str(root), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    return code, {t["name"]: t for t in report["tests"]}


def test_decision_tables_deny_the_listed_subject(capsys, tmp_path: Path) -> None:
    root = write_bundle(tmp_path / "set", DENY_LIST, cases=True, tests=True)
    code, outcomes = run_pdp_test(capsys, root)
    assert code == 0
    assert {name: t["status"] for name, t in outcomes.items()} == {
        "test_mallory_is_blocked": "passed",
        "test_alice_is_allowed": "passed",
        "mallory is on the deny list": "passed",
        "alice is not": "passed",
    }


def test_decision_tables_feed_their_inputs_to_the_guard(
    capsys, monkeypatch, tmp_path: Path
) -> None:
    root = write_bundle(tmp_path / "set", DENY_LIST, cases=True)
    monkeypatch.setenv(TEST_FORMAT_VARIABLE, "binary")
    code, outcomes = run_pdp_test(capsys, root)
    assert code == 2
    assert outcomes["mallory is on the deny list"]["status"] == "failed"
    refusal = outcomes["load"]
    assert refusal["status"] == "errored"
    assert refusal["message"].startswith(
        "the policy set was refused: the engine decides differently once this bundle is saved"
        " and loaded (an engine defect): data.authz.decision on the input of case"
        " 'mallory is on the deny list' gave"
    )


def test_replay_on_the_deny_list_flips_the_listed_subject() -> None:
    policy = PolicyRuntime("data.authz.decision", Metrics()).prepare(source(DENY_LIST))
    records = [
        {
            "decision_id": subject_id,
            "allow": True,
            "reasons": ["ok"],
            "input": {**decide(subject_id), "subject": {"id": subject_id, "tenant_id": ACME}},
        }
        for subject_id in ("mallory", "alice")
    ]
    report = replay(records, policy, "authz/decision")
    assert (report.replayed, report.unchanged) == (2, 1)
    assert [c.decision_id for c in report.examples["allow_to_deny"]] == ["mallory"]


@pytest.fixture
def data_api(tmp_path: Path, issuer: TestIssuer) -> Iterator[tuple[TestClient, Services]]:
    import_document(DirectoryStore(f"sqlite:///{tmp_path / 'pdp.db'}"), DIRECTORY)
    bundle = write_bundle(tmp_path / "set", DENY_LIST)
    with running_pdp(tmp_path, issuer, bundle=bundle, directory=None) as env:
        yield env


def test_the_data_api_denies_the_listed_subject(data_api, issuer: TestIssuer) -> None:
    client, _ = data_api
    pep = {"Authorization": f"Bearer {issuer.machine_token('pep-guard')}"}
    for subject_id, allow in (("mallory", False), ("alice", True)):
        body = {"input": decide(subject_id)}
        response = client.post("/v1/data/authz/decision", json=body, headers=pep)
        assert response.status_code == 200
        assert response.json()["result"]["allow"] is allow, subject_id
        listed = client.post("/v1/data/authz/blocked", json=body, headers=pep).json()
        assert listed.get("result") is (True if subject_id == "mallory" else None)


@pytest.mark.e2e
def test_pdp_serve_denies_the_listed_subject(tmp_path: Path, issuer: TestIssuer) -> None:
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp_path / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(write_bundle(tmp_path / "set", DATA_REASONS)),
    }
    directory = tmp_path / "directory.json"
    directory.write_text(json.dumps(DIRECTORY))
    imported = pdp_cli("directory", "import", str(directory), env=env)
    assert imported.returncode == 0, imported.stderr
    server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "pdp.log")
    try:
        pep = {"Authorization": f"Bearer {issuer.machine_token('pep-guard')}"}
        answers = {
            subject_id: httpx.post(server.url + "/decide", json=decide(subject_id), headers=pep)
            for subject_id in ("mallory", "alice")
        }
    finally:
        server.stop()
    assert answers["mallory"].json()["allow"] is False
    assert answers["mallory"].json()["reasons"] == ["listed"]
    assert answers["alice"].json()["allow"] is True
    assert answers["alice"].json()["reasons"] == ["ok:alice"]


@pytest.mark.e2e
def test_pdp_serve_refuses_a_bundle_that_decides_otherwise_once_loaded(tmp_path: Path) -> None:
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp_path / 'pdp.db'}",
        "PDP_BUNDLE": str(write_bundle(tmp_path / "set", DATA_REASONS)),
        TEST_FORMAT_VARIABLE: "binary",
    }
    result = pdp_cli("serve", "--port", "0", env=env)
    assert result.returncode != 0
    assert result.stderr.startswith(
        "error: bundle refused: the engine decides differently once this bundle is saved and"
        " loaded (an engine defect): data.authz.decision on smoke input #0 gave"
    )
    assert "Traceback" not in result.stderr

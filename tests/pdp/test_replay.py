"""`pdp replay`: real decisions recorded by the decision service and by a serving PDP's every
decision endpoint, exported, and replayed against candidates that flip some of them, none of
them, or only with the current directory."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.authn import Principal
from pdp.cli import main
from pdp.data_api import DataApiService
from pdp.decision import DecisionRequest
from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from pdp.replay import replay_record
from pdp.services import Services
from pdp.settings import Settings
from tests.pdp.pdp_env import (
    ACME,
    ALICE,
    BOB,
    DEMO_DIRECTORY,
    ELLEN,
    GLOBEX,
    POLICIES,
    REPORTING,
    running_pdp,
)
from tests.support.issuer import TestIssuer

MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _request(subject: str, action: str, **attributes) -> DecisionRequest:
    return DecisionRequest.model_validate(
        {
            "subject": {"id": subject},
            "action": action,
            "resource": {
                "type": "document",
                "id": "d1",
                "tenant_id": ACME,
                "attributes": attributes,
            },
            "context": {"ip": "10.1.2.3"},
        }
    )


RECORDED = [
    (ALICE, "document:read", {}),  # allow: viewer via company, editor via group
    (ALICE, "document:write", {"department": "engineering"}),  # allow
    (ALICE, "document:write", {"department": "sales"}),  # deny: department_mismatch
    (BOB, "document:read", {}),  # allow: viewer via company
    (BOB, "document:write", {}),  # deny: no_matching_role
    ("nobody", "document:read", {}),  # deny: unknown_subject, no input recorded
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[str, Path]:
    """A store whose decision log holds RECORDED, decided by the real decision service, and
    its export made by `pdp decisions export`."""
    tmp = tmp_path_factory.mktemp("replay")
    database_url = f"sqlite:///{tmp / 'pdp.db'}"
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    services = Services.build(Settings(database_url=database_url, bundle=POLICIES))
    try:
        for subject, action, attributes in RECORDED:
            services.decisions.decide(
                _request(subject, action, **attributes), Principal.anonymous(), now=MONDAY
            )
        assert services.decision_log.flush()
    finally:
        services.close()
    export = tmp / "decisions.jsonl"
    assert main(["decisions", "export", "--database-url", database_url, "-o", str(export)]) == 0
    return database_url, export


def _candidate(tmp_path: Path, edit, capsys) -> Path:
    """The default policy with `edit` applied to its data, and `data.role_grants` generated
    again from the edited roles (as policies/README.md says to)."""
    bundle = tmp_path / "candidate"
    shutil.copytree(POLICIES, bundle, ignore=shutil.ignore_patterns("*_test.rego", "*.cases.*"))
    data = json.loads((bundle / "data.json").read_text())
    edit(data)
    (bundle / "data.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["eval", "-d", str(bundle), "data.authz.computed_role_grants", "-f", "raw"]) == 0
    data["role_grants"] = json.loads(capsys.readouterr().out)
    (bundle / "data.json").write_text(json.dumps(data))
    return bundle


def _replay(capsys, *args: str) -> tuple[int, dict]:
    code = main(["replay", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_unchanged_policy_flips_nothing(recorded, capsys) -> None:
    _, export = recorded
    code, report = _replay(
        capsys, "--bundle", str(POLICIES), "--decisions", str(export), "--fail-on-change"
    )
    assert code == 0
    assert report["replayed"] == 5 and report["unchanged"] == 5
    assert (report["changed"], report["allow_to_deny"], report["deny_to_allow"]) == (0, 0, 0)
    assert report["skipped"] == 1
    assert report["skipped_reasons"] == {"no input recorded (unknown_subject)": 1}
    assert report["directory"] == "recorded"


def test_revoking_a_permission_flips_allows_to_denies(recorded, tmp_path, capsys) -> None:
    _, export = recorded
    bundle = _candidate(
        tmp_path, lambda d: d["roles"]["viewer"]["permissions"].remove("document:read"), capsys
    )
    code, report = _replay(
        capsys, "--bundle", str(bundle), "--decisions", str(export), "--fail-on", "grant"
    )
    assert code == 0  # no new allow, so the grant gate stays open
    # Both reads came from viewer (Alice's editor role includes it through commenter), so
    # both are denied now; the writes and denies are untouched.
    assert report["allow_to_deny"] == 2 and report["deny_to_allow"] == 0
    example = report["examples"]["allow_to_deny"][0]
    assert example["action"] == "document:read"
    assert example["resource"]["id"] == "d1" and example["resource"]["tenant_id"] == ACME
    assert example["old"]["allow"] is True and example["new"] == {
        "allow": False,
        "reasons": ["no_matching_role"],
    }
    assert (
        main(["replay", "--bundle", str(bundle), "--decisions", str(export), "--fail-on-change"])
        == 1
    )
    text = capsys.readouterr().out
    assert "changed: 2 (allow->deny: 2, deny->allow: 0)" in text
    assert f"allow->deny: {BOB} document:read document/d1 @{ACME}" in text


def test_a_new_grant_trips_the_grant_gate(recorded, tmp_path, capsys) -> None:
    _, export = recorded
    bundle = _candidate(
        tmp_path, lambda d: d["roles"]["viewer"]["permissions"].append("document:write"), capsys
    )
    code, report = _replay(
        capsys, "--bundle", str(bundle), "--decisions", str(export), "--fail-on", "grant"
    )
    assert code == 1
    assert report["deny_to_allow"] == 2 and report["allow_to_deny"] == 0
    subjects = {e["subject"] for e in report["examples"]["deny_to_allow"]}
    assert subjects == {ALICE, BOB}
    # Alice's allowed write gains a reason but keeps its verdict: counted apart, no flip.
    assert report["reasons_changed"] == 1


def test_current_directory_replaces_the_recorded_subject_facts(recorded, tmp_path, capsys) -> None:
    database_url, export = recorded
    current = tmp_path / "current.db"
    shutil.copy(database_url.removeprefix("sqlite:///"), current)
    document = load_document(DEMO_DIRECTORY)
    bob = next(u for u in document["tenants"][0]["users"] if u["id"] == BOB)
    bob["company"] = "contoso-consulting"  # a company without roles: Bob loses viewer
    import_document(DirectoryStore(f"sqlite:///{current}"), document)
    args = [
        "--bundle",
        str(POLICIES),
        "--decisions",
        str(export),
        "--database-url",
        f"sqlite:///{current}",
    ]
    code, recorded_report = _replay(capsys, *args)
    assert recorded_report["changed"] == 0
    code, report = _replay(capsys, *args, "--directory", "current")
    assert code == 0 and report["directory"] == "current"
    assert report["allow_to_deny"] == 1
    assert report["examples"]["allow_to_deny"][0]["subject"] == BOB


def test_replay_straight_from_the_store(recorded, capsys) -> None:
    database_url, _ = recorded
    code, report = _replay(
        capsys, "--bundle", str(POLICIES), "--database-url", database_url, "--subject", BOB
    )
    assert code == 0 and report["replayed"] == 2 and report["changed"] == 0


def test_malformed_lines_are_skipped(tmp_path, recorded, capsys) -> None:
    _, export = recorded
    broken = tmp_path / "broken.jsonl"
    broken.write_text(export.read_text() + "not json\n[1, 2]\n\n")
    code, report = _replay(capsys, "--bundle", str(POLICIES), "--decisions", str(broken))
    assert code == 0 and report["skipped_reasons"]["malformed record"] == 2


def test_repaired_and_unreadable_records_are_skipped_not_replayed(tmp_path, recorded, capsys):
    """The log repairs (NUL, NaN) or cannot read some stored inputs; those inputs are not what
    was decided, so replaying them would report changes the policy did not make."""
    _, export = recorded
    record = next(
        r for r in map(json.loads, export.read_text().splitlines()) if r.get("input") is not None
    )
    flipped = {**record, "allow": not record["allow"]}
    repaired = {**flipped, "decision_id": "repaired", "sanitised": ["input:nul"]}
    unreadable = {
        **flipped,
        "decision_id": "unreadable",
        "input": {"$unreadable": "nested_too_deep", "raw": "[[[[["},
    }
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (record, repaired, unreadable)))
    code, report = _replay(
        capsys, "--bundle", str(POLICIES), "--decisions", str(path), "--fail-on-change"
    )
    assert code == 0
    assert (report["replayed"], report["changed"]) == (1, 0)
    assert report["skipped_reasons"] == {"repaired record": 1, "unreadable record": 1}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bundle", "/nonexistent/bundle", "--decisions", "x.jsonl"], "candidate bundle refused"),
        (["--bundle", str(POLICIES), "--decisions", "/nonexistent.jsonl"], "cannot read"),
        (
            ["--bundle", str(POLICIES), "--decisions", "x", "--pdp", "http://127.0.0.1:9"],
            "not both",
        ),
        (["--bundle", str(POLICIES), "--pdp", "http://127.0.0.1:9"], "--token"),
    ],
)
def test_bad_invocations_fail_in_one_line(args, message, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PDP_ADMIN_TOKEN", raising=False)
    assert main(["replay", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_refused_candidate_fails_with_its_problem(tmp_path, capsys) -> None:
    bundle = tmp_path / "bad"
    bundle.mkdir()
    (bundle / "p.rego").write_text("package authz\nimport rego.v1\ndecision := {\n")
    assert main(["replay", "--bundle", str(bundle), "--decisions", "x.jsonl"]) == 2
    assert "p.rego:3" in capsys.readouterr().err


# --- every endpoint that decides, replayed through the endpoint and path that made it -------

DEFAULT_DENY = 'default decision := {"allow": false, "reasons": ["no_matching_role"]}'


def _document_request(subject: str, action: str) -> dict:
    return {
        "subject": {"id": subject},
        "action": action,
        "resource": {"type": "document", "id": "d1", "tenant_id": ACME, "attributes": {}},
        "context": {"ip": "10.1.2.3"},
    }


def _authzen(subject: str, action: str) -> dict:
    return {
        "subject": {"type": "user", "id": subject},
        "action": {"name": action},
        "resource": {"type": "document", "id": "d1", "properties": {"tenant_id": ACME}},
        "context": {"ip": "10.1.2.3"},
    }


# A policy input given as is (no directory subject): the Data API evaluates it untouched.
GIVEN_INPUT = {
    "subject": {"type": "user", "tenant_id": ACME, "roles": []},
    "action": "document:read",
    "resource": {"type": "document", "id": "d2", "tenant_id": ACME},
    "context": {},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory, issuer: TestIssuer) -> tuple[Path, Path, dict[str, int]]:
    """(the bundle a PDP served, the export of what it decided through /decide, /decide/batch,
    AuthZEN and the Data API, how many records each endpoint wrote)."""
    tmp = tmp_path_factory.mktemp("served")
    bundle = tmp / "bundle"
    shutil.copytree(POLICIES, bundle, ignore=shutil.ignore_patterns("*_test.rego", "*.cases.*"))
    reads, writes = (
        _document_request(BOB, "document:read"),
        _document_request(BOB, "document:write"),
    )
    with running_pdp(tmp, issuer, bundle=bundle, require_pep_auth=False) as (client, services):
        answers = [
            client.post("/decide", json=reads),
            client.post("/decide", json=writes),
            client.post("/decide", json=_document_request("nobody", "document:read")),
            client.post("/decide/batch", json={"requests": [reads, writes]}),
            client.post("/access/v1/evaluation", json=_authzen(BOB, "document:read")),
            client.post("/access/v1/evaluation", json=_authzen(BOB, "document:write")),
            client.post("/v1/data/authz", json={"input": reads}),
            client.post("/v1/data/authz", json={"input": writes}),
            client.post("/v1/data/authz/decision", json={"input": reads}),
            client.post("/v1/data/authz/decision", json={"input": writes}),
            client.post("/v1/data/authz/decision", json={"input": GIVEN_INPUT}),
            client.get("/v1/data/roles/viewer"),
        ]
        assert [a.status_code for a in answers] == [200] * len(answers)
        assert services.decision_log.flush()
        database_url = services.settings.database_url
    export = tmp / "decisions.jsonl"
    assert main(["decisions", "export", "--database-url", database_url, "-o", str(export)]) == 0
    records = [json.loads(line) for line in export.read_text().splitlines()]
    endpoints: dict[str, int] = {}
    for record in records:
        endpoints[record["endpoint"]] = endpoints.get(record["endpoint"], 0) + 1
    return bundle, export, endpoints


def test_the_grant_gate_passes_on_the_policy_that_made_the_decisions(served, capsys) -> None:
    bundle, export, endpoints = served
    assert endpoints == {
        "decide": 3,
        "decide/batch": 2,
        "authzen/evaluation": 2,
        "v1/data/authz": 2,
        "v1/data/authz/decision": 3,
        "v1/data/roles/viewer": 1,
    }
    code, report = _replay(
        capsys, "--bundle", str(bundle), "--decisions", str(export), "--fail-on", "grant"
    )
    assert code == 0
    assert (report["changed"], report["reasons_changed"]) == (0, 0)
    assert report["replayed"] == report["unchanged"] == 12
    assert report["skipped_reasons"] == {"no input recorded (unknown_subject)": 1}
    assert main(["replay", "--bundle", str(bundle), "--decisions", str(export)]) == 0
    assert "changed: 0 (allow->deny: 0, deny->allow: 0)" in capsys.readouterr().out
    # The directory the PDP decided with, looked up again: the Data API inputs it enriched
    # get the same facts back, the inputs given as is stay as they were.
    database_url = f"sqlite:///{export.parent / 'pdp.db'}"
    code, current = _replay(
        capsys,
        "--bundle",
        str(bundle),
        "--decisions",
        str(export),
        "--directory",
        "current",
        "--database-url",
        database_url,
        "--fail-on",
        "change",
    )
    assert (code, current["replayed"], current["changed"], current["reasons_changed"]) == (
        0,
        12,
        0,
        0,
    )


def test_a_policy_that_grants_more_trips_the_gate_and_names_the_changes(
    served, tmp_path, capsys
) -> None:
    bundle, export, _ = served
    candidate = tmp_path / "candidate"
    shutil.copytree(bundle, candidate)
    rego = candidate / "authz" / "decision.rego"
    assert DEFAULT_DENY in rego.read_text()
    rego.write_text(rego.read_text().replace(DEFAULT_DENY, DEFAULT_DENY.replace("false", "true")))
    code, report = _replay(
        capsys, "--bundle", str(candidate), "--decisions", str(export), "--fail-on", "grant"
    )
    assert code == 1
    flipped = report["examples"]["deny_to_allow"]
    # Each endpoint's denied write, and the given input nobody holds a role in; the whole
    # `data.authz` document has no `allow` of its own, so the Data API never counted it an
    # allow, then or now.
    assert report["deny_to_allow"] == 5 and report["allow_to_deny"] == 0
    assert sorted(e["endpoint"] for e in flipped) == [
        "authzen/evaluation",
        "decide",
        "decide/batch",
        "v1/data/authz/decision",
        "v1/data/authz/decision",
    ]
    assert all(e["new"] == {"allow": True, "reasons": ["no_matching_role"]} for e in flipped)
    assert {e["resource"]["id"] for e in flipped} == {"d1", "d2"}
    assert main(["replay", "--bundle", str(candidate), "--decisions", str(export)]) == 0
    text = capsys.readouterr().out
    assert "changed: 5 (allow->deny: 0, deny->allow: 5)" in text
    assert f"deny->allow: {BOB} document:write document/d1 @{ACME} (v1/data/authz/decision)" in text
    assert f"deny->allow: - document:read document/d2 @{ACME} (v1/data/authz/decision)" in text


def test_records_from_before_paths_were_kept_replay_at_the_decision_entrypoint(
    served, tmp_path, capsys
) -> None:
    bundle, export, _ = served
    older = tmp_path / "older.jsonl"
    with older.open("w") as out:
        for line in export.read_text().splitlines():
            record = json.loads(line)
            if record["endpoint"].startswith("v1/data"):
                continue  # the Data API wrote no records worth replaying before
            del record["path"], record["input_source"]
            out.write(json.dumps(record) + "\n")
    code, report = _replay(
        capsys, "--bundle", str(bundle), "--decisions", str(older), "--fail-on", "grant"
    )
    assert (code, report["replayed"], report["changed"]) == (0, 6, 0)


# --- the property behind the gate: a record replayed on its own policy is decided alike ----

SUBJECTS = [ALICE, BOB, ELLEN, REPORTING, "6f0b2c1e-0000-4000-8000-0000000ca201", "nobody"]
ACTIONS = ["document:read", "document:write", "document:delete", "payroll:read", "folder:list"]


@st.composite
def decisions(draw: st.DrawFn) -> tuple[str, tuple[str, ...], dict | None]:
    """(endpoint, Data API path, body): a /decide request, or a Data API input that names a
    directory subject, is a policy input as is, or is absent."""
    subject = draw(st.sampled_from(SUBJECTS))
    resource = {
        "type": draw(st.sampled_from(["document", "payroll", "folder"])),
        "id": "r1",
        "tenant_id": draw(st.sampled_from([ACME, GLOBEX])),
        "attributes": {
            "department": draw(st.sampled_from(["engineering", "sales"])),
            "owner": draw(st.sampled_from([subject, "someone-else"])),
        },
    }
    ip = draw(st.sampled_from(["10.1.2.3", "172.16.0.9", "8.8.8.8", "2001:db8:1::5"]))
    request = {
        "subject": {"id": subject},
        "action": draw(st.sampled_from(ACTIONS)),
        "resource": resource,
        "context": {"ip": ip},
    }
    kind = draw(st.sampled_from(["decide", "data", "given", "none"]))
    if kind == "decide":
        return "decide", (), request
    if kind == "data":
        return "data", draw(st.sampled_from([("authz",), ("authz", "decision")])), request
    if kind == "given":
        roles = draw(st.lists(st.sampled_from(["viewer", "editor", "admin"]), max_size=2))
        given_input = {**request, "subject": {"type": "user", "tenant_id": ACME, "roles": roles}}
        return "data", ("authz", "decision"), given_input
    return "data", draw(st.sampled_from([("roles", "viewer"), ("authz",), ()])), None


@pytest.fixture(scope="module")
def deciding(tmp_path_factory) -> Iterator[tuple[Services, DataApiService]]:
    tmp = tmp_path_factory.mktemp("property")
    database_url = f"sqlite:///{tmp / 'pdp.db'}"
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    services = Services.build(Settings(database_url=database_url, bundle=POLICIES))
    data_api = DataApiService(
        policy=services.policy,
        decisions=services.decisions,
        decision_log=services.decision_log,
        metrics=services.metrics,
    )
    try:
        yield services, data_api
    finally:
        services.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decision=decisions())
def test_every_record_replays_to_its_own_decision(deciding, decision) -> None:
    services, data_api = deciding
    endpoint, path, body = decision
    caller = Principal.anonymous()
    if endpoint == "decide":
        request = DecisionRequest.model_validate(body)
        decision_id = services.decisions.decide(request, caller).decision_id
    else:
        answer = data_api.query(path, body, caller, has_input=body is not None)
        decision_id = asyncio.run(answer).decision_id
    assert services.decision_log.flush()
    record = services.decision_log.store.get(decision_id).to_json()
    policy = services.policy.active
    replayed = replay_record(record, policy, services.policy.decision_entrypoint)
    if isinstance(replayed, str):  # the PDP did not evaluate: the subject was not resolved
        assert record["input"] is None and record["input_source"] == "pip"
        assert replayed.startswith("no input recorded")
        return
    allow, reasons, _ = replayed
    assert (allow, sorted(reasons)) == (record["allow"], sorted(record["reasons"]))

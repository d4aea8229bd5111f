"""`pdp eval`: a rule on a raw input, or a /decide request through the PDP's decision path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pdp.cli import main
from tests.pdp.pdp_env import ACME, ALICE, DEMO_DIRECTORY, GLOBEX, POLICIES

CAROL = "6f0b2c1e-0000-4000-8000-0000000ca201"  # acme payroll group, auditor


def run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["eval", "--bundle", str(POLICIES), *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def write(tmp_path: Path, body: dict) -> str:
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(body))
    return str(path)


def test_a_rule_on_a_raw_input(capsys, tmp_path):
    policy_input = {
        "subject": {"id": "a", "type": "user", "tenant_id": ACME, "roles": ["viewer"]},
        "action": "document:read",
        "resource": {"type": "document", "id": "d", "tenant_id": GLOBEX},
        "context": {},
    }
    code, out, _ = run(capsys, "--input", write(tmp_path, policy_input))
    assert code == 0
    assert out == {"result": {"allow": False, "reasons": ["tenant_mismatch"]}}
    code, out, _ = run(capsys, "data.authz.same_tenant", "--input", write(tmp_path, policy_input))
    assert (code, out) == (0, {})  # undefined, as OPA prints it


def test_a_request_through_the_decision_path_with_a_fixed_time(capsys, tmp_path):
    request = {
        "subject": {"id": CAROL},
        "action": "payroll:write",
        "resource": {"type": "payroll", "id": "p1", "tenant_id": ACME},
        "context": {"ip": "10.0.0.7"},
    }
    args = ["--request", write(tmp_path, request), "--directory", str(DEMO_DIRECTORY)]
    code, weekday, _ = run(capsys, *args, "--time", "2026-11-23T10:00:00Z")  # Monday 11:00 Warsaw
    assert code == 0 and weekday["allow"] is True
    assert weekday["input"]["context"]["tenant_time"]["weekday"] == "Monday"
    assert weekday["input"]["subject"]["groups"] == [{"id": "payroll", "roles": ["payroll_clerk"]}]
    _, sunday, _ = run(capsys, *args, "--time", "2026-11-22T10:00:00Z")
    assert (sunday["allow"], sunday["reasons"]) == (False, ["weekday_not_allowed"])


def test_an_unknown_subject_is_a_deny(capsys, tmp_path):
    request = {
        "subject": {"id": "nobody"},
        "action": "document:read",
        "resource": {"type": "document", "id": "d1", "tenant_id": ACME},
    }
    code, out, _ = run(capsys, "--request", write(tmp_path, request))
    assert (code, out["allow"], out["reasons"]) == (0, False, ["unknown_subject"])


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--input", "missing.json"], "missing.json"),
        (["data.authz", "--request", "{request}"], "a query goes with --input"),
        (["--request", "{request}", "--time", "yesterday"], "RFC 3339"),
        (["--request", "{request}", "--time", "2026-11-23T10:00:00"], "needs a zone"),
        (["--request", "{token_request}"], "tokens are not verified"),
        (["--request", "{bad_request}"], "action"),
        (["not a rule!", "--input", "{request}"], "not a rule path"),
    ],
)
def test_failures_are_one_line(capsys, tmp_path, argv, reason):
    files = {
        "request": write(
            tmp_path,
            {"subject": {"id": ALICE}, "action": "a", "resource": {"type": "t", "id": "i"}},
        ),
    }
    (tmp_path / "token.json").write_text(
        json.dumps({"subject": {"token": "x"}, "action": "a", "resource": {"type": "t", "id": "i"}})
    )
    (tmp_path / "bad.json").write_text(json.dumps({"subject": {"id": ALICE}, "action": 5}))
    files["token_request"] = str(tmp_path / "token.json")
    files["bad_request"] = str(tmp_path / "bad.json")
    code, out, err = run(capsys, *[a.format(**files) for a in argv])
    assert code == 1 and out is None
    assert err.startswith("error: ") and reason in err
    assert len(err.strip().splitlines()) == 1

"""`pdp eval`: any document of a policy on an input, as `opa eval` prints it (OPA's own
engine is the oracle where it is installed), or a /decide request through the decision path."""

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


def result_set(value: object, query: str) -> dict:
    """What `opa eval --format json` prints for a query with one defined expression."""
    expression = {"value": value, "text": query, "location": {"row": 1, "col": 1}}
    return {"result": [{"expressions": [expression]}]}


def test_a_rule_on_a_raw_input(capsys, tmp_path):
    policy_input = {
        "subject": {"id": "a", "type": "user", "tenant_id": ACME, "roles": ["viewer"]},
        "action": "document:read",
        "resource": {"type": "document", "id": "d", "tenant_id": GLOBEX},
        "context": {},
    }
    code, out, _ = run(capsys, "--input", write(tmp_path, policy_input))
    assert code == 0
    assert out == result_set(
        {"allow": False, "reasons": ["tenant_mismatch"]}, "data.authz.decision"
    )
    code, out, _ = run(capsys, "data.authz.same_tenant", "-i", write(tmp_path, policy_input))
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
        (["not a rule!", "--input", "{request}"], "is not a reference"),
        (["data.authz.decision.allow == true"], "only references into data"),
        (["input.subject"], "is not a reference"),
        (["--request", "{request}", "--format", "raw"], "--format is for a query"),
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


# --- opa eval's habits: -d sources, -i input, any reference into data, output formats -------

EXTRA_REGO = """package extra

import rego.v1

grants := data.extra_roles[input.who]

viewer_can contains permission if some permission in data.roles.viewer.permissions
"""


def opa_eval(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def value_of(out: str) -> object:
    """The one expression value of an `opa eval --format json` result set."""
    (result,) = json.loads(out)["result"]
    (expression,) = result["expressions"]
    assert set(expression) == {"value", "text", "location"}
    return expression["value"]


@pytest.fixture
def extra(tmp_path: Path) -> list[str]:
    """-d arguments: the default policy, a .rego file, a YAML data file."""
    (tmp_path / "extra.rego").write_text(EXTRA_REGO)
    (tmp_path / "roles.yaml").write_text("extra_roles:\n  ann: [viewer]\n")
    return [
        "-d",
        str(POLICIES),
        "-d",
        str(tmp_path / "extra.rego"),
        "-d",
        str(tmp_path / "roles.yaml"),
    ]


def test_several_sources_are_one_policy(capsys, tmp_path, extra):
    who = write(tmp_path, {"who": "ann"})
    code, out, _ = opa_eval(capsys, *extra, "-i", who, "data.extra.grants")
    assert code == 0 and value_of(out) == ["viewer"]
    _, out, _ = opa_eval(capsys, *extra, "data.extra")  # a whole package, without input
    assert value_of(out) == {
        "viewer_can": ["document:list", "document:read", "folder:list", "folder:read"]
    }
    _, out, _ = opa_eval(capsys, *extra, "data.extra_roles")  # base data from the YAML file
    assert value_of(out) == {"ann": ["viewer"]}
    _, out, _ = opa_eval(capsys, *extra, "data.roles.viewer.permissions")  # the bundle's data
    assert "document:read" in value_of(out)


def test_output_formats(capsys, extra):
    assert (
        opa_eval(capsys, *extra, "--format", "raw", 'data.extra_roles["ann"][0]')[1] == "viewer\n"
    )
    assert opa_eval(capsys, *extra, "-f", "raw", "data.extra_roles")[1] == '{"ann":["viewer"]}\n'
    assert opa_eval(capsys, *extra, "--format", "raw", "data.nothing.here")[1] == ""
    assert opa_eval(capsys, *extra, "--format", "pretty", "data.nothing.here")[1] == "undefined\n"
    pretty = opa_eval(capsys, *extra, "--format", "pretty", "data.extra_roles")[1]
    assert pretty == '{\n  "ann": [\n    "viewer"\n  ]\n}\n'
    default = opa_eval(capsys, *extra, "data.extra_roles")[1]
    assert opa_eval(capsys, *extra, "--json", "data.extra_roles")[1] == default
    assert opa_eval(capsys, *extra, "--format", "json", "data.nothing")[1].strip() == "{}"


def test_fail_and_fail_defined_gate_on_the_result_as_opa_does(capsys, extra):
    assert opa_eval(capsys, *extra, "--fail", "data.extra_roles")[0] == 0
    assert opa_eval(capsys, *extra, "--fail", "data.nothing")[0] == 1
    assert opa_eval(capsys, *extra, "--fail-defined", "data.nothing")[0] == 0
    code, out, err = opa_eval(capsys, *extra, "--fail-defined", "-f", "raw", "data.extra_roles")
    assert (code, out, err) == (1, '{"ann":["viewer"]}\n', "")  # printed, and still a failure


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            {"clash.json": '{"roles": {"viewer": 1}}'},
            "conflicts with existing data at data.roles.viewer",
        ),
        ({"bad.rego": "package authz\nimport rego.v1\nx := {\n"}, "bad.rego:3"),
        ({"broken.yaml": "a: [1\n"}, "broken.yaml"),
    ],
)
def test_a_source_that_does_not_fit_is_refused_in_one_line(capsys, tmp_path, files, reason):
    argv = ["-d", str(POLICIES)]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        argv += ["-d", str(tmp_path / name)]
    code, out, err = opa_eval(capsys, *argv, "data.roles")
    assert (code, out) == (1, "")
    assert err.startswith("error: ") and reason in err and err.count("\n") == 1


REFERENCES = [
    "data.authz.decision",
    "data.authz",
    "data.authz.same_tenant",
    'data.roles["editor"]',
    "data.networks.office[0]",
    "data.nope",
    "data",
]


def test_values_are_opas(capsys, tmp_path):
    """Every reference evaluates to what OPA's own engine gives for the same policy and input."""
    opa_bindings = pytest.importorskip("opa_bindings", reason="OPA's engine is not installed")
    from pdp.bundles.loader import load_policy_source

    opa = opa_bindings.OpaEngine()
    source = load_policy_source(POLICIES, include_tests=False)
    for name, text in source.modules.items():
        opa.add_policy(name, text)
    opa.add_data(source.data)
    policy_input = {
        "subject": {"id": "a", "type": "user", "tenant_id": ACME, "roles": ["editor"]},
        "action": "document:write",
        "resource": {"type": "document", "id": "d", "tenant_id": ACME, "attributes": {}},
        "context": {"ip": "10.0.0.1", "networks": ["office"]},
    }
    path = write(tmp_path, policy_input)
    for reference in REFERENCES:
        code, out, err = opa_eval(capsys, "-d", str(POLICIES), "-i", path, reference)
        assert code == 0, err
        theirs = opa.eval_query(f"x = {reference}", policy_input)
        assert json.loads(out) == (result_set(theirs[0]["x"], reference) if theirs else {})

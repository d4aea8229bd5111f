"""`pdp test`: passing, failing, erroring and crashing policies, decision tables with and without
a directory, reports (JUnit parsed back with a real XML parser), `--run`, and exit codes."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pdp.cli import main
from tests.pdp.pdp_env import POLICIES

FIXTURES = Path(__file__).parent / "fixtures" / "policytest"
DEMO = ["--entrypoint", "data.demo.decision"]


def run(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(["test", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_passing_policy(capsys) -> None:
    code, lines, _ = run(capsys, str(FIXTURES / "passing"), *DEMO)
    assert code == 0
    assert lines == ["PASS: 5/5"]


def test_verbose_lists_every_test_with_its_duration(capsys) -> None:
    code, lines, _ = run(capsys, str(FIXTURES / "passing"), *DEMO, "-v")
    assert code == 0 and len(lines) == 7 and lines[-2:] == ["-" * 80, "PASS: 5/5"]
    assert lines[0].startswith(f"PASS {FIXTURES / 'passing'}/policy_test.rego: demo_test.test_")
    assert any(line.startswith("PASS ") and "::a reader reads (" in line for line in lines)
    assert all(line.endswith(" ms)") for line in lines[:-2])


def test_failing_and_erroring_tests(capsys) -> None:
    code, lines, _ = run(capsys, str(FIXTURES / "failing"), *DEMO)
    assert code == 2  # errors outrank failures
    assert lines[-3:] == ["PASS: 1/7", "FAIL: 4/7", "ERROR: 2/7"]
    test_file = f"{FIXTURES / 'failing'}/policy_test.rego"
    # The static check names the unknown function first; the engine still runs every test.
    assert lines[0].startswith(f"ERROR {test_file}::check: {test_file}:18:2: ")
    assert f"FAIL {test_file}: demo_test.test_false: expected true, got undefined" in lines
    assert f"FAIL {test_file}: demo_test.test_undefined: expected true, got undefined" in lines
    assert f"ERROR {test_file}: demo_test.test_errors: Function not found: nosuch_function" in lines
    cases = f"{FIXTURES / 'failing'}/demo.cases.json"
    assert (
        f"FAIL {cases}::a reader writes: expected allow=true; got allow=false, reasons"
        ' ["no_matching_role"]'
    ) in lines
    assert any(
        line.startswith(
            f"FAIL {cases}::the reason is wrong: expected allow=true,"
            ' reasons including ["role:admin"]; got allow=true'
        )
        for line in lines
    )


def test_the_design_crash_construct_errors_without_killing_the_run(capsys) -> None:
    """The segfaulting construct (a local `bits` shadowing the built-in namespace)."""
    code, lines, err = run(capsys, str(FIXTURES / "shadowed"), *DEMO)
    assert code == 2 and err == ""
    test_file = f"{FIXTURES / 'shadowed'}/policy_test.rego"
    assert lines[0].startswith(f"ERROR {test_file}::check: {test_file}:8:6: local variable bits")
    assert (
        f"ERROR {test_file}: demo_test.test_shadowed_namespace: not run: policy_test.rego has errors"
        in lines
    )
    assert lines[-1] == "ERROR: 2/2"


def test_only_failures_exit_1(tmp_path, capsys) -> None:
    failing = FIXTURES / "failing"
    for name in ("policy.rego", "demo.cases.json"):
        (tmp_path / name).write_text((failing / name).read_text())
    tests = (failing / "policy_test.rego").read_text().split("test_errors if")[0]
    (tmp_path / "policy_test.rego").write_text(tests)
    code, lines, _ = run(capsys, str(tmp_path), *DEMO, "--run", "test_false|reason is wrong")
    assert code == 1 and lines[-1] == "FAIL: 2/2"


def test_run_selects_by_id(capsys) -> None:
    code, lines, _ = run(
        capsys, str(FIXTURES / "passing"), *DEMO, "--run", r"demo_test\.test_reader|owner", "-v"
    )
    assert code == 0 and lines[-1] == "PASS: 2/2"
    assert any("demo_test.test_reader_reads" in line for line in lines)
    assert any("::an owner writes" in line for line in lines)


def test_compile_errors_are_errors_of_their_files(capsys) -> None:
    code, lines, _ = run(capsys, str(FIXTURES / "broken"), *DEMO)
    assert code == 2 and lines[-1] == "ERROR: 3/3", lines
    broken = FIXTURES / "broken"
    assert lines[0].startswith(f"ERROR {broken}/policy.rego::compile: {broken}/policy.rego:7:")
    assert lines[1].startswith(f"ERROR {broken}/second.rego::compile: {broken}/second.rego:5:")
    assert lines[2] == (
        f"ERROR {broken}/policy_test.rego: demo_test.test_never_runs:"
        " not run: policy.rego, second.rego have errors"
    )


CRASH_ON_TEST_FALSE = """
import os, signal, sys
import pdp.engine._child as child
real = child.query
def query(interpreter, bundle, entrypoint, value):
    if entrypoint.endswith("/test_false"):
        os.kill(os.getpid(), signal.SIGSEGV)
    return real(interpreter, bundle, entrypoint, value)
child.query = query
sys.exit(child.main(sys.argv))
"""


def test_a_test_that_crashes_the_engine_errors_alone(capsys, monkeypatch) -> None:
    from pdp.engine import compiler

    monkeypatch.setattr(compiler, "CHILD_COMMAND", (sys.executable, "-c", CRASH_ON_TEST_FALSE))
    code, lines, err = run(capsys, str(FIXTURES / "failing"), *DEMO, "--run", "demo_test")
    assert code == 2 and err == ""
    assert any(
        line.startswith(
            f"ERROR {FIXTURES / 'failing'}/policy_test.rego: demo_test.test_false:"
            " engine crashed (SIGSEGV) while running tests"
        )
        for line in lines
    )
    # The tests before and after the crash still ran, in a new child.
    assert lines[-3:] == ["PASS: 1/5", "FAIL: 1/5", "ERROR: 3/5"]


def test_a_policy_that_crashes_the_compiler_is_an_error_of_the_set(capsys, monkeypatch) -> None:
    from pdp.engine import compiler

    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(compiler, "CHILD_COMMAND", (sys.executable, "-c", crash))
    code, lines, err = run(capsys, str(FIXTURES / "passing"), *DEMO)
    assert code == 2 and err == ""
    root = FIXTURES / "passing"
    assert f"ERROR {root}::compile: engine crashed (SIGSEGV) while running tests" in lines
    assert any(
        line.startswith(f"ERROR {root}/demo.cases.yaml::load: the policy set was refused")
        for line in lines
    )


def test_bad_case_files(capsys) -> None:
    code, lines, _ = run(capsys, str(FIXTURES / "badcases"), *DEMO, "-v")
    assert code == 2
    root = FIXTURES / "badcases"
    assert any(
        line
        == f"ERROR {root}/not_yaml.cases.yaml::load: not valid YAML: expected ',' or '}}', but got '<stream end>' at line 2 column 1 (0.0 ms)"
        for line in lines
    )
    assert any(
        line.startswith(f"ERROR {root}/missing_directory.cases.yaml::load: directory: cannot read")
        for line in lines
    )
    assert any(
        line.startswith(f"ERROR {root}/no_expect.cases.yaml::load: cases[0].expect: Field required")
        for line in lines
    )
    bad = f"{root}/bad_case.cases.yaml"
    assert any(
        line.startswith(f"PASS {bad}::a good case next to a bad one still runs") for line in lines
    )
    assert any(
        line.startswith(
            f"ERROR {bad}::the resource tenant is no UUID:"
            " cases[1].request.resource.tenant_id: tenant_id must be a UUID"
        )
        for line in lines
    )
    assert any(
        line.startswith(f"ERROR {bad}::the same subject with other roles: subject 'u1' differs")
        for line in lines
    )
    assert lines[-2:] == ["PASS: 1/6", "ERROR: 5/6"]


def test_default_policy_set_with_its_directory_cases(capsys, monkeypatch) -> None:
    monkeypatch.chdir(POLICIES.parent)
    code, lines, _ = run(capsys, "-v")
    assert code == 0
    assert sum("decision.cases.yaml::" in line for line in lines) >= 15
    from pdp.bundles.loader import load_policy_source
    from pdp.engine.testing import discover_tests

    rego_tests = discover_tests(load_policy_source(POLICIES))
    assert len(rego_tests) >= 40
    assert sum("authz_test.test_" in line for line in lines) == len(rego_tests)


def test_a_time_rule_follows_the_case_time(tmp_path, capsys) -> None:
    """context.time is the decision time: the same request flips with the clock."""
    cases = (POLICIES / "authz" / "decision.cases.yaml").read_text()
    policy = tmp_path / "policies"
    import shutil

    shutil.copytree(POLICIES, policy, ignore=shutil.ignore_patterns("*_test.rego"))
    # Carol's Monday-morning payroll read, at 03:00 UTC instead: before business hours.
    later = cases.replace(
        'context: {ip: 10.0.0.1, time: "2026-11-23T10:00:00Z"}\n    expect: {allow: true, reasons: ["role:payroll_clerk',
        'context: {ip: 10.0.0.1, time: "2026-11-23T03:00:00Z"}\n    expect: {allow: true, reasons: ["role:payroll_clerk',
    )
    assert later != cases
    (policy / "authz" / "decision.cases.yaml").write_text(later)
    code, lines, _ = run(capsys, str(policy), "--run", "carol reads payroll")
    assert code == 1 and lines[-1] == "FAIL: 1/1"
    # Still allowed through her auditor role, but the payroll clerk role no longer grants it.
    assert lines[0].endswith(
        '; got allow=true, reasons ["role:auditor via user:6f0b2c1e-0000-4000-8000-0000000ca201"]'
    )


def test_json_report(capsys) -> None:
    code, lines, _ = run(capsys, str(FIXTURES / "failing"), *DEMO, "--json")
    assert code == 2
    report = json.loads("\n".join(lines))
    assert report["summary"] == {
        **report["summary"],
        "passed": 1,
        "failed": 4,
        "skipped": 0,
        "errored": 2,
    }
    by_name = {t["name"]: t for t in report["tests"]}
    assert by_name["test_false"]["status"] == "failed" and by_name["test_false"]["kind"] == "rego"
    assert by_name["a reader writes"]["kind"] == "case"


def test_junit_report_parses_back(tmp_path, capsys) -> None:
    output = tmp_path / "report.xml"
    code, lines, _ = run(
        capsys, str(FIXTURES / "failing"), *DEMO, "--format", "junit", "--output", str(output)
    )
    assert code == 2 and lines[-3:] == ["PASS: 1/7", "FAIL: 4/7", "ERROR: 2/7"]
    root = ET.parse(output).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "4", "2")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    rego = suites[f"{FIXTURES / 'failing'}/policy_test.rego"]
    assert (rego.get("tests"), rego.get("failures"), rego.get("errors")) == ("5", "2", "2")
    cases = {c.get("name"): c for c in rego.findall("testcase")}
    assert (
        cases["test_passes"].find("failure") is None and cases["test_passes"].find("error") is None
    )
    assert cases["test_false"].find("failure").get("message") == "expected true, got undefined"
    assert "nosuch_function" in cases["test_errors"].find("error").get("message")
    check = f"{FIXTURES / 'failing'}/policy_test.rego"
    assert cases["check"].get("classname") == check and cases["check"].find("error") is not None
    assert all(c.get("classname") == "demo_test" for n, c in cases.items() if n != "check")
    table = suites[f"{FIXTURES / 'failing'}/demo.cases.json"]
    assert [c.get("name") for c in table.findall("testcase")] == [
        "a reader writes",
        "the reason is wrong",
    ]
    assert len(table.findall("testcase/failure")) == 2


def test_junit_on_stdout(capsys) -> None:
    code, lines, _ = run(capsys, str(FIXTURES / "passing"), *DEMO, "--format", "junit")
    assert code == 0
    root = ET.fromstring("\n".join(lines))
    assert root.get("tests") == "5" and root.get("failures") == "0"


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/policies"], "no such policy directory or bundle"),
        (["--run", "("], "--run: not a regular expression"),
        (["--output", "x.xml"], "--output needs --format json or junit"),
    ],
)
def test_usage_errors_are_one_line(args, message, capsys) -> None:
    code, _, err = run(capsys, str(FIXTURES / "passing"), *args)
    assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1


def test_no_tests_is_an_error(tmp_path, capsys) -> None:
    (tmp_path / "p.rego").write_text("package x\nimport rego.v1\ny := 1\n")
    code, lines, err = run(capsys, str(tmp_path))
    assert code == 2 and lines == [] and "no tests found" in err

"""`pdp test` keeps `opa test`'s habits: files as arguments, `-r`, `-v`, `PASS: n/m` summaries,
and `todo_test_*` rules reported as skipped (text, JSON and JUnit), never run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from pdp.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "policytest"
PASSING = FIXTURES / "passing"
TODO = FIXTURES / "todo"
DEMO = ["--entrypoint", "data.demo.decision"]


def run(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["test", *args])
    return code, capsys.readouterr().out.splitlines()


def test_files_named_on_the_command_line_are_one_set(capsys) -> None:
    code, lines = run(
        capsys, str(PASSING / "policy.rego"), str(PASSING / "policy_test.rego"), *DEMO, "-v"
    )
    assert code == 0 and lines[-1] == "PASS: 2/2"
    # Only the files named: the directory's decision table is not part of the set.
    assert not any("demo.cases.yaml" in line for line in lines)
    code, lines = run(
        capsys, str(PASSING / "policy.rego"), str(PASSING / "demo.cases.yaml"), *DEMO, "-v"
    )
    assert code == 0 and lines[-1] == "PASS: 3/3"
    assert lines[0].startswith(f"PASS {PASSING}/demo.cases.yaml::a reader reads (")


def test_files_and_a_directory_are_separate_sets(capsys) -> None:
    code, lines = run(
        capsys, str(TODO), str(PASSING / "policy.rego"), str(PASSING / "policy_test.rego"), *DEMO
    )
    assert code == 0 and lines == ["PASS: 4/5", "SKIPPED: 1/5"]


def test_a_data_file_named_on_the_command_line(tmp_path, capsys) -> None:
    (tmp_path / "data.json").write_text(json.dumps({"limits": {"max": 3}}))
    (tmp_path / "p.rego").write_text("package p\n\nimport rego.v1\n\nok if data.limits.max == 3\n")
    (tmp_path / "p_test.rego").write_text(
        "package p_test\n\nimport rego.v1\n\ntest_ok if data.p.ok\n"
    )
    names = [str(tmp_path / n) for n in ("p.rego", "p_test.rego")]
    code, lines = run(capsys, *names)
    assert code == 1 and lines[0].startswith(f"FAIL {tmp_path}/p_test.rego: p_test.test_ok")
    code, lines = run(capsys, *names, str(tmp_path / "data.json"))
    assert code == 0 and lines == ["PASS: 1/1"]


def test_short_run_flag_selects_like_opa(capsys) -> None:
    code, lines = run(capsys, str(PASSING), *DEMO, "-r", r"test_reader", "-v")
    assert code == 0 and lines[-1] == "PASS: 1/1"
    assert "demo_test.test_reader_reads" in lines[0]


def test_verbose_lists_pass_and_skipped_with_the_opa_summary(capsys) -> None:
    code, lines = run(capsys, str(TODO), "-v")
    assert code == 0
    test_file = f"{TODO}/policy_test.rego"
    assert lines[0].startswith(f"PASS {test_file}: todo_test.test_greeting (")
    assert lines[0].endswith(" ms)")
    assert lines[2] == f"SKIPPED {test_file}: todo_test.todo_test_farewell"
    assert lines[3:] == ["-" * 80, "PASS: 2/3", "SKIPPED: 1/3"]


def test_todo_tests_are_skipped_not_run(capsys) -> None:
    code, lines = run(capsys, str(TODO))
    # Were it run, todo_test_farewell would fail (data.todo.farewell is undefined).
    assert code == 0 and lines == ["PASS: 2/3", "SKIPPED: 1/3"]
    code, lines = run(capsys, str(TODO), "-r", "farewell")
    assert code == 0 and lines == ["SKIPPED: 1/1"]


def test_todo_tests_in_the_json_report(capsys) -> None:
    code, lines = run(capsys, str(TODO), "--format", "json")
    report = json.loads("\n".join(lines))
    assert code == 0
    assert report["summary"] == {**report["summary"], "passed": 2, "skipped": 1, "failed": 0}
    skipped = [t for t in report["tests"] if t["status"] == "skipped"]
    assert [t["name"] for t in skipped] == ["todo_test_farewell"]


def test_todo_tests_in_the_junit_report(tmp_path, capsys) -> None:
    output = tmp_path / "report.xml"
    code, _ = run(capsys, str(TODO), "--format", "junit", "-o", str(output))
    root = ET.parse(output).getroot()
    assert code == 0
    assert (root.get("tests"), root.get("skipped"), root.get("failures")) == ("3", "1", "0")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["todo_test_farewell"].find("skipped") is not None
    assert cases["test_greeting"].find("skipped") is None

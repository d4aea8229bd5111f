"""`pdp check`: compile only, every problem as file:line:col, exit 2 on any, crash-proof."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pdp.cli import main
from pdp.engine import PolicySource
from pdp.policytest.check import scan_source
from tests.pdp.pdp_env import POLICIES

FIXTURES = Path(__file__).parent / "fixtures" / "policytest"


def check(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_default_policy_set_is_clean(capsys) -> None:
    code, lines, _ = check(capsys, str(POLICIES))
    assert code == 0
    assert len(lines) == 1 and lines[0].startswith("ok: 3 modules checked in ")


def test_every_parse_error_is_reported_with_its_place(capsys) -> None:
    code, lines, _ = check(capsys, str(FIXTURES / "broken"), "--entrypoint", "data.demo.decision")
    broken = FIXTURES / "broken"
    assert code == 2
    assert f"{broken}/policy.rego:7:11: this is unclosed" in lines
    assert f"{broken}/second.rego:5:11: Invalid arithmetic operator" in lines
    assert lines[-1].startswith("3 problem(s): 3 modules checked in ")


def test_unknown_and_missing_built_ins(tmp_path, capsys) -> None:
    (tmp_path / "p.rego").write_text(
        "package authz\nimport rego.v1\n"
        '# net.cidr_contains in a comment is fine, and so is "print(" in a string:\n'
        's := "print(1)"\n'
        'office if net.cidr_contains("10.0.0.0/8", input.context.ip)\n'
        'decision := {"allow": office, "reasons": [nosuch(1)]}\n'
    )
    code, lines, _ = check(capsys, str(tmp_path))
    assert code == 2
    assert lines[0].startswith(
        f"{tmp_path}/p.rego:5:11: unknown function net.cidr_contains (valid OPA, not supported"
        " by this engine (regopy 1.5.2)): "
    )
    assert "input.context.networks" in lines[0]
    assert f"{tmp_path}/p.rego:6:43: unknown function nosuch" in lines  # not OPA's either


def test_evaluation_errors_are_located_at_the_rule(tmp_path, capsys) -> None:
    (tmp_path / "p.rego").write_text(
        "package authz\nimport rego.v1\nz := x if { x := 1 }\nz := 2 if { true }\n"
    )
    code, lines, _ = check(capsys, str(tmp_path))
    assert code == 2
    assert lines[0].startswith(
        f"{tmp_path}/p.rego:3:1: evaluating data.authz.z with an empty input"
    )


def test_the_design_crash_construct_is_located(capsys) -> None:
    code, lines, _ = check(capsys, str(FIXTURES / "shadowed"), "--entrypoint", "data.demo.decision")
    assert code == 2
    assert any(
        line.startswith(
            f"{FIXTURES / 'shadowed'}/policy_test.rego:8:6: local variable bits shadows"
        )
        for line in lines
    )


def test_an_engine_crash_is_a_problem_not_a_crash(capsys, monkeypatch) -> None:
    from pdp.engine import compiler

    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(compiler, "CHILD_COMMAND", (sys.executable, "-c", crash))
    code, lines, err = check(capsys, str(POLICIES))
    assert code == 2 and err == ""
    assert f"{POLICIES}: engine crashed (SIGSEGV) while checking" in lines


def test_bad_named_networks_are_refused_as_the_pdp_would(tmp_path, capsys) -> None:
    (tmp_path / "p.rego").write_text("package authz\nimport rego.v1\ndecision := {}\n")
    (tmp_path / "data.json").write_text(json.dumps({"networks": {"office": ["10.0.0.0/33"]}}))
    code, lines, _ = check(capsys, str(tmp_path))
    assert code == 2 and f"{tmp_path}: data.networks.office: '10.0.0.0/33' is not a CIDR" in lines


def test_json_output(capsys) -> None:
    code, lines, _ = check(capsys, str(FIXTURES / "broken"), "--json")
    report = json.loads("\n".join(lines))
    assert code == 2 and report["ok"] is False and report["modules"] == 3
    first = report["problems"][0]
    assert set(first) == {"file", "line", "col", "severity", "message"}
    assert first["severity"] == "error"


def test_missing_path_is_one_line(capsys) -> None:
    code, _, err = check(capsys, "/no/such/policies")
    assert code == 2 and err.startswith("error: no such policy") and err.count("\n") == 1


@pytest.mark.parametrize(
    "text",
    [
        "package a\nimport rego.v1\nf(x) := x\ny := f(1)\n",  # a user function
        "package a\nimport rego.v1\nimport data.lib\ny := lib.helper(1)\n",  # imported one
        'package a\nimport rego.v1\ny := count([1]) + to_number("2")\n',
        "package a\nimport rego.v1\nbits := 3\ny := bits.and(1, 3)\n",  # a rule, not a local
        'package a\nimport rego.v1\ny := sprintf("%d", [1])\n# trace(1)\n',
    ],
)
def test_valid_rego_raises_no_static_problem(text) -> None:
    modules = {"a.rego": text, "lib.rego": "package lib\nimport rego.v1\nhelper(x) := x\n"}
    assert scan_source(PolicySource(modules=modules)) == []


OPA_STYLE_SUITE = {
    "p.rego": 'package p\n\nimport rego.v1\n\nallow if input.role == "admin"\n',
    "p_test.rego": "package p_test\n\nimport rego.v1\n\n"
    'test_admin if {\n\tdata.p.allow with input as {"role": "admin"}\n}\n\n'
    'test_viewer if {\n\tnot data.p.allow with input as {"role": "viewer"}\n}\n\n'
    "test_nobody if {\n\tnot data.p.allow with input as {}\n}\n",
}


def write(directory: Path, modules: dict[str, str]) -> Path:
    for name, text in modules.items():
        (directory / name).write_text(text)
    return directory


def test_an_opa_style_suite_replacing_the_whole_input_is_clean(tmp_path, capsys) -> None:
    code, lines, _ = check(capsys, str(write(tmp_path, OPA_STYLE_SUITE)), "--entrypoint", "p.allow")
    assert code == 0 and lines[0].startswith("ok: 2 modules checked in ")


def test_warnings_are_printed_and_keep_the_exit_code(tmp_path, capsys) -> None:
    modules = {
        **OPA_STYLE_SUITE,
        "p.rego": "package p\n\nimport rego.v1\n\nallow if count(input.role) > 0\n",
    }
    code, lines, _ = check(capsys, str(write(tmp_path, modules)), "--entrypoint", "p.allow")
    assert code == 0
    warned = [line for line in lines if ": warning: `with input as" in line]
    assert [line.split(": warning:")[0] for line in warned] == [
        f"{tmp_path}/p_test.rego:6:15",
        f"{tmp_path}/p_test.rego:10:19",
        f"{tmp_path}/p_test.rego:14:19",
    ]
    assert lines[-1].startswith("ok, 4 warning(s): 2 modules checked in ")
    code, lines, _ = check(capsys, str(tmp_path), "--entrypoint", "p.allow", "--json")
    report = json.loads("\n".join(lines))
    assert code == 0 and report["ok"] is True
    assert {p["severity"] for p in report["problems"]} == {"warning"}


def test_v0_is_an_error_with_opas_message(tmp_path, capsys) -> None:
    (tmp_path / "p.rego").write_text("package authz\n\ndecision := {}\n\nallow {\n\ttrue\n}\n")
    code, lines, _ = check(capsys, str(tmp_path))
    assert code == 2
    assert lines[0].startswith(
        f"{tmp_path}/p.rego:5:1: rego_parse_error: `if` keyword is required before rule body"
    )


def test_unsupported_constructs_say_so_instead_of_the_raw_engine_error(tmp_path, capsys) -> None:
    (tmp_path / "p.rego").write_text(
        "package authz\n\nimport rego.v1\n\ndecision := {}\n\n"
        'tags := concat(",", [input.tags[_], "y"])\n\n'
        "q if input.a\n\np if not q with input.a as false\n"
    )
    code, lines, _ = check(capsys, str(tmp_path))
    assert code == 2
    assert len(lines) == 3, lines
    assert lines[0].startswith(f"{tmp_path}/p.rego:7:33: `_` inside a collection: valid OPA")
    assert lines[1].startswith(f"{tmp_path}/p.rego:11:6: `if not ... with`: valid OPA")


def test_pdp_test_refuses_v0_too(tmp_path, capsys) -> None:
    """The same scan runs first in `pdp test`: a v0 module is an error there, not a pass."""
    modules = {
        "p.rego": "package p\n\nallow {\n\ttrue\n}\n",
        "p_test.rego": "package p_test\n\nimport rego.v1\n\ntest_allow if data.p.allow\n",
    }
    code = main(["test", str(write(tmp_path, modules))])
    out = capsys.readouterr().out
    assert code == 2
    assert (
        f"{tmp_path}/p.rego:3:1: rego_parse_error: `if` keyword is required before rule body" in out
    )


CRASHING_LIBRARY = {
    "lib.rego": "package lib\n\nimport rego.v1\n\nwide(x) := y if {\n"
    '\t[a, bits] := split(x, "/")\n\ty := bits.lsh(to_number(a), 1)\n}\n',
    "lib_test.rego": 'package lib_test\n\nimport rego.v1\n\ntest_wide if data.lib.wide("1/2") == 2\n',
    "other.rego": 'package other\n\nimport rego.v1\n\ngreeting := "hello"\n',
    "other_test.rego": "package other_test\n\nimport rego.v1\n\n"
    'test_greeting if data.other.greeting == "hello"\n',
}


def test_a_module_that_breaks_the_engine_is_the_only_one_blamed(tmp_path, capsys) -> None:
    """The crash of lib.rego would make every rule of the set fail; other.rego is innocent."""
    code, lines, _ = check(capsys, str(write(tmp_path, CRASHING_LIBRARY)))
    assert code == 2
    problems = [line for line in lines if ": " in line and not line.startswith("1 problem")]
    assert problems == [
        f"{tmp_path}/lib.rego:6:6: local variable bits shadows the built-in namespace bits"
        " (OPA refuses this; it crashes rego-cpp): rename the variable"
    ]


def test_an_innocent_module_keeps_its_own_engine_errors(tmp_path, capsys) -> None:
    modules = {
        **CRASHING_LIBRARY,
        "other.rego": 'package other\n\nimport rego.v1\n\ngreeting := "hello" if {\n'
        "\tnot_a_builtin_here(1)\n}\n",
    }
    code, lines, _ = check(capsys, str(write(tmp_path, modules)))
    assert code == 2
    assert any(line.startswith(f"{tmp_path}/lib.rego:6:6: ") for line in lines)
    assert any(line.startswith(f"{tmp_path}/other.rego:") for line in lines)

"""A module that breaks the engine is named at its file, and the tests that do not need it run.

The crashing construct (a local variable shadowing the `bits` built-in namespace) makes
rego-cpp fail every query of an interpreter that loaded it, so without isolation every test
of the set errors with `vector::_M_range_check` and no file named.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pdp.bundles.loader import load_policy_source
from pdp.cli import main
from pdp.engine import PolicySource, run_rego_tests
from pdp.engine.isolation import run_isolated
from pdp.engine.modules import ModuleGraph

CRASH = Path(__file__).parent / "fixtures" / "policytest" / "crash"
# A shadowing the static check of this version does not look for (a function parameter);
# the engine-level tests below need a module that only the engine itself can convict.
PARAMETER_SHADOW = """package lib

import rego.v1

shift(bits) := bits.lsh(1, 3)

wide if shift(1) == 8
"""


def run(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["test", *args])
    return code, capsys.readouterr().out.splitlines()


def test_the_crashing_module_is_named_and_the_other_tests_pass(capsys) -> None:
    code, lines = run(capsys, str(CRASH), "-v")
    assert code == 2
    lib = f"{CRASH}/lib.rego"
    assert lines[0].startswith(f"ERROR {lib}::check: {lib}:8:6: local variable bits shadows")
    assert (
        f"ERROR {CRASH}/lib_test.rego: lib_test.test_wide: not run: lib.rego has errors (0.0 ms)"
        in lines
    )
    assert any(
        line.startswith(f"PASS {CRASH}/other_test.rego: other_test.test_greeting (")
        for line in lines
    )
    assert any(
        line.startswith(f"PASS {CRASH}/other_test.rego: other_test.test_length (") for line in lines
    )
    assert lines[-2:] == ["PASS: 2/4", "ERROR: 2/4"]
    assert not any("_M_range_check" in line for line in lines)


def test_pdp_check_names_the_same_place(capsys) -> None:
    _, tested = run(capsys, str(CRASH))
    assert main(["check", str(CRASH)]) == 2
    checked = capsys.readouterr().out.splitlines()
    assert any(line.startswith(f"{CRASH}/lib.rego:8:6: ") for line in checked)
    assert any(f": {CRASH}/lib.rego:8:6: " in line for line in tested)


@pytest.fixture
def unscanned() -> PolicySource:
    """The crash set with its `lib.rego` shadowing `bits` through a function parameter."""
    source = load_policy_source(CRASH)
    return PolicySource({**source.modules, "lib.rego": PARAMETER_SHADOW}, source.data)


def test_without_isolation_every_test_errors_unnamed(unscanned: PolicySource) -> None:
    """What the isolation is for: one interpreter with `lib.rego` fails even `other`'s tests."""
    results = run_rego_tests(unscanned)
    assert {r.name for r in results} == {"test_wide", "test_greeting", "test_length"}
    assert all(r.error and "_M_range_check" in r.error for r in results)


def test_isolation_convicts_the_module_the_engine_fails_on(unscanned: PolicySource) -> None:
    run = run_isolated(unscanned)
    assert list(run.refused) == ["lib.rego"]
    assert "the engine cannot load this module: with it, every query fails" in str(
        run.refused["lib.rego"][0]
    )
    by_name = {r.name: r for r in run.results}
    assert by_name["test_greeting"].passed and by_name["test_length"].passed
    assert by_name["test_wide"].error == "not run: lib.rego has errors"
    assert [r.name for r in run.results] == ["test_wide", "test_greeting", "test_length"]


def test_the_cli_names_a_module_only_the_engine_convicts(tmp_path, capsys) -> None:
    for module in CRASH.iterdir():
        (tmp_path / module.name).write_text(module.read_text())
    (tmp_path / "lib.rego").write_text(PARAMETER_SHADOW)
    code, lines = run(capsys, str(tmp_path))
    assert code == 2
    assert any(line.startswith(f"ERROR {tmp_path}/lib.rego::") for line in lines), lines
    assert lines[-2:] == ["PASS: 2/4", "ERROR: 2/4"]


SEGFAULT_WHEN_LIB_IS_LOADED = """
import json, os, signal, sys
import pdp.engine._child as child
with open(sys.argv[-1], encoding="utf-8") as handle:
    if "lib.rego" in json.load(handle)["modules"]:
        os.kill(os.getpid(), signal.SIGSEGV)
sys.exit(child.main(sys.argv))
"""


def test_a_module_that_segfaults_the_compiler_is_named(tmp_path, capsys, monkeypatch) -> None:
    """rego-cpp segfaulting on a module (the child dies while compiling) names that module."""
    from pdp.engine import compiler

    monkeypatch.setattr(
        compiler, "CHILD_COMMAND", (sys.executable, "-c", SEGFAULT_WHEN_LIB_IS_LOADED)
    )
    modules = {p.name: p.read_text() for p in CRASH.iterdir()}
    modules["lib.rego"] = "package lib\n\nimport rego.v1\n\nwide := true\n"
    run = run_isolated(PolicySource(modules))
    assert list(run.refused) == ["lib.rego"]
    assert "engine crashed (SIGSEGV)" in run.refused["lib.rego"][0].message
    assert {r.name: r.passed for r in run.results} == {
        "test_wide": False,
        "test_greeting": True,
        "test_length": True,
    }


def test_the_module_graph_follows_imports_and_packages() -> None:
    graph = ModuleGraph(
        {
            "a.rego": "package a\nimport data.b\nx := b.y\n",
            "a2.rego": "package a\nz := 1  # data.c is only a comment\n",
            "b.rego": 'package b.inner\ny := "data.c"\n',
            "c.rego": "package c\nw := 1\n",
            "d.rego": "package d\nall := data\n",
        }
    )
    assert graph.closure(["a.rego"]) == {"a.rego", "a2.rego", "b.rego"}
    assert graph.closure(["d.rego"]) == {"a.rego", "a2.rego", "b.rego", "c.rego", "d.rego"}
    assert graph.dependents(["c.rego"]) == {"c.rego", "d.rego"}
    assert graph.in_order(["d.rego", "a.rego", "b.rego"]) == ["b.rego", "a.rego", "d.rego"]


WHOLE_INPUT_TEST = """package p_test

import rego.v1

test_allowed if {
	data.p.allowed with input as {"roles": ["a"]}
}
"""


def test_a_test_module_that_aborts_the_compiler_is_named(tmp_path, capsys) -> None:
    """`with input as` over a rule that calls a built-in aborts rego-cpp while it compiles
    (SIGABRT): the static scan warns at the line, and the module is named as the cause."""
    for name in ("other.rego", "other_test.rego"):
        (tmp_path / name).write_text((CRASH / name).read_text())
    (tmp_path / "p.rego").write_text(
        "package p\n\nimport rego.v1\n\nallowed if count(input.roles) > 0\n"
    )
    (tmp_path / "p_test.rego").write_text(WHOLE_INPUT_TEST)
    code, lines = run(capsys, str(tmp_path))
    assert code == 2
    test_file = f"{tmp_path}/p_test.rego"
    assert any(line.startswith(f"WARNING {test_file}:6:") for line in lines), lines
    assert any(
        line.startswith(f"ERROR {test_file}::compile: {test_file}: the engine cannot load this")
        and "engine crashed (SIGABRT)" in line
        for line in lines
    )
    assert f"ERROR {test_file}: p_test.test_allowed: not run: p_test.rego has errors" in lines
    assert lines[-2:] == ["PASS: 2/4", "ERROR: 2/4"]


def test_a_set_with_only_cases_names_the_module_its_compile_fails_on(tmp_path, capsys) -> None:
    """No Rego test probes the modules here: the refused compile of the served set does."""
    passing = Path(__file__).parent / "fixtures" / "policytest" / "passing"
    for name in ("policy.rego", "demo.cases.yaml"):
        (tmp_path / name).write_text((passing / name).read_text())
    (tmp_path / "lib.rego").write_text(PARAMETER_SHADOW)
    code, lines = run(capsys, str(tmp_path), "--entrypoint", "data.demo.decision")
    assert code == 2
    assert any(line.startswith(f"ERROR {tmp_path}/lib.rego::") for line in lines), lines
    assert (
        f"ERROR {tmp_path}/demo.cases.yaml::load: the policy set was refused: lib.rego has errors"
        in lines
    )
    assert not any("_M_range_check" in line and "demo.cases.yaml" in line for line in lines)

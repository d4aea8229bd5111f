"""Each regopy 1.5.2 defect `pdp check` reports, held by its minimal case (policies/README.md).

Every defect test runs the minimal Rego in regopy, in the engine's child process, and
asserts the defect is still there and the rewrite the scan suggests works; where OPA's own
engine is installed, the same Rego is run there too. An engine upgrade that fixes or changes
a defect fails here, and the scan (and the README) must follow.
"""

from __future__ import annotations

import re

import pytest

from pdp.engine import CompileError, PolicySource, run_rego_tests
from pdp.policytest.check import scan_source

try:
    import opa_bindings
except ImportError:  # the OPA side is skipped, saying so, where OPA is missing
    opa_bindings = None

needs_opa = pytest.mark.skipif(opa_bindings is None, reason="OPA's engine is not installed")

# A rule that calls a built-in (`count`), and one that calls nothing.
POLICY = """package p

import rego.v1

calls if count(input.xs) > 0

plain if input.a

from_data if data.q.a
"""


TEST_HEADER = "package p_test\n\nimport rego.v1\n\n"


def suite(tests: str) -> dict[str, str]:
    return {"p.rego": POLICY, "p_test.rego": TEST_HEADER + tests}


def regopy(tests: str) -> dict[str, bool]:
    """Which tests pass in regopy; CompileError when the engine refuses or crashes."""
    results = run_rego_tests(PolicySource(modules=suite(tests)))
    return {r.name: r.passed for r in results}


def opa(tests: str) -> dict[str, bool]:
    engine = opa_bindings.OpaEngine()
    for name, text in suite(tests).items():
        engine.add_policy(name, text)
    passed = {}
    for name in (line.split()[0] for line in tests.splitlines() if line.startswith("test_")):
        try:
            passed[name] = engine.eval_document(f"p_test.{name}") is True
        except opa_bindings.OpaUndefinedError:
            passed[name] = False
    return passed


def scanned(tests: str) -> list[tuple[int, int, str]]:
    """(line, col, severity) of each problem, lines counted in `tests`."""
    header = TEST_HEADER.count("\n")
    problems = scan_source(PolicySource(modules=suite(tests)))
    return [(p.line - header, p.col, p.severity) for p in problems]


# --- `with ... as <rule>`: the mock is ignored --------------------------------------------

IGNORED_MOCK = """reader := true

test_vacuous if {
	not data.p.plain with input.a as reader
}

test_vacuous_data if {
	not data.p.from_data with data.q.a as reader
}
"""
BOUND_MOCK = """reader := true

test_bound if {
	v := reader
	data.p.plain with input.a as v
}

test_bound_negative if {
	v := false
	not data.p.plain with input.a as v
}

test_bound_data if {
	v := reader
	data.p.from_data with data.q.a as v
}
"""


def test_with_a_rule_value_is_ignored_so_a_negative_test_passes_vacuously() -> None:
    assert regopy(IGNORED_MOCK) == {"test_vacuous": True, "test_vacuous_data": True}
    assert scanned(IGNORED_MOCK) == [(4, 19, "error"), (8, 23, "error")]


def test_binding_the_rule_to_a_variable_applies_the_mock() -> None:
    expected = {"test_bound": True, "test_bound_negative": True, "test_bound_data": True}
    assert regopy(BOUND_MOCK) == expected
    assert scanned(BOUND_MOCK) == []


@needs_opa
def test_opa_applies_the_mock_either_way() -> None:
    assert opa(IGNORED_MOCK) == {"test_vacuous": False, "test_vacuous_data": False}
    assert set(opa(BOUND_MOCK).values()) == {True}


@pytest.mark.parametrize(
    "value",
    ["reader", "reader.id", "data.p_test.reader", "data.p_test.reader.id", "data.base.x", "r[0]"],
)
def test_every_rule_or_data_value_is_an_error(value: str) -> None:
    tests = (
        f"reader := {{}}\n\nr := [1]\n\ntest_a if {{\n\tdata.p.plain with input.a as {value}\n}}\n"
    )
    problems = scan_source(PolicySource(modules=suite(tests)))
    assert scanned(tests) == [(6, 15, "error")]
    assert f"v := {value}` then `with input.a as v`" in problems[0].message


def test_a_rule_of_another_package_through_an_import_is_an_error() -> None:
    modules = {
        "fixtures.rego": "package fixtures\n\nimport rego.v1\n\nreader := {}\n",
        "p_test.rego": "package p_test\n\nimport data.fixtures as f\nimport rego.v1\n\n"
        "test_a if {\n\tdata.p.plain with data.p.x as f.reader\n}\n",
    }
    [problem] = scan_source(PolicySource(modules=modules))
    assert (problem.file, problem.line, problem.severity) == ("p_test.rego", 7, "error")


# --- `with input as`: aborts regopy only over rules that call something ------------------

WHOLE_INPUT_OVER_CALLS = """test_calls if {
	data.p.calls with input as {"xs": [1]}
}
"""
WHOLE_INPUT_OVER_PLAIN = """test_a if {
	data.p.plain with input as {"a": true}
}

test_b if {
	not data.p.plain with input as {"a": false}
}

test_c if {
	x := {"a": true}
	data.p.plain with input as x
}
"""
FIELDS_OVER_CALLS = """test_calls if {
	data.p.calls with input.xs as [1]
}

test_calls_negative if {
	not data.p.calls with input.xs as []
}
"""


def test_whole_input_over_a_rule_that_calls_aborts_the_compiler() -> None:
    with pytest.raises(CompileError, match="rego-localref` has no field `rego-refhead"):
        regopy(WHOLE_INPUT_OVER_CALLS)
    assert scanned(WHOLE_INPUT_OVER_CALLS) == [(2, 15, "warning")]


def test_the_suggested_rewrites_work_as_written() -> None:
    """The scan's own rewrite, pasted over the construct, passes in regopy."""
    [warning] = scan_source(PolicySource(modules=suite(WHOLE_INPUT_OVER_CALLS)))
    fields = re.search(r"instead: `(.+)`$", warning.message).group(1)
    assert fields == "with input.xs as [1]"
    assert regopy(WHOLE_INPUT_OVER_CALLS.replace('with input as {"xs": [1]}', fields)) == {
        "test_calls": True
    }
    first, _ = scan_source(PolicySource(modules=suite(IGNORED_MOCK)))
    bind, mock = re.search(r"first: `(.+)` then `(.+)`$", first.message).groups()
    fixed = IGNORED_MOCK.replace(
        "\tnot data.p.plain with input.a as reader", f"\t{bind}\n\tnot data.p.plain {mock}"
    )
    assert regopy(fixed) == {"test_vacuous": False, "test_vacuous_data": True}


def test_an_opa_style_suite_replacing_the_whole_input_works_over_plain_rules() -> None:
    assert regopy(WHOLE_INPUT_OVER_PLAIN) == {"test_a": True, "test_b": True, "test_c": True}
    assert scanned(WHOLE_INPUT_OVER_PLAIN) == []


def test_replacing_the_fields_works_over_rules_that_call() -> None:
    assert regopy(FIELDS_OVER_CALLS) == {"test_calls": True, "test_calls_negative": True}
    assert scanned(FIELDS_OVER_CALLS) == []


@needs_opa
def test_opa_runs_every_whole_input_form() -> None:
    assert opa(WHOLE_INPUT_OVER_CALLS) == {"test_calls": True}
    assert opa(WHOLE_INPUT_OVER_PLAIN) == {"test_a": True, "test_b": True, "test_c": True}


# What `data.p.y with input as {...}` meets in `y`, and whether regopy aborts on it.
WHOLE_INPUT_TRIGGERS = {
    "y if input.a == 1": False,
    "y if not input.a": False,
    "y := [x | some x in input.xs]": False,
    "y if { every v in input.xs { v == 1 } }": False,
    "y := data.d.x": False,
    "y := -1": False,
    "default y := 1": False,
    'y["k"] := input.a': False,
    "y := upper(input.a)": True,
    "y if input.a != 1": True,
    'y if "a" in input.xs': True,
    "y := {1} | {2}": True,
    "y := z\n\nz := 1": True,
    "y := data.q.z": True,
    "y := [x | some x in input.xs; x == count(input.xs)]": True,
}


@pytest.mark.parametrize("body", WHOLE_INPUT_TRIGGERS, ids=list(WHOLE_INPUT_TRIGGERS))
def test_the_scan_warns_exactly_where_whole_input_aborts(body: str) -> None:
    modules = {
        "p.rego": f"package p\n\nimport rego.v1\n\n{body}\n",
        "q.rego": "package q\n\nimport rego.v1\n\nz := 1\n",
        "t_test.rego": "package t\n\nimport rego.v1\n\n"
        'test_a if {\n\tx := data.p.y with input as {"a": 1}\n\ttrue\n}\n',
    }
    source = PolicySource(modules=modules, data={"d": {"x": 1}})
    try:
        run_rego_tests(source)
        aborted = False
    except CompileError as exc:
        assert "rego-localref` has no field `rego-refhead" in str(exc)
        aborted = True
    assert aborted is WHOLE_INPUT_TRIGGERS[body]
    warnings = [p for p in scan_source(source) if p.severity == "warning"]
    assert [(p.file, p.line, p.col) for p in warnings] == (
        [("t_test.rego", 6, 16)] if aborted else []
    )


# --- the braced `not ... with` form the docs recommend -----------------------------------

BRACED_NOT_WITH_A_RULE = """everything := {"a": true}

test_x if {
	data.p.plain with input as everything
}
"""
RECOMMENDED_FORMS = """test_braced_not if {
	not data.p.plain with input.a as false
}

test_braced_not_calls if {
	not data.p.calls with input.xs as []
}

test_bound_whole_input if {
	x := {"a": true}
	data.p.plain with input as x
}
"""


def test_a_rule_as_the_whole_input_aborts_the_compiler() -> None:
    with pytest.raises(CompileError, match="rego-with` has no field `rego-ref"):
        regopy(BRACED_NOT_WITH_A_RULE)
    assert scanned(BRACED_NOT_WITH_A_RULE) == [(4, 15, "error")]


def test_the_recommended_forms_work() -> None:
    assert set(regopy(RECOMMENDED_FORMS).values()) == {True}
    assert scanned(RECOMMENDED_FORMS) == []


def test_unbraced_not_with_is_a_syntax_error_here() -> None:
    tests = "test_x if not data.p.plain with input.a as false\n"
    with pytest.raises(CompileError, match="Syntax error"):
        regopy(tests)
    assert scanned(tests) == [(1, 11, "error")]


@needs_opa
def test_opa_takes_the_unbraced_form() -> None:
    assert opa("test_x if not data.p.plain with input.a as false\n") == {"test_x": True}


# --- `_` inside a function argument or a collection --------------------------------------

WILDCARD = "test_w if {\n\tcount([input.xs[_]]) == 1 with input.xs as [7]\n}\n"
WILDCARD_BOUND = "test_w if {\n\tv := input.xs[_] with input.xs as [7]\n\tcount([v]) == 1\n}\n"


def test_a_wildcard_in_a_collection_fails_evaluation() -> None:
    [result] = run_rego_tests(PolicySource(modules=suite(WILDCARD)))
    assert not result.passed and "rego-errorseq` has no field `rego-data" in (result.error or "")
    assert scanned(WILDCARD) == [(2, 18, "error")]


def test_binding_the_element_first_works() -> None:
    assert regopy(WILDCARD_BOUND) == {"test_w": True}
    assert scanned(WILDCARD_BOUND) == []


@needs_opa
def test_opa_iterates_the_wildcard() -> None:
    assert opa(WILDCARD) == {"test_w": True}


# --- a variable bound only inside a function argument: silently undefined ----------------

BOUND_IN_ARGUMENT = """test_k if {
	some k
	startswith(input.paths[k], "/admin") with input.paths as ["/home", "/admin/x"]
}
"""
BOUND_AT_TOP_LEVEL = """test_k if {
	some path in input.paths with input.paths as ["/home", "/admin/x"]
	startswith(path, "/admin")
}
"""


def test_a_variable_bound_only_in_an_argument_leaves_the_rule_undefined() -> None:
    assert regopy(BOUND_IN_ARGUMENT) == {"test_k": False}
    assert scanned(BOUND_IN_ARGUMENT) == [(3, 25, "error")]


def test_iterating_at_the_top_level_works() -> None:
    assert regopy(BOUND_AT_TOP_LEVEL) == {"test_k": True}
    assert scanned(BOUND_AT_TOP_LEVEL) == []


@needs_opa
def test_opa_binds_the_variable_in_the_argument() -> None:
    assert opa(BOUND_IN_ARGUMENT) == {"test_k": True}
    assert opa(BOUND_AT_TOP_LEVEL) == {"test_k": True}


@needs_opa
def test_every_suggested_rewrite_works_in_opa_too() -> None:
    for tests in (FIELDS_OVER_CALLS, RECOMMENDED_FORMS, WILDCARD_BOUND):
        assert set(opa(tests).values()) == {True}


def test_pdp_check_passes_every_recommended_form(tmp_path, capsys) -> None:
    from pdp.cli import main

    forms = [BOUND_MOCK, WHOLE_INPUT_OVER_PLAIN, FIELDS_OVER_CALLS, RECOMMENDED_FORMS]
    forms += [WILDCARD_BOUND, BOUND_AT_TOP_LEVEL]
    for name, text in suite(
        "\n".join(f.replace("test_", f"test_{n}_") for n, f in enumerate(forms))
    ).items():
        (tmp_path / name).write_text(text)
    code = main(["check", str(tmp_path), "--entrypoint", "p.plain"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("ok: 2 modules checked in "), out


def test_replacing_a_function_with_a_rule_function_works_and_is_not_flagged() -> None:
    modules = {
        "q.rego": "package q\n\nimport rego.v1\n\nf(x) := x + 1\n\ny := f(1)\n",
        "q_test.rego": "package q_test\n\nimport rego.v1\n\ng(_) := 10\n\n"
        "test_f if {\n\tdata.q.y == 10 with data.q.f as g\n}\n",
    }
    source = PolicySource(modules=modules)
    assert [r.passed for r in run_rego_tests(source)] == [True]
    assert scan_source(source) == []

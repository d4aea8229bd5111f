"""The static scan: Rego v0 refused with OPA's message, valid v1 Rego left alone.

Where OPA's own engine is installed, it is the ground truth: every v0 case is refused by
OPA at the line the scan reports, with the message the scan quotes, and every valid case
is accepted by OPA and raises nothing in the scan.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.engine import PolicySource
from pdp.policytest.check import scan_source

try:
    import opa_bindings
except ImportError:  # the OPA comparison is skipped, saying so, where OPA is missing
    opa_bindings = None

needs_opa = pytest.mark.skipif(opa_bindings is None, reason="OPA's engine is not installed")

V0 = {
    "rule": "package p\n\nallow {\n  true\n}\n",
    "rule with rego.v1": "package p\nimport rego.v1\n\nallow {\n  true\n}\n",
    "partial set": 'package p\n\ndeny[msg] {\n  msg := "x"\n}\n',
    "partial object": "package p\n\no[k] = v {\n  k := 1\n  v := 2\n}\n",
    "function": "package p\n\nf(x) {\n  x\n}\n",
    "function value": "package p\n\nf(x) = y {\n  y := x\n}\n",
    "value": "package p\n\np = 1 {\n  true\n}\n",
    "brace on the next line": "package p\n\n  allow\n{\n  true\n}\n",
    "else": "package p\n\np := 1 if { false }\nelse = 2 {\n  true\n}\n",
    "dotted head": "package p\n\na.b {\n  true\n}\n",
    "two rules": "package p\n\na {\n  true\n}\n\nb {\n  true\n}\n",
    "partial set of a string": 'package p\n\na["x"] {\n  true\n}\n',
    "contains without if": "package p\n\np contains x {\n  x := 1\n}\n",
}

VALID = {
    "rules": "package p\n\nimport rego.v1\n\ndefault allow := false\n\nallow if input.a\n",
    "default with =": "package p\n\ndefault p = false\n",
    "object value": 'package p\n\np := {\n  "a": 1,\n}\n',
    "set value head": 'package p\n\ns contains {"role": r} if {\n  some r in input.roles\n}\n',
    "chained bodies": "package p\n\np if { input.a } {\n  input.b\n}\n",
    "else chain": 'package p\n\nk := "a" if input.a\n\nelse := "b" if input.b\n\nelse := "c"\n',
    "else with object": 'package p\n\nk := 1 if input.a\nelse := {\n  "x": 1,\n}\n',
    "partial object if": "package p\n\np[x] := 1 if { some x in input.xs }\n",
    "every": "package p\n\nall if {\n  every v in input.xs {\n    v > 0\n  }\n}\n",
    "comprehensions": "package p\n\nxs := [x | some x in input.xs]\n\nm := {k: 1 | some k in input.ks}\n",
    "function": "package p\n\nf(x) := y if {\n  y := x + 1\n}\n\ng(x) if x\n",
    "strings and comments": 'package p\n\n# allow {\n s := "allow { true }"\nr := `{`\n',
    "with fields": "package p_test\n\nimport data.p\n\ntest_a if {\n  p.allow with input.a as true\n}\n",
    "with a bound value": (
        'package p_test\n\nreader := {"id": "r"}\n\n'
        "test_a if {\n  r := reader\n  data.p.allow with input.subject as r\n}\n"
    ),
    "with a literal holding a rule": (
        'package p_test\n\nreader := {"id": "r"}\n\n'
        "test_a if {\n  data.p.allow with input.subjects as [reader]\n}\n"
    ),
    "whole input over rules without calls": (
        'package p_test\n\nimport data.p\n\ntest_a if {\n  p.allow with input as {"a": true}\n}\n'
    ),
    "function mocks": (
        "package p_test\n\ng(x) := 10\n\nmine(x) := 7\n\n"
        "test_a if {\n  data.p.allow with data.p.f as g with count as mine\n}\n"
    ),
    "destructured variables in an argument": (
        'package p\n\nok if {\n  [i, _] := ["a", "b"]\n  is_string(input.o[i])\n}\n'
    ),
    "variables bound at the top level": (
        "package p\n\nok if {\n  input.xs[i] > 0\n  is_number(input.ys[i])\n}\n"
    ),
    "ref heads, else and comprehensions": (
        "package p\n\na.b.c contains x if { some x in input.xs }\n\n"
        'f(x) := 1 if {\n  x\n} else := 2\n\nm := {k: {"a": v} | some k, v in input.o}\n'
    ),
    "wildcard at statement level": "package p\n\nhas if input.xs[_] == 1\n",
    "wildcard in a comprehension body": "package p\n\nn := count([x | x := input.xs[_]])\n",
    "wildcard bound first": "package p\n\nn if {\n  x := input.xs[_]\n  count([x]) == 1\n}\n",
}


def problems_of(text: str, name: str = "x/p.rego") -> list:
    return scan_source(PolicySource(modules={name: text}))


def opa_errors(text: str) -> set[tuple[int, str]]:
    """(line, message) of every error OPA's parser reports on `text`."""
    engine = opa_bindings.OpaEngine()
    try:
        engine.add_policy("x/p.rego", text)
        engine.eval_document("p")
    except opa_bindings.OpaError as exc:
        return {
            (int(m[0]), m[1]) for m in re.findall(r"x/p\.rego:(\d+): (rego_\w+: [^\n]+)", str(exc))
        }
    return set()


def scanned_errors(text: str) -> set[tuple[int, str]]:
    """(line, OPA's part of the message) of every v0 problem the scan reports."""
    return {
        (p.line, p.message.split(" (", 1)[0])
        for p in problems_of(text)
        if p.message.startswith("rego_parse_error")
    }


@pytest.mark.parametrize("text", V0.values(), ids=V0.keys())
def test_v0_is_refused_with_opas_message(text: str) -> None:
    problems = problems_of(text)
    assert problems and all(p.severity == "error" and p.col for p in problems)
    assert all("keyword is required" in p.message for p in problems)


@needs_opa
@pytest.mark.parametrize("text", V0.values(), ids=V0.keys())
def test_v0_problems_are_the_ones_opa_reports(text: str) -> None:
    assert scanned_errors(text) == opa_errors(text) != set()


def test_v0_column_is_the_rule_or_else_that_lacks_if() -> None:
    [problem] = problems_of(V0["brace on the next line"])
    assert (problem.line, problem.col) == (3, 3)
    assert problem.message.startswith("rego_parse_error: `if` keyword is required before rule body")
    [problem] = problems_of(V0["else"])
    assert (problem.line, problem.col) == (4, 1)


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_v1_rego_raises_nothing(text: str) -> None:
    modules = {"x/p.rego": text, "x/q.rego": "package p\n\nallow if input.a\n"}
    if "p_test" in text:
        modules = {"x/p_test.rego": text, "x/q.rego": "package p\n\nallow if input.a\n"}
    assert scan_source(PolicySource(modules=modules)) == []


@needs_opa
@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_cases_are_valid_in_opa(text: str) -> None:
    assert opa_errors(text) == set()


REGO_PIECES = st.sampled_from(
    [
        *("package", "p", "if", "{", "}", "[", "]", "(", ")", "with", "as", "input", ".", "a"),
        *("_", "some", "k", "in", "not", "else", ":=", "=", ",", ";", "|", "data", "x", "f"),
        *("1", "+", "every", "contains", "default", "import", '"s"', "`r`", "#c", '"open'),
        *("\n", " ", "`\n"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(REGO_PIECES, max_size=60), st.text(max_size=20))
def test_the_scan_never_raises(pieces: list[str], junk: str) -> None:
    """Publishing scans before the engine sees the source: broken Rego must not raise."""
    other = "package p\nimport data.x as y\nr := 1\n"
    problems = scan_source(
        PolicySource(modules={"a.rego": "".join(pieces) + junk, "b.rego": other})
    )
    assert all(p.severity in ("error", "warning") for p in problems)


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: (
        n not in {"if", "in", "as", "not", "some", "else", "with", "every", "default"}
        and n not in {"contains", "package", "import", "true", "false", "null"}
    )
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(NAMES, st.booleans(), st.integers(0, 3)), min_size=1, max_size=6))
def test_exactly_the_rules_without_if_are_v0(rules: list[tuple[str, bool, int]]) -> None:
    text, expected = "package p\n", set()
    for name, with_if, blank_lines in rules:
        text += "\n" * blank_lines
        expected |= set() if with_if else {text.count("\n") + 1}
        text += f"{name} {'if ' if with_if else ''}{{\n\tinput.{name}\n}}\n"
    assert {p.line for p in problems_of(text)} == expected

"""The engine: compile in a child, evaluate per thread, refuse broken or crashing policies."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.engine import (
    UNDEFINED,
    CompileError,
    EvaluationError,
    Evaluator,
    PolicySource,
    compile_policy,
    entrypoint_path,
    run_rego_tests,
)

PARITY = """package authz
import rego.v1
decision := {"even": input.n % 2 == 0, "n": input.n}
maybe if input.flag
"""

CRASHING = """package authz
import rego.v1
decision := r if {
  [a, bits] := split(input.x, "/")
  r := bits.lsh(1, 2)
}
"""


def _evaluator(text: str = PARITY) -> Evaluator:
    source = PolicySource(modules={"p.rego": text}, revision="r1")
    return Evaluator(compile_policy(source, ["data.authz.decision", "authz/maybe"]))


def test_entrypoint_path_forms() -> None:
    for ref in ("data.authz.decision", "authz.decision", "authz/decision", "/authz/decision"):
        assert entrypoint_path(ref) == "authz/decision"
    for bad in ("", "data.authz", "authz", "a..b", "a/1x"):
        with pytest.raises(ValueError):
            entrypoint_path(bad)


def test_compile_and_evaluate() -> None:
    evaluator = _evaluator()
    assert evaluator.revision == "r1"
    assert evaluator.evaluate("data.authz.decision", {"n": 4}) == {"even": True, "n": 4}
    assert evaluator.evaluate("authz/maybe", {}) is UNDEFINED


def test_unknown_entrypoint() -> None:
    with pytest.raises(EvaluationError) as info:
        _evaluator().evaluate("authz/other", {})
    assert info.value.reason == "unknown_entrypoint"


def test_unknown_function_refused_by_smoke_test() -> None:
    text = "package authz\nimport rego.v1\ndecision := nosuch(1)\n"
    with pytest.raises(CompileError, match="Function not found: nosuch"):
        compile_policy(PolicySource(modules={"p.rego": text}), ["authz/decision"])


def test_parse_error_located() -> None:
    text = "package authz\nimport rego.v1\ndecision if {\n  x := \n}\n"
    with pytest.raises(CompileError) as info:
        compile_policy(PolicySource(modules={"bad.rego": text}), ["authz/decision"])
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.col) == ("bad.rego", 4, 5)
    assert str(problem).startswith("bad.rego:4:5: ")


def test_crashing_policy_refused_and_process_survives() -> None:
    with pytest.raises(CompileError):
        compile_policy(PolicySource(modules={"c.rego": CRASHING}), ["authz/decision"])
    assert _evaluator().evaluate("authz/decision", {"n": 1})["even"] is False


def test_child_crash_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pdp.engine import compiler

    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(compiler, "CHILD_COMMAND", (sys.executable, "-c", crash))
    with pytest.raises(CompileError, match=r"engine crashed \(SIGSEGV\) while compiling"):
        compile_policy(PolicySource(modules={"p.rego": PARITY}), ["authz/decision"])


def test_child_timeout_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pdp.engine import compiler

    monkeypatch.setattr(
        compiler, "CHILD_COMMAND", (sys.executable, "-c", "import time; time.sleep(30)")
    )
    with pytest.raises(CompileError, match="timed out"):
        compile_policy(PolicySource(modules={"p.rego": PARITY}), ["authz/decision"], timeout=1)


def test_threads_get_their_own_answers() -> None:
    evaluator = _evaluator()
    failures: list[str] = []

    def work(offset: int) -> None:
        for i in range(500):
            n = offset * 1000 + i
            result = evaluator.evaluate("authz/decision", {"n": n})
            if result != {"even": n % 2 == 0, "n": n}:
                failures.append(f"{n}: {result}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_run_rego_tests_pass_fail_error() -> None:
    text = """package t
import rego.v1
test_pass if true
test_fail if false
test_error if nosuch(1)
test_with if { 1 == input.a with input as {"a": 1} }
"""
    results = {r.name: r for r in run_rego_tests(PolicySource(modules={"t_test.rego": text}))}
    assert results["test_pass"].passed and results["test_with"].passed
    assert not results["test_fail"].passed and results["test_fail"].error is None
    assert not results["test_error"].passed and "nosuch" in (results["test_error"].error or "")
    assert results["test_pass"].package == "t" and results["test_pass"].file == "t_test.rego"


ECHO = """package echo

import rego.v1

value := input
"""

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    # rego-cpp prints numbers with 16 significant digits (it compares them exactly).
    | st.floats(allow_nan=False, allow_infinity=False).map(lambda f: float(f"{f:.12g}"))
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def echo() -> Evaluator:
    return Evaluator(compile_policy(PolicySource(modules={"e.rego": ECHO}), ["echo/value"]))


@settings(max_examples=200, deadline=None)
@given(document=st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=5))
def test_the_input_reaches_the_policy_unchanged(echo: Evaluator, document: dict) -> None:
    """Inputs travel to rego-cpp as JSON text: unicode, NUL, quotes, 64-bit ints, floats."""
    assert echo.evaluate("echo/value", document) == document

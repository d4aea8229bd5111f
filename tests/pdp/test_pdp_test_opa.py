"""`pdp test --opa`: every Rego test and decision-table case also runs in OPA's own engine, each
disagreement is a failure naming the test or case and what each engine said, and without
OPA's engine the command stops with a one-line reason saying how to install it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pdp.cli import main
from pdp.policytest.opa import same_json
from tests.pdp.pdp_env import POLICIES, REPO

FIXTURES = Path(__file__).parent / "fixtures" / "policytest"
DIVERGENT = FIXTURES / "divergent"
DEMO = ["--entrypoint", "data.demo.decision"]
OPA_REASON = "OPA's engine (pip install --ignore-requires-python 'pdp-suite[opa]') is not installed"


def run(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(["test", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_without_opas_engine_the_command_says_how_to_install_it(capsys, monkeypatch) -> None:
    # None in sys.modules makes `import opa_bindings` fail, as where it is not installed.
    monkeypatch.setitem(sys.modules, "opa_bindings", None)
    code, lines, err = run(capsys, str(POLICIES), "--opa")
    assert code == 2 and lines == []
    assert err.count("\n") == 1
    assert err.startswith("error: --opa needs OPA's engine (opa-golib-python-bindings)")
    assert "pip install --ignore-requires-python 'pdp-suite[opa]'" in err


def test_without_opas_engine_the_real_command_exits_2(tmp_path) -> None:
    """The installed CLI, in a process whose path starts with a stand-in that cannot load."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "opa_bindings.py").write_text("raise ImportError('no OPA engine here')\n")
    completed = subprocess.run(
        [sys.executable, "-m", "pdp.cli", "test", str(POLICIES), "--opa"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": f"{blocked}:{REPO}", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert completed.returncode == 2 and completed.stdout == ""
    assert "no OPA engine here" in completed.stderr
    assert "install it with: pip install --ignore-requires-python" in completed.stderr


needs_opa = pytest.mark.skipif(
    importlib.util.find_spec("opa_bindings") is None, reason=f"{OPA_REASON}: --opa runs skipped"
)


@needs_opa
def test_the_default_policy_set_agrees_with_opa(capsys, monkeypatch) -> None:
    monkeypatch.chdir(POLICIES.parent)
    code, lines, _ = run(capsys, "--opa", "--format", "json")
    report = json.loads("\n".join(lines))
    assert code == 0
    assert report["opa"]["disagreed"] == 0
    tests = report["tests"]
    rego = sum(t["kind"] == "rego" for t in tests)
    cases = sum(t["kind"] == "case" for t in tests)
    # Every Rego test, and every case whose subject the directory knows, was compared.
    assert rego >= 40 and cases >= 15
    assert rego < report["opa"]["compared"] <= rego + cases


@needs_opa
def test_each_disagreement_names_its_test_or_case(capsys) -> None:
    code, lines, _ = run(capsys, str(DIVERGENT), *DEMO, "--opa")
    assert code == 1
    tests, cases = f"{DIVERGENT}/policy_test.rego", f"{DIVERGENT}/demo.cases.yaml"
    assert (
        f"FAIL {tests}: opa::demo_test.test_roles_sort_by_name:"
        " this engine: failed (got undefined); OPA: passed (got true)"
    ) in lines
    assert (
        f"FAIL {cases}: opa::a reader reads: data.demo.decision on the input the PDP built:"
        ' this engine gave {"allow": false, "reasons": ["no_matching_role"]},'
        ' OPA gave {"allow": true, "reasons": ["role:reader"]}'
    ) in lines
    assert not any("opa::demo_test.test_owner_writes" in line for line in lines)
    assert not any("opa::an owner writes" in line for line in lines)
    assert "OPA: 5 compared, 2 disagreed" in lines
    assert lines[-2:] == ["PASS: 3/7", "FAIL: 4/7"]


def test_without_opa_the_divergent_set_only_fails_its_own_expectations(capsys) -> None:
    code, lines, _ = run(capsys, str(DIVERGENT), *DEMO)
    assert code == 1 and lines[-2:] == ["PASS: 3/5", "FAIL: 2/5"]
    assert not any("opa::" in line for line in lines)


@needs_opa
def test_disagreements_in_the_json_report(capsys) -> None:
    code, lines, _ = run(capsys, str(DIVERGENT), *DEMO, "--opa", "--json")
    report = json.loads("\n".join(lines))
    assert code == 1 and report["opa"] == {"compared": 5, "disagreed": 2}
    assert sorted(t["name"] for t in report["tests"] if t["kind"] == "opa") == [
        "a reader reads",
        "demo_test.test_roles_sort_by_name",
    ]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


def _floats(value: Any) -> Any:
    """`value` with every integer written as a float, as one engine may print it."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


@given(JSON)
def test_json_values_compare_by_value_never_bool_for_number(value: Any) -> None:
    assert same_json(value, json.loads(json.dumps(value)))
    if not any(isinstance(v, int) and abs(v) > 2**53 for v in _leaves(value)):
        assert same_json(value, _floats(value))
    assert not same_json([value, True], [value, 1])
    assert not same_json({"k": value}, {"k": value, "extra": None})


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]

"""The input hand-over: strings reach the policy as the characters the PEP sent, whether the
input is built node by node or (floats, huge integers) sent as JSON text."""

from __future__ import annotations

import pytest

from pdp.engine import Evaluator, PolicySource, compile_policy

POLICY = """package probe

import rego.v1

length := count(input.text)

is_literal if input.text == "café \\"quoted\\" back\\\\slash"

number := input.number
"""

ENTRYPOINTS = ["probe/length", "probe/is_literal", "probe/number"]
TEXT = 'café "quoted" back\\slash'


@pytest.fixture(scope="module")
def probe() -> Evaluator:
    return Evaluator(compile_policy(PolicySource(modules={"p.rego": POLICY}), ENTRYPOINTS))


@pytest.mark.parametrize("number", [7, 0.5, 2**70], ids=["int", "float as text", "big int as text"])
def test_strings_are_characters_not_escapes(probe: Evaluator, number: object) -> None:
    document = {"text": TEXT, "number": number}
    assert probe.evaluate("probe/is_literal", document) is True
    assert probe.evaluate("probe/number", document) == number
    # Non-ASCII characters count once, as in OPA (sent as \\u escapes they counted six).
    assert probe.evaluate("probe/length", {"text": "café é"}) == 6

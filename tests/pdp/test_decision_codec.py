"""The decision-log codec: any value made storable for Postgres, any stored text readable."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from pdp.decision_codec import decode_stored, encode, sanitise_json

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _storable(value: object) -> bool:
    """No NUL character in a key or string, no NaN or Infinity: what Postgres takes."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


@given(_JSON)
def test_sanitised_values_are_storable_and_storable_ones_untouched(value):
    fixed, repairs = sanitise_json(value)
    assert _storable(fixed)
    encode(fixed)
    if _storable(value):
        assert repairs == set() and fixed == value
    else:
        assert repairs


@given(st.text())
def test_any_stored_text_reads(text):
    value = decode_stored(text)
    encode(value)  # what the admin API sends: standard JSON
    if isinstance(value, float):
        assert math.isfinite(value)


def test_a_value_deeper_than_readers_go_reads_as_a_marker():
    text = "[" * 2000 + "]" * 2000
    assert decode_stored(text) == {"$unreadable": "nested_too_deep", "raw": text}

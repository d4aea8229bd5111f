"""The data and file diff of two revisions: properties of the JSON-path diff, Rego-style
paths, and unified diffs of added, removed and changed modules."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from pdp.bundles.diff import data_changes, file_diffs, json_path
from pdp.engine import PolicySource

keys = st.text(min_size=1, max_size=6)
leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
documents = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=8,
)
objects = st.dictionaries(keys, documents, max_size=5)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def resolve(document: dict, path: str) -> object:
    """Follow a `data.a["b"]` path the way Rego reads it."""
    assert path.startswith("data")
    value: object = document
    rest = path[len("data") :]
    while rest:
        if rest.startswith("."):
            match = IDENTIFIER.match(rest, 1)
            assert match is not None
            key, rest = match.group(0), rest[match.end() :]
        else:
            assert rest.startswith("[")
            key, end = json.JSONDecoder().raw_decode(rest, 1)
            assert rest[end] == "]"
            rest = rest[end + 1 :]
        value = value[key]  # type: ignore[index]
    return value


@given(objects)
def test_a_document_does_not_differ_from_itself(document: dict) -> None:
    assert list(data_changes(document, document)) == []


@given(objects, objects)
def test_changes_name_paths_that_hold_the_values_they_report(before: dict, after: dict) -> None:
    changes = list(data_changes(before, after))
    assert (changes == []) == (
        json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True)
    )
    for change in changes:
        if change.kind != "added":
            assert resolve(before, change.path) == change.before
        if change.kind != "removed":
            assert resolve(after, change.path) == change.after


@given(objects, objects)
def test_swapping_the_sides_swaps_added_and_removed(before: dict, after: dict) -> None:
    forward = {c.path: c.kind for c in data_changes(before, after)}
    backward = {c.path: c.kind for c in data_changes(after, before)}
    swapped = {"added": "removed", "removed": "added", "changed": "changed"}
    assert backward == {path: swapped[kind] for path, kind in forward.items()}


def test_rego_paths_quote_what_is_not_an_identifier() -> None:
    assert json_path(("roles", "viewer")) == "data.roles.viewer"
    assert json_path(("roles", "read-only", "x")) == 'data.roles["read-only"].x'
    assert json_path(("1st",)) == 'data["1st"]'
    assert json_path(()) == "data"


def test_values_of_another_type_are_changes() -> None:
    kinds = [(c.path, c.kind) for c in data_changes({"a": 1, "b": True}, {"a": 1.0, "b": 1})]
    assert kinds == [("data.a", "changed"), ("data.b", "changed")]


def test_file_diffs_are_unified_diffs_per_module() -> None:
    base = PolicySource(modules={"a.rego": "x\n", "gone.rego": "y"}, revision="r1")
    target = PolicySource(modules={"a.rego": "x\nz\n", "new.rego": "n\n"}, revision="r2")
    diffs = {d.file: d for d in file_diffs(base, target)}
    assert diffs["a.rego"].status == "modified"
    assert diffs["a.rego"].diff.splitlines()[:2] == ["--- r1/a.rego", "+++ r2/a.rego"]
    assert "+z" in diffs["a.rego"].diff.splitlines()
    assert diffs["gone.rego"].status == "removed"
    assert diffs["gone.rego"].diff.endswith("-y\n\\ No newline at end of file\n")
    assert diffs["new.rego"].status == "added"
    assert diffs["new.rego"].diff.startswith("--- /dev/null\n+++ r2/new.rego\n")

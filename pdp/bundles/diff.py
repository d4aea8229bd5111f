"""What changed between two stored revisions of a bundle: its Rego files and its data.

Reviewers compare a candidate with the revision serving before they activate it. Policy
files are compared as text (a unified diff per `.rego`, tests included, since they are part
of what was reviewed); data is compared as the merged document the engine sees, as JSON paths
added, removed or changed, so a reformatted `data.json` shows no change at all.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pdp.bundles.archive import BundleFormatError, read_archive, source_from_files
from pdp.bundles.store import BundleStore
from pdp.engine import PolicySource
from pdp.errors import NotFound, Unprocessable

# A data diff lists at most this many paths; past it the answer says it was cut short.
MAX_DATA_CHANGES = 1000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class FileDiff:
    """One `.rego` file that differs: `added`, `removed` or `modified`, with its unified diff."""

    file: str
    status: str
    diff: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "status": self.status, "diff": self.diff}


@dataclass(frozen=True)
class DataChange:
    """One JSON path of `data` whose value differs (`before`/`after` absent: not there)."""

    path: str
    kind: str
    before: Any = None
    after: Any = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.kind != "added":
            body["before"] = self.before
        if self.kind != "removed":
            body["after"] = self.after
        return body


@dataclass(frozen=True)
class BundleDiff:
    name: str
    base: str
    target: str
    files: list[FileDiff] = field(default_factory=list)
    data: list[DataChange] = field(default_factory=list)
    data_truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from": self.base,
            "to": self.target,
            "files": [f.to_json() for f in self.files],
            "data": [c.to_json() for c in self.data],
            "data_truncated": self.data_truncated,
        }


def json_path(parts: tuple[str, ...]) -> str:
    """`data.roles.viewer`, `data.roles["read-only"]`: how Rego writes a reference."""
    text = "data"
    for part in parts:
        text += f".{part}" if _IDENTIFIER.fullmatch(part) else f"[{json.dumps(part)}]"
    return text


def data_changes(before: Any, after: Any, parts: tuple[str, ...] = ()) -> Iterator[DataChange]:
    """Every path at which `after` differs from `before`; objects are walked key by key,
    anything else (lists included: their order is meaning) is compared as a whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys()):
            path = (*parts, key)
            if key not in after:
                yield DataChange(json_path(path), "removed", before=before[key])
            elif key not in before:
                yield DataChange(json_path(path), "added", after=after[key])
            else:
                yield from data_changes(before[key], after[key], path)
    elif _canonical(before) != _canonical(after):
        yield DataChange(json_path(parts), "changed", before=before, after=after)


def _canonical(value: Any) -> str:
    # `1` and `true`, `1` and `1.0` are different values to Rego.
    return json.dumps(value, sort_keys=True)


def file_diffs(base: PolicySource, target: PolicySource) -> list[FileDiff]:
    diffs = []
    for file in sorted(base.modules.keys() | target.modules.keys()):
        old, new = base.modules.get(file), target.modules.get(file)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "modified"
        lines = difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"{base.revision}/{file}" if old is not None else "/dev/null",
            tofile=f"{target.revision}/{file}" if new is not None else "/dev/null",
        )
        diffs.append(FileDiff(file, status, "".join(_terminated(lines))))
    return diffs


def _terminated(lines: Iterator[str]) -> Iterator[str]:
    """Diff lines each ending in a newline, also when a file's last line had none."""
    for line in lines:
        yield line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


def stored_source(
    store: BundleStore,
    name: str,
    revision: str,
    *,
    max_bytes: int,
    field: str = "revision",
    include_tests: bool = True,
) -> PolicySource:
    """A stored revision's modules and data, as it was published; `field` names the
    parameter that gave `revision`, for the 404."""
    if store.get(name, revision) is None:
        raise NotFound(f"bundle {name} has no revision {revision}", field=field)
    try:
        files = read_archive(store.archive(name, revision), max_bytes=max_bytes)
        return source_from_files(files, include_tests=include_tests, require_manifest=True)
    except BundleFormatError as exc:
        # Published bundles were validated; one that no longer reads is a broken store.
        raise Unprocessable(f"revision {revision} cannot be read: {exc}", field=field) from None


def diff_revisions(
    store: BundleStore, name: str, base: str, target: str, *, max_bytes: int
) -> BundleDiff:
    """The diff from revision `base` to revision `target` of bundle `name`."""
    old = stored_source(store, name, base, max_bytes=max_bytes, field="from")
    new = stored_source(store, name, target, max_bytes=max_bytes, field="to")
    changes: list[DataChange] = []
    truncated = False
    for change in data_changes(old.data, new.data):
        if len(changes) == MAX_DATA_CHANGES:
            truncated = True
            break
        changes.append(change)
    return BundleDiff(name, base, target, file_diffs(old, new), changes, truncated)

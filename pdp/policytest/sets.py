"""What the PATHs of `pdp test` name: policy sets, each compiled on its own.

A directory or a bundle (`.tar.gz`) is one set, compiled as the PDP would load it, with the
case files under the directory. The `.rego`, `data.json|yaml` and `*.cases.yaml|json` files
named on the command line together make one more set, as `opa test a.rego b_test.rego` loads
its files together; their names are relative to the directory they share, and a data file's
directory under it is its path under `data`, as in a bundle.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pdp.bundles.archive import BundleFiles, file_kind, source_from_files
from pdp.bundles.loader import load_policy_source
from pdp.engine import PolicySource
from pdp.policytest.cases import CASE_SUFFIXES


def find_case_files(root: Path) -> list[Path]:
    """Case files under a policy directory, in a stable order; hidden directories are skipped."""
    if not root.is_dir():
        return []
    found = []
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(current, n) for n in sorted(names) if n.endswith(CASE_SUFFIXES))
    return found


def is_policy_file(path: Path) -> bool:
    """A file `pdp test` loads by itself (not a bundle): Rego, a data file or a case file."""
    return path.name.endswith(CASE_SUFFIXES) or file_kind(path.name) in ("rego", "data")


@dataclass(frozen=True)
class PolicySet:
    """One set: `root` (a directory or bundle), or the loose `files` named relative to it."""

    root: Path
    files: tuple[Path, ...] = ()

    def display(self, name: str | None) -> str:
        """How reports name a file of the set (or the set itself)."""
        return (self.root / name).as_posix() if name else self.root.as_posix()

    def source(self, *, include_tests: bool) -> PolicySource:
        if not self.files:
            return load_policy_source(self.root, include_tests=include_tests)
        bundle: BundleFiles = {}
        for path in self.files:
            if file_kind(path.name) is not None:
                bundle[Path(os.path.relpath(path, self.root)).as_posix()] = path.read_bytes()
        return source_from_files(bundle, include_tests=include_tests)

    def case_files(self) -> list[Path]:
        if not self.files:
            return find_case_files(self.root)
        return [p for p in self.files if p.name.endswith(CASE_SUFFIXES)]


def policy_sets(paths: Sequence[Path]) -> list[PolicySet]:
    """Each directory or bundle is a set; the policy files among `paths` are one more."""
    loose = [p for p in paths if p.is_file() and is_policy_file(p)]
    sets = [PolicySet(p) for p in paths if p not in loose]
    if loose:
        try:
            shared = Path(os.path.commonpath([p.parent for p in loose]))
        except ValueError:  # relative and absolute paths mixed
            shared = Path(os.path.commonpath([p.parent.absolute() for p in loose]))
        sets.append(PolicySet(shared, tuple(dict.fromkeys(loose))))
    return sets

"""Which Rego modules a module needs, read from its text: its package and its `data.` references.

Tests run with only the modules they reach, so one module that breaks the engine is found by
name and the tests that never reach it still run. The reading over-approximates (a dynamic
`data[x]` needs everything), which can only keep more modules together, never split a
module from one it needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PACKAGE = re.compile(r"^package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)", re.M)
# Strings and comments, whose contents are not references.
_STRING_OR_COMMENT = re.compile(r'"(?:\\.|[^"\\\n])*"|`[^`]*`|#[^\n]*')
_DATA_REF = re.compile(r"(?<![\w.])data((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)")

RefPath = tuple[str, ...]


def _references(text: str) -> set[RefPath]:
    """Every `data.a.b` path the text names; `data` alone or `data[...]` is the empty path."""
    code = _STRING_OR_COMMENT.sub(" ", text)
    return {
        tuple(part.strip() for part in ref.group(1).split(".")[1:])
        for ref in _DATA_REF.finditer(code)
    }


def _overlap(a: RefPath, b: RefPath) -> bool:
    """One path is a prefix of the other: `data.lib` reaches package `lib.x`, and back."""
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


class ModuleGraph:
    """The modules of a policy source and what each needs (same package, or a reference)."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        packages: dict[str, RefPath | None] = {}
        references: dict[str, set[RefPath]] = {}
        for file, text in modules.items():
            declared = PACKAGE.search(_STRING_OR_COMMENT.sub(" ", text))
            packages[file] = tuple(declared.group(1).split(".")) if declared else None
            references[file] = _references(text)
        self.files = sorted(modules)
        self._needs: dict[str, set[str]] = {}
        for file in self.files:
            own = packages[file]
            self._needs[file] = {
                other
                for other in self.files
                if other != file
                and (package := packages[other]) is not None
                and (package == own or any(_overlap(ref, package) for ref in references[file]))
            }

    def closure(self, files: Iterable[str]) -> set[str]:
        """`files` and every module they need, directly or not."""
        reached: set[str] = set()
        pending = [f for f in files if f in self._needs]
        while pending:
            file = pending.pop()
            if file not in reached:
                reached.add(file)
                pending.extend(self._needs[file] - reached)
        return reached

    def dependents(self, files: Iterable[str]) -> set[str]:
        """`files` and every module that needs one of them, directly or not."""
        targets = set(files)
        return {file for file in self.files if self.closure([file]) & targets}

    def in_order(self, files: Iterable[str]) -> list[str]:
        """`files`, each after the modules it needs (by name where they need each other)."""
        # A module's closure holds the closures of all it needs, so it is larger than theirs.
        return sorted(set(files), key=lambda f: (len(self.closure([f])), f))

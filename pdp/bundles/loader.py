"""Load a policy source from a directory or an OPA bundle file (.tar.gz).

A directory is read with the same file selection a built bundle has (`file_kind`); a tarball
goes through `read_archive`, the one validation path for archives. Both are then assembled
and validated by `source_from_files`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pdp.bundles.archive import (
    DEFAULT_MAX_BYTES,
    BundleFiles,
    BundleFormatError,
    file_kind,
    read_archive,
    source_from_files,
)
from pdp.engine import PolicySource

__all__ = ["BundleFormatError", "load_policy_source", "read_directory"]


def read_directory(
    root: Path, *, include_tests: bool = True, max_bytes: int = DEFAULT_MAX_BYTES
) -> BundleFiles:
    """The bundle files under `root`: `.rego`, data files and a `.manifest`; hidden ones skipped."""
    files: BundleFiles = {}
    total = 0
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for filename in sorted(names):
            path = Path(current, filename)
            name = path.relative_to(root).as_posix()
            if file_kind(name, include_tests) is None:
                continue
            total += path.stat().st_size
            if total > max_bytes:
                raise BundleFormatError(f"larger than {max_bytes} bytes at {name}")
            files[name] = path.read_bytes()
    return files


def load_policy_source(
    path: Path, *, include_tests: bool = True, max_bytes: int = DEFAULT_MAX_BYTES
) -> PolicySource:
    """Read a policy directory or an OPA bundle tarball into a PolicySource.

    Errors name the directory or file first, then the entry at fault.
    """
    path = Path(path)
    try:
        if path.is_dir():
            files = read_directory(path, include_tests=include_tests, max_bytes=max_bytes)
        elif path.is_file():
            files = read_archive(path.read_bytes(), max_bytes=max_bytes)
        else:
            raise BundleFormatError("no such directory or bundle file")
        return source_from_files(files, include_tests=include_tests)
    except BundleFormatError as exc:
        origin = path.name if path.is_file() else str(path)
        raise BundleFormatError(f"{origin}: {exc}") from None

"""Load a policy source from a directory or an OPA bundle file (.tar.gz).

A directory is read with the same file selection a built bundle has (`file_kind`); a tarball
goes through `read_archive`, the one validation path for archives. Both are then assembled
and validated by `source_from_files`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pdp.bundles.archive import (
    DEFAULT_MAX_BYTES,
    BundleFiles,
    BundleFormatError,
    _merge,
    file_kind,
    read_archive,
    source_from_files,
)
from pdp.bundles.signing import SignatureError, require_trusted
from pdp.engine import PolicySource

__all__ = ["BundleFormatError", "load_policy_source", "load_policy_sources", "read_directory"]

_DATA_SUFFIXES = {".json": "data.json", ".yaml": "data.yaml", ".yml": "data.yaml"}


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
    path: Path,
    *,
    include_tests: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
    verification_keys: Mapping[str, str] | None = None,
) -> PolicySource:
    """Read a policy directory or an OPA bundle tarball into a PolicySource.

    With `verification_keys` (a server's) the bundle must be signed by one of them, as a
    bundle from the store must (`require_trusted`); a directory carries no signature, so it is
    refused as unsigned. Errors name the directory or file first, then the entry at fault.
    """
    path = Path(path)
    origin = path.name if path.is_file() else str(path)
    try:
        if path.is_dir():
            files = read_directory(path, include_tests=include_tests, max_bytes=max_bytes)
        elif path.is_file():
            files = read_archive(path.read_bytes(), max_bytes=max_bytes)
        else:
            raise BundleFormatError("no such directory or bundle file")
        source = source_from_files(files, include_tests=include_tests)
    except BundleFormatError as exc:
        raise BundleFormatError(f"{origin}: {exc}") from None
    try:
        require_trusted(files, verification_keys or {}, source.revision)
    except SignatureError as exc:
        raise SignatureError(exc.reason, f"{origin}: {exc}") from None
    return source


def load_policy_sources(paths: Sequence[Path], *, include_tests: bool = True) -> PolicySource:
    """Several paths as one policy source, as `opa eval -d` takes them: directories and bundle
    files (as `load_policy_source`), single `.rego` files, and JSON/YAML data files (their
    object at the root of `data`). Data of all of them merges; any overlap but objects is a
    conflict. With several paths, module names are prefixed with the path they came from."""
    sources = [(Path(p), _single_source(Path(p), include_tests)) for p in paths]
    if len(sources) == 1:
        return sources[0][1]
    modules: dict[str, str] = {}
    data: dict[str, object] = {}
    for path, source in sources:
        prefix = path.as_posix()
        for name, text in source.modules.items():
            modules[prefix if path.suffix == ".rego" else f"{prefix}/{name}"] = text
        _merge(data, (), source.data, str(path))
    return PolicySource(
        modules=modules, data=data, revision="+".join(source.revision for _, source in sources)
    )


def _single_source(path: Path, include_tests: bool) -> PolicySource:
    if not path.is_file() or (path.suffix != ".rego" and path.suffix not in _DATA_SUFFIXES):
        return load_policy_source(path, include_tests=include_tests)
    name = path.name if path.suffix == ".rego" else _DATA_SUFFIXES[path.suffix]
    try:
        return source_from_files({name: path.read_bytes()})
    except BundleFormatError as exc:
        raise BundleFormatError(f"{path}: {exc}") from None

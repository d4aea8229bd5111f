"""Load a policy source from a directory or an OPA bundle (.tar.gz), refusing anything odd.

OPA semantics: every `*.rego` file is a module named by its path; a `data.json` (or
`data.yaml`/`data.yml`) is placed in `data` at the path of its directory; `/.manifest`
gives revision, roots and metadata. Tarballs come from outside, so entry names, types and
sizes are checked before anything is read.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from pdp.engine import PolicySource

MANIFEST = ".manifest"
DATA_FILES = frozenset({"data.json", "data.yaml", "data.yml"})
_GZIP_MAGIC = b"\x1f\x8b"


class BundleFormatError(Exception):
    """The bundle or directory is malformed; the message names the file or entry at fault."""


def _kind(name: str, include_tests: bool) -> str | None:
    """What a (normalised) file name is to the loader: manifest, rego, data, or None to skip."""
    if name == MANIFEST:
        return "manifest"
    parts = PurePosixPath(name).parts
    if any(part.startswith(".") for part in parts):
        return None
    base = parts[-1]
    if base.endswith((".cases.yaml", ".cases.yml", ".cases.json")):
        return None
    if base.endswith(".rego"):
        return "rego" if include_tests or not base.endswith("_test.rego") else None
    return "data" if base in DATA_FILES else None


def _entry_name(raw: str, origin: str) -> str:
    """Normalise a tar entry name (`/a/b`, `./a/b` -> `a/b`) and refuse path escapes."""
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts) or ":" in parts[0]:
        raise BundleFormatError(f"{origin}: entry {raw!r} escapes the bundle root")
    return "/".join(parts)


def _read_directory(root: Path, include_tests: bool, max_bytes: int) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    total = 0
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for filename in sorted(names):
            path = Path(current, filename)
            name = path.relative_to(root).as_posix()
            if _kind(name, include_tests) is None:
                continue
            total += path.stat().st_size
            if total > max_bytes:
                raise BundleFormatError(f"{root}: larger than {max_bytes} bytes at {name}")
            files[name] = path.read_bytes()
    return files


def _tar_members(tar: tarfile.TarFile, origin: str) -> Iterator[tarfile.TarInfo]:
    try:
        yield from tar
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise BundleFormatError(f"{origin}: truncated or corrupt archive ({exc})") from None


def _read_tarball(path: Path, include_tests: bool, max_bytes: int) -> dict[str, bytes]:
    origin = path.name
    with path.open("rb") as handle:
        if handle.read(2) != _GZIP_MAGIC:
            raise BundleFormatError(f"{origin}: not a gzip file (expected a .tar.gz bundle)")
        handle.seek(0)
        files: dict[str, bytes] = {}
        total = 0
        # Stream mode ("r|gz") never seeks, so sizes are checked before data is decompressed.
        try:
            tar = tarfile.open(fileobj=handle, mode="r|gz")  # noqa: SIM115 (closed below)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise BundleFormatError(f"{origin}: truncated or corrupt archive ({exc})") from None
        with tar:
            for member in _tar_members(tar, origin):
                if member.isdir():
                    continue
                name = _entry_name(member.name, origin)
                if not member.isfile():
                    raise BundleFormatError(
                        f"{origin}: entry {member.name!r} is a link or device, not a file"
                    )
                total += member.size
                if total > max_bytes:
                    raise BundleFormatError(
                        f"{origin}: decompressed size exceeds {max_bytes} bytes at {member.name!r}"
                    )
                if name in files:
                    raise BundleFormatError(f"{origin}: entry {name!r} appears twice")
                extracted = tar.extractfile(member)
                if extracted is None:
                    raise BundleFormatError(f"{origin}: entry {member.name!r} is unreadable")
                try:
                    content = extracted.read()
                except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                    raise BundleFormatError(
                        f"{origin}: entry {name!r} is truncated ({exc})"
                    ) from None
                if len(content) != member.size:
                    raise BundleFormatError(f"{origin}: entry {name!r} is truncated")
                if _kind(name, include_tests) is not None:
                    files[name] = content
    return files


def _parse_data(name: str, content: bytes, origin: str) -> Any:
    try:
        if name.endswith(".json"):
            return json.loads(content)
        loaded = yaml.safe_load(io.BytesIO(content))
        return {} if loaded is None else loaded
    except (ValueError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0]
        raise BundleFormatError(f"{origin}: {name} is not valid data: {reason}") from None


def _place(node: dict[str, Any], key: str, value: Any, where: str, at: str) -> None:
    """Set `node[key]`, merging objects key by key; any other overlap is a conflict."""
    if key not in node:
        node[key] = value
    elif isinstance(node[key], dict) and isinstance(value, dict):
        for inner, item in value.items():
            _place(node[key], inner, item, where, f"{at}.{inner}")
    else:
        raise BundleFormatError(f"{where} conflicts with existing data at {at}")


def _merge(data: dict[str, Any], path: tuple[str, ...], value: Any, where: str) -> None:
    """Merge a data file's value into `data` at the path of its directory."""
    if not path:
        if not isinstance(value, dict):
            raise BundleFormatError(f"{where} must hold an object at the bundle root")
        for key, item in value.items():
            _place(data, key, item, where, f"data.{key}")
        return
    node = data
    for depth, key in enumerate(path[:-1]):
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            at = ".".join(path[: depth + 1])
            raise BundleFormatError(f"{where} conflicts with existing data at data.{at}")
    _place(node, path[-1], value, where, "data." + ".".join(path))


def _manifest(content: bytes, origin: str) -> dict[str, Any]:
    where = f"{origin}: {MANIFEST}"
    try:
        manifest = json.loads(content)
    except ValueError as exc:
        raise BundleFormatError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise BundleFormatError(f"{where} must be a JSON object")
    revision = manifest.get("revision", "")
    roots = manifest.get("roots", [""])
    metadata = manifest.get("metadata", {})
    if not isinstance(revision, str):
        raise BundleFormatError(f"{where}: revision must be a string")
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise BundleFormatError(f"{where}: roots must be a list of strings")
    if not isinstance(metadata, dict):
        raise BundleFormatError(f"{where}: metadata must be an object")
    return {"revision": revision, "roots": tuple(roots), "metadata": metadata}


def _assemble(files: dict[str, bytes], include_tests: bool, origin: str) -> PolicySource:
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    manifest = {"revision": "", "roots": ("",), "metadata": {}}
    digest = hashlib.sha256()
    for name in sorted(files):
        content = files[name]
        digest.update(name.encode() + b"\0" + content + b"\0")
        kind = _kind(name, include_tests)
        if kind == "manifest":
            manifest = _manifest(content, origin)
        elif kind == "rego":
            try:
                modules[name] = content.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleFormatError(f"{origin}: {name} is not UTF-8 text") from None
        elif kind == "data":
            path = PurePosixPath(name).parts[:-1]
            _merge(data, path, _parse_data(name, content, origin), f"{origin}: {name}")
    revision = manifest["revision"] or f"dev-{digest.hexdigest()[:12]}"
    return PolicySource(
        modules=modules,
        data=data,
        revision=revision,
        roots=manifest["roots"],
        metadata=manifest["metadata"],
    )


def load_policy_source(
    path: Path, *, include_tests: bool = True, max_bytes: int = 64 * 1024 * 1024
) -> PolicySource:
    """Read a policy directory or an OPA bundle tarball into a PolicySource."""
    path = Path(path)
    if path.is_dir():
        files = _read_directory(path, include_tests, max_bytes)
        origin = str(path)
    elif path.is_file():
        files = _read_tarball(path, include_tests, max_bytes)
        origin = path.name
    else:
        raise BundleFormatError(f"{path}: no such directory or bundle file")
    return _assemble(files, include_tests, origin)

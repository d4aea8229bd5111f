"""OPA bundle archives: read and validate a `.tar.gz` from bytes, assemble a policy source, write one.

This is the one validation path for bundles from outside (a pushed file, `pdp serve --bundle
FILE.tar.gz`, `pdp bundle inspect`): nothing is ever extracted to disk, entry names, types and
sizes are checked before content is read, and the decompressed stream is capped, so a hostile
archive can only fail with `BundleFormatError`.

OPA semantics: every `*.rego` file is a module named by its path; a `data.json` (or
`data.yaml`/`data.yml`) is placed in `data` at the path of its directory; `/.manifest` gives
revision, roots and metadata; every package and every data path must lie under a root.
Rego is not parsed here (untrusted Rego is only ever parsed in the engine's child process, by
`compile_policy`): a module that does not parse is refused there with file, line and column.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

from pdp.engine import PolicySource

MANIFEST = ".manifest"
SIGNATURES = ".signatures.json"
DATA_FILES = frozenset({"data.json", "data.yaml", "data.yml"})
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
# Tar headers and padding on top of the content limit: the cap on the decompressed stream
# (read ahead in blocks), which stops a bomb made of headers rather than content.
_STREAM_SLACK = 1024 * 1024
_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)

# Posix paths relative to the bundle root, no leading '/', hidden files included.
BundleFiles = dict[str, bytes]


class BundleFormatError(Exception):
    """The bundle is malformed; the message names the file or entry at fault."""


# --- names ------------------------------------------------------------------------------------


def file_kind(name: str, include_tests: bool = True) -> str | None:
    """What a bundle file is to the PDP: "manifest", "rego", "data", or None (ignored)."""
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


def entry_name(raw: str) -> str:
    """Normalise an archive entry name to a bundle path, refusing anything outside the root.

    One leading `/` (as `opa build` writes every entry) and `./` segments mean the bundle root;
    `..`, a second leading `/`, backslashes, NULs and drive letters are refused.
    """
    name = raw[1:] if raw.startswith("/") else raw
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise BundleFormatError(f"entry {raw!r} is not a UTF-8 name") from None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if (
        not parts
        or name.startswith("/")
        or ".." in parts
        or "\\" in name
        or "\x00" in name
        or ":" in parts[0]
    ):
        raise BundleFormatError(f"entry {raw!r} escapes the bundle root")
    return "/".join(parts)


# --- reading archives -------------------------------------------------------------------------


class _CappedReader:
    """The decompressed tar stream, refusing to yield more than `limit` bytes (tar bombs)."""

    def __init__(self, raw: gzip.GzipFile, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        room = self._limit + 1 - self.consumed  # one byte more tells "too large" from "full"
        chunk = self._raw.read(room if size < 0 else min(size, room))
        self.consumed += len(chunk)
        if self.consumed > self._limit:
            raise BundleFormatError(f"decompressed archive is larger than {self._limit} bytes")
        return chunk

    def drain(self) -> None:
        """Read to the end, so a truncated stream or a bad gzip checksum is noticed."""
        while self.read(1 << 16):
            pass


def _member_content(tar: tarfile.TarFile, member: tarfile.TarInfo, name: str) -> bytes:
    extracted = tar.extractfile(member)
    if extracted is None:
        raise BundleFormatError(f"entry {member.name!r} is unreadable")
    try:
        content = extracted.read()
    except _READ_ERRORS as exc:
        raise BundleFormatError(f"entry {name!r} is truncated ({exc})") from None
    if len(content) != member.size:
        raise BundleFormatError(f"entry {name!r} is truncated")
    return content


def read_archive(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> BundleFiles:
    """Every regular file of a bundle `.tar.gz`; any oddity raises BundleFormatError.

    Directories are skipped; links, devices, duplicate entries, escaping names, file contents
    over `max_bytes` in total, and a decompressed stream over `max_bytes` plus 1 MiB (headers
    and padding) are refused.
    """
    if not data.startswith(_GZIP_MAGIC):
        raise BundleFormatError("not a gzip file (expected a .tar.gz bundle)")
    stream = _CappedReader(gzip.GzipFile(fileobj=io.BytesIO(data)), max_bytes + _STREAM_SLACK)
    files: BundleFiles = {}
    total = 0
    try:
        # Stream mode never seeks: each header is checked before its content is decompressed.
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                if member.isdir():
                    continue
                name = entry_name(member.name)
                if not member.isfile():
                    raise BundleFormatError(
                        f"entry {member.name!r} is a link or device, not a regular file"
                    )
                total += member.size
                if total > max_bytes:
                    raise BundleFormatError(
                        f"decompressed size exceeds {max_bytes} bytes at entry {member.name!r}"
                    )
                if name in files:
                    raise BundleFormatError(f"entry {name!r} appears twice")
                files[name] = _member_content(tar, member, name)
        stream.drain()
    except _READ_ERRORS as exc:
        raise BundleFormatError(f"truncated or corrupt archive ({exc})") from None
    return files


def write_archive(files: BundleFiles) -> bytes:
    """A deterministic gzipped tar with leading `/` entries, as `opa build` writes.

    Same files, same bytes: entries sorted, zero times and owners, no name in the gzip header.
    """
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(files):
            if entry_name(name) != name:
                raise BundleFormatError(f"entry {name!r} is not a normalised bundle path")
            info = tarfile.TarInfo("/" + name)
            info.size = len(files[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


# --- data files -------------------------------------------------------------------------------


class DataLoader(yaml.SafeLoader):
    """YAML as OPA reads it: JSON-compatible values only, so timestamps stay strings."""


DataLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _json_compatible(value: Any) -> bool:
    """Whether a parsed value is plain JSON (YAML can also give sets, bytes, int keys, NaN)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_compatible(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_compatible(item) for item in value)
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return value is None or isinstance(value, str | int | bool)


def parse_data(name: str, content: bytes) -> Any:
    """The value of a data file (JSON for `.json`, YAML otherwise); the error names the file."""
    try:
        if name.endswith(".json"):
            value = json.loads(content, parse_constant=_reject_constant)
        else:
            value = yaml.load(io.BytesIO(content), Loader=DataLoader)  # a SafeLoader
            value = {} if value is None else value
        if _json_compatible(value):
            return value
        reason = "holds values that are not JSON (sets, binary, non-string keys or NaN)"
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise BundleFormatError(f"{name} is not valid data: {reason}")


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


# --- manifest and roots -----------------------------------------------------------------------


def root_segments(root: str) -> tuple[str, ...]:
    """`"a/b"` -> ("a", "b"); the empty root `""` (everything) -> ()."""
    trimmed = root.strip("/")
    return tuple(trimmed.split("/")) if trimmed else ()


def _is_prefix(prefix: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return path[: len(prefix)] == prefix


@dataclass(frozen=True)
class Manifest:
    """The `.manifest` of a bundle: revision, roots (owned paths under `data`), metadata."""

    revision: str = ""
    roots: tuple[str, ...] = ("",)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The manifest file as `opa build` writes it (compact, fields in OPA's order)."""
        document: dict[str, Any] = {"revision": self.revision, "roots": list(self.roots)}
        if self.metadata:
            document["metadata"] = self.metadata
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    def contains(self, path: tuple[str, ...]) -> bool:
        """Whether `path` (under `data`) lies under one of the roots."""
        return any(_is_prefix(root_segments(root), path) for root in self.roots)


def parse_manifest(content: bytes) -> Manifest:
    """Validate a `.manifest`: a JSON object with string revision, non-overlapping roots."""
    try:
        document = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise BundleFormatError(f"{MANIFEST} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BundleFormatError(f"{MANIFEST} must be a JSON object")
    revision = document.get("revision", "")
    roots = document.get("roots", [""])
    metadata = document.get("metadata", {})
    if not isinstance(revision, str):
        raise BundleFormatError(f"{MANIFEST}: revision must be a string")
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise BundleFormatError(f"{MANIFEST}: roots must be a list of strings")
    if not isinstance(metadata, dict):
        raise BundleFormatError(f"{MANIFEST}: metadata must be an object")
    normalised = [r.strip("/") for r in roots]
    for index, first in enumerate(normalised):
        for second in normalised[index + 1 :]:
            a, b = root_segments(first), root_segments(second)
            if _is_prefix(a, b) or _is_prefix(b, a):
                raise BundleFormatError(f"{MANIFEST}: roots {first!r} and {second!r} overlap")
    return Manifest(revision=revision, roots=tuple(normalised), metadata=metadata)


def _check_data_roots(manifest: Manifest, path: tuple[str, ...], value: Any, name: str) -> None:
    """OPA's rule: data must lie under a root; an object above a root is searched inside."""
    if manifest.contains(path):
        return
    if isinstance(value, dict) and any(
        _is_prefix(path, root_segments(root)) for root in manifest.roots
    ):
        for key, item in value.items():
            _check_data_roots(manifest, (*path, key), item, name)
        return
    where = "data." + ".".join(path) if path else "data"
    raise BundleFormatError(
        f"{name}: {where} lies outside the manifest roots {list(manifest.roots)}"
    )


# --- Rego modules (read, never parsed: that happens in the engine's child process) ------------

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PACKAGE_REF = re.compile(rf'({_IDENT})((?:\.{_IDENT}|\["[^"\\]*"\])*)')
_PACKAGE_LINE = re.compile(r"package\s+(.+?)\s*(?:#.*)?")
_REF_SEGMENT = re.compile(rf'\.({_IDENT})|\["([^"\\]*)"\]')
_KEYWORDS = frozenset(
    {"package", "import", "default", "else", "some", "every", "not", "with", "as", "if"}
)
_RULE_HEAD = re.compile(rf"^(?:default\s+)?({_IDENT}(?:\.{_IDENT})*)[ \t]*(\()?", re.M)


def module_package(name: str, text: str) -> tuple[str, ...]:
    """The package path of a module (`package a.b["c-d"]` -> ("a", "b", "c-d")).

    Only comments may come before the package line; a module without one is refused here,
    since its roots cannot be checked (the engine reports every other syntax error).
    """
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        declared = _PACKAGE_LINE.fullmatch(stripped)
        ref = _PACKAGE_REF.fullmatch(declared.group(1)) if declared else None
        if ref is None:
            break
        rest = [a or b for a, b in _REF_SEGMENT.findall(ref.group(2))]
        return (ref.group(1), *rest)
    raise BundleFormatError(f"{name}: does not start with a package declaration")


def module_rules(text: str) -> list[str]:
    """Names of the rules a module defines (heads that start a line; functions excluded)."""
    rules: dict[str, None] = {}
    for head in _RULE_HEAD.finditer(text):
        rule, is_function = head.group(1), head.group(2)
        if not is_function and rule.split(".")[0] not in _KEYWORDS:
            rules[rule] = None
    return list(rules)


# --- assembling a policy source ---------------------------------------------------------------


def files_digest(files: BundleFiles) -> str:
    """A short digest of names and contents: the revision of a bundle that names none."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()[:12]


def source_from_files(
    files: BundleFiles, *, include_tests: bool = True, require_manifest: bool = False
) -> PolicySource:
    """Validate bundle files against their manifest and assemble the engine's input.

    Test modules are validated (packages under the roots) even when `include_tests` is false,
    so a bundle is equally valid however it is served. A bundle without a revision gets
    `dev-<digest>`.
    """
    if MANIFEST in files:
        manifest = parse_manifest(files[MANIFEST])
    elif require_manifest:
        raise BundleFormatError(f"{MANIFEST} is missing (a published bundle needs one)")
    else:
        manifest = Manifest()
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in sorted(files):
        content = files[name]
        kind = file_kind(name)
        if kind == "rego":
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                raise BundleFormatError(f"{name} is not UTF-8 text") from None
            package = module_package(name, text)
            if not manifest.contains(package):
                raise BundleFormatError(
                    f"{name}: package data.{'.'.join(package)} lies outside the manifest "
                    f"roots {list(manifest.roots)}"
                )
            if file_kind(name, include_tests) == "rego":
                modules[name] = text
        elif kind == "data":
            path = PurePosixPath(name).parts[:-1]
            value = parse_data(name, content)
            _check_data_roots(manifest, path, value, name)
            _merge(data, path, value, name)
    return PolicySource(
        modules=modules,
        data=data,
        revision=manifest.revision or f"dev-{files_digest(files)}",
        roots=manifest.roots,
        metadata=manifest.metadata,
    )

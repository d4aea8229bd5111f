"""Build an OPA bundle from a policy directory: the files the PDP serves, a manifest, a signature.

The file selection is the loader's (`file_kind`): `.rego` (tests only when asked), `data.json`
and `data.yaml` files, no hidden files, no decision tables (`*.cases.yaml|json`). A `.manifest`
in the directory supplies defaults (revision, roots, metadata) that flags override. The result
is validated like any pushed bundle before it is written, so a bundle that builds also loads.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from pdp.bundles.archive import (
    MANIFEST,
    SIGNATURES,
    BundleFiles,
    BundleFormatError,
    Manifest,
    file_kind,
    module_package,
    parse_data,
    parse_manifest,
    source_from_files,
    write_archive,
)
from pdp.bundles.loader import read_directory
from pdp.bundles.signing import sign_files


@dataclass(frozen=True)
class SigningKey:
    """A private key (PEM) to sign with, the key id verifiers look it up by, and the JWS alg."""

    pem: bytes
    key_id: str
    algorithm: str = "RS256"


def default_revision(directory: Path, now: datetime | None = None) -> str:
    """The git commit of `directory` when it is in a work tree, else a UTC timestamp."""
    try:
        completed = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if completed.returncode == 0 and completed.stdout.strip():
            return completed.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def default_roots(files: BundleFiles) -> tuple[str, ...]:
    """The top-level names the bundle defines (first package segments, top-level data keys).

    Narrow roots let a bundle share `data` with others (OPA's multi-bundle ownership); a
    bundle that defines nothing owns everything (`""`).
    """
    roots: set[str] = set()
    for name, content in files.items():
        kind = file_kind(name)
        if kind == "rego":
            roots.add(module_package(name, content.decode("utf-8", "replace"))[0])
        elif kind == "data":
            path = PurePosixPath(name).parts[:-1]
            value = parse_data(name, content)
            if path:
                roots.add(path[0])
            elif isinstance(value, dict):
                roots.update(value)
    return tuple(sorted(roots)) or ("",)


def build_bundle(
    directory: Path,
    *,
    revision: str | None = None,
    roots: tuple[str, ...] | None = None,
    include_tests: bool = False,
    signing: SigningKey | None = None,
) -> bytes:
    """The `.tar.gz` bytes of a bundle of `directory`; BundleFormatError when it is invalid."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleFormatError(f"{directory}: not a directory")
    files = read_directory(directory, include_tests=include_tests)
    existing = parse_manifest(files.pop(MANIFEST)) if MANIFEST in files else None
    if not files:
        raise BundleFormatError(f"{directory}: no .rego or data files to bundle")
    written = Manifest(
        revision=revision or (existing.revision if existing else "") or default_revision(directory),
        roots=roots or (existing.roots if existing else default_roots(files)),
        metadata=existing.metadata if existing else {},
    )
    # Read back what is written: roots normalised, overlaps refused, every file under them.
    files[MANIFEST] = parse_manifest(written.to_json()).to_json()
    source_from_files(files, require_manifest=True)
    if signing is not None:
        files[SIGNATURES] = sign_files(files, signing.pem, signing.key_id, signing.algorithm)
    return write_archive(files)

"""What a bundle holds, for `pdp bundle inspect`: manifest, files, signature, entrypoints."""

from __future__ import annotations

import json
import re
from typing import Any

from pdp.bundles.archive import (
    DEFAULT_MAX_BYTES,
    MANIFEST,
    file_kind,
    module_package,
    module_rules,
    parse_manifest,
    read_archive,
    source_from_files,
)
from pdp.bundles.signing import bundle_digest, file_digest, verify_files

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def data_ref(path: tuple[str, ...]) -> str:
    """`("authz", "decision")` -> `data.authz.decision`; other segments in brackets."""
    return "data" + "".join(
        f".{part}" if _IDENT.fullmatch(part) else f"[{json.dumps(part)}]" for part in path
    )


def inspect_bundle(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """A JSON-ready description of a bundle archive; BundleFormatError if it is invalid.

    The signature is reported, not verified ("unsigned" or "signed_unverified" with its key
    id): `pdp bundle verify` checks it. Rules are found by their heads (a line that starts
    with the rule name), which is how every formatted Rego file is written.
    """
    files = read_archive(data, max_bytes=max_bytes)
    source = source_from_files(files)
    packages: dict[str, dict[str, Any]] = {}
    for name in sorted(files):
        if file_kind(name) != "rego":
            continue
        text = files[name].decode("utf-8")
        package = module_package(name, text)
        entry = packages.setdefault(data_ref(package), {"files": [], "rules": []})
        entry["files"].append(name)
        entry["rules"].extend(r for r in module_rules(text) if r not in entry["rules"])
    entrypoints = sorted(
        f"{package}.{rule}"
        for package, entry in packages.items()
        for rule in entry["rules"]
        if not rule.startswith("test_")
    )
    manifest = parse_manifest(files[MANIFEST]) if MANIFEST in files else None
    return {
        "digest": bundle_digest(data),
        "size": len(data),
        "revision": source.revision,
        "roots": list(source.roots),
        "manifest": None
        if manifest is None
        else {
            "revision": manifest.revision,
            "roots": list(manifest.roots),
            "metadata": manifest.metadata,
        },
        "files": [
            {"name": name, "size": len(content), "hash": file_digest(name, content)}
            for name, content in sorted(files.items())
        ],
        "signature": verify_files(files, {}).to_dict(),
        "packages": [{"package": package, **entry} for package, entry in sorted(packages.items())],
        "entrypoints": entrypoints,
    }

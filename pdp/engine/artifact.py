"""The one way a compiled bundle is saved and loaded again: the artifact the PDP serves.

rego-cpp's binary format corrupts `sprintf("%s", [s])` for strings from the bundle's data
once saved and loaded (regopy 1.5.2), so the PDP saves the JSON format: a directory
(`plan.json`, `data.json`). The child proves the loaded form decides like the compiled one
(see `pdp.engine._child`); the serving process writes the same files back and loads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regopy import BundleFormat, Interpreter

# The format the PDP serves. "binary" exists only so the tests can prove the guard refuses
# the artifact of a defective round trip: `compile_policy(..., artifact_format="binary")`,
# or this variable for a whole process (`pdp test`, `pdp serve`); never set it otherwise.
SERVED_FORMAT = "json"
TEST_FORMAT_VARIABLE = "PDP_TEST_ARTIFACT_FORMAT"
_FORMATS = {"json": BundleFormat.JSON, "binary": BundleFormat.Binary}
_BINARY_FILE = "bundle.rbb"


def _target(directory: Path, artifact_format: str) -> str:
    """What regopy reads and writes: the directory itself (JSON) or one file in it (binary)."""
    return str(directory if artifact_format == "json" else directory / _BINARY_FILE)


def check_format(artifact_format: str) -> str:
    """`artifact_format` if regopy has it; a mistyped test seam must not fall back silently."""
    if artifact_format not in _FORMATS:
        raise ValueError(f"unknown artifact format {artifact_format!r}")
    return artifact_format


def save(interpreter: Interpreter, bundle: Any, directory: Path, artifact_format: str) -> None:
    """Save a built bundle into `directory` (created; it must not exist yet for JSON)."""
    if artifact_format != "json":
        directory.mkdir(parents=True)
    interpreter.save_bundle(_target(directory, artifact_format), bundle, _FORMATS[artifact_format])


def load(directory: Path, artifact_format: str) -> tuple[Interpreter, Any]:
    """A fresh interpreter and the bundle loaded from `directory`; raises if regopy refuses it."""
    interpreter = Interpreter()
    bundle = interpreter.load_bundle(_target(directory, artifact_format), _FORMATS[artifact_format])
    if not bundle.ok():
        raise RuntimeError("regopy rejected the saved bundle")
    return interpreter, bundle


def read_files(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by path relative to it, to carry the artifact in memory."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def write_files(files: Mapping[str, bytes], directory: Path) -> None:
    """Write an artifact read by `read_files` back under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)

"""What the engine compiles (a policy source) and what it produces (a compiled policy)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class PolicySource:
    """Rego modules (file name -> text) and base data, with the bundle's manifest facts."""

    modules: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)
    revision: str = ""
    roots: tuple[str, ...] = ("",)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy compiled in a child process and proven there to decide, once saved and loaded,
    as it did in memory; `artifact` is that saved bundle's files (relative path -> bytes),
    in `artifact_format` (see `pdp.engine.artifact`)."""

    source: PolicySource
    entrypoints: tuple[str, ...]
    artifact: Mapping[str, bytes]
    artifact_format: str
    compile_seconds: float

    @property
    def revision(self) -> str:
        return self.source.revision


def entrypoint_path(ref: str) -> str:
    """Normalise `data.authz.decision`, `authz.decision` or `authz/decision` to `authz/decision`.

    regopy names entrypoints `pkg/path/rule`; callers use OPA's dotted references or URL paths.
    """
    text = ref.strip()
    if text.startswith("data."):
        text = text[len("data.") :]
    text = text.strip("/")
    segments = text.replace("/", ".").split(".")
    if len(segments) < 2 or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise ValueError(f"malformed entrypoint {ref!r}: expected e.g. data.authz.decision")
    return "/".join(segments)

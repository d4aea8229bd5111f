"""Evaluate a compiled policy from many threads, one regopy interpreter per thread.

An Interpreter must not be shared between threads; regopy's ctypes calls release the GIL,
so per-thread interpreters evaluate in parallel on several cores.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

from regopy import Interpreter

from pdp.engine import artifact
from pdp.engine.errors import CompileError, EvaluationError, Problem
from pdp.engine.native import query
from pdp.engine.source import CompiledPolicy, entrypoint_path


class _Undefined:
    """The type of UNDEFINED: the queried document has no value for this input."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()


class Evaluator:
    """Serves one compiled policy; thread-safe, interpreters are created lazily per thread."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.revision: str = compiled.revision
        self.entrypoints: tuple[str, ...] = compiled.entrypoints
        # load_bundle reads files; each thread loads its own copy of the bundle from them,
        # by the same path the child proved decides like the compiled policy.
        workdir = tempfile.mkdtemp(prefix="pdp-bundle-")
        self._finalizer = weakref.finalize(self, shutil.rmtree, workdir, True)
        self._artifact = Path(workdir, "artifact")
        artifact.write_files(compiled.artifact, self._artifact)
        self._local = threading.local()
        try:
            self._thread_state()
        except Exception as exc:
            problem = Problem(None, None, None, f"compiled bundle could not be loaded: {exc}")
            raise CompileError([problem]) from exc

    def _thread_state(self) -> tuple[Interpreter, Any]:
        state = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = artifact.load(self._artifact, self.compiled.artifact_format)
        return state

    def evaluate(self, entrypoint: str, input: dict[str, Any]) -> Any:
        """The entrypoint's JSON value for `input`, or UNDEFINED; only EvaluationError escapes."""
        try:
            path = entrypoint_path(entrypoint)
        except ValueError:
            raise EvaluationError(
                "unknown_entrypoint", f"malformed entrypoint {entrypoint!r}"
            ) from None
        if path not in self.entrypoints:
            raise EvaluationError("unknown_entrypoint", f"entrypoint {path} is not compiled")
        try:
            interpreter, bundle = self._thread_state()
            status, value = query(interpreter, bundle, path, input)
        except Exception as exc:
            raise EvaluationError("engine_error", f"evaluation of {path} failed: {exc}") from exc
        if status == "error":
            raise EvaluationError("engine_error", value)
        return UNDEFINED if status == "undefined" else value

"""Compile a policy source in a child process, so a crashing policy never takes the PDP down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pdp.engine import artifact
from pdp.engine.errors import CompileError, Problem
from pdp.engine.source import CompiledPolicy, PolicySource, entrypoint_path

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The command that runs one child task; its last argument is the request file.
CHILD_COMMAND: tuple[str, ...] = (sys.executable, "-m", "pdp.engine._child")


def _crash_reason(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_child(request: dict[str, Any], *, action: str, timeout: float) -> dict[str, Any]:
    """Run one child task; its answer, or CompileError on a refusal, crash or timeout.

    `action` names what the child was doing, for the refusal message ("compiling").
    """
    with tempfile.TemporaryDirectory(prefix="pdp-engine-") as workdir:
        request_path = Path(workdir, "request.json")
        result_path = Path(workdir, "result.json")
        artifact_dir = Path(workdir, "artifact")
        request = {**request, "result": str(result_path), "artifact": str(artifact_dir)}
        request_path.write_text(json.dumps(request), encoding="utf-8")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH")) if p
        )
        try:
            completed = subprocess.run(
                [*CHILD_COMMAND, str(request_path)],
                capture_output=True,
                timeout=timeout,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            message = f"engine timed out after {timeout:g}s while {action}"
            raise CompileError([Problem(None, None, None, message)]) from None
        tail = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        detail = f": {tail[0]}" if tail else ""
        if completed.returncode < 0:
            reason = _crash_reason(completed.returncode)
            message = f"engine crashed ({reason}) while {action}{detail}"
            raise CompileError([Problem(None, None, None, message)])
        if completed.returncode != 0 or not result_path.exists():
            message = f"engine failed (exit {completed.returncode}) while {action}{detail}"
            raise CompileError([Problem(None, None, None, message)])
        answer: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        if not answer["ok"]:
            raise CompileError([Problem(**p) for p in answer["problems"]])
        if artifact_dir.exists():
            answer["artifact"] = artifact.read_files(artifact_dir)
        return answer


def compile_policy(
    source: PolicySource,
    entrypoints: Sequence[str],
    *,
    smoke_inputs: Sequence[dict[str, Any]] = ({},),
    compare_inputs: Sequence[tuple[str, dict[str, Any]]] = (),
    tests: tuple[PolicySource, Sequence[str]] | None = None,
    timeout: float = 60.0,
    artifact_format: str | None = None,
) -> CompiledPolicy:
    """Compile `source` in a child and return the artifact the serving process loads.

    The child refuses the bundle when an entrypoint errors on a smoke input, or when the
    saved-and-loaded artifact answers any entrypoint on any smoke input or `compare_inputs`
    (`(label, input)`, e.g. the inputs of decision tables) otherwise than the in-memory
    build. `tests` is the same policy with its test modules and its test entrypoints: each
    test rule must also give the saved-and-loaded set what it gives the build.
    `artifact_format` (default: `PDP_TEST_ARTIFACT_FORMAT`, else JSON) is a test seam: only
    the tests ask for "binary", to prove the guard refuses a defective round trip.
    """
    chosen = artifact.check_format(
        artifact_format or os.environ.get(artifact.TEST_FORMAT_VARIABLE) or artifact.SERVED_FORMAT
    )
    paths = tuple(dict.fromkeys(entrypoint_path(e) for e in entrypoints))
    if not paths:
        raise ValueError("compile_policy needs at least one entrypoint")
    started = time.perf_counter()
    answer = run_child(
        {
            "task": "compile",
            "modules": source.modules,
            "data": source.data,
            "entrypoints": list(paths),
            "smoke_inputs": list(smoke_inputs),
            "compare_inputs": [{"label": label, "input": value} for label, value in compare_inputs],
            "artifact_format": chosen,
            "test_modules": tests[0].modules if tests else {},
            "test_entrypoints": [entrypoint_path(e) for e in tests[1]] if tests else [],
        },
        action="compiling",
        timeout=timeout,
    )
    return CompiledPolicy(
        source=source,
        entrypoints=paths,
        artifact=answer["artifact"],
        artifact_format=chosen,
        compile_seconds=time.perf_counter() - started,
    )

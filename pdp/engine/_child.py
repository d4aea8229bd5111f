"""The child process that compiles, smoke-tests, checks and test-runs Rego.

rego-cpp can crash the whole process on some policies, so everything that touches new Rego
runs here: `python -m pdp.engine._child REQUEST.json`. The request names a result file; the
child writes its answer there as JSON. The native library prints diagnostics on stdout, which
the parent captures and ignores.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from regopy import Interpreter, RegoError

from pdp.engine import artifact
from pdp.engine.native import parse_errors, problem, query

# A built or loaded bundle and the interpreter that evaluates it.
Built = tuple[Interpreter, Any]
# How many characters of a value a refusal quotes.
_QUOTED = 300


def _build(request: dict[str, Any], entrypoints: list[str]) -> Built:
    """Build the request's modules and data in memory."""
    modules: dict[str, str] = request["modules"]
    interpreter = Interpreter()
    if request.get("data"):
        interpreter.add_data(request["data"])
    problems: list[dict[str, Any]] = []
    for name, text in modules.items():
        try:
            interpreter.add_module(name, text)
        except RegoError as exc:
            problems.extend(parse_errors(str(exc), modules))
    if problems:
        raise _Refused(problems)
    try:
        bundle = interpreter.build(None, entrypoints)
    except RegoError as exc:
        raise _Refused(parse_errors(str(exc), modules)) from None
    return interpreter, bundle


def _round_trip(built: Built, directory: Path, artifact_format: str) -> Built:
    """Save the built bundle and load it again, exactly as the serving process loads it."""
    try:
        artifact.save(*built, directory, artifact_format)
        return artifact.load(directory, artifact_format)
    except (RegoError, RuntimeError) as exc:
        reason = parse_errors(str(exc), {})[0]["message"]
        message = (
            "the engine cannot save and load this bundle in the form the PDP serves"
            f" (an engine limit): {reason}; see policies/README.md"
        )
        raise _Refused([problem(None, None, None, message)]) from None


class _Refused(Exception):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems)
        self.problems = problems


def _smoke(built: Built, entrypoints: list[str], inputs: list[Any]) -> None:
    """Refuse a bundle whose entrypoints fail on the PDP's own smoke inputs."""
    problems = []
    for number, smoke_input in enumerate(inputs):
        for entrypoint in entrypoints:
            status, detail = query(*built, entrypoint, smoke_input)
            if status == "error":
                message = f"compiled bundle: smoke input #{number} on {entrypoint}: {detail}"
                problems.append(problem(None, None, None, message))
    if problems:
        raise _Refused(problems)


def _shown(result: tuple[str, Any]) -> str:
    status, value = result
    if status == "undefined":
        text = "undefined"
    elif status == "error":
        text = f"an error ({value})"
    else:
        text = json.dumps(value, sort_keys=True)
    return text if len(text) <= _QUOTED else text[:_QUOTED] + "..."


def differences(
    compiled: Built,
    loaded: Built,
    entrypoints: Sequence[str],
    inputs: Sequence[tuple[str, Any]],
) -> list[dict[str, Any]]:
    """Every (entrypoint, input) on which `loaded` answers otherwise than `compiled`.

    Results are compared as JSON text (value, undefined, or error and its message), so
    `1` and `1.0` or `true` and `1` differ. Each input is `(label, value)`, the label naming
    it in the refusal (`smoke input #0`).
    """
    problems = []
    for label, value in inputs:
        for entrypoint in entrypoints:
            expected = query(*compiled, entrypoint, value)
            actual = query(*loaded, entrypoint, value)
            if _canonical(expected) != _canonical(actual):
                problems.append(
                    problem(
                        None,
                        None,
                        None,
                        "the engine decides differently once this bundle is saved and loaded"
                        f" (an engine defect): data.{entrypoint.replace('/', '.')} on {label}"
                        f" gave {_shown(expected)} in memory and {_shown(actual)} loaded;"
                        " see policies/README.md",
                    )
                )
    return problems


def _canonical(result: tuple[str, Any]) -> tuple[str, str]:
    return result[0], json.dumps(result[1], sort_keys=True)


def compile_task(request: dict[str, Any]) -> dict[str, Any]:
    """Build and smoke-evaluate, save the artifact the PDP serves, load it again and prove it
    decides like the build: every entrypoint on every smoke and compare input.

    With `test_modules` (the policy with its `*_test.rego`), the Rego tests get the same
    proof: that set is saved and loaded by the same path, and each test rule must give the
    loaded form what it gives the build (`pdp.engine.testing` reports pass or fail). The
    served artifact is left at `request["artifact"]` for the parent to carry to the server.
    """
    entrypoints: list[str] = request["entrypoints"]
    smoke_inputs: list[Any] = request["smoke_inputs"]
    artifact_format = artifact.check_format(request.get("artifact_format", artifact.SERVED_FORMAT))
    compiled = _build(request, entrypoints)
    _smoke(compiled, entrypoints, smoke_inputs)
    loaded = _round_trip(compiled, Path(request["artifact"]), artifact_format)
    inputs = [(f"smoke input #{n}", value) for n, value in enumerate(smoke_inputs)]
    inputs += [(item["label"], item["input"]) for item in request.get("compare_inputs", [])]
    problems = differences(compiled, loaded, entrypoints, inputs)
    tests: list[str] = request.get("test_entrypoints", [])
    if tests and not problems:
        tested = _build({"modules": request["test_modules"], "data": request.get("data")}, tests)
        with tempfile.TemporaryDirectory(prefix="pdp-tested-") as workdir:
            tested_loaded = _round_trip(tested, Path(workdir, "bundle"), artifact_format)
        problems = differences(tested, tested_loaded, tests, [("an empty input (a Rego test)", {})])
    if problems:
        raise _Refused(problems)
    return {"ok": True}


def _progress(request: dict[str, Any]) -> TextIO | None:
    """The file a test run reports to line by line, so a crash loses only the test it hit."""
    path = request.get("progress")
    return open(path, "a", encoding="utf-8") if path else None


def test_task(request: dict[str, Any]) -> dict[str, Any]:
    """Evaluate every test rule with an empty input; true passes, anything else fails.

    With a `progress` file, the child writes `{"built": true}` once the tests compiled and then
    one line per finished test, so the parent can tell which test took the engine down.
    """
    tests: list[dict[str, str]] = request["tests"]
    interpreter, bundle = _build(request, [t["entrypoint"] for t in tests])
    progress = _progress(request)
    try:
        if progress is not None:
            progress.write(json.dumps({"built": True}) + "\n")
            progress.flush()
        results = []
        for test in tests:
            started = time.perf_counter()
            status, value = query(interpreter, bundle, test["entrypoint"], {})
            result = {
                "entrypoint": test["entrypoint"],
                "passed": status == "ok" and value is True,
                "error": value if status == "error" else None,
                "actual": "undefined" if status == "undefined" else json.dumps(value),
                "duration_seconds": time.perf_counter() - started,
            }
            results.append(result)
            if progress is not None:
                progress.write(json.dumps(result) + "\n")
                progress.flush()
    finally:
        if progress is not None:
            progress.close()
    return {"ok": True, "results": results}


def evaluate_task(request: dict[str, Any]) -> dict[str, Any]:
    """Build the modules and data in memory and evaluate one entrypoint on one input: the
    console's playground, whose policy is nobody's bundle and may crash the engine."""
    built = _build(request, [request["entrypoint"]])
    status, value = query(*built, request["entrypoint"], request["input"])
    return {"ok": True, "status": status, "value": value}


def _rules_task(request: dict[str, Any]) -> dict[str, Any]:
    """Compile every rule and evaluate each but the tests (marked `skip`) once."""
    rules: list[dict[str, Any]] = request["rules"]
    interpreter, bundle = _build(request, [r["entrypoint"] for r in rules])
    problems = []
    for rule in (r for r in rules if not r["skip"]):
        inputs = [{}] + ([request["smoke_input"]] if rule.get("smoke") else [])
        for number, rule_input in enumerate(inputs):
            status, detail = query(interpreter, bundle, rule["entrypoint"], rule_input)
            if status == "error":
                what = "the smoke input" if number else "an empty input"
                message = f"evaluating {rule['name']} with {what} failed: {detail}"
                problems.append(problem(rule["file"], rule["line"], rule["col"], message))
    return {"ok": not problems, "problems": problems}


def _forked(request: dict[str, Any]) -> dict[str, Any] | str:
    """`_rules_task` in a forked copy of this process: its answer, or the signal that killed it."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        with os.fdopen(writer, "w", encoding="utf-8") as pipe:
            json.dump(_answer(_rules_task, request), pipe)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, encoding="utf-8") as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return signal.Signals(os.WTERMSIG(status)).name
    answer: dict[str, Any] = json.loads(text)
    return answer


def check_task(request: dict[str, Any]) -> dict[str, Any]:
    """Compile every rule and evaluate each (tests aside) with an empty input.

    rego-cpp only resolves what an entrypoint reaches, and reports an unknown function only
    when it is called, so every rule is an entrypoint and each is evaluated once. The decision
    entrypoint, when the policy has one, is also evaluated with the PDP's smoke input.
    Valid tests can abort rego-cpp's compiler (`with input as` over rules that call
    functions), so the check runs in a fork; if that crashed, it runs again without the
    modules that hold tests, and says so. Problems are collected, not raised.
    """
    answer = _forked(request)
    if isinstance(answer, dict):
        return answer
    rules: list[dict[str, Any]] = request["rules"]
    test_files = {r["file"] for r in rules if r["skip"]}
    modules = {f: t for f, t in request["modules"].items() if f not in test_files}
    kept = [r for r in rules if r["file"] not in test_files]
    rest = _answer(_rules_task, {**request, "modules": modules, "rules": kept})
    message = (
        f"compiling the policy set with its tests crashed the engine ({answer}): the rest was"
        " checked without the modules that hold tests, and `pdp test` will fail"
    )
    crash = {**problem(None, None, None, message), "severity": "warning"}
    return {"ok": False, "problems": [crash, *rest["problems"]]}


def _answer(task: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The task's answer; a refusal or an engine error as an answer with its problems."""
    try:
        answer: dict[str, Any] = task(request)
    except _Refused as exc:
        answer = {"ok": False, "problems": exc.problems}
    except RegoError as exc:
        answer = {"ok": False, "problems": parse_errors(str(exc), request["modules"])}
    return answer


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    tasks = {
        "compile": compile_task,
        "test": test_task,
        "check": check_task,
        "evaluate": evaluate_task,
    }
    task = tasks[request["task"]]
    answer = _answer(task, request)
    with open(request["result"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

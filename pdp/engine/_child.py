"""The child process that compiles, smoke-tests, checks and test-runs Rego.

rego-cpp can crash the whole process on some policies, so everything that touches new Rego
runs here: `python -m pdp.engine._child REQUEST.json`. The request names a result file; the
child writes its answer there as JSON. The native library prints diagnostics on stdout, which
the parent captures and ignores.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from regopy import BundleFormat, Interpreter, RegoError

from pdp.engine.native import parse_errors, problem, query


def _build(request: dict[str, Any], entrypoints: list[str]) -> tuple[Interpreter, Any]:
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


class _Refused(Exception):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(problems)
        self.problems = problems


def _smoke(
    interpreter: Interpreter, bundle: Any, entrypoints: list[str], inputs: list[Any], stage: str
) -> None:
    problems = []
    for number, smoke_input in enumerate(inputs):
        for entrypoint in entrypoints:
            status, detail = query(interpreter, bundle, entrypoint, smoke_input)
            if status == "error":
                message = f"{stage}: smoke input #{number} on {entrypoint}: {detail}"
                problems.append(problem(None, None, None, message))
    if problems:
        raise _Refused(problems)


def compile_task(request: dict[str, Any]) -> dict[str, Any]:
    """Build and smoke-evaluate, then save the binary bundle and smoke it again as loaded.

    The second round checks the very artifact the serving process will load.
    """
    entrypoints: list[str] = request["entrypoints"]
    inputs: list[Any] = request["smoke_inputs"]
    builder, bundle = _build(request, entrypoints)
    _smoke(builder, bundle, entrypoints, inputs, "compiled bundle")
    try:
        builder.save_bundle(request["artifact"], bundle, BundleFormat.Binary)
        server = Interpreter()
        loaded = server.load_bundle(request["artifact"], BundleFormat.Binary)
    except RegoError as exc:
        message = f"saving the compiled bundle failed: {parse_errors(str(exc), {})[0]['message']}"
        raise _Refused([problem(None, None, None, message)]) from None
    _smoke(server, loaded, entrypoints, inputs, "saved bundle")
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


def check_task(request: dict[str, Any]) -> dict[str, Any]:
    """Compile every rule and evaluate each (tests, marked `skip`, aside) with an empty input.

    rego-cpp only resolves what an entrypoint reaches, and reports an unknown function only
    when it is called, so every rule is an entrypoint and each is evaluated once. The decision
    entrypoint, when the policy has one, is also evaluated with the PDP's smoke input.
    Problems are collected, not raised: a check reports all of them.
    """
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


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    task = {"compile": compile_task, "test": test_task, "check": check_task}[request["task"]]
    try:
        answer = task(request)
    except _Refused as exc:
        answer = {"ok": False, "problems": exc.problems}
    except RegoError as exc:
        answer = {"ok": False, "problems": parse_errors(str(exc), request["modules"])}
    with open(request["result"], "w", encoding="utf-8") as handle:
        json.dump(answer, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Glue over regopy: evaluate one entrypoint safely, and read rego-cpp's error trees."""

from __future__ import annotations

import json
import re
from typing import Any

from regopy import Interpreter
from regopy.rego_shared import (
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_get_error,
    rego_output_ok,
    rego_output_string,
)

# rego-cpp error nodes look like `(error 8:bad.rego|36|2 (errormsg 27:Invalid ...) ...)`:
# length-prefixed file name, then byte offset and length of the offending source span.
_ERROR_LOCATED = re.compile(rb"\(error (\d+):")
_ERRORMSG = re.compile(rb"\(errormsg (\d+):")
_SPAN = re.compile(rb"\|(\d+)\|(\d+)")


def problem(file: str | None, line: int | None, col: int | None, message: str) -> dict[str, Any]:
    return {"file": file, "line": line, "col": col, "message": message}


def _line_col(source: str, offset: int) -> tuple[int, int]:
    prefix = source.encode("utf-8")[:offset]
    line = prefix.count(b"\n") + 1
    col = len(prefix) - (prefix.rfind(b"\n") + 1) + 1
    return line, col


def _take(raw: bytes, match: re.Match[bytes]) -> str:
    """Read the length-prefixed string that follows `match`."""
    size = int(match.group(1))
    return raw[match.end() : match.end() + size].decode("utf-8", "replace")


def parse_errors(text: str, modules: dict[str, str]) -> list[dict[str, Any]]:
    """Turn a rego-cpp error tree into located problems (file:line:col where known)."""
    raw = text.encode("utf-8")
    problems = []
    starts = [m.start() for m in re.finditer(rb"\(error[ \n]", raw)]
    for index, start in enumerate(starts):
        chunk = raw[start : starts[index + 1] if index + 1 < len(starts) else len(raw)]
        msg_match = _ERRORMSG.search(chunk)
        if msg_match is None:
            continue
        message = _take(chunk, msg_match)
        file = line = col = None
        head = _ERROR_LOCATED.match(chunk)
        if head is not None:
            file = _take(chunk, head)
            span = _SPAN.match(chunk, head.end() + int(head.group(1)))
            if span is not None and file in modules:
                line, col = _line_col(modules[file], int(span.group(1)))
        problems.append(problem(file, line, col, message))
    if not problems:
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "compile error")
        problems.append(problem(None, None, None, first))
    return problems


def query(interpreter: Interpreter, bundle: Any, entrypoint: str, value: Any) -> tuple[str, Any]:
    """Evaluate one entrypoint: ("ok", value), ("undefined", None) or ("error", message).

    Uses the C calls directly: regopy's Output wrapper parses the JSON a second time, raises
    on outputs that are not JSON (an unknown function yields an error tree there) and reads
    the JSON of failed outputs, which segfaults rego-cpp (e.g. a local variable shadowing
    the `bits` built-in namespace). A failed output's message is the interpreter's error.
    """
    # The JSON text is parsed inside rego-cpp with the GIL released. `set_input(dict)` is
    # quicker on one thread but builds the input node by node through ctypes holding the
    # GIL, which under concurrent load cost about a fifth of /decide's throughput
    # (docs/performance.md).
    interpreter.set_input_term(json.dumps(value))
    impl = rego_bundle_query_entrypoint(interpreter._impl, bundle._impl, entrypoint)
    try:
        if not rego_output_ok(impl):
            return "error", rego_get_error(interpreter._impl).strip() or "evaluation failed"
        text = rego_output_string(impl)
    finally:
        rego_free_output(impl)
    if text == "undefined":
        return "undefined", None
    try:
        return "ok", json.loads(text)["expressions"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        messages = [p["message"] for p in parse_errors(text, {})]
        return "error", "; ".join(messages)

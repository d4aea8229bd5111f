"""Glue over regopy: evaluate one entrypoint safely, and read rego-cpp's error trees."""

from __future__ import annotations

import ctypes
import json
import re
from typing import Any

from regopy import Interpreter, RegoError
from regopy.rego_shared import rego, rego_bundle_query_entrypoint, rego_get_error

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


_INT64 = range(-(2**63), 2**63)


def _quick_calls() -> ctypes.PyDLL:
    """rego-cpp's short calls (building and setting the input, reading the output), bound so
    they keep the GIL: each takes microseconds, and releasing the GIL around each of the
    dozens per evaluation let every other thread take it (the decision workers contend for
    it on every call). Only the evaluation itself releases it."""
    library = ctypes.PyDLL(rego._name)
    handle, text, count = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint32
    signatures = {
        "regoSetInput": (count, [handle, handle]),
        "regoFreeInput": (None, [handle]),
        "regoOutputOk": (ctypes.c_bool, [handle]),
        "regoOutputJSONSize": (count, [handle]),
        "regoOutputJSON": (count, [handle, ctypes.c_char_p, count]),
        "regoFreeOutput": (None, [handle]),
        "regoNewInput": (handle, []),
        "regoInputString": (count, [handle, text]),
        "regoInputInt": (count, [handle, ctypes.c_int64]),
        "regoInputBoolean": (count, [handle, ctypes.c_bool]),
        "regoInputNull": (count, [handle]),
        "regoInputObjectItem": (count, [handle]),
        "regoInputObject": (count, [handle, count]),
        "regoInputArray": (count, [handle, count]),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(library, name)
        function.restype, function.argtypes = restype, argtypes
    return library


_QUICK = _quick_calls()


class _NeedsText(Exception):
    """A value the node-by-node input cannot carry exactly: a float (rego-cpp prints a float
    node with six significant digits, its JSON literal as written), an integer beyond 64
    bits, a key that is not a string, a type JSON does not have."""


def _push(handle: int, value: Any) -> None:
    """Push `value` onto rego-cpp's input builder stack, depth first."""
    if isinstance(value, str):
        if '"' in value or "\\" in value or not value.isprintable():
            # rego-cpp keeps a string as the body of its JSON literal (escapes included),
            # which is what it makes of the same string in a policy or in JSON text.
            value = json.dumps(value, ensure_ascii=False)[1:-1]
        code = _QUICK.regoInputString(handle, value.encode())
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NeedsText
            _push(handle, key)
            _push(handle, item)
            if _QUICK.regoInputObjectItem(handle):
                raise _NeedsText
        code = _QUICK.regoInputObject(handle, len(value))
    elif isinstance(value, list | tuple):
        for item in value:
            _push(handle, item)
        code = _QUICK.regoInputArray(handle, len(value))
    elif value is True or value is False:
        code = _QUICK.regoInputBoolean(handle, value)
    elif isinstance(value, int) and value in _INT64:
        code = _QUICK.regoInputInt(handle, value)
    elif value is None:
        code = _QUICK.regoInputNull(handle)
    else:
        raise _NeedsText
    if code:
        raise _NeedsText


def set_input(interpreter: Interpreter, value: Any) -> None:
    """Hand `value` to the interpreter as its input document.

    Built node by node through the C API: about four times quicker than rego-cpp parsing the
    JSON text (`set_input_term`), and twice regopy's own `set_input` (docs/performance.md).
    What the builder cannot carry exactly goes as JSON text, as before.
    """
    handle = _QUICK.regoNewInput()
    try:
        try:
            _push(handle, value)
        except _NeedsText:
            interpreter.set_input_term(json.dumps(value, ensure_ascii=False))
            return
        if _QUICK.regoSetInput(interpreter._impl, handle):
            raise RegoError(rego_get_error(interpreter._impl))
    finally:
        _QUICK.regoFreeInput(handle)


def _output_text(output: int) -> str:
    size = _QUICK.regoOutputJSONSize(output)
    buffer = ctypes.create_string_buffer(size)
    if _QUICK.regoOutputJSON(output, buffer, size):
        raise RegoError("the engine's output could not be read")
    return buffer.value.decode("utf-8")


def query(interpreter: Interpreter, bundle: Any, entrypoint: str, value: Any) -> tuple[str, Any]:
    """Evaluate one entrypoint: ("ok", value), ("undefined", None) or ("error", message).

    Uses the C calls directly: regopy's Output wrapper parses the JSON a second time, raises
    on outputs that are not JSON (an unknown function yields an error tree there) and reads
    the JSON of failed outputs, which segfaults rego-cpp (e.g. a local variable shadowing
    the `bits` built-in namespace). A failed output's message is the interpreter's error.
    """
    set_input(interpreter, value)
    impl = rego_bundle_query_entrypoint(interpreter._impl, bundle._impl, entrypoint)
    try:
        if not _QUICK.regoOutputOk(impl):
            return "error", rego_get_error(interpreter._impl).strip() or "evaluation failed"
        text = _output_text(impl)
    finally:
        _QUICK.regoFreeOutput(impl)
    if text == "undefined":
        return "undefined", None
    try:
        return "ok", json.loads(text)["expressions"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        messages = [p["message"] for p in parse_errors(text, {})]
        return "error", "; ".join(messages)

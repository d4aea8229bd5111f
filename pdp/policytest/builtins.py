"""Built-ins in the static scan: calls regopy does not have, and namespaces a variable shadows.

Both are found on the source with comments and string contents blanked, so offsets (and
so file:line:col) stay those of the source.
"""

from __future__ import annotations

import re

from regopy import Interpreter

from pdp.engine import PolicySource, Problem

_KEYWORDS = frozenset(
    {"if", "not", "some", "every", "in", "with", "as", "else", "default", "package", "import"}
)
_CALL = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\s*\(")
_FUNCTION_HEAD = re.compile(r"^([A-Za-z_]\w*)\s*\(", re.M)
# What to use instead, for the built-ins OPA has and regopy 1.5.2 lacks or breaks.
_HINTS = {
    "net.": "regopy has no net.* built-ins: use input.context.networks, the named networks "
    "(data.networks) the PDP found containing context.ip",
    "print": "regopy has no print: remove it",
    "trace": "regopy has no trace: remove it",
    "http.send": "regopy has no http.send: a decision may not call out; put the data in the bundle",
    "time.parse_rfc3339_ns": "time.parse_rfc3339_ns is undefined in regopy 1.5.2: "
    "use input.context.time_ns",
}
_BROKEN = frozenset({"time.parse_rfc3339_ns"})
# OPA built-ins regopy 1.5.2 does not have (measured with Interpreter.is_builtin), by prefix.
_OPA_ONLY = (
    *("net.", "print", "trace", "http.send", "rego.metadata.", "rego.parse_module"),
    *("providers.aws.sign_req", "strings.render_template", "json.match_schema"),
    *("json.verify_schema", "graphql."),
)
UNSUPPORTED = "valid OPA, not supported by this engine (regopy 1.5.2)"


def _blank(text: str) -> str:
    """`text` with comments and string contents replaced by spaces (offsets stay valid)."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "#":
            end = text.find("\n", i)
            start, end = i, (n if end < 0 else end)
            following = end
        elif char in '"`':
            j = i + 1
            while j < n and text[j] != char and not (char == '"' and text[j] == "\n"):
                j += 2 if char == '"' and text[j] == "\\" else 1
            start, end = i + 1, min(j, n)
            following = j + 1
        else:
            i += 1
            continue
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "
        i = following
    return "".join(out)


def _where(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _hint(name: str) -> str | None:
    return next((hint for prefix, hint in _HINTS.items() if name.startswith(prefix)), None)


def builtin_problems(source: PolicySource) -> list[Problem]:
    """Calls of unknown or broken built-ins, and local variables shadowing a namespace."""
    engine = Interpreter()  # only asked which built-ins exist; never given Rego
    blanked = {file: _blank(text) for file, text in source.modules.items()}
    user_functions = {
        m.group(1) for text in blanked.values() for m in _FUNCTION_HEAD.finditer(text)
    }
    problems: list[Problem] = []
    for file, text in sorted(blanked.items()):
        namespaces: set[str] = set()
        for call in _CALL.finditer(text):
            name = call.group(1)
            last = name.rsplit(".", 1)[-1]
            if name in _KEYWORDS or name.startswith(("data.", "input.")) or last in user_functions:
                continue
            line, col = _where(text, call.start(1))
            if engine.is_builtin(name) and name not in _BROKEN:
                if "." in name:
                    namespaces.add(name.split(".", 1)[0])
                continue
            hint = _hint(name)
            why = f" ({UNSUPPORTED})" if name.startswith(_OPA_ONLY) else ""
            message = f"unknown function {name}{why}" + (f": {hint}" if hint else "")
            problems.append(Problem(file, line, col, hint if name in _BROKEN else message))
        for namespace in sorted(namespaces):
            declared = re.compile(
                rf"(?<![\w.])(?:some\s+(?:\w+\s*,\s*)?){namespace}\b(?=[^\n]*\bin\b)"
                rf"|(?<![\w.]){namespace}\b(?=\s*(?:,[^\n\]]*)?\]?\s*:=)"
            )
            for match in declared.finditer(text):
                offset = match.end() - len(namespace)
                if _where(text, offset)[1] == 1:
                    continue  # a rule named like a namespace, not a local variable
                line, col = _where(text, offset)
                problems.append(
                    Problem(
                        file,
                        line,
                        col,
                        f"local variable {namespace} shadows the built-in namespace {namespace}"
                        " (OPA refuses this; it crashes rego-cpp): rename the variable",
                    )
                )
    return problems

"""The static scan `pdp check`, `pdp test` and bundle publishing run before the engine does.

It reports, at `file:line:col`, what OPA 1.x refuses (Rego v0 syntax, with OPA's own
message) and what regopy 1.5.2 gets wrong although OPA accepts it (policies/README.md,
"Rego `pdp check` refuses or warns about", has the minimal case of each):
- errors: v0 bodies without `if`; a `with` value that refers to a rule or to data (regopy
  ignores the mock, so a test can pass vacuously); `p if not q with ...` (a syntax error
  here); `x[_]`, or `x[k]` with `k` bound nowhere else, inside a call argument or a
  collection (fails, or silently undefined); unknown built-ins and local variables
  shadowing a built-in namespace;
- warnings: `with input as` over a rule that calls a function or an operator or refers to
  another rule, which aborts regopy while it compiles (`pdp test` errors on that test; OPA
  runs it).
"""

from __future__ import annotations

from collections.abc import Iterator

from pdp.engine import PolicySource, Problem
from pdp.policytest.builtins import UNSUPPORTED, builtin_problems
from pdp.policytest.rego_syntax import (
    CONTINUES,
    OPENING,
    Module,
    PolicyIndex,
    Statement,
    Token,
    dotted,
    source_text,
    statements,
    tokenize,
)

ENGINE = "regopy 1.5.2"
WILDCARD_SYMPTOM = "shape `rego-errorseq` has no field `rego-data`"
# Infix operators that are calls in rego-cpp; `==`, `=` and `:=` are unifications.
_OPERATORS = frozenset({"!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "|", "&"})
_CONSTANTS = frozenset({"true", "false", "null"})


def scan_source(source: PolicySource) -> list[Problem]:
    """Every static problem of `source`, errors and warnings, each at its file:line:col."""
    tokens = {file: tokenize(text) for file, text in source.modules.items()}
    index = PolicyIndex.build(tokens)
    problems = builtin_problems(source)
    for file, module in sorted(index.modules.items()):
        for statement in statements(file, tokens[file]):
            problems.extend(_v0_syntax(statement))
            if statement in module.rules:
                problems.extend(_with_problems(index, module, statement))
                problems.extend(_unbraced_not_with(statement))
                problems.extend(_element_problems(index, module, statement))
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0, p.col or 0, p.message))


def _at(statement: Statement, token: Token, message: str, severity: str = "error") -> Problem:
    return Problem(statement.file, token.line, token.col, message, severity)


def _opener(tokens: list[Token], index: int) -> int | None:
    """The index of the bracket that encloses tokens[index], or None at statement level."""
    depth = tokens[index].depth
    for back in range(index - 1, -1, -1):
        if tokens[back].depth < depth:
            return back
    return None


def _is_index(tokens: list[Token], index: int) -> bool:
    """Whether the `[` or `(` at `index` follows a term: a reference index or a call."""
    return index > 0 and tokens[index - 1].ends_term


def _v0_syntax(statement: Statement) -> Iterator[Problem]:
    """OPA 1.x refuses a body that no `if` introduces; say so as `opa check` does."""
    if statement.keyword in ("package", "import"):
        return
    tokens = statement.tokens
    what = "function" if statement.is_function else "rule"
    owner = tokens[0]
    for index, token in enumerate(tokens):
        if token.depth != 0:
            continue
        if token.text == "else":
            owner = token
        if token.text != "{" or index == 0:
            continue
        previous = tokens[index - 1]
        if previous.text in ("if", "}") or not (previous.ends_term or previous.text == "else"):
            continue
        yield _at(
            statement,
            owner,
            f"rego_parse_error: `if` keyword is required before {what} body"
            " (Rego v0 syntax, which OPA 1.x refuses: write `if {`)",
        )
        if owner is tokens[0] and _partial_set_head(tokens, index):
            yield _at(
                statement,
                owner,
                "rego_parse_error: `contains` keyword is required for partial set rules"
                f" (write `{tokens[0].text} contains ... if {{`)",
            )


def _partial_set_head(tokens: list[Token], body: int) -> bool:
    """`p[x] {` or `p.x {`: a v0 partial set, which v1 spells `p contains x if {`."""
    if body == 3 and tokens[1].text == "." and tokens[2].kind == "name":
        return True
    between = tokens[2 : body - 1]
    return tokens[1].text == "[" and tokens[body - 1].text == "]" and all(t.depth for t in between)


def _locals(statement: Statement) -> set[str]:
    """Names the rule binds itself: `x :=`, `[x, y] :=`, `some x`, `every x`, arguments."""
    tokens = statement.tokens
    names: set[str] = set()
    for index, token in enumerate(tokens):
        following = tokens[index + 1].text if index + 1 < len(tokens) else ""
        if token.kind == "name" and following == ":=" and index:
            names.add(token.text)
        if token.text == ":=" and tokens[index - 1].text in ("]", "}"):
            opener = _opener(tokens, index - 1)  # `[a, b] := ...` binds a and b
            pattern = tokens[opener + 1 : index - 1] if opener is not None else []
            names.update(t.text for t in pattern if t.kind == "name")
        if token.text in ("some", "every"):
            for later in tokens[index + 1 :]:
                if later.text == "in" or later.line != token.line or later.text == ";":
                    break
                if later.kind == "name":
                    names.add(later.text)
    if statement.is_function:
        head = tokens.index(statement.head) + 1
        for token in tokens[head + 1 :]:
            if token.depth <= tokens[head].depth:
                break
            if token.kind == "name":
                names.add(token.text)
    return names


def _literal_start(tokens: list[Token], index: int) -> int:
    """Where the body literal holding tokens[index] (a `with`) starts."""
    depth = tokens[index].depth
    for back in range(index - 1, -1, -1):
        token = tokens[back]
        if token.depth < depth or (token.depth == depth and token.text in (";", "if", "|")):
            return back + 1
        if token.depth == depth and token.first_on_line and tokens[back - 1].text not in CONTINUES:
            return back
    return 0


def _value_end(tokens: list[Token], start: int, depth: int) -> int:
    """Where the value of `with ... as <value>` starting at `start` ends."""
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.depth < depth or (token.depth == depth and token.text in (";", "with")):
            return index
        fresh = index > start and token.depth == depth and token.first_on_line
        if fresh and tokens[index - 1].text not in CONTINUES:
            return index
    return len(tokens)


def _plain_reference(value: list[Token]) -> bool:
    """`name`, `name.field`, `name[k]`...: a reference and nothing else."""
    if not value or value[0].kind != "name" or value[0].text in _CONSTANTS:
        return False
    index = 1
    while index < len(value):
        token = value[index]
        if token.text == "." and index + 1 < len(value) and value[index + 1].kind == "name":
            index += 2
        elif token.text == "[":
            index += 1
            while index < len(value) and value[index].depth > token.depth:
                index += 1
            index += 1
        else:
            return False
    return index == len(value)


def _names_function(index: PolicyIndex, module: Module, value: list[Token]) -> bool:
    """`with f as g` replaces a function, which regopy does; only rule values are ignored."""
    keys = list(index.resolve(module, dotted(value, 0)[0])) if value else []
    return any(rule.is_function for key in keys for rule in index.rules[key])


def _with_problems(index: PolicyIndex, module: Module, statement: Statement) -> Iterator[Problem]:
    """`with` values regopy ignores (errors) and whole-input `with` that aborts it (warnings)."""
    tokens = statement.tokens
    locals_ = _locals(statement)
    for position, token in enumerate(tokens):
        if token.text != "with" or token.kind != "name":
            continue
        target, after = dotted(tokens, position + 1)
        if after >= len(tokens) or tokens[after].text != "as":
            continue
        value = tokens[after + 1 : _value_end(tokens, after + 1, token.depth)]
        shown = f"with {'.'.join(target)} as {source_text(value)}"
        root = value[0].text if value else ""
        mocked = _plain_reference(value) and root not in locals_
        if mocked and index.names_data(module, root) and not _names_function(index, module, value):
            whole = (
                "; with the whole input it aborts the engine (`shape rego-with has no field"
                " rego-ref`)"
                if target == ["input"]
                else ""
            )
            yield _at(
                statement,
                token,
                f"`{shown}`: {ENGINE} ignores a `with` value that refers to a rule or to data"
                f" (the expression sees the unmocked value, so a test can pass without testing"
                f" anything){whole}; OPA applies it. Bind the value first:"
                f" `v := {source_text(value)}` then `with {'.'.join(target)} as v`",
            )
        elif target == ["input"]:
            start = _literal_start(tokens, position)
            reached = _first_dependency(index, module, tokens[start:position], locals_)
            if reached is not None:
                rule, file, used = reached
                yield _at(
                    statement,
                    token,
                    f"`{shown}` aborts {ENGINE} while it compiles (`shape rego-localref has no"
                    f" field rego-refhead`), because the expression evaluates {rule}, which uses"
                    f" `{used.text}` ({file}:{used.line}), a function, operator or rule; valid"
                    " OPA, and `pdp test` will"
                    f" report the test as an error. Replace the input's fields instead:"
                    f" {_field_rewrite(value)}",
                    "warning",
                )


def _field_rewrite(value: list[Token]) -> str:
    """`with input.a as 1 with input.b as x.b`: the fields of an object literal or a variable."""
    if value and value[0].text == "{":
        fields = _object_fields(value)
        if not fields:
            return "set only the fields the test needs (`with input.action as ...`)"
        return "`" + " ".join(f"with input.{k} as {v}" for k, v in fields) + "`"
    name = source_text(value) if _plain_reference(value) else "v"
    return f"`with input.subject as {name}.subject with input.action as {name}.action ...`"


def _object_fields(value: list[Token]) -> list[tuple[str, str]]:
    """The (key, value text) pairs of an object literal's string keys."""
    depth = value[0].depth + 1
    fields, key, start = [], None, 0
    for index, token in enumerate(value[1:], 1):
        ends = (token.text == "," and token.depth == depth) or token is value[-1]
        if token.text == ":" and token.depth == depth and value[index - 1].kind == "string":
            key, start = value[index - 1].text.strip('"`'), index + 1
        elif ends and key is not None:
            fields.append((key, source_text(value[start:index])))
            key = None
    return fields


def _references(
    index: PolicyIndex, module: Module, tokens: list[Token], locals_: set[str]
) -> Iterator[tuple[Token, tuple[str, str]]]:
    """Each reference to a rule in `tokens`, with the token that starts it."""
    for position, token in enumerate(tokens):
        if token.kind != "name" or (position and tokens[position - 1].text == "."):
            continue
        if token.text in locals_:
            continue
        path, _ = dotted(tokens, position)
        for key in index.resolve(module, path):
            yield token, key


def _first_dependency(
    index: PolicyIndex, module: Module, expression: list[Token], locals_: set[str]
) -> tuple[str, str, Token] | None:
    """A rule the expression evaluates that calls a function or an operator, or refers to
    another rule (rego-cpp evaluates both as calls): the rule, its file and that token."""
    for _, key in _references(index, module, expression, locals_):
        for rule in index.rules.get(key, []):
            owner = index.modules[rule.file]
            body = [t for t in rule.tokens if t is not rule.head]
            others = (
                t for t, other in _references(index, owner, body, _locals(rule)) if other != key
            )
            found = _call_in(rule) or next(others, None)
            if found is not None:
                return f"data.{key[0]}.{key[1]}", rule.file, found
    return None


def _call_in(statement: Statement) -> Token | None:
    """The first call (function or operator) a rule makes, its function head aside."""
    tokens = statement.tokens
    head = tokens.index(statement.head)
    for position, token in enumerate(tokens):
        following = tokens[position + 1].text if position + 1 < len(tokens) else ""
        called = token.kind == "name" and following == "(" and token.text != "not"
        if called and position != head:
            return token
        if token.kind == "op" and token.text in _OPERATORS and _is_operator(tokens, position):
            return token
        if token.text == "in" and not _in_clause(tokens, position):
            return token
    return None


def _is_operator(tokens: list[Token], position: int) -> bool:
    """Not a unary minus and not a comprehension's `|`."""
    token = tokens[position]
    if token.text == "-":
        return tokens[position - 1].ends_term
    if token.text != "|":
        return True
    opener = _opener(tokens, position)
    if opener is None or tokens[opener].text == "(" or _is_index(tokens, opener):
        return True
    between = tokens[opener + 1 : position]
    return any(t.text == "|" and t.depth == token.depth for t in between)


def _in_clause(tokens: list[Token], position: int) -> bool:
    """Whether an `in` belongs to `some ... in` or `every ... in` (iteration, not a call)."""
    depth = tokens[position].depth
    for back in range(position - 1, -1, -1):
        token = tokens[back]
        if token.depth < depth or (token.depth == depth and token.text in (";", "if", "|")):
            return False
        if token.depth == depth and token.text in ("some", "every"):
            return True
        if token.depth == depth and token.first_on_line:
            return False
    return False


def _unbraced_not_with(statement: Statement) -> Iterator[Problem]:
    """`p if not q with ...`: OPA takes it, regopy reports a syntax error."""
    tokens = statement.tokens
    for position, token in enumerate(tokens[:-1]):
        if token.depth or token.text != "if" or tokens[position + 1].text != "not":
            continue
        for later in tokens[position + 2 :]:
            if later.depth == 0 and later.text in ("else", "{"):
                break
            if later.depth == 0 and later.text == "with":
                yield _at(
                    statement,
                    tokens[position + 1],
                    f"`if not ... with`: {UNSUPPORTED}, which reports a syntax error; brace"
                    " the body: `if { not ... with input.x as v }`",
                )
                break


def _element_problems(
    index: PolicyIndex, module: Module, statement: Statement
) -> Iterator[Problem]:
    """`x[_]` or `x[k]` (k bound nowhere else) inside a call argument or a collection.

    OPA iterates; regopy fails on `_` and leaves the expression undefined for a named
    variable, so a deny rule written that way never fires.
    """
    tokens = statement.tokens
    bound = _locals(statement) - _bare_some(tokens)
    body = next((i for i, t in enumerate(tokens) if t.depth == 0 and t.text in ("if", "{")), 0)
    reported: set[str] = set()
    for position, token in enumerate(tokens[:-1]):
        if token.kind != "name" or token.text in _CONSTANTS or token.text in reported:
            continue
        bracket = tokens[position - 1]
        if bracket.text != "[" or tokens[position + 1].text != "]":
            continue
        place = _element_place(tokens, position) if _is_index(tokens, position - 1) else None
        if place is None:
            continue
        name = token.text
        if name == "_":
            yield _at(
                statement,
                token,
                f"`_` inside {place}: {UNSUPPORTED}, whose evaluation fails"
                f" ({WILDCARD_SYMPTOM}); bind the element first: `v := x[_]`, then use `v`",
            )
        elif not (name in bound or index.names_data(module, name)):
            if _bound_outside(tokens, name, body):
                continue
            yield _at(
                statement,
                token,
                f"`{name}` is bound only inside {place}: {UNSUPPORTED}, which leaves the"
                " expression undefined where OPA iterates (a rule written so never holds);"
                f" bind the element first: `v := x[{name}]` or `some {name}, v in x`,"
                " then use `v`",
            )
        reported.add(name)


def _bare_some(tokens: list[Token]) -> set[str]:
    """Names a `some a, b` without `in` declares (bound by whatever uses them later)."""
    names: set[str] = set()
    for position, token in enumerate(tokens):
        if token.text != "some":
            continue
        clause = []
        for later in tokens[position + 1 :]:
            if later.line != token.line or later.text in (";", "}"):
                break
            clause.append(later)
        if all(t.text != "in" for t in clause):
            names.update(t.text for t in clause if t.kind == "name")
    return names


def _bound_outside(tokens: list[Token], name: str, body: int) -> bool:
    """Whether `name` occurs in the body outside call arguments and collections."""
    return any(
        token.text == name
        and token.kind == "name"
        and tokens[position - 1].text not in (".", "some", ",")
        and _element_place(tokens, position) is None
        for position, token in enumerate(tokens[body:], body)
    )


def _element_place(tokens: list[Token], position: int) -> str | None:
    """'a function argument' or 'a collection' when tokens[position] is inside one."""
    current = position
    while (opener := _opener(tokens, current)) is not None:
        text, follows_term = tokens[opener].text, _is_index(tokens, opener)
        if text == "(" and follows_term:
            return "a function argument"
        if text == "{" and (follows_term or tokens[opener - 1].text in ("if", "else", "}")):
            return None  # a body
        if text in OPENING and text != "(" and not follows_term:
            between = tokens[opener + 1 : current]
            if any(t.text == "|" and t.depth == tokens[opener].depth + 1 for t in between):
                return None  # a comprehension's body
            return "a collection"
        current = opener
    return None


def static_refusal(source: PolicySource) -> str | None:
    """Why a bundle must be refused for its static errors (warnings pass), or None."""
    errors = [p for p in scan_source(source) if p.severity == "error"]
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{len(errors)} static error(s): {errors[0]}{more}"

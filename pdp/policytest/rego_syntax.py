"""Just enough Rego syntax for the static scan: tokens, top-level statements, rule index.

Not a parser: it knows brackets, statements, rule heads, imports and references, which is
what the checks in `pdp.policytest.lint` need to locate what regopy mishandles. Every
token keeps its line and column, so problems point at the source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""(?P<space>[ \t\r]+|\n)
    |(?P<comment>\#[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"?|`[^`]*`?)
    |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_]\w*)
    |(?P<op>:=|==|!=|<=|>=|[-+*/%|&<>=,;:.()\[\]{}])
    |(?P<other>.)""",
    re.X,
)
OPENING = {"(": ")", "[": "]", "{": "}"}
CLOSING = frozenset(OPENING.values())
_BODY_KEYWORDS = {"if", "else", "contains", "in", "with", "as", "not", "some", "every", "default"}
KEYWORDS = frozenset(_BODY_KEYWORDS | {"package", "import"})
# After one of these, the next line continues the statement.
CONTINUES = frozenset(
    {":=", "=", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "|", "&", ",", ".", ":"}
    | _BODY_KEYWORDS
)
_NOT_STARTS = frozenset({"else", "{", "if", "contains", "with", "as", "in"})


@dataclass(frozen=True)
class Token:
    kind: str  # name, number, string, op, other
    text: str
    line: int
    col: int
    depth: int  # bracket depth before the token
    first_on_line: bool

    @property
    def ends_term(self) -> bool:
        """A name, literal or closing bracket: what a `{` or `(` after it makes a body or call."""
        if self.kind == "name":
            return self.text not in KEYWORDS
        return self.kind in ("number", "string") or self.text in (")", "]")


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, comments and white space dropped."""
    tokens: list[Token] = []
    line, line_start, depth, fresh = 1, 0, 0, True
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup or "other", match.group()
        if kind in ("space", "comment"):
            if value == "\n":
                line, line_start, fresh = line + 1, match.end(), True
            continue
        if value in CLOSING:
            depth = max(depth - 1, 0)
        tokens.append(Token(kind, value, line, match.start() - line_start + 1, depth, fresh))
        if value in OPENING:
            depth += 1
        line += value.count("\n")
        if "\n" in value:
            line_start = match.start() + value.rfind("\n") + 1
        fresh = False
    return tokens


@dataclass(frozen=True)
class Statement:
    """One top-level statement: `package`, `import` or one rule (with its `else` chain)."""

    file: str
    tokens: list[Token]

    @property
    def keyword(self) -> str:
        return self.tokens[0].text

    @property
    def head(self) -> Token:
        """The rule's name token (after `default`)."""
        first = self.tokens[0]
        return self.tokens[1] if first.text == "default" and len(self.tokens) > 1 else first

    @property
    def is_function(self) -> bool:
        index = self.tokens.index(self.head)
        return index + 1 < len(self.tokens) and self.tokens[index + 1].text == "("


def statements(file: str, tokens: list[Token]) -> list[Statement]:
    """Split tokens into top-level statements: a new one starts a line at bracket depth 0."""
    found: list[list[Token]] = []
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index else None
        starts = previous is None or (
            token.depth == 0
            and token.first_on_line
            and token.text not in _NOT_STARTS
            and previous.text not in CONTINUES
        )
        if starts:
            found.append([token])
        else:
            found[-1].append(token)
    return [Statement(file, group) for group in found]


def source_text(tokens: list[Token]) -> str:
    """Tokens written back as Rego, for messages: `data.p.y`, `{"a": 1}`."""
    out = []
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index else None
        words = ("name", "number", "string")
        if previous is not None and (
            (previous.kind in words and token.kind in words) or previous.text in (",", ":", ":=")
        ):
            out.append(" ")
        out.append(token.text)
    return "".join(out)


def dotted(tokens: list[Token], start: int) -> tuple[list[str], int]:
    """The `a.b["c"].d` path at `start` (names and string keys), and the index after it."""
    if start >= len(tokens) or tokens[start].kind != "name":
        return [], start
    path = [tokens[start].text]
    index = start + 1
    while index + 1 < len(tokens):
        here, following = tokens[index], tokens[index + 1]
        if here.text == "." and following.kind == "name":
            path.append(following.text)
            index += 2
        elif (
            here.text == "["
            and following.kind == "string"
            and index + 2 < len(tokens)
            and tokens[index + 2].text == "]"
        ):
            path.append(following.text.strip('"`'))
            index += 3
        else:
            break
    return path, index


@dataclass
class Module:
    file: str
    package: str
    imports: dict[str, list[str]] = field(default_factory=dict)  # alias -> data path
    rules: list[Statement] = field(default_factory=list)


@dataclass
class PolicyIndex:
    """Every module's package, imports and rules, to resolve what a reference names."""

    modules: dict[str, Module]
    rules: dict[tuple[str, str], list[Statement]]  # (package, rule name) -> definitions

    @classmethod
    def build(cls, sources: dict[str, list[Token]]) -> PolicyIndex:
        modules: dict[str, Module] = {}
        rules: dict[tuple[str, str], list[Statement]] = {}
        for file, tokens in sorted(sources.items()):
            module = Module(file, "")
            for statement in statements(file, tokens):
                if statement.keyword == "package":
                    module.package = ".".join(dotted(statement.tokens, 1)[0])
                elif statement.keyword == "import":
                    path, end = dotted(statement.tokens, 1)
                    rest = statement.tokens[end:]
                    if path[:1] == ["data"]:
                        named = len(rest) > 1 and rest[0].text == "as"
                        module.imports[rest[1].text if named else path[-1]] = path
                elif statement.head.kind == "name":
                    module.rules.append(statement)
            modules[file] = module
            for rule in module.rules:
                rules.setdefault((module.package, rule.head.text), []).append(rule)
        return cls(modules, rules)

    def resolve(self, module: Module, path: list[str]) -> Iterator[tuple[str, str]]:
        """The rules (package, name) a reference rooted at a rule, import or `data` may reach."""
        root = path[0] if path else ""
        if root in module.imports:
            yield from self.resolve(module, module.imports[root] + path[1:])
        elif root == "data":
            segments = path[1:]
            for package, name in self.rules:
                parts = package.split(".")
                inside = segments[: len(parts)] == parts
                if (
                    inside and (len(segments) == len(parts) or segments[len(parts)] == name)
                ) or parts[: len(segments)] == segments:
                    yield package, name
        elif (module.package, root) in self.rules:
            yield module.package, root

    def names_data(self, module: Module, root: str) -> bool:
        """Whether a bare `root` names a rule, an import or `data` (not a local variable)."""
        return root == "data" or root in module.imports or (module.package, root) in self.rules

"""The operations table of docs/token-service.md lists exactly what the service answers.

The "Cognito JSON API" section has three tables: every operation (with whether it is public or
admin), every AuthFlow (with the operations that take it) and every ChallengeName. Each is
compared with the dispatch tables in `token_service.cognito.operations`, so an operation added
without its row, or a row left behind, fails here. The Cognito Identity operations have their
own table in docs/federation.md ("Developer identities"), held to `token_service.identity`'s.
"""

from __future__ import annotations

import re

from tests.support.processes import REPO
from token_service.cognito.operations import AUTH_FLOWS, CHALLENGES, OPERATIONS
from token_service.cognito.operations.base import Operation
from token_service.identity.operations import OPERATIONS as IDENTITY_OPERATIONS

DOC = REPO / "docs" / "token-service.md"
FEDERATION = REPO / "docs" / "federation.md"
NAME = re.compile(r"^`([A-Za-z_]+)`$")


def section(text: str, title: str) -> str:
    """The body of the `## title` section, up to the next `## ` heading."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def tables(text: str) -> dict[str, list[list[str]]]:
    """Markdown tables by their first header cell: their body rows, as lists of cells."""
    found: dict[str, list[list[str]]] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines[:-1]):
        if line.startswith("|") and re.match(r"^\|(\s*-+\s*\|)+$", lines[index + 1]):
            header = [cell.strip() for cell in line.strip("|").split("|")]
            rows = []
            for body in lines[index + 2 :]:
                if not body.startswith("|"):
                    break
                rows.append([cell.strip() for cell in body.strip().strip("|").split("|")])
            assert header[0] not in found, f"two tables headed {header[0]!r}"
            found[header[0]] = rows
    return found


def documented() -> dict[str, list[list[str]]]:
    return tables(section(DOC.read_text(), "Cognito JSON API"))


def names(rows: list[list[str]]) -> list[str]:
    listed = []
    for row in rows:
        match = NAME.match(row[0])
        assert match, f"first cell {row[0]!r} is not a `Name`"
        listed.append(match.group(1))
    assert len(listed) == len(set(listed)), f"listed twice: {sorted(listed)}"
    return listed


def check_operations(rows: list[list[str]], operations: dict[str, Operation]) -> None:
    """Every operation listed once, in alphabetical order, with whether it needs a signature."""
    listed = names(rows)
    assert set(listed) - set(operations) == set(), "documented but not answered"
    assert set(operations) - set(listed) == set(), "answered but not documented"
    assert listed == sorted(listed), "keep the operations in alphabetical order"
    access = dict(zip(listed, (row[1] for row in rows), strict=True))
    assert access == {name: "admin" if op.admin else "public" for name, op in operations.items()}


def test_the_table_lists_every_operation_and_whether_it_needs_a_signature() -> None:
    check_operations(documented()["operation"], OPERATIONS)


def test_the_developer_identities_table_lists_every_cognito_identity_operation() -> None:
    text = section(FEDERATION.read_text(), "Developer identities")
    check_operations(tables(text)["Cognito Identity operation"], IDENTITY_OPERATIONS)


def test_every_auth_flow_is_listed_with_the_operations_that_take_it() -> None:
    rows = documented()["AuthFlow"]
    listed = dict(zip(names(rows), rows, strict=True))
    assert set(listed) == set(AUTH_FLOWS)
    for flow, (_, user, admin) in AUTH_FLOWS.items():
        assert listed[flow][1:3] == ["yes" if user else "no", "yes" if admin else "no"], flow


def test_every_challenge_is_listed() -> None:
    assert set(names(documented()["ChallengeName"])) == set(CHALLENGES)


def test_tables_are_read_as_written() -> None:
    text = "\n".join(
        [
            "| operation | access |",
            "|---|---|",
            "| `A` | admin |",
            "| `B` | public |",
            "",
            "| AuthFlow | x |",
            "| --- | --- |",
            "| `F` | yes |",
        ]
    )
    assert tables(text) == {
        "operation": [["`A`", "admin"], ["`B`", "public"]],
        "AuthFlow": [["`F`", "yes"]],
    }

"""The docs stand on their own and cannot drift: every relative link in a Markdown file
resolves to a file of the repository, no doc points at a design file the repository does not
hold, and docs/admin-api.md documents exactly the `/admin/v1` endpoints of `/openapi.json`,
each with a curl example and every parameter and body field it takes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pdp.api.app import create_app
from pdp.settings import Settings
from tests.support.processes import REPO

SKIPPED = {".venv", "node_modules", ".git", "var", ".pytest_cache", ".hypothesis", "build"}
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^### `(GET|POST|PUT|PATCH|DELETE) (/admin/v1/\S+)`$", re.MULTILINE)
ADMIN_DOC = REPO / "docs" / "admin-api.md"


def markdown_files() -> list[Path]:
    return sorted(
        path
        for path in REPO.rglob("*.md")
        if not SKIPPED.intersection(path.relative_to(REPO).parts)
    )


def prose(text: str) -> str:
    """The text without fenced code blocks, where brackets are code, not links."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def relative_links(path: Path) -> Iterator[str]:
    for match in LINK.finditer(prose(path.read_text(encoding="utf-8"))):
        target = match.group(1) or match.group(2)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("#"):
            yield target


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(path: Path) -> None:
    for target in relative_links(path):
        resolved = (path.parent / target.split("#", 1)[0]).resolve()
        assert resolved.is_relative_to(REPO), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"


def test_no_doc_points_at_a_design_file_outside_the_repository() -> None:
    name = "DESIGN" + ".md"
    sources = [*markdown_files(), *REPO.glob("pdp/**/*.py"), *REPO.glob("token_service/**/*.py")]
    mentions = [str(p.relative_to(REPO)) for p in sources if name in p.read_text("utf-8")]
    assert mentions == []


def test_the_quick_start_is_two_commands() -> None:
    """One installs and runs the stack, one installs and runs every test."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "no command block in the quick start"
    commands = [line.split("#", 1)[0].strip() for line in block[1].splitlines()]
    assert [c for c in commands if c] == ["./scripts/up", "./scripts/test"]


def test_architecture_doc_is_linked_from_the_readme() -> None:
    assert (REPO / "docs" / "architecture.md").exists()
    assert "docs/architecture.md" in (REPO / "README.md").read_text()
    assert "docs/admin-api.md" in (REPO / "README.md").read_text()


# --- docs/admin-api.md against /openapi.json -----------------------------------------------


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'pdp.db'}",
        require_pep_auth=False,
        decision_log_spool_dir=tmp / "spool",
    )
    app = create_app(settings)
    try:
        return app.openapi()
    finally:
        app.state.services.close()


def admin_operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, operations in spec["paths"].items()
        if path.startswith("/admin/v1/")
        for method, operation in operations.items()
    }


def sections() -> dict[str, str]:
    """Heading ("METHOD /path") -> its text, after the introduction of its chapter (which
    describes what the chapter's endpoints share, e.g. the bundles' `name`)."""
    bodies = {}
    for chapter in ADMIN_DOC.read_text(encoding="utf-8").split("\n## "):
        found = list(HEADING.finditer(chapter))
        intro = chapter[: found[0].start()] if found else chapter
        for index, match in enumerate(found):
            end = found[index + 1].start() if index + 1 < len(found) else len(chapter)
            key = f"{match[1]} {match[2]}"
            assert key not in bodies, f"{key} is documented twice"
            bodies[key] = intro + chapter[match.end() : end]
    return bodies


def body_fields(operation: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


def test_admin_doc_lists_exactly_the_admin_endpoints(openapi: dict[str, Any]) -> None:
    documented = list(sections())
    assert sorted(documented) == sorted(admin_operations(openapi))


def test_every_admin_endpoint_has_an_example_and_its_parameters(openapi: dict[str, Any]) -> None:
    documented = sections()
    for key, operation in admin_operations(openapi).items():
        section = documented.get(key, "")
        method, path = key.split(" ", 1)
        assert "curl " in section, f"{key}: no curl example"
        called = re.escape(path).replace(r"\{", "{").replace(r"\}", "}")
        called = re.sub(r"\{[^}]+\}", r'[^/\\s?"]+', called) + r"(?![/\w-])"
        assert re.search(called, section), f"{key}: the example does not call it"
        if method != "GET":
            assert f"-X {method}" in section, f"{key}: the example is not a {method}"
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        for name in [*names, *body_fields(operation, openapi)]:
            assert f"`{name}`" in section, f"{key}: `{name}` is not described"

"""Debian's Chromium driven by Playwright, for the browser tests of both services: the
`playwright` fixture (skips when the package or the browser is missing) and a page in a fresh
profile. Screenshots go to docs/images/.

A conftest takes the fixture in by importing it:
`from tests.support.browser import playwright  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IMAGES = REPO / "docs" / "images"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """A running Playwright, shared by the module's tests."""
    api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: browser tests skipped"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium): skipped")
    with api.sync_playwright() as running:
        yield running


@contextmanager
def fresh_page(playwright: Any, profile: Path, viewport: dict[str, int]) -> Iterator[Any]:
    """The one page of a new browser whose profile (`--user-data-dir`) is the empty folder
    `profile`: no cookies, no storage from another test."""
    context = playwright.chromium.launch_persistent_context(
        user_data_dir=str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport=viewport,
    )
    try:
        yield context.pages[0] if context.pages else context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> None:
    """The page as docs/images/<name>.png."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"), full_page=full_page)

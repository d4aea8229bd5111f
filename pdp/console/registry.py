"""How pages join the console: one module per page under `pdp.console.pages`, each exporting
a `router` (its routes, under /console) and optionally `PAGE` (its entry in the navigation;
`PAGE.router()` is a router under the page's path).

Adding a page is adding a module and its template (`templates/pages/<name>.html`, extending
`base.html`); nothing else is edited.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType

from fastapi import APIRouter

from pdp.console import pages


@dataclass(frozen=True)
class Page:
    """A navigation entry: the title, the path it links to, and its place (lowest first)."""

    title: str
    path: str
    order: int

    def router(self) -> APIRouter:
        """The page's routes: under its path, and not in /openapi.json (the API's contract)."""
        return APIRouter(prefix=self.path, include_in_schema=False)


def page_modules() -> list[ModuleType]:
    """Every page module, imported, in name order."""
    return [
        importlib.import_module(f"{pages.__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]


def routers() -> list[APIRouter]:
    return [module.router for module in page_modules()]


def navigation() -> list[Page]:
    entries = [getattr(m, "PAGE", None) for m in page_modules()]
    return sorted((e for e in entries if isinstance(e, Page)), key=lambda e: e.order)

"""What a console page's handler is given: the request, who makes it (checked as a reader or
as a writer), and the services; and the page rendered for that viewer.

A handler takes `visit: Reading` (admins and auditors) or `visit: Writing` (admins only, with
the CSRF check on forms), so every page states its access in one parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from pdp.api.deps import services_of
from pdp.console.auth import Viewer, require_reader, require_writer
from pdp.console.rendering import render
from pdp.services import Services


@dataclass(frozen=True)
class Visit:
    """One request to a console page by a signed-in viewer."""

    request: Request
    viewer: Viewer

    @property
    def services(self) -> Services:
        return services_of(self.request)

    def render(self, template: str, **context: Any) -> HTMLResponse:
        """`template` for this viewer (see `rendering.render` for `status_code` and `csrf`)."""
        return render(self.request, template, self.viewer, **context)

    def render_form(
        self, template: str, errors: dict[str, str] | None, **context: Any
    ) -> HTMLResponse:
        """A page with a form: 400 while it shows `errors` (each next to its field), else 200."""
        return self.render(
            template, status_code=400 if errors else 200, errors=errors or {}, **context
        )


async def _reading(request: Request, viewer: Viewer = Depends(require_reader)) -> Visit:
    return Visit(request, viewer)


async def _writing(request: Request, viewer: Viewer = Depends(require_writer)) -> Visit:
    return Visit(request, viewer)


Reading = Annotated[Visit, Depends(_reading)]
Writing = Annotated[Visit, Depends(_writing)]

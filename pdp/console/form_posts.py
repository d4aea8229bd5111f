"""A directory form's round trip: the posted text validated as an admin API model, written
through the store (a refusal is the error of the field it names), shown in this replica's
very next decision, and then a redirect that says what was done, or the form again with the
posted text and every error next to its field."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from pdp.console.model_forms import form_fields, refusal, request_body, validated
from pdp.console.visit import Visit
from pdp.errors import PDPError
from pdp.services import Services


def back_to(path: str, notice: str) -> Response:
    """Back to `path` after a write, which says what was done (a key of the page's notices,
    never text of the link's own)."""
    return RedirectResponse(f"{path}?{urlencode({'done': notice})}", status_code=303)


async def posted_fields(request: Request) -> dict[str, str]:
    """The form's text fields, the CSRF token aside."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


async def write(
    services: Services,
    tenant_id: str | None,
    errors: dict[str, str],
    field: str,
    work: Callable[[], Any],
) -> Any:
    """Run a store write; its refusal becomes the error of the field it names (else of
    `field`), and a success shows in the next decision on the tenant `tenant_id` (None: the
    tenant the write created)."""
    try:
        result = await run_in_threadpool(work)
    except PDPError as exc:
        refusal(exc, errors, field)
        return None
    await run_in_threadpool(services.snapshot.refresh, tenant_id or result.id)
    return result


async def submit(
    visit: Visit,
    model: type[BaseModel],
    save: Callable[[Any], Any],
    *,
    tenant_id: str | None,
    field: str,
    done: Callable[[Any], Response],
    again: Callable[[dict[str, str], dict[str, str]], Response],
    skip: Iterable[str] = (),
) -> Response:
    """The posted form as `model` (less the `skip` fields) saved by `save`: `done` with what
    it returned, or `again` with the posted text and the errors (rendered off the loop)."""
    posted = await posted_fields(visit.request)
    errors: dict[str, str] = {}
    data = validated(model, request_body(form_fields(model, skip=skip), posted, errors), errors)
    if data is not None:
        saved = await write(visit.services, tenant_id, errors, field, lambda: save(data))
        if not errors:
            return done(saved)
    return await run_in_threadpool(again, posted, errors)


async def removed(services: Services, tenant_id: str, work: Callable[[], Any]) -> None:
    """Run a store delete (an unknown id is the error page) and show it in the next decision."""
    await run_in_threadpool(work)
    await run_in_threadpool(services.snapshot.refresh, tenant_id)

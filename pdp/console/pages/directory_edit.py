"""Directory, one thing at a time: a tenant's settings and an object's fields, edited with
the admin API's PATCH models, and an object deleted. (No navigation entry: the Directory
page links here.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from pdp.api.deps import get_services
from pdp.console.auth import Viewer, require_reader, require_writer
from pdp.console.model_forms import form_fields, request_body, validated
from pdp.console.pages.directory import EDIT_SKIPS, KINDS, ROOT, back_to, posted_fields, write
from pdp.console.rendering import render
from pdp.directory.schemas import TenantUpdate
from pdp.errors import NotFound
from pdp.services import Services

router = APIRouter(prefix="/console/directory", include_in_schema=False)


def _page(
    request: Request,
    viewer: Viewer,
    *,
    title: str,
    back: str,
    model: type[BaseModel],
    current: dict[str, Any],
    delete: str | None = None,
    posted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "pages/directory_edit.html",
        viewer,
        status_code=400 if errors else 200,
        title=title,
        back=back,
        item=current,
        fields=form_fields(model, current, skip=EDIT_SKIPS, posted=posted),
        delete=delete,
        errors=errors or {},
    )


async def _save(
    request: Request,
    services: Services,
    tenant_id: str,
    model: type[BaseModel],
    save: Callable[[BaseModel], Any],
) -> tuple[dict[str, str], dict[str, str]]:
    """Validate the posted fields as `model` and save them; (posted, errors)."""
    posted = await posted_fields(request)
    errors: dict[str, str] = {}
    data = validated(
        model, request_body(form_fields(model, skip=EDIT_SKIPS), posted, errors), errors
    )
    if data is not None:
        await write(services, tenant_id, errors, "attributes", lambda: save(data))
    return posted, errors


# -- the tenant --------------------------------------------------------------------------------


def _tenant_page(
    request: Request, viewer: Viewer, services: Services, tid: str, **kw: Any
) -> Response:
    tenant = services.directory.get_tenant(tid)
    return _page(
        request,
        viewer,
        title=f"Tenant {tenant.name}",
        back=f"{ROOT}/{tid}/users",
        model=TenantUpdate,
        current=tenant.model_dump(),
        **kw,
    )


@router.get("/{tenant_id}/tenant/settings")
def tenant_settings(
    request: Request,
    tenant_id: UUID,
    viewer: Viewer = Depends(require_reader),
    services: Services = Depends(get_services),
) -> Response:
    return _tenant_page(request, viewer, services, str(tenant_id))


@router.post("/{tenant_id}/tenant/settings")
async def save_tenant(
    request: Request,
    tenant_id: UUID,
    viewer: Viewer = Depends(require_writer),
    services: Services = Depends(get_services),
) -> Response:
    tid = str(tenant_id)
    posted, errors = await _save(
        request,
        services,
        tid,
        TenantUpdate,
        lambda data: services.directory.update_tenant(tid, data),  # type: ignore[arg-type]
    )
    if not errors:
        return back_to(f"{ROOT}/{tid}/users", "tenant_saved")
    return await run_in_threadpool(
        lambda: _tenant_page(request, viewer, services, tid, posted=posted, errors=errors)
    )


# -- one object --------------------------------------------------------------------------------


def _kind(section: str) -> Any:
    if section not in KINDS:
        raise NotFound(f"no directory section {section!r} with objects", field="section")
    return KINDS[section]


def _object_page(
    request: Request,
    viewer: Viewer,
    services: Services,
    tid: str,
    section: str,
    object_id: str,
    **kw: Any,
) -> Response:
    kind = _kind(section)
    current = services.directory.get_object(kind, tid, object_id).model_dump()
    path = f"{ROOT}/{tid}/{section}/{object_id}"
    return _page(
        request,
        viewer,
        title=object_id,
        back=f"{ROOT}/{tid}/{section}",
        model=kind.update,
        current=current,
        delete=f"{path}/delete",
        **kw,
    )


@router.get("/{tenant_id}/{section}/{object_id}")
def edit(
    request: Request,
    tenant_id: UUID,
    section: str,
    object_id: str,
    viewer: Viewer = Depends(require_reader),
    services: Services = Depends(get_services),
) -> Response:
    return _object_page(request, viewer, services, str(tenant_id), section, object_id)


@router.post("/{tenant_id}/{section}/{object_id}")
async def update(
    request: Request,
    tenant_id: UUID,
    section: str,
    object_id: str,
    viewer: Viewer = Depends(require_writer),
    services: Services = Depends(get_services),
) -> Response:
    """The changed fields, validated as the admin API's PATCH validates them."""
    tid, kind = str(tenant_id), _kind(section)
    store = services.directory
    posted, errors = await _save(
        request,
        services,
        tid,
        kind.update,
        lambda data: store.update_object(kind, tid, object_id, data),
    )
    if not errors:
        return back_to(f"{ROOT}/{tid}/{section}", "saved")
    return await run_in_threadpool(
        lambda: _object_page(
            request, viewer, services, tid, section, object_id, posted=posted, errors=errors
        )
    )


@router.post("/{tenant_id}/{section}/{object_id}/delete")
async def delete(
    tenant_id: UUID,
    section: str,
    object_id: str,
    viewer: Viewer = Depends(require_writer),
    services: Services = Depends(get_services),
) -> Response:
    """Deletes the object, and with it its role bindings and memberships (as the API does)."""
    tid, kind = str(tenant_id), _kind(section)
    await run_in_threadpool(services.directory.delete_object, kind, tid, object_id)
    await run_in_threadpool(services.snapshot.refresh, tid)
    return back_to(f"{ROOT}/{tid}/{section}", "deleted")

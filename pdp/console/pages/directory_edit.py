"""Directory, one thing at a time: a tenant's settings and an object's fields, edited with
the admin API's PATCH models, and an object deleted. (No navigation entry: the Directory
page links here.)"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from fastapi.responses import Response
from pydantic import BaseModel

from pdp.console.form_posts import back_to, removed, submit
from pdp.console.model_forms import form_fields
from pdp.console.pages import directory
from pdp.console.pages.directory import EDIT_SKIPS, KINDS, ROOT
from pdp.console.visit import Reading, Visit, Writing
from pdp.directory.schemas import TenantUpdate
from pdp.errors import NotFound

# The Directory page's own routes, each object and the tenant's settings.
router = directory.PAGE.router()


def _page(
    visit: Visit,
    *,
    title: str,
    back: str,
    model: type[BaseModel],
    current: dict[str, Any],
    delete: str | None = None,
    posted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return visit.render_form(
        "pages/directory_edit.html",
        errors,
        title=title,
        back=back,
        item=current,
        fields=form_fields(model, current, skip=EDIT_SKIPS, posted=posted),
        delete=delete,
    )


# -- the tenant --------------------------------------------------------------------------------


def _tenant_page(visit: Visit, tid: str, **kw: Any) -> Response:
    tenant = visit.services.directory.get_tenant(tid)
    return _page(
        visit,
        title=f"Tenant {tenant.name}",
        back=f"{ROOT}/{tid}/users",
        model=TenantUpdate,
        current=tenant.model_dump(),
        **kw,
    )


@router.get("/{tenant_id}/tenant/settings")
def tenant_settings(visit: Reading, tenant_id: UUID) -> Response:
    return _tenant_page(visit, str(tenant_id))


@router.post("/{tenant_id}/tenant/settings")
async def save_tenant(visit: Writing, tenant_id: UUID) -> Response:
    tid = str(tenant_id)
    return await submit(
        visit,
        TenantUpdate,
        partial(visit.services.directory.update_tenant, tid),
        tenant_id=tid,
        field="attributes",
        skip=EDIT_SKIPS,
        done=lambda _: back_to(f"{ROOT}/{tid}/users", "tenant_saved"),
        again=lambda posted, errors: _tenant_page(visit, tid, posted=posted, errors=errors),
    )


# -- one object --------------------------------------------------------------------------------


def _kind(section: str) -> Any:
    if section not in KINDS:
        raise NotFound(f"no directory section {section!r} with objects", field="section")
    return KINDS[section]


def _object_page(visit: Visit, tid: str, section: str, object_id: str, **kw: Any) -> Response:
    kind = _kind(section)
    current = visit.services.directory.get_object(kind, tid, object_id).model_dump()
    path = f"{ROOT}/{tid}/{section}/{object_id}"
    return _page(
        visit,
        title=object_id,
        back=f"{ROOT}/{tid}/{section}",
        model=kind.update,
        current=current,
        delete=f"{path}/delete",
        **kw,
    )


@router.get("/{tenant_id}/{section}/{object_id}")
def edit(visit: Reading, tenant_id: UUID, section: str, object_id: str) -> Response:
    return _object_page(visit, str(tenant_id), section, object_id)


@router.post("/{tenant_id}/{section}/{object_id}")
async def update(visit: Writing, tenant_id: UUID, section: str, object_id: str) -> Response:
    """The changed fields, validated as the admin API's PATCH validates them."""
    tid, kind = str(tenant_id), _kind(section)
    return await submit(
        visit,
        kind.update,
        partial(visit.services.directory.update_object, kind, tid, object_id),
        tenant_id=tid,
        field="attributes",
        skip=EDIT_SKIPS,
        done=lambda _: back_to(f"{ROOT}/{tid}/{section}", "saved"),
        again=lambda posted, errors: _object_page(
            visit, tid, section, object_id, posted=posted, errors=errors
        ),
    )


@router.post("/{tenant_id}/{section}/{object_id}/delete")
async def delete(visit: Writing, tenant_id: UUID, section: str, object_id: str) -> Response:
    """Deletes the object, and with it its role bindings and memberships (as the API does)."""
    tid, kind, store = str(tenant_id), _kind(section), visit.services.directory
    await removed(visit.services, tid, partial(store.delete_object, kind, tid, object_id))
    return back_to(f"{ROOT}/{tid}/{section}", "deleted")

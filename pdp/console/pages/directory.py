"""Directory: tenants and, per tenant, users, clients, groups, companies and role bindings,
browsed a page at a time (found by id, bindings filtered) and edited through the admin
API's own models and store, so the console refuses what the API refuses."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import Query
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from pdp.console.form_posts import back_to, removed, submit
from pdp.console.model_forms import form_fields
from pdp.console.registry import Page
from pdp.console.visit import Reading, Visit, Writing
from pdp.directory.schemas import IDENTIFIER_PATTERN, RoleBindingCreate, TenantCreate
from pdp.directory.store import CLIENT, COMPANY, GROUP, USER, Kind
from pdp.errors import NotFound

PAGE = Page("Directory", "/console/directory", 40)
router = PAGE.router()
PAGE_SIZE = 25
ROOT = PAGE.path
# Sections of a tenant: each kind of object, and the role bindings.
KINDS: dict[str, Kind[Any]] = {
    "users": USER,
    "clients": CLIENT,
    "groups": GROUP,
    "companies": COMPANY,
}
BINDINGS = "role-bindings"
SECTIONS = (*KINDS, BINDINGS)
SINGULAR = {"users": "user", "clients": "client", "groups": "group", "companies": "company"}
# Roles are edited as role bindings: a PATCH with `roles` would replace them all.
EDIT_SKIPS = ("roles",)
Token = Query(default=None, max_length=2048)


def _id_query() -> Any:
    """An optional id filter; empty means none (each parameter needs its own instance)."""
    return Query(default=None, max_length=256, pattern=f"^$|{IDENTIFIER_PATTERN}")


def _section(section: str) -> str:
    if section not in SECTIONS:
        raise NotFound(f"no directory section {section!r}", field="section")
    return section


# What a write's redirect may say: a key in the URL, never text a link could make up.
NOTICES = {
    "created": "Created.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "binding_deleted": "Role binding deleted.",
    "tenant_created": "Tenant created.",
    "tenant_saved": "Tenant saved.",
}
Notice = Query(default=None, max_length=32)


# -- tenants -----------------------------------------------------------------------------------


def _tenants_page(
    visit: Visit,
    page_token: str | None,
    *,
    posted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    tenants = visit.services.directory.list_tenants(limit=PAGE_SIZE, page_token=page_token)
    return visit.render_form(
        "pages/directory.html",
        errors,
        tenants=tenants,
        fields=form_fields(TenantCreate, posted=posted),
        done=NOTICES.get(done or ""),
    )


@router.get("")
def tenants(
    visit: Reading,
    page_token: str | None = Token,
    tenant: str | None = Query(default=None, max_length=64),
    done: str | None = Notice,
) -> Response:
    """The tenants a page at a time; `tenant` (an id) opens that tenant."""
    if tenant:
        try:
            found = visit.services.directory.get_tenant(str(UUID(tenant.strip())))
        except (ValueError, NotFound):
            errors = {"tenant": "no tenant has this id"}
            return _tenants_page(visit, page_token, errors=errors)
        return RedirectResponse(f"{ROOT}/{found.id}/users", status_code=303)
    return _tenants_page(visit, page_token, done=done)


@router.post("/tenants")
async def create_tenant(visit: Writing) -> Response:
    return await submit(
        visit,
        TenantCreate,
        visit.services.directory.create_tenant,
        tenant_id=None,
        field="name",
        done=lambda made: back_to(f"{ROOT}/{made.id}/users", "tenant_created"),
        again=lambda posted, errors: _tenants_page(visit, None, posted=posted, errors=errors),
    )


# -- one tenant's sections -------------------------------------------------------------------


def _section_page(
    visit: Visit,
    tenant_id: str,
    section: str,
    filters: dict[str, str | None],
    *,
    posted: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    store = visit.services.directory
    tenant = store.get_tenant(tenant_id)
    page_token = filters.pop("page_token", None)
    if section == BINDINGS:
        model: type[BaseModel] = RoleBindingCreate
        page = store.list_role_bindings(
            tenant_id, limit=PAGE_SIZE, page_token=page_token, **filters
        )
        items, next_token = [b.model_dump() for b in page.items], page.next_page_token
    else:
        kind = KINDS[section]
        model = kind.create
        if filters.get("id"):
            object_id = filters["id"]
            items, next_token = _found(lambda: store.get_object(kind, tenant_id, object_id)), None
        else:
            page = store.list_objects(kind, tenant_id, limit=PAGE_SIZE, page_token=page_token)
            items, next_token = [o.model_dump() for o in page.items], page.next_page_token
    query = {k: v for k, v in filters.items() if v}
    return visit.render_form(
        "pages/directory_tenant.html",
        errors,
        tenant=tenant,
        section=section,
        singular=SINGULAR.get(section, "role binding"),
        sections=SECTIONS,
        items=items,
        columns=[n for n in model.model_fields if n != "id"] if section != BINDINGS else [],
        next_url=f"?{urlencode({**query, 'page_token': next_token})}" if next_token else None,
        filters=query,
        fields=form_fields(model, posted=posted),
        done=NOTICES.get(done or ""),
    )


def _found(lookup: Callable[[], BaseModel]) -> list[dict[str, Any]]:
    """The one object an id search finds, or none."""
    try:
        return [lookup().model_dump()]
    except NotFound:
        return []


@router.get("/{tenant_id}/{section}")
def section(
    visit: Reading,
    tenant_id: UUID,
    section: str,
    page_token: str | None = Token,
    id: str | None = _id_query(),
    subject_type: str | None = Query(default=None, pattern="^(user|client|group|company)?$"),
    subject_id: str | None = _id_query(),
    role: str | None = Query(default=None, max_length=256),
    done: str | None = Notice,
) -> Response:
    filters: dict[str, str | None] = {"page_token": page_token}
    if _section(section) == BINDINGS:
        filters |= {
            "subject_type": subject_type or None,
            "subject_id": subject_id or None,
            "role": role or None,
        }
    else:
        filters["id"] = id or None
    return _section_page(visit, str(tenant_id), section, filters, done=done)


@router.post("/{tenant_id}/{section}")
async def create(visit: Writing, tenant_id: UUID, section: str) -> Response:
    """A new object or role binding, validated as the admin API's POST validates it."""
    tid, store = str(tenant_id), visit.services.directory
    if _section(section) == BINDINGS:
        model: type[BaseModel] = RoleBindingCreate
        save: Callable[[Any], Any] = partial(store.create_role_binding, tid)
    else:
        model, save = KINDS[section].create, partial(store.create_object, KINDS[section], tid)
    return await submit(
        visit,
        model,
        save,
        tenant_id=tid,
        field="id",
        done=lambda _: back_to(f"{ROOT}/{tid}/{section}", "created"),
        again=lambda posted, errors: _section_page(
            visit, tid, section, {}, posted=posted, errors=errors
        ),
    )


@router.post("/{tenant_id}/role-bindings/{binding_id}/delete")
async def delete_binding(visit: Writing, tenant_id: UUID, binding_id: str) -> Response:
    tid, store = str(tenant_id), visit.services.directory
    await removed(visit.services, tid, partial(store.delete_role_binding, tid, binding_id))
    return back_to(f"{ROOT}/{tid}/{BINDINGS}", "binding_deleted")

"""`/admin/v1/tenants/...`: the directory admin API (tenants, subjects, groups, companies,
memberships and role bindings).

Every successful write brings this replica's snapshot up to date before responding (only the
subjects the write touched are reloaded), so the very next decision sees it; other replicas
pick it up from the revision counters and the change log when they poll.
"""

# No `from __future__ import annotations`: FastAPI reads the request models of the generated
# per-kind endpoints from their annotations at definition time.

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response, status

from pdp.api.admin_route import AdminRoute
from pdp.api.deps import require_admin, services_of
from pdp.directory.document import export_document, import_document
from pdp.directory.schemas import (
    IDENTIFIER_PATTERN,
    ROLE_PATTERN,
    MemberAdd,
    MemberRead,
    Page,
    RoleBindingCreate,
    RoleBindingRead,
    SubjectType,
    TenantCreate,
    TenantRead,
    TenantUpdate,
)
from pdp.directory.store import (
    CLIENT,
    COMPANY,
    DEFAULT_PAGE_SIZE,
    GROUP,
    MAX_PAGE_SIZE,
    USER,
    DirectoryStore,
    Kind,
)

router = APIRouter(
    prefix="/admin/v1",
    tags=["admin: directory"],
    dependencies=[Depends(require_admin)],
    route_class=AdminRoute,
)

# Ids in paths and filters obey the same rules as in bodies (no NUL, control characters or
# '/'), so the store never sees what it cannot hold.
ObjectId = Annotated[str, Path(max_length=256, pattern=IDENTIFIER_PATTERN)]
IdFilter = Annotated[str | None, Query(max_length=256, pattern=IDENTIFIER_PATTERN)]
RoleFilter = Annotated[str | None, Query(max_length=256, pattern=ROLE_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
PageToken = Annotated[str | None, Query(max_length=2048)]
NO_CONTENT: dict[str, Any] = {"status_code": status.HTTP_204_NO_CONTENT, "response_class": Response}


def _store(request: Request) -> DirectoryStore:
    return services_of(request).directory


def _written(request: Request, tenant_id: UUID | str) -> None:
    """Make this replica's snapshot show the write before the response goes out."""
    services_of(request).snapshot.refresh(str(tenant_id))


# -- the directory file ------------------------------------------------------------------------


@router.post("/directory/import")
def import_directory(
    request: Request,
    document: Annotated[dict[str, Any], Body(description="the directory file, as JSON")],
) -> dict[str, Any]:
    """Make every tenant the document lists match it exactly, all of it or none of it, as
    `pdp directory import` does; an error names the entry and the field. Answers the counts."""
    report = import_document(_store(request), document)
    for tenant_id in report.changed_tenants:
        _written(request, tenant_id)
    return report.to_dict()


@router.get("/directory/export")
def export_directory(
    request: Request, tenant: Annotated[list[UUID] | None, Query()] = None
) -> dict[str, Any]:
    """Every tenant (or the ones named by `tenant`, repeatable) as one directory document."""
    wanted = [str(t) for t in tenant] if tenant else None
    return export_document(_store(request), tenant_ids=wanted)


# -- tenants ---------------------------------------------------------------------------------


@router.get("/tenants", response_model=Page[TenantRead])
def list_tenants(
    request: Request, limit: Limit = DEFAULT_PAGE_SIZE, page_token: PageToken = None
) -> Page[TenantRead]:
    return _store(request).list_tenants(limit=limit, page_token=page_token)


@router.post("/tenants", response_model=TenantRead, status_code=status.HTTP_201_CREATED)
def create_tenant(request: Request, data: TenantCreate) -> TenantRead:
    tenant = _store(request).create_tenant(data)
    _written(request, tenant.id)
    return tenant


@router.get("/tenants/{tenant_id}", response_model=TenantRead)
def get_tenant(request: Request, tenant_id: UUID) -> TenantRead:
    return _store(request).get_tenant(str(tenant_id))


@router.patch("/tenants/{tenant_id}", response_model=TenantRead)
def update_tenant(request: Request, tenant_id: UUID, data: TenantUpdate) -> TenantRead:
    tenant = _store(request).update_tenant(str(tenant_id), data)
    _written(request, tenant_id)
    return tenant


@router.delete("/tenants/{tenant_id}", **NO_CONTENT)
def delete_tenant(request: Request, tenant_id: UUID) -> Response:
    _store(request).delete_tenant(str(tenant_id))
    _written(request, tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- users, clients, groups, companies: the same five endpoints each -------------------------


def _add_object_routes(kind: Kind[Any], plural: str) -> None:
    collection = f"/tenants/{{tenant_id}}/{plural}"
    item = f"{collection}/{{object_id}}"
    create_model, update_model, read_model = kind.create, kind.update, kind.read

    @router.get(collection, response_model=Page[read_model], name=f"list_{plural}")
    def list_objects(
        request: Request,
        tenant_id: UUID,
        limit: Limit = DEFAULT_PAGE_SIZE,
        page_token: PageToken = None,
    ) -> Any:
        return _store(request).list_objects(
            kind, str(tenant_id), limit=limit, page_token=page_token
        )

    @router.post(
        collection,
        response_model=read_model,
        status_code=status.HTTP_201_CREATED,
        name=f"create_{kind.name}",
    )
    def create_object(request: Request, tenant_id: UUID, data: create_model) -> Any:  # type: ignore[valid-type]
        created = _store(request).create_object(kind, str(tenant_id), data)
        _written(request, tenant_id)
        return created

    @router.get(item, response_model=read_model, name=f"get_{kind.name}")
    def get_object(request: Request, tenant_id: UUID, object_id: ObjectId) -> Any:
        return _store(request).get_object(kind, str(tenant_id), object_id)

    @router.patch(item, response_model=read_model, name=f"update_{kind.name}")
    def update_object(
        request: Request,
        tenant_id: UUID,
        object_id: ObjectId,
        data: update_model,  # type: ignore[valid-type]
    ) -> Any:
        updated = _store(request).update_object(kind, str(tenant_id), object_id, data)
        _written(request, tenant_id)
        return updated

    @router.delete(item, name=f"delete_{kind.name}", **NO_CONTENT)
    def delete_object(request: Request, tenant_id: UUID, object_id: ObjectId) -> Response:
        _store(request).delete_object(kind, str(tenant_id), object_id)
        _written(request, tenant_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


for _kind, _plural in (
    (USER, "users"),
    (CLIENT, "clients"),
    (GROUP, "groups"),
    (COMPANY, "companies"),
):
    _add_object_routes(_kind, _plural)


# -- group members -----------------------------------------------------------------------------


@router.get("/tenants/{tenant_id}/groups/{group_id}/members", response_model=Page[MemberRead])
def list_members(
    request: Request,
    tenant_id: UUID,
    group_id: ObjectId,
    limit: Limit = DEFAULT_PAGE_SIZE,
    page_token: PageToken = None,
) -> Page[MemberRead]:
    return _store(request).list_members(
        str(tenant_id), group_id, limit=limit, page_token=page_token
    )


@router.post(
    "/tenants/{tenant_id}/groups/{group_id}/members",
    response_model=MemberRead,
    status_code=status.HTTP_201_CREATED,
)
def add_member(
    request: Request, tenant_id: UUID, group_id: ObjectId, data: MemberAdd
) -> MemberRead:
    member = _store(request).add_member(str(tenant_id), group_id, data.subject_id)
    _written(request, tenant_id)
    return member


@router.delete("/tenants/{tenant_id}/groups/{group_id}/members/{subject_id}", **NO_CONTENT)
def remove_member(
    request: Request, tenant_id: UUID, group_id: ObjectId, subject_id: ObjectId
) -> Response:
    _store(request).remove_member(str(tenant_id), group_id, subject_id)
    _written(request, tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- role bindings -----------------------------------------------------------------------------


@router.get("/tenants/{tenant_id}/role-bindings", response_model=Page[RoleBindingRead])
def list_role_bindings(
    request: Request,
    tenant_id: UUID,
    subject_type: SubjectType | None = None,
    subject_id: IdFilter = None,
    role: RoleFilter = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    page_token: PageToken = None,
) -> Page[RoleBindingRead]:
    return _store(request).list_role_bindings(
        str(tenant_id),
        subject_type=subject_type,
        subject_id=subject_id,
        role=role,
        limit=limit,
        page_token=page_token,
    )


@router.post(
    "/tenants/{tenant_id}/role-bindings",
    response_model=RoleBindingRead,
    status_code=status.HTTP_201_CREATED,
)
def create_role_binding(
    request: Request, tenant_id: UUID, data: RoleBindingCreate
) -> RoleBindingRead:
    binding = _store(request).create_role_binding(str(tenant_id), data)
    _written(request, tenant_id)
    return binding


@router.delete("/tenants/{tenant_id}/role-bindings/{binding_id}", **NO_CONTENT)
def delete_role_binding(request: Request, tenant_id: UUID, binding_id: ObjectId) -> Response:
    _store(request).delete_role_binding(str(tenant_id), binding_id)
    _written(request, tenant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

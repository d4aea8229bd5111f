"""The directory file: import and export of tenants as one YAML/JSON document (GitOps).

Import makes every tenant the document lists match it exactly, in one transaction, and leaves
other tenants alone. It changes only what differs (compared as sets, written in bulk: see
`sync`), so importing the same file twice is a no-op that bumps no revision counter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pdp.directory.entries import entries_named
from pdp.directory.rows import DirectoryReader
from pdp.directory.schemas import (
    ClientCreate,
    CompanyCreate,
    GroupCreate,
    TenantCreate,
    TenantId,
    TenantRead,
    TenantUpdate,
    UserCreate,
)
from pdp.directory.store import (
    CLIENT,
    COMPANY,
    GROUP,
    USER,
    DirectoryStore,
    DirectoryTransaction,
    Kind,
    TenantState,
    canonical_tenant_id,
)
from pdp.directory.sync import plan_tenant
from pdp.errors import InvalidRequest, NotFound, PDPError, Unprocessable

# Sections of a tenant, in the order the document lists them.
SECTIONS: dict[str, Kind[Any]] = {
    "companies": COMPANY,
    "groups": GROUP,
    "users": USER,
    "clients": CLIENT,
}


class DocumentTenant(TenantCreate):
    id: TenantId
    companies: list[CompanyCreate] = Field(default_factory=list)
    groups: list[GroupCreate] = Field(default_factory=list)
    users: list[UserCreate] = Field(default_factory=list)
    clients: list[ClientCreate] = Field(default_factory=list)


class DirectoryDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenants: list[DocumentTenant] = Field(default_factory=list)


@dataclass
class ImportReport:
    """How many objects of each section the import created, updated, deleted or left alone."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    changed_tenants: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for counts in (self.created, self.updated, self.deleted, self.unchanged):
            for section in ("tenants", *SECTIONS):
                counts.setdefault(section, 0)

    @property
    def changed(self) -> bool:
        return bool(self.changed_tenants)

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": dict(self.created),
            "updated": dict(self.updated),
            "deleted": dict(self.deleted),
            "unchanged": dict(self.unchanged),
            "changed_tenants": list(self.changed_tenants),
        }

    def __str__(self) -> str:
        return ", ".join(
            f"{sum(counts.values())} {label}"
            for label, counts in (
                ("created", self.created),
                ("updated", self.updated),
                ("deleted", self.deleted),
                ("unchanged", self.unchanged),
            )
        )


def _path(location: Sequence[int | str]) -> str:
    """('tenants', 0, 'users', 2, 'company') -> 'tenants[0].users[2].company'."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Make a store error name its place in the document rather than a bare field."""
    try:
        yield
    except PDPError as exc:
        exc.field = f"{path}.{exc.field}" if exc.field else path
        raise


def parse_document(doc: object) -> DirectoryDocument:
    """Validate the whole document, including references inside it, before touching the store."""
    try:
        parsed = DirectoryDocument.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidRequest(message, field=_path(first["loc"]) or "document") from None
    tenant_ids: set[str] = set()
    names: set[str] = set()
    subject_ids: set[str] = set()
    # One identity provider leads to one company, across every tenant.
    providers: set[tuple[str, str]] = set()
    for t, tenant in enumerate(parsed.tenants):
        where = f"tenants[{t}]"
        for value, seen, name in ((tenant.id, tenant_ids, "id"), (tenant.name, names, "name")):
            if value in seen:
                raise InvalidRequest(f"duplicate tenant {name} {value!r}", field=f"{where}.{name}")
            seen.add(value)
        ids: dict[str, set[str]] = {}
        for section in SECTIONS:
            seen = (
                subject_ids if section in ("users", "clients") else ids.setdefault(section, set())
            )
            for i, item in enumerate(getattr(tenant, section)):
                if item.id in seen:
                    raise InvalidRequest(
                        f"duplicate id {item.id!r}", field=f"{where}.{section}[{i}].id"
                    )
                seen.add(item.id)
        for i, company in enumerate(tenant.companies):
            for ref in company.identity_providers:
                if ref.key in providers:
                    raise InvalidRequest(
                        f"identity provider {ref.provider!r} of {ref.issuer} is listed twice",
                        field=f"{where}.companies[{i}].identity_providers",
                    )
                providers.add(ref.key)
        tenant_subjects = {s.id for s in (*tenant.users, *tenant.clients)}
        for i, user in enumerate(tenant.users):
            if user.company is not None and user.company not in ids["companies"]:
                raise Unprocessable(
                    f"company {user.company!r} is not in this tenant",
                    field=f"{where}.users[{i}].company",
                )
        for i, group in enumerate(tenant.groups):
            missing = sorted(set(group.members) - tenant_subjects)
            if missing:
                raise Unprocessable(
                    f"members are not users or clients of this tenant: {', '.join(missing)}",
                    field=f"{where}.groups[{i}].members",
                )
    return parsed


def _tenant_document(tenant: BaseModel, sections: dict[str, Sequence[BaseModel]]) -> dict[str, Any]:
    body = tenant.model_dump(include={"id", "name", "timezone", "attributes"})
    for section in SECTIONS:
        items = sorted(sections[section], key=lambda item: item.id)  # type: ignore[attr-defined]
        body[section] = [item.model_dump(exclude={"tenant_id"}) for item in items]
    return body


def normalize_document(doc: object) -> dict[str, Any]:
    """The document as `export_document` would write it after importing it: defaults filled
    in, lists of roles and members sorted, objects and tenants ordered by id."""
    with entries_named(doc):
        parsed = parse_document(doc)
    tenants = sorted(parsed.tenants, key=lambda t: t.id)
    return {"tenants": [_tenant_document(t, {s: getattr(t, s) for s in SECTIONS}) for t in tenants]}


def _state_sections(state: TenantState) -> dict[str, Sequence[BaseModel]]:
    return {section: getattr(state, section) for section in SECTIONS}


def export_document(
    store: DirectoryStore, tenant_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """Every tenant (or the ones named) as one document that `import_document` accepts."""
    wanted = (
        store.tenant_ids()
        if tenant_ids is None
        else sorted({canonical_tenant_id(t) for t in tenant_ids})
    )
    tenants = []
    for tenant_id in wanted:
        state = store.load_tenant(tenant_id)
        if state is None:
            raise NotFound(f"tenant {tenant_id} does not exist", field="tenant_id")
        tenants.append(_tenant_document(state.tenant, _state_sections(state)))
    return {"tenants": tenants}


def _sync_tenant_row(
    tx: DirectoryTransaction, tenant: DocumentTenant, current: TenantRead | None, where: str
) -> str:
    desired = tenant.model_dump(include={"id", "name", "timezone", "attributes"})
    with _at(where):
        if current is None:
            tx.create_tenant(TenantCreate.model_validate(desired))
            return "created"
        if current.model_dump() == desired:
            return "unchanged"
        del desired["id"]
        tx.update_tenant(tenant.id, TenantUpdate.model_validate(desired))
        return "updated"


def import_document(store: DirectoryStore, doc: object) -> ImportReport:
    """Make each tenant in `doc` match it exactly; all of it or none of it. An error names
    the entry (tenant, kind, id) and the field in its message, and the path in `field`."""
    with entries_named(doc):
        return _import(store, doc)


def _import(store: DirectoryStore, doc: object) -> ImportReport:
    parsed = parse_document(doc)
    report = ImportReport()
    with store.transaction() as tx:
        reader = DirectoryReader(tx.connection())
        # Tenants first, so that every later step finds its tenant.
        for t, tenant in enumerate(parsed.tenants):
            outcome = _sync_tenant_row(tx, tenant, reader.tenant(tenant.id), f"tenants[{t}]")
            _count(report, outcome, "tenants")
        plans = [
            plan_tenant(tx, tenant, f"tenants[{t}]") for t, tenant in enumerate(parsed.tenants)
        ]
        # Every removal, in all tenants, before any creation: a subject may move from one
        # listed tenant to another.
        for plan in plans:
            plan.remove(tx.connection())
        for plan in plans:
            plan.apply(tx.connection())
            if plan.changed:
                tx.note(plan.tenant_id, plan.affected_subjects())
            for section in SECTIONS:
                for outcome in ("created", "updated", "deleted", "unchanged"):
                    getattr(report, outcome)[section] += len(plan.ids(section, outcome))
        report.changed_tenants = sorted(tx.changed_tenants)
    return report


def _count(report: ImportReport, outcome: str, section: str) -> None:
    counts: dict[str, int] = getattr(report, outcome)
    counts[section] += 1


def load_document(path: str | Path) -> dict[str, Any]:
    """Read a directory file; `.json` is parsed as JSON, anything else as YAML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}", field="file") from None
    try:
        doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            field="file",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise InvalidRequest(f"{path} is not valid YAML: {problem}{where}", field="file") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidRequest(f"{path} must hold a mapping with a 'tenants' list", field="file")
    return doc

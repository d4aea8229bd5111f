"""Bulk reads for the snapshot: a tenant's facts as plain rows, with a fixed number of queries.

The snapshot of a tenant with 100,000 users must load in about a second, so these reads skip
the ORM and the read models: a handful of Core SELECTs per tenant (or per batch of subjects),
never one query per object. All reads of one `DirectoryReader` share one transaction, so the
revision, the change log and the rows agree with each other.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Result, Row, Text, and_, cast, or_, select
from sqlalchemy.sql.elements import ColumnElement

from pdp.directory.models import (
    Company,
    CompanyIdentityProvider,
    DirectoryChange,
    DirectoryRevision,
    Group,
    GroupMember,
    RoleBinding,
    Subject,
    Tenant,
)
from pdp.directory.schemas import TenantRead

# Bound parameters per IN list: well below SQLite's and PostgreSQL's limits.
_CHUNK = 2000

SubjectRow = tuple[
    str, str, str | None, str | None, dict[str, Any]
]  # id, type, email, company, attributes


@dataclass(frozen=True)
class Change:
    revision: int
    scope: str  # "subject", "tenant" or "all" (see models.DirectoryChange)
    subject_id: str


@dataclass(frozen=True)
class TenantRows:
    """Some or all subjects of one tenant with everything their facts are made of."""

    subjects: list[SubjectRow]
    bindings: list[tuple[str, str, str]]  # subject type, subject id, role
    memberships: list[tuple[str, str]]  # group id, subject id
    companies: list[tuple[str, dict[str, Any]]]  # id, attributes


def parse_json_values(texts: Sequence[str]) -> list[Any]:
    """Parse many JSON texts in one call: faster than one `json.loads` each, and equal object
    keys come out as one shared string. Short top-level string values are shared too."""
    values: list[Any] = json.loads("[" + ",".join(texts) + "]")
    shared: dict[str, str] = {}
    for value in values:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, str) and len(item) <= 64:
                    value[key] = shared.setdefault(item, item)
    return values


def _rows_in_batches(result: Result[Any]) -> Iterator[Row[Any]]:
    """Rows fetched a batch at a time, so raw rows never pile up beside the converted ones."""
    for batch in result.partitions(_CHUNK):
        yield from batch


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class DirectoryReader:
    """Reads of one consistent state of the store (see `DirectoryStore.reader`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def revisions(self) -> dict[str, int]:
        """Change counters of every tenant ever written (deleted tenants keep theirs)."""
        stmt = select(DirectoryRevision.tenant_id, DirectoryRevision.revision)
        return {tenant_id: revision for tenant_id, revision in self._connection.execute(stmt)}

    def tenant_ids(self) -> list[str]:
        return list(self._connection.execute(select(Tenant.id).order_by(Tenant.id)).scalars())

    def revision(self, tenant_id: str) -> int:
        stmt = select(DirectoryRevision.revision).where(DirectoryRevision.tenant_id == tenant_id)
        return self._connection.execute(stmt).scalar() or 0

    def changes_since(self, tenant_id: str, revision: int) -> list[Change]:
        stmt = select(DirectoryChange.revision, DirectoryChange.scope, DirectoryChange.subject_id)
        stmt = stmt.where(
            DirectoryChange.tenant_id == tenant_id, DirectoryChange.revision > revision
        )
        return [Change(*row) for row in self._connection.execute(stmt)]

    def tenant(self, tenant_id: str) -> TenantRead | None:
        stmt = select(Tenant.id, Tenant.name, Tenant.timezone, Tenant.attributes)
        row = self._connection.execute(stmt.where(Tenant.id == tenant_id)).first()
        if row is None:
            return None
        return TenantRead(id=row[0], name=row[1], timezone=row[2], attributes=row[3])

    def group_ids(self, tenant_id: str) -> list[str]:
        stmt = select(Group.id).where(Group.tenant_id == tenant_id)
        return list(self._connection.execute(stmt).scalars())

    def company_providers(self, tenant_id: str) -> list[tuple[str, str, str]]:
        """(company id, issuer, provider) of every identity provider of the tenant's companies."""
        table = CompanyIdentityProvider
        stmt = select(table.company_id, table.issuer, table.provider).where(
            table.tenant_id == tenant_id
        )
        return [(row[0], row[1], row[2]) for row in self._connection.execute(stmt)]

    def companies_with_roles(
        self, tenant_id: str, company_ids: Sequence[str]
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, str, str]]]:
        """The named companies (id, attributes) and their role bindings."""
        if not company_ids:
            return [], []
        owners = and_(
            RoleBinding.subject_type == "company",
            RoleBinding.subject_id.in_(company_ids),  # type: ignore[attr-defined]
        )
        return self._companies(tenant_id, company_ids), self._bindings(tenant_id, owners, {})

    def tenant_rows(self, tenant_id: str, subject_ids: Collection[str] | None = None) -> TenantRows:
        """All subjects of the tenant, or the ones named that are in it."""
        if subject_ids is None:
            return self._rows(tenant_id, [None])
        ids = sorted(subject_ids)
        parts = [self._rows(tenant_id, chunk) for chunk in _chunks(ids)]
        return TenantRows(
            subjects=[row for part in parts for row in part.subjects],
            bindings=[row for part in parts for row in part.bindings],
            memberships=[row for part in parts for row in part.memberships],
            companies=[row for part in parts for row in part.companies],
        )

    def _rows(self, tenant_id: str, ids: Sequence[str | None]) -> TenantRows:
        every = ids == [None]

        def among(column: Any) -> list[ColumnElement[bool]]:
            return [] if every else [column.in_(ids)]

        execute = self._connection.execute
        # One string object per id, role and type name, however many rows repeat it.
        names: dict[str, str] = {}
        share = names.setdefault
        result = execute(
            select(
                Subject.id,
                Subject.type,
                Subject.email,
                Subject.company,
                cast(Subject.attributes, Text),
            ).where(Subject.tenant_id == tenant_id, *among(Subject.id))
        )
        # In batches: the JSON texts of 100,000 subjects at once would double the peak memory.
        subjects: list[SubjectRow] = []
        for batch in result.partitions(_CHUNK):
            attributes = parse_json_values([row[4] for row in batch])
            subjects.extend(
                (
                    share(row[0], row[0]),
                    share(row[1], row[1]),
                    row[2],
                    row[3] and share(row[3], row[3]),
                    attrs,
                )
                for row, attrs in zip(batch, attributes, strict=True)
            )
        # Ordered by group, so each subject's groups come out sorted.
        memberships = [
            (share(row[0], row[0]), share(row[1], row[1]))
            for row in _rows_in_batches(
                execute(
                    select(GroupMember.group_id, GroupMember.subject_id)
                    .where(GroupMember.tenant_id == tenant_id, *among(GroupMember.subject_id))
                    .order_by(GroupMember.group_id)
                )
            )
        ]
        group_ids = sorted({group for group, _ in memberships})
        company_ids = sorted({row[3] for row in subjects if row[3] is not None})
        bindings: list[tuple[str, str, str]] = []
        companies: list[tuple[str, dict[str, Any]]] = []
        if every:
            bindings = self._bindings(tenant_id, None, names)
            companies = self._companies(tenant_id, None)
        elif subjects:
            owners = [
                and_(
                    RoleBinding.subject_type.in_(("user", "client")),
                    RoleBinding.subject_id.in_(ids),
                ),  # type: ignore[attr-defined]
                and_(RoleBinding.subject_type == "group", RoleBinding.subject_id.in_(group_ids)),  # type: ignore[attr-defined]
                and_(
                    RoleBinding.subject_type == "company", RoleBinding.subject_id.in_(company_ids)
                ),  # type: ignore[attr-defined]
            ]
            bindings = self._bindings(tenant_id, or_(*owners), names)
            companies = self._companies(tenant_id, company_ids)
        return TenantRows(subjects, bindings, memberships, companies)

    def _bindings(
        self, tenant_id: str, owners: ColumnElement[bool] | None, names: dict[str, str]
    ) -> list[tuple[str, str, str]]:
        stmt = select(RoleBinding.subject_type, RoleBinding.subject_id, RoleBinding.role).where(
            RoleBinding.tenant_id == tenant_id
        )
        if owners is not None:
            stmt = stmt.where(owners)
        share = names.setdefault
        return [
            (share(row[0], row[0]), share(row[1], row[1]), share(row[2], row[2]))
            for row in _rows_in_batches(self._connection.execute(stmt))
        ]

    def _companies(
        self, tenant_id: str, company_ids: Sequence[str] | None
    ) -> list[tuple[str, dict[str, Any]]]:
        stmt = select(Company.id, Company.attributes).where(Company.tenant_id == tenant_id)
        if company_ids is not None:
            stmt = stmt.where(Company.id.in_(company_ids))  # type: ignore[attr-defined]
        return [(row[0], row[1]) for row in self._connection.execute(stmt)]

"""Database tables of the directory.

Users and machine clients share one `subjects` table, so the primary key alone enforces that a
subject id is unique across every tenant and every subject type. Role bindings live in a single
table for all subject types; the `roles` lists on the API are a view of it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, ForeignKeyConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Tenant(SQLModel, table=True):
    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    timezone: str = Field(max_length=64)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Company(SQLModel, table=True):
    __tablename__ = "companies"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", ondelete="CASCADE")
    id: str = Field(primary_key=True, max_length=256)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class CompanyIdentityProvider(SQLModel, table=True):
    """An identity provider whose federated users belong to a company: the token issuer and
    the ProviderName its ID tokens' `identities` claim names (pdp.directory.federated).

    The primary key is global, so one provider leads to one company in one tenant only.
    """

    __tablename__ = "company_identity_providers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "company_id"], ["companies.tenant_id", "companies.id"], ondelete="CASCADE"
        ),
        Index("ix_company_identity_providers_company", "tenant_id", "company_id"),
    )

    issuer: str = Field(primary_key=True, max_length=1024)
    provider: str = Field(primary_key=True, max_length=32)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE")
    company_id: str = Field(max_length=256)


class Subject(SQLModel, table=True):
    """A user (`type` "user") or a machine client (`type` "client")."""

    __tablename__ = "subjects"
    __table_args__ = (
        # Target of the composite foreign key from group memberships (same-tenant members).
        UniqueConstraint("tenant_id", "id", name="uq_subjects_tenant_id"),
        # No ON DELETE action: the store detaches users before it deletes their company.
        ForeignKeyConstraint(["tenant_id", "company"], ["companies.tenant_id", "companies.id"]),
        Index("ix_subjects_tenant_type_id", "tenant_id", "type", "id"),
    )

    id: str = Field(primary_key=True, max_length=256)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE")
    type: str = Field(max_length=16)
    email: str | None = Field(default=None, max_length=320)
    company: str | None = Field(default=None, max_length=256)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Group(SQLModel, table=True):
    __tablename__ = "groups"

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", ondelete="CASCADE")
    id: str = Field(primary_key=True, max_length=256)


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"], ["groups.tenant_id", "groups.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "subject_id"], ["subjects.tenant_id", "subjects.id"], ondelete="CASCADE"
        ),
        Index("ix_group_members_subject", "subject_id"),
    )

    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id", ondelete="CASCADE")
    group_id: str = Field(primary_key=True, max_length=256)
    subject_id: str = Field(primary_key=True, max_length=256)


class RoleBinding(SQLModel, table=True):
    """`role` bound to a user, client, group or company; removed with its subject by the store."""

    __tablename__ = "role_bindings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "subject_type", "subject_id", "role", name="uq_role_binding"),
    )

    id: str = Field(primary_key=True, max_length=36)
    tenant_id: str = Field(foreign_key="tenants.id", ondelete="CASCADE", index=True)
    subject_type: str = Field(max_length=16)
    subject_id: str = Field(max_length=256)
    role: str = Field(max_length=256)


class DirectoryRevision(SQLModel, table=True):
    """A per-tenant change counter, bumped by every write so replicas can notice changes.

    Deliberately no foreign key: the row outlives its tenant, so a tenant deleted and created
    again never reuses a revision number another replica may have already seen.
    """

    __tablename__ = "directory_revisions"

    tenant_id: str = Field(primary_key=True, max_length=36)
    revision: int = Field(default=0)


class DirectoryChange(SQLModel, table=True):
    """What one write changed in a tenant, so a replica catches up on just those subjects.

    Every write adds at least one row per changed tenant, with the tenant's new revision:
    `scope` "subject" names a user or client whose facts may have changed, "tenant" only the
    tenant row, "all" the whole tenant (created, deleted, or too much to list). Revisions
    missing from the log (pruned) make a replica reload the whole tenant.
    """

    __tablename__ = "directory_changes"
    __table_args__ = (Index("ix_directory_changes_tenant_revision", "tenant_id", "revision"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=36)
    revision: int
    scope: str = Field(max_length=8)
    subject_id: str = Field(default="", max_length=256)

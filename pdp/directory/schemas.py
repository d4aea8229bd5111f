"""Request and response models of the directory, shared by the admin API, the store and the
directory file. Request models forbid unknown fields so a typo is an error, not a silent no-op.
"""

from __future__ import annotations

import uuid
import zoneinfo
from typing import Annotated, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

# Ids appear in URL paths, so they may not contain '/', whitespace or control characters.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x20\x7f/]+$")
]
RoleName = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x20\x7f]+$")
]
Email = Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Attributes = dict[str, JsonValue]
SubjectType = Literal["user", "client", "group", "company"]


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("must be a UUID") from None


def _valid_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


def _unique_sorted(values: list[str]) -> list[str]:
    """Role and member lists are sets; a canonical order makes reads and exports stable."""
    return sorted(set(values))


TenantId = Annotated[str, AfterValidator(_canonical_uuid)]
TimeZone = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_valid_timezone)
]
TenantName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Roles = Annotated[list[RoleName], AfterValidator(_unique_sorted)]
Members = Annotated[list[Identifier], AfterValidator(_unique_sorted)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Patch(_Request):
    """PATCH body: only the fields sent change; `null` is allowed only where it clears a value."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _reject_null(self) -> _Patch:
        for name in self.model_fields_set - self.nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self

    def changes(self) -> dict[str, object]:
        return self.model_dump(exclude_unset=True)


class TenantCreate(_Request):
    id: TenantId | None = None
    name: TenantName
    timezone: TimeZone = "UTC"
    attributes: Attributes = Field(default_factory=dict)


class TenantUpdate(_Patch):
    name: TenantName | None = None
    timezone: TimeZone | None = None
    attributes: Attributes | None = None


class TenantRead(BaseModel):
    id: str
    name: str
    timezone: str
    attributes: Attributes


class UserCreate(_Request):
    id: Identifier
    email: Email | None = None
    company: Identifier | None = None
    roles: Roles = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)


class UserUpdate(_Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"email", "company"})

    email: Email | None = None
    company: Identifier | None = None
    roles: Roles | None = None
    attributes: Attributes | None = None


class UserRead(BaseModel):
    id: str
    tenant_id: str
    email: str | None
    company: str | None
    roles: list[str]
    attributes: Attributes


class ClientCreate(_Request):
    id: Identifier
    roles: Roles = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)


class ClientUpdate(_Patch):
    roles: Roles | None = None
    attributes: Attributes | None = None


class ClientRead(BaseModel):
    id: str
    tenant_id: str
    roles: list[str]
    attributes: Attributes


class GroupCreate(_Request):
    id: Identifier
    roles: Roles = Field(default_factory=list)
    members: Members = Field(default_factory=list)


class GroupUpdate(_Patch):
    roles: Roles | None = None
    members: Members | None = None


class GroupRead(BaseModel):
    id: str
    tenant_id: str
    roles: list[str]
    members: list[str]


class CompanyCreate(_Request):
    id: Identifier
    roles: Roles = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)


class CompanyUpdate(_Patch):
    roles: Roles | None = None
    attributes: Attributes | None = None


class CompanyRead(BaseModel):
    id: str
    tenant_id: str
    roles: list[str]
    attributes: Attributes


class MemberAdd(_Request):
    subject_id: Identifier


class MemberRead(BaseModel):
    group_id: str
    subject_id: str
    subject_type: Literal["user", "client"]


class RoleBindingCreate(_Request):
    subject_type: SubjectType
    subject_id: Identifier
    role: RoleName


class RoleBindingRead(BaseModel):
    id: str
    tenant_id: str
    subject_type: SubjectType
    subject_id: str
    role: str


ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_page_token: str | None = None

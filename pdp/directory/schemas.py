"""Request and response models of the directory, shared by the admin API, the store and the
directory file. Request models forbid unknown fields so a typo is an error, not a silent no-op.
"""

from __future__ import annotations

import json
import math
import uuid
import zoneinfo
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

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
IDENTIFIER_PATTERN = r"^[^\x00-\x20\x7f/]+$"
ROLE_PATTERN = r"^[^\x00-\x20\x7f]+$"
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=IDENTIFIER_PATTERN)
]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=ROLE_PATTERN)]
Email = Annotated[
    str, StringConstraints(max_length=320, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$")
]
SubjectType = Literal["user", "client", "group", "company"]
# Attributes are JSON objects of at most this nesting depth and encoded size (documented in
# docs/reliability.md): deeper or larger ones are refused before they reach the store.
MAX_ATTRIBUTE_DEPTH = 32
MAX_ATTRIBUTE_BYTES = 65_536


def text_problem(value: str) -> str | None:
    """Why the store cannot hold this text (PostgreSQL refuses NUL; UTF-8 cannot encode a
    lone surrogate), or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "contains a lone surrogate"
    return None


def _storable_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _check_json(value: Any, path: str, depth: int) -> None:
    if depth > MAX_ATTRIBUTE_DEPTH:
        raise ValueError(f"{path} is nested deeper than {MAX_ATTRIBUTE_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path} is {value}: only finite numbers are JSON")
    if isinstance(value, str) and (problem := text_problem(value)):
        raise ValueError(f"{path} {problem}")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := text_problem(key):
                raise ValueError(f"a key in {path} {problem}")
            _check_json(item, f"{path}.{key}", depth + 1)


def _storable_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """Finite numbers and storable text only, bounded in depth and size."""
    _check_json(value, "attributes", 1)
    if len(json.dumps(value, separators=(",", ":"))) > MAX_ATTRIBUTE_BYTES:
        raise ValueError(f"attributes are larger than {MAX_ATTRIBUTE_BYTES} bytes as JSON")
    return value


Attributes = Annotated[dict[str, JsonValue], AfterValidator(_storable_attributes)]


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
TenantName = Annotated[
    str, StringConstraints(min_length=1, max_length=200), AfterValidator(_storable_text)
]
Roles = Annotated[list[RoleName], AfterValidator(_unique_sorted)]
Members = Annotated[list[Identifier], AfterValidator(_unique_sorted)]
# The issuer of a token service's tokens (an http(s) URL) and a Cognito ProviderName.
IssuerUrl = Annotated[
    str,
    StringConstraints(min_length=8, max_length=1024, pattern=r"^https?://[^\x00-\x20\x7f]+$"),
    AfterValidator(_storable_text),
]
ProviderName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=r"^[^\x00-\x20\x7f]+$"),
    AfterValidator(_storable_text),
]


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


class IdentityProviderRef(_Request):
    """An identity provider of the token service whose federated users are the company's:
    the issuer of our ID tokens (the user pool's) and the provider's ProviderName."""

    issuer: IssuerUrl
    provider: ProviderName

    @property
    def key(self) -> tuple[str, str]:
        return (self.issuer, self.provider)


def _unique_providers(values: list[IdentityProviderRef]) -> list[IdentityProviderRef]:
    """A set of (issuer, provider): a repeat is a mistake, the order is canonical."""
    keys = [value.key for value in values]
    if len(set(keys)) != len(keys):
        raise ValueError("an identity provider is listed twice")
    return sorted(values, key=lambda value: value.key)


IdentityProviderRefs = Annotated[list[IdentityProviderRef], AfterValidator(_unique_providers)]


class CompanyCreate(_Request):
    id: Identifier
    roles: Roles = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)
    identity_providers: IdentityProviderRefs = Field(default_factory=list)


class CompanyUpdate(_Patch):
    roles: Roles | None = None
    attributes: Attributes | None = None
    identity_providers: IdentityProviderRefs | None = None


class CompanyRead(BaseModel):
    id: str
    tenant_id: str
    roles: list[str]
    attributes: Attributes
    identity_providers: list[IdentityProviderRef] = Field(default_factory=list)


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

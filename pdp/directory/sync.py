"""Make one tenant's objects in the store match the directory file, set-based.

A tenant of 100,000 users cannot be imported one object at a time (a few queries each), so
the import reads the tenant once, compares it with the document as sets, and writes only the
differences with one executemany statement per table and operation, inside the import's
transaction. The plan is made before anything is written: `remove` runs for every listed tenant
before any `apply`, because a subject may move from one listed tenant to another.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, bindparam, select

from pdp.directory.models import (
    Company,
    CompanyIdentityProvider,
    Group,
    GroupMember,
    RoleBinding,
    Subject,
)
from pdp.directory.rows import DirectoryReader
from pdp.directory.store import DirectoryTransaction
from pdp.errors import Conflict

# Sections of a tenant, in the order the document lists them, and their subject type.
SECTION_TYPES = {"companies": "company", "groups": "group", "users": "user", "clients": "client"}
_SUBJECT_SECTIONS = ("users", "clients")
_CHUNK = 2000


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


class Entry(NamedTuple):
    """One object as compared: its scalar fields (attributes as canonical JSON), roles,
    members and (companies) identity providers; `attributes` is the value to write."""

    fields: tuple[Any, ...]
    roles: frozenset[str]
    members: frozenset[str]
    attributes: Any
    providers: frozenset[tuple[str, str]] = frozenset()

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.fields, self.roles, self.members, self.providers)


Objects = dict[str, dict[str, Entry]]  # section -> object id -> entry


# One encoder for every object: `json.dumps` with options builds a new one per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _canonical(attributes: Any) -> str:
    """Attributes compared as canonical JSON, since `==` holds `true == 1` and `1.0 == 1`."""
    return _CANONICAL.encode(attributes)


def _entry(
    section: str,
    values: Sequence[Any],
    roles: Iterable[str],
    members: Iterable[str],
    providers: Iterable[tuple[str, str]] = (),
) -> Entry:
    """`values` are the section's columns: users (email, company, attributes), clients and
    companies (attributes,), groups ()."""
    if section == "groups":
        return Entry((), frozenset(roles), frozenset(members), None)
    *scalars, attributes = values
    fields = (*scalars, _canonical(attributes))
    return Entry(fields, frozenset(roles), frozenset(), attributes, frozenset(providers))


def _columns(section: str, item: Any) -> tuple[Any, ...]:
    if section == "users":
        return (item.email, item.company, item.attributes)
    return () if section == "groups" else (item.attributes,)


def desired_objects(tenant: Any) -> Objects:
    """The document's tenant (a `DocumentTenant`) as comparable entries."""
    return {
        section: {
            item.id: _entry(
                section,
                _columns(section, item),
                item.roles,
                getattr(item, "members", ()),
                (ref.key for ref in getattr(item, "identity_providers", ())),
            )
            for item in getattr(tenant, section)
        }
        for section in SECTION_TYPES
    }


def existing_objects(reader: DirectoryReader, tenant_id: str) -> Objects:
    """What the store holds for the tenant, read with a fixed number of queries."""
    rows = reader.tenant_rows(tenant_id)
    roles: dict[tuple[str, str], set[str]] = {}
    for subject_type, subject_id, role in rows.bindings:
        roles.setdefault((subject_type, subject_id), set()).add(role)
    members: dict[str, set[str]] = {group: set() for group in reader.group_ids(tenant_id)}
    for group_id, subject_id in rows.memberships:
        members[group_id].add(subject_id)
    objects: Objects = {section: {} for section in SECTION_TYPES}
    for subject_id, subject_type, email, company, attributes in rows.subjects:
        section = "users" if subject_type == "user" else "clients"
        values = (email, company, attributes) if section == "users" else (attributes,)
        bound = roles.get((subject_type, subject_id), ())
        objects[section][subject_id] = _entry(section, values, bound, ())
    providers: dict[str, set[tuple[str, str]]] = {}
    for company_id, issuer, provider in reader.company_providers(tenant_id):
        providers.setdefault(company_id, set()).add((issuer, provider))
    for company_id, attributes in rows.companies:
        bound = roles.get(("company", company_id), ())
        objects["companies"][company_id] = _entry(
            "companies", (attributes,), bound, (), providers.get(company_id, ())
        )
    for group_id, group_members in members.items():
        bound = roles.get(("group", group_id), ())
        objects["groups"][group_id] = _entry("groups", (), bound, group_members)
    return objects


@dataclass
class TenantPlan:
    """The differences between one tenant in the store and in the document, and the writes
    that remove them."""

    tenant_id: str
    where: str  # the tenant's place in the document, e.g. "tenants[0]"
    old: Objects
    new: Objects
    positions: dict[str, dict[str, int]]
    outcomes: dict[tuple[str, str], list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.outcomes = {}
        for section in SECTION_TYPES:
            old, new = self.old[section], self.new[section]
            same = sorted(old.keys() & new.keys())
            self.outcomes[(section, "created")] = sorted(new.keys() - old.keys())
            self.outcomes[(section, "deleted")] = sorted(old.keys() - new.keys())
            self.outcomes[(section, "updated")] = [i for i in same if old[i].key != new[i].key]
            self.outcomes[(section, "unchanged")] = [i for i in same if old[i].key == new[i].key]

    def ids(self, section: str, outcome: str) -> list[str]:
        return self.outcomes[(section, outcome)]

    @property
    def changed(self) -> bool:
        return any(ids for (_, outcome), ids in self.outcomes.items() if outcome != "unchanged")

    def remove(self, connection: Connection) -> None:
        """Delete the memberships, role bindings, groups and subjects the document drops."""
        t = self.tenant_id
        gone_members = [
            {"t": t, "g": group, "s": subject}
            for group, entry in self.old["groups"].items()
            for subject in entry.members - self._entry("groups", group).members
        ]
        members = _table(GroupMember)
        _execute(
            connection,
            members.delete().where(*_match(members, t="tenant_id", g="group_id", s="subject_id")),
            gone_members,
        )
        gone_roles = [
            {"t": t, "k": SECTION_TYPES[section], "s": object_id, "r": role}
            for section in SECTION_TYPES
            for object_id, entry in self.old[section].items()
            for role in entry.roles - self._entry(section, object_id).roles
        ]
        bindings = _table(RoleBinding)
        stmt = bindings.delete().where(
            *_match(bindings, t="tenant_id", k="subject_type", s="subject_id", r="role")
        )
        _execute(connection, stmt, gone_roles)
        links = _table(CompanyIdentityProvider)
        stmt = links.delete().where(*_match(links, t="tenant_id", s="issuer", p="provider"))
        gone_links = [
            {"t": t, "s": issuer, "p": provider}
            for company, entry in self.old["companies"].items()
            for issuer, provider in entry.providers - self._entry("companies", company).providers
        ]
        _execute(connection, stmt, gone_links)
        groups = _table(Group)
        stmt = groups.delete().where(*_match(groups, t="tenant_id", i="id"))
        _execute(connection, stmt, [{"t": t, "i": i} for i in self.ids("groups", "deleted")])
        subjects = _table(Subject)
        stmt = subjects.delete().where(*_match(subjects, t="tenant_id", i="id"))
        gone = [{"t": t, "i": i} for s in _SUBJECT_SECTIONS for i in self.ids(s, "deleted")]
        _execute(connection, stmt, gone)

    def apply(self, connection: Connection) -> None:
        """Create and update what the document adds or changes; delete dropped companies once
        no subject names them."""
        t = self.tenant_id
        companies, subjects = _table(Company), _table(Subject)
        new = self.new
        _execute(
            connection,
            companies.insert(),
            [
                {"tenant_id": t, "id": i, "attributes": new["companies"][i].attributes}
                for i in self.ids("companies", "created")
            ],
        )
        self._update(connection, companies, "companies", ("attributes",))
        self._add_providers(connection)
        self._update(connection, subjects, "users", ("email", "company", "attributes"))
        self._update(connection, subjects, "clients", ("attributes",))
        self._check_ids_free(connection)
        rows = []
        for section in _SUBJECT_SECTIONS:
            for i in self.ids(section, "created"):
                entry = new[section][i]
                email, company = entry.fields[:2] if section == "users" else (None, None)
                row = {"id": i, "tenant_id": t, "type": SECTION_TYPES[section]}
                rows.append(
                    {**row, "email": email, "company": company, "attributes": entry.attributes}
                )
        _execute(connection, subjects.insert(), rows)
        stmt = companies.delete().where(*_match(companies, t="tenant_id", i="id"))
        _execute(connection, stmt, [{"t": t, "i": i} for i in self.ids("companies", "deleted")])
        groups = [{"tenant_id": t, "id": i} for i in self.ids("groups", "created")]
        _execute(connection, _table(Group).insert(), groups)
        # Memberships of a subject deleted and created again (a user turned client) went
        # with the deleted row.
        recreated = {i for s in _SUBJECT_SECTIONS for i in self.ids(s, "deleted")}
        added_members = [
            {"tenant_id": t, "group_id": group, "subject_id": subject}
            for group, entry in new["groups"].items()
            for subject in sorted(entry.members - (self._old("groups", group).members - recreated))
        ]
        _execute(connection, _table(GroupMember).insert(), added_members)
        added_roles = [
            {
                "id": str(uuid.uuid4()),
                "tenant_id": t,
                "subject_type": SECTION_TYPES[section],
                "subject_id": object_id,
                "role": role,
            }
            for section in SECTION_TYPES
            for object_id, entry in new[section].items()
            for role in sorted(entry.roles - self._old(section, object_id).roles)
        ]
        _execute(connection, _table(RoleBinding).insert(), added_roles)

    def affected_subjects(self) -> set[str]:
        """Users and clients whose resolved facts the import changes (for the change log)."""
        affected: set[str] = set()
        for section in _SUBJECT_SECTIONS:
            for outcome in ("created", "updated", "deleted"):
                affected.update(self.ids(section, outcome))
        for group in self._touched("groups"):
            old, new = self._old("groups", group), self._entry("groups", group)
            both = old.members | new.members
            affected.update(both if old.roles != new.roles else old.members ^ new.members)
        companies = set(self._touched("companies"))
        for users in (self.old["users"], self.new["users"]):
            affected.update(i for i, entry in users.items() if entry.fields[1] in companies)
        return affected

    def _touched(self, section: str) -> list[str]:
        return [
            i for outcome in ("created", "updated", "deleted") for i in self.ids(section, outcome)
        ]

    def _entry(self, section: str, object_id: str) -> Entry:
        return self.new[section].get(object_id, _EMPTY)

    def _old(self, section: str, object_id: str) -> Entry:
        return self.old[section].get(object_id, _EMPTY)

    def _update(
        self, connection: Connection, table: Table, section: str, columns: Sequence[str]
    ) -> None:
        changed = [
            i
            for i in self.ids(section, "updated")
            if self.old[section][i].fields != self.new[section][i].fields
        ]
        rows = []
        for i in changed:
            entry = self.new[section][i]
            values = (*entry.fields[:-1], entry.attributes)
            rows.append(
                {
                    "t": self.tenant_id,
                    "i": i,
                    **{f"v_{c}": v for c, v in zip(columns, values, strict=True)},
                }
            )
        stmt = (
            table.update()
            .where(*_match(table, t="tenant_id", i="id"))
            .values({c: bindparam(f"v_{c}") for c in columns})
        )
        _execute(connection, stmt, rows)

    def _add_providers(self, connection: Connection) -> None:
        """Link the identity providers the document adds; one another company (of a tenant
        the document does not list) still has is a 409 naming it."""
        added = [
            (company, issuer, provider)
            for company, entry in sorted(self.new["companies"].items())
            for issuer, provider in sorted(
                entry.providers - self._old("companies", company).providers
            )
        ]
        links = _table(CompanyIdentityProvider)
        for company, issuer, provider in added:
            stmt = select(links.c.company_id).where(
                links.c.issuer == issuer, links.c.provider == provider
            )
            if connection.execute(stmt).first() is not None:
                raise Conflict(
                    f"identity provider {provider!r} of {issuer} belongs to another company",
                    field=f"{self.where}.companies[{self.positions['companies'][company]}]"
                    ".identity_providers",
                )
        rows = [
            {"issuer": issuer, "provider": provider, "tenant_id": self.tenant_id, "company_id": c}
            for c, issuer, provider in added
        ]
        _execute(connection, links.insert(), rows)

    def _check_ids_free(self, connection: Connection) -> None:
        """A new subject id may not be taken in a tenant the document does not list."""
        for section in _SUBJECT_SECTIONS:
            created = self.ids(section, "created")
            for start in range(0, len(created), _CHUNK):
                chunk = created[start : start + _CHUNK]
                stmt = select(Subject.id).where(Subject.id.in_(chunk))  # type: ignore[attr-defined]
                taken = sorted(connection.execute(stmt).scalars(), key=self.positions[section].get)
                if taken:
                    index = self.positions[section][taken[0]]
                    raise Conflict(
                        f"subject id {taken[0]!r} is taken in another tenant",
                        field=f"{self.where}.{section}[{index}].id",
                    )


_EMPTY = Entry((), frozenset(), frozenset(), None)


def _match(table: Table, **params: str) -> list[Any]:
    """WHERE column = :param for each param=column."""
    return [table.c[column] == bindparam(param) for param, column in params.items()]


def _execute(connection: Connection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(stmt, rows)


def plan_tenant(tx: DirectoryTransaction, tenant: Any, where: str) -> TenantPlan:
    """Compare the document's tenant with the store (read inside the import's transaction)."""
    reader = DirectoryReader(tx.connection())
    positions = {
        section: {item.id: i for i, item in enumerate(getattr(tenant, section))}
        for section in SECTION_TYPES
    }
    return TenantPlan(
        tenant.id, where, existing_objects(reader, tenant.id), desired_objects(tenant), positions
    )

"""The policy information point: an in-memory snapshot of the directory.

Decisions must not wait on the database, so every tenant is loaded into immutable facts and
looked up by subject id in O(1). A write changes only the subjects whose facts it touches: the
snapshot catches up from the store's change log and replaces just those subjects' facts, each
with one assignment, so a reader sees a subject's old facts or its new ones, never a mix. A
tenant created, deleted or too far behind is loaded whole and swapped in at once. The tenant's
revision moves only after its facts are in place. Updates are serialized by a lock; lookups
take no lock.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pdp.directory.federated import providers_named
from pdp.directory.rows import DirectoryReader, TenantRows
from pdp.directory.store import DirectoryStore, canonical_tenant_id


@dataclass(frozen=True, slots=True)
class GroupFacts:
    id: str
    roles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompanyFacts:
    id: str
    roles: tuple[str, ...]
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TenantInfo:
    id: str
    name: str
    timezone: str
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SubjectFacts:
    """What the directory knows about one user or client, resolved for the policy."""

    id: str
    type: str
    tenant_id: str
    roles: tuple[str, ...]
    groups: tuple[GroupFacts, ...]
    company: CompanyFacts | None
    attributes: dict[str, Any]
    email: str | None

    def to_input(self) -> dict[str, Any]:
        """The `subject` of the policy input (policies/README.md), as fresh objects the caller may
        extend (e.g. with `claims`) without touching the shared snapshot."""
        return {
            "id": self.id,
            "type": self.type,
            "tenant_id": self.tenant_id,
            "roles": list(self.roles),
            "groups": [{"id": group.id, "roles": list(group.roles)} for group in self.groups],
            "company": (
                {"id": self.company.id, "roles": list(self.company.roles)} if self.company else None
            ),
            "attributes": copy.deepcopy(self.attributes),
        }


ProviderKey = tuple[str, str]  # (issuer, ProviderName)


@dataclass
class _TenantView:
    """One tenant as served: `subjects` entries are replaced one by one as subjects change;
    `providers` (the companies' identity providers) is replaced whole."""

    info: TenantInfo
    subjects: dict[str, SubjectFacts]
    providers: dict[ProviderKey, CompanyFacts]


class _Interner:
    """Shares equal role tuples and strings between subjects: at 100,000 users most roles,
    company ids and type names repeat."""

    def __init__(self) -> None:
        self._tuples: dict[tuple[str, ...], tuple[str, ...]] = {}

    def roles(self, roles: list[str]) -> tuple[str, ...]:
        if not roles:
            return ()
        key = tuple(sorted(roles))
        shared = self._tuples.get(key)
        if shared is None:
            shared = self._tuples[key] = tuple(sys.intern(role) for role in key)
        return shared


def _build_subjects(tenant_id: str, rows: TenantRows) -> dict[str, SubjectFacts]:
    """Resolved facts of the subjects in `rows`: one GroupFacts per group and one
    CompanyFacts per company, shared by every subject that has it. Memberships come ordered
    by group, so each subject's groups are in id order."""
    interner = _Interner()
    # subject type -> subject id -> roles
    roles: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for subject_type, subject_id, role in rows.bindings:
        roles[subject_type].setdefault(subject_id, []).append(role)
    companies = {
        company_id: CompanyFacts(
            id=company_id,
            roles=interner.roles(roles["company"].get(company_id, [])),
            attributes=attrs,
        )
        for company_id, attrs in rows.companies
    }
    group_facts: dict[str, GroupFacts] = {}
    groups_of: dict[str, list[GroupFacts]] = defaultdict(list)
    for group_id, subject_id in rows.memberships:
        facts = group_facts.get(group_id)
        if facts is None:
            facts = GroupFacts(id=group_id, roles=interner.roles(roles["group"].get(group_id, [])))
            group_facts[group_id] = facts
        groups_of[subject_id].append(facts)
    subjects: dict[str, SubjectFacts] = {}
    for subject_id, subject_type, email, company_id, attributes in rows.subjects:
        subjects[subject_id] = SubjectFacts(
            id=subject_id,
            type=subject_type,
            tenant_id=tenant_id,
            roles=interner.roles(roles[subject_type].get(subject_id, [])),
            groups=tuple(groups_of.get(subject_id, ())),
            company=companies.get(company_id) if company_id else None,
            attributes=attributes,
            email=email,
        )
    return subjects


def _provider_companies(reader: DirectoryReader, tenant_id: str) -> dict[ProviderKey, CompanyFacts]:
    """The tenant's companies that declare identity providers, by provider."""
    links = reader.company_providers(tenant_id)
    companies, bindings = reader.companies_with_roles(
        tenant_id, sorted({company for company, _, _ in links})
    )
    roles: dict[str, list[str]] = defaultdict(list)
    for _, company_id, role in bindings:
        roles[company_id].append(role)
    facts = {
        company_id: CompanyFacts(company_id, tuple(sorted(roles[company_id])), attributes)
        for company_id, attributes in companies
    }
    return {(issuer, provider): facts[company] for company, issuer, provider in links}


class DirectorySnapshot:
    """Thread-safe, per-tenant views of the directory, kept up to date from the change log."""

    def __init__(self, store: DirectoryStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantView] = {}
        self._owner: dict[str, str] = {}  # subject id -> tenant id
        self._provider_owner: dict[ProviderKey, str] = {}  # identity provider -> tenant id
        self._revisions: dict[str, int] = {}
        self.invalidate()

    def subject(self, subject_id: str) -> SubjectFacts | None:
        tenant_id = self._owner.get(subject_id)
        view = self._tenants.get(tenant_id) if tenant_id is not None else None
        return view.subjects.get(subject_id) if view is not None else None

    def federated_subject(self, claims: dict[str, Any]) -> SubjectFacts | None:
        """A user the directory does not list, as the company of the identity provider its
        verified ID token names (pdp.directory.federated); None when no company (or more
        than one) declares its providers."""
        issuer, sub = claims.get("iss"), claims.get("sub")
        if not isinstance(issuer, str) or not isinstance(sub, str):
            return None
        found: dict[tuple[str, str], CompanyFacts] = {}
        for provider in providers_named(claims):
            tenant_id = self._provider_owner.get((issuer, provider))
            view = self._tenants.get(tenant_id) if tenant_id is not None else None
            company = view.providers.get((issuer, provider)) if view is not None else None
            if tenant_id is not None and company is not None:
                found[(tenant_id, company.id)] = company
        if len(found) != 1:
            return None
        ((tenant_id, _), company), *_ = found.items()
        email = claims.get("email")
        return SubjectFacts(
            id=sub,
            type="user",
            tenant_id=tenant_id,
            roles=(),
            groups=(),
            company=company,
            attributes={},
            email=email if isinstance(email, str) else None,
        )

    def tenant_ids(self) -> list[str]:
        return sorted(self._tenants)

    def tenant_revision(self, tenant_id: str) -> int:
        """The revision of the tenant view served now; it changes with any fact of the tenant,
        so it can key anything derived from that tenant's facts (e.g. cached decisions).
        It moves only after the new facts are in place: read it before the facts."""
        return self._revisions.get(tenant_id, 0)

    def tenant(self, tenant_id: str) -> TenantInfo | None:
        view = self._tenants.get(tenant_id)
        return view.info if view is not None else None

    def subjects(self, tenant_id: str) -> list[SubjectFacts]:
        view = self._tenants.get(tenant_id)
        return list(view.subjects.values()) if view is not None else []

    def invalidate(self, tenant_id: str | None = None) -> None:
        """Load one tenant (or every tenant) whole from the store now, before returning."""
        with self._lock, self._store.reader() as reader:
            if tenant_id is not None:
                tenant_id = canonical_tenant_id(tenant_id)
                self._reload(reader, tenant_id, reader.revision(tenant_id))
                return
            revisions = reader.revisions()
            for target in sorted(set(reader.tenant_ids()) | set(self._tenants)):
                self._reload(reader, target, revisions.get(target, 0))
            # Tenants deleted before we looked: remember their revision, nothing to load.
            for target, revision in revisions.items():
                self._revisions.setdefault(target, revision)

    def refresh(self, tenant_id: str) -> bool:
        """Catch up with the store on one tenant now (after a write through this replica, so
        the next decision sees it). Returns whether anything changed."""
        tenant_id = canonical_tenant_id(tenant_id)
        with self._lock, self._store.reader() as reader:
            return self._catch_up(reader, tenant_id, reader.revision(tenant_id))

    def refresh_if_changed(self) -> list[str]:
        """Catch up on the tenants whose revision in the store differs from the served one
        (changed, created or deleted elsewhere, e.g. by another replica). Returns their ids."""
        with self._lock, self._store.reader() as reader:
            revisions = reader.revisions()
            stale = sorted(
                tenant_id
                for tenant_id in set(revisions) | set(self._revisions)
                if revisions.get(tenant_id, 0) != self._revisions.get(tenant_id, 0)
            )
            for tenant_id in stale:
                self._catch_up(reader, tenant_id, revisions.get(tenant_id, 0))
            return stale

    def _catch_up(self, reader: DirectoryReader, tenant_id: str, revision: int) -> bool:
        """Apply the logged changes since the served revision, or reload the tenant whole
        when the log cannot say what changed (caller holds the lock)."""
        known = self._revisions.get(tenant_id, 0)
        if revision == known:
            return False
        view = self._tenants.get(tenant_id)
        changes = reader.changes_since(tenant_id, known) if view is not None else []
        logged = {change.revision for change in changes}
        if (
            view is None
            or logged != set(range(known + 1, revision + 1))
            or any(change.scope == "all" for change in changes)
        ):
            self._reload(reader, tenant_id, revision)
            return True
        tenant = reader.tenant(tenant_id)
        if tenant is None:
            self._reload(reader, tenant_id, revision)
            return True
        subject_ids = {c.subject_id for c in changes if c.scope == "subject"}
        fresh = _build_subjects(tenant_id, reader.tenant_rows(tenant_id, subject_ids))
        view.info = TenantInfo(tenant.id, tenant.name, tenant.timezone, tenant.attributes)
        self._set_providers(tenant_id, view, _provider_companies(reader, tenant_id))
        for subject_id in subject_ids:
            facts = fresh.get(subject_id)
            if facts is not None:
                view.subjects[subject_id] = facts
                self._owner[subject_id] = tenant_id
            else:
                view.subjects.pop(subject_id, None)
                if self._owner.get(subject_id) == tenant_id:
                    del self._owner[subject_id]
        self._revisions[tenant_id] = revision
        return True

    def _reload(self, reader: DirectoryReader, tenant_id: str, known_revision: int) -> None:
        """Swap in a fresh view of the whole tenant (caller holds the lock).

        `known_revision` was read in the same transaction as the rows, so it matches them.
        """
        tenant = reader.tenant(tenant_id)
        old = self._tenants.get(tenant_id)
        if tenant is None:
            self._tenants.pop(tenant_id, None)
            new_subjects: dict[str, SubjectFacts] = {}
            self._set_providers(tenant_id, None, {})
        else:
            new_subjects = _build_subjects(tenant.id, reader.tenant_rows(tenant.id))
            info = TenantInfo(tenant.id, tenant.name, tenant.timezone, tenant.attributes)
            view = _TenantView(info=info, subjects=new_subjects, providers={})
            self._set_providers(tenant_id, view, _provider_companies(reader, tenant_id))
            self._tenants[tenant_id] = view
        for subject_id in new_subjects:
            self._owner[subject_id] = tenant_id
        for subject_id in old.subjects if old is not None else ():
            if subject_id not in new_subjects and self._owner.get(subject_id) == tenant_id:
                del self._owner[subject_id]
        self._revisions[tenant_id] = known_revision

    def _set_providers(
        self, tenant_id: str, view: _TenantView | None, providers: dict[ProviderKey, CompanyFacts]
    ) -> None:
        """Serve the tenant's identity providers (caller holds the lock); a provider another
        tenant took over stays with it."""
        for key in [k for k, owner in self._provider_owner.items() if owner == tenant_id]:
            if key not in providers:
                del self._provider_owner[key]
        if view is not None:
            view.providers = providers
        for key in providers:
            self._provider_owner[key] = tenant_id

"""The policy information point: an in-memory snapshot of the directory.

Decisions must not wait on the database, so every tenant is loaded into immutable facts and
looked up by subject id in O(1). A reload builds a complete new view of one tenant and swaps it
in with a single assignment, so a reader sees either the old tenant or the new one, never a mix.
Reloads are serialized by a lock; lookups take no lock.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

from pdp.directory.store import DirectoryStore, TenantState, canonical_tenant_id


@dataclass(frozen=True)
class GroupFacts:
    id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class CompanyFacts:
    id: str
    roles: tuple[str, ...]
    attributes: dict[str, Any]


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str
    timezone: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
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
        """The `subject` of the policy input (DESIGN.md), as fresh objects the caller may
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


@dataclass(frozen=True)
class _TenantView:
    info: TenantInfo
    subjects: dict[str, SubjectFacts]


def _build_view(state: TenantState) -> _TenantView:
    tenant = state.tenant
    companies = {
        c.id: CompanyFacts(id=c.id, roles=tuple(c.roles), attributes=c.attributes)
        for c in state.companies
    }
    groups_of: dict[str, list[GroupFacts]] = {}
    for group in state.groups:
        facts = GroupFacts(id=group.id, roles=tuple(group.roles))
        for member in group.members:
            groups_of.setdefault(member, []).append(facts)
    subjects: dict[str, SubjectFacts] = {}
    for subject_type, entries in (("user", state.users), ("client", state.clients)):
        for entry in entries:
            company_id = getattr(entry, "company", None)
            subjects[entry.id] = SubjectFacts(
                id=entry.id,
                type=subject_type,
                tenant_id=tenant.id,
                roles=tuple(entry.roles),
                groups=tuple(sorted(groups_of.get(entry.id, ()), key=lambda g: g.id)),
                company=companies.get(company_id) if company_id else None,
                attributes=entry.attributes,
                email=getattr(entry, "email", None),
            )
    info = TenantInfo(
        id=tenant.id, name=tenant.name, timezone=tenant.timezone, attributes=tenant.attributes
    )
    return _TenantView(info=info, subjects=subjects)


class DirectorySnapshot:
    """Thread-safe, per-tenant immutable views of the directory, refreshed on demand."""

    def __init__(self, store: DirectoryStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantView] = {}
        self._owner: dict[str, str] = {}  # subject id -> tenant id
        self._revisions: dict[str, int] = {}
        self.invalidate()

    def subject(self, subject_id: str) -> SubjectFacts | None:
        tenant_id = self._owner.get(subject_id)
        view = self._tenants.get(tenant_id) if tenant_id is not None else None
        return view.subjects.get(subject_id) if view is not None else None

    def tenant_ids(self) -> list[str]:
        return sorted(self._tenants)

    def tenant_revision(self, tenant_id: str) -> int:
        """The revision of the tenant view served now; it changes with any fact of the tenant,
        so it can key anything derived from that tenant's facts (e.g. cached decisions)."""
        return self._revisions.get(tenant_id, 0)

    def tenant(self, tenant_id: str) -> TenantInfo | None:
        view = self._tenants.get(tenant_id)
        return view.info if view is not None else None

    def subjects(self, tenant_id: str) -> list[SubjectFacts]:
        view = self._tenants.get(tenant_id)
        return list(view.subjects.values()) if view is not None else []

    def invalidate(self, tenant_id: str | None = None) -> None:
        """Reload one tenant (or every tenant) from the store now, before returning."""
        with self._lock:
            revisions = self._store.revisions()
            if tenant_id is not None:
                tenant_id = canonical_tenant_id(tenant_id)
                self._reload(tenant_id, revisions.get(tenant_id, 0))
                return
            existing = set(self._store.tenant_ids())
            for target in sorted(existing | set(self._tenants)):
                self._reload(target, revisions.get(target, 0))
            # Tenants deleted before we looked: remember their revision, nothing to load.
            for target, revision in revisions.items():
                self._revisions.setdefault(target, revision)

    def refresh_if_changed(self) -> list[str]:
        """Reload the tenants whose revision in the store differs from the loaded one (changed,
        created or deleted elsewhere, e.g. by another replica). Returns their ids."""
        with self._lock:
            revisions = self._store.revisions()
            stale = sorted(
                tenant_id
                for tenant_id in set(revisions) | set(self._revisions)
                if revisions.get(tenant_id, 0) != self._revisions.get(tenant_id, 0)
            )
            for tenant_id in stale:
                self._reload(tenant_id, revisions.get(tenant_id, 0))
            return stale

    def _reload(self, tenant_id: str, known_revision: int) -> None:
        """Swap in a fresh view of the tenant (caller holds the lock).

        `known_revision` was read before the load, so if the tenant is gone the recorded
        revision can only be older than the truth, which makes the next poll reload again.
        """
        state = self._store.load_tenant(tenant_id)
        old = self._tenants.get(tenant_id)
        if state is None:
            self._tenants.pop(tenant_id, None)
            self._revisions[tenant_id] = known_revision
            new_subjects: dict[str, SubjectFacts] = {}
        else:
            view = _build_view(state)
            self._tenants[tenant_id] = view
            self._revisions[tenant_id] = state.revision
            new_subjects = view.subjects
        for subject_id in new_subjects:
            self._owner[subject_id] = tenant_id
        for subject_id in old.subjects if old is not None else ():
            if subject_id not in new_subjects and self._owner.get(subject_id) == tenant_id:
                del self._owner[subject_id]

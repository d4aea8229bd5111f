"""Identity providers registered on a pool: create, describe, update, delete, list, find.

Settings are checked (`provider_rules`) and what the IdP publishes is fetched
(`provider_metadata`) before the transaction that writes the row, so a slow IdP never
holds the store; the names and identifiers the pool already has are checked in both.
The OIDC client secret is sealed and never leaves here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from token_service.admin.base import AdminBase
from token_service.admin.paging import paginate
from token_service.admin.provider_metadata import oidc_endpoints, saml_metadata
from token_service.admin.provider_rules import (
    OIDC,
    SAML_COMPUTED_KEYS,
    check_details,
    check_identifiers,
    check_mapping,
    check_name,
    check_type,
)
from token_service.admin.users import STANDARD_ATTRIBUTES
from token_service.errors import (
    DuplicateProvider,
    InvalidParameter,
    LimitExceeded,
    ResourceNotFound,
)

# A module import: linking itself imports the admin package (its attribute names).
from token_service.federation import linking
from token_service.federation.providers import IdentityProviders
from token_service.store.models import IdentityProvider
from token_service.store.repositories import Repository

# Cognito's quota of identity providers per user pool.
MAX_PROVIDERS = 300
# What Cognito maps when an OIDC provider is created without a `username` mapping.
DEFAULT_OIDC_MAPPING = {"username": "sub"}


@dataclass(frozen=True)
class ProviderSettings:
    """What Create/UpdateIdentityProvider set; None on an update keeps the stored value."""

    details: dict[str, str] | None = None
    attribute_mapping: dict[str, str] | None = None
    identifiers: list[str] | None = None


class IdentityProviderAdmin(AdminBase):
    @staticmethod
    def require_provider(repo: Repository, pool_id: str, name: str) -> IdentityProvider:
        AdminBase.require_pool(repo, pool_id)
        row = repo.identity_provider(pool_id, name)
        if row is None:
            raise ResourceNotFound(f"Identity provider {name} does not exist.")
        return row

    def _check_against_pool(
        self, repo: Repository, pool_id: str, name: str, settings: ProviderSettings
    ) -> None:
        """Rules that need the pool: its attributes, and identifiers no other provider has."""
        pool = self.require_pool(repo, pool_id)
        if settings.attribute_mapping is not None:
            check_mapping(
                settings.attribute_mapping, STANDARD_ATTRIBUTES | set(pool.custom_attributes)
            )
        wanted = {i.lower() for i in settings.identifiers or ()}
        for other in repo.identity_providers(pool_id):
            taken = wanted & {i.lower() for i in other.identifiers}
            if other.name != name and taken:
                raise InvalidParameter(
                    f"IdpIdentifiers: {sorted(taken)[0]} is already an identifier of the "
                    f"provider {other.name}."
                )

    def _stored_details(self, provider_type: str, details: Mapping[str, str]) -> dict[str, str]:
        """ProviderDetails as kept: without the secret, with the computed keys (fetched here)."""
        kept = {k: v for k, v in details.items() if k != "client_secret"}
        if provider_type == OIDC:
            return {**kept, **oidc_endpoints(details)}
        kept = {k: v for k, v in kept.items() if k not in SAML_COMPUTED_KEYS}
        return {**kept, **saml_metadata(details)}

    def _seal(self, details: Mapping[str, str]) -> bytes | None:
        secret = details.get("client_secret")
        return IdentityProviders(self.core).seal_secret(secret) if secret else None

    def create_identity_provider(
        self, pool_id: str, name: str, provider_type: str, settings: ProviderSettings
    ) -> IdentityProvider:
        check_type(provider_type)
        check_name(name, provider_type)
        details = settings.details or {}
        check_details(provider_type, details)
        identifiers = check_identifiers(settings.identifiers or [])
        mapping = dict(settings.attribute_mapping or {})
        if provider_type == OIDC:
            mapping = {**DEFAULT_OIDC_MAPPING, **mapping}
        with self.core.store.transaction() as repo:
            self._check_new(repo, pool_id, name, settings)
        stored = self._stored_details(provider_type, details)
        now = self.core.clock()
        row = IdentityProvider(
            pool_id=pool_id,
            name=name,
            type=provider_type,
            details=stored,
            client_secret_sealed=self._seal(details),
            attribute_mapping=mapping,
            identifiers=identifiers,
            created_at=now,
            updated_at=now,
        )
        with self.core.store.transaction() as repo:
            self._check_new(repo, pool_id, name, settings)
            repo.add(row)
        return row

    def _check_new(
        self, repo: Repository, pool_id: str, name: str, settings: ProviderSettings
    ) -> None:
        self._check_against_pool(repo, pool_id, name, settings)
        if repo.identity_provider(pool_id, name) is not None:
            raise DuplicateProvider(f"{name} already exists in user pool {pool_id}.")
        if len(repo.identity_providers(pool_id)) >= MAX_PROVIDERS:
            raise LimitExceeded(f"A user pool has at most {MAX_PROVIDERS} identity providers.")

    def update_identity_provider(
        self, pool_id: str, name: str, settings: ProviderSettings
    ) -> IdentityProvider:
        """Replace what is given; ProviderDetails without `client_secret` keep the stored
        secret (it is never returned, so a described provider could not send it back)."""
        with self.core.store.transaction() as repo:
            row = self.require_provider(repo, pool_id, name)
            provider_type, updated_at = row.type, row.updated_at
            self._check_against_pool(repo, pool_id, name, settings)
        details = settings.details
        if details is not None:
            check_details(provider_type, details)
            stored = self._stored_details(provider_type, details)
        identifiers = (
            None if settings.identifiers is None else check_identifiers(settings.identifiers)
        )
        with self.core.store.transaction() as repo:
            row = self.require_provider(repo, pool_id, name)
            if row.updated_at != updated_at:
                raise InvalidParameter(
                    "The identity provider changed while it was being updated; try again."
                )
            self._check_against_pool(repo, pool_id, name, settings)
            if details is not None:
                row.details = stored
                if "client_secret" in details:
                    row.client_secret_sealed = self._seal(details)
            if settings.attribute_mapping is not None:
                mapping = dict(settings.attribute_mapping)
                row.attribute_mapping = (
                    {**DEFAULT_OIDC_MAPPING, **mapping} if row.type == OIDC else mapping
                )
            if identifiers is not None:
                row.identifiers = identifiers
            row.updated_at = self.core.clock()
            return row

    def describe_identity_provider(self, pool_id: str, name: str) -> IdentityProvider:
        with self.core.store.transaction() as repo:
            return self.require_provider(repo, pool_id, name)

    def identity_provider_by_identifier(self, pool_id: str, identifier: str) -> IdentityProvider:
        wanted = identifier.lower()
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            for row in repo.identity_providers(pool_id):
                if wanted in (i.lower() for i in row.identifiers):
                    return row
        raise ResourceNotFound(f"No identity provider has the identifier {identifier}.")

    def list_identity_providers(self, pool_id: str) -> list[IdentityProvider]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.identity_providers(pool_id))

    def identity_provider_page(
        self, pool_id: str, limit: int, token: str | None
    ) -> tuple[list[IdentityProvider], str | None]:
        return paginate(self.list_identity_providers(pool_id), limit, token)

    def delete_identity_provider(self, pool_id: str, name: str) -> None:
        """The provider, its links, and its name in app clients' SupportedIdentityProviders.

        The users it created stay; they no longer sign in through it, and their
        `identities` no longer name it.
        """
        with self.core.store.transaction() as repo:
            row = self.require_provider(repo, pool_id, name)
            linked = {link.user_sub for link in repo.provider_identities(pool_id, name)}
            for client in repo.clients(pool_id):
                supported = client.supported_identity_providers or []
                if name in supported:
                    client.supported_identity_providers = [n for n in supported if n != name]
            repo.delete_identity_provider(row)
            repo.session.flush()
            for sub in linked:
                user = repo.user_by_sub(sub)
                if user is not None:
                    linking.refresh_identities(repo, user)

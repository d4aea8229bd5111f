"""Identities: GetId and GetOpenIdToken (public, their Logins authenticate), description,
listing and deletion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from token_service.admin.paging import paginate
from token_service.errors import NotAuthorized, ResourceNotFound
from token_service.identity import store
from token_service.identity.developer import DeveloperIdentities
from token_service.identity.errors import ResourceConflict
from token_service.identity.links import OpenIdToken
from token_service.store.models import Identity
from token_service.store.repositories import Repository
from token_service.store.retry import retrying

# Cognito Identity's lifetime of GetOpenIdToken's tokens.
OPENID_TOKEN_SECONDS = 600
NO_GUESTS = "Unauthenticated access is not supported for this identity pool."
LOGINS_MISMATCH = (
    "Logins don't match. Please include at least one valid login for this identity or "
    "identity pool."
)


@dataclass(frozen=True)
class IdentityView:
    identity: Identity
    providers: list[str]


class Identities(DeveloperIdentities):
    """Every Cognito Identity operation, sharing one core."""

    # the public operations
    def get_id(self, pool_id: str, logins: dict[str, Any]) -> str:
        """The identity of the logins (made at their first use), or a new guest's."""
        return retrying(lambda: self._get_id(pool_id, logins))

    def get_open_id_token(self, identity_id: str, logins: dict[str, Any]) -> OpenIdToken:
        return retrying(lambda: self._get_open_id_token(identity_id, logins))

    def _get_id(self, pool_id: str, logins: dict[str, Any]) -> str:
        with self.core.store.transaction() as repo:
            pool = store.require_pool(repo, pool_id)
            resolved = self._resolve(repo, pool, logins, developer=False)
            if resolved:
                return self._identity_for(repo, pool, resolved).id
            if not pool.allow_unauthenticated:
                raise NotAuthorized(NO_GUESTS)
            return self._new_identity(repo, pool, self.core.clock()).id

    def _get_open_id_token(self, identity_id: str, logins: dict[str, Any]) -> OpenIdToken:
        with self.core.store.transaction() as repo:
            identity = store.require_identity(repo, identity_id)
            pool = store.require_pool(repo, identity.identity_pool_id)
            resolved = self._resolve(repo, pool, logins, developer=False)
            if not resolved:
                if store.logins_of(repo, identity.id):
                    raise NotAuthorized(LOGINS_MISMATCH)
                if not pool.allow_unauthenticated:
                    raise NotAuthorized(NO_GUESTS)
            elif set(self._owners(repo, pool, resolved).values()) - {identity.id}:
                raise ResourceConflict("A login is linked to another identity.")
            self._link(repo, pool, identity, resolved)
            return self._token(repo, identity, resolved, OPENID_TOKEN_SECONDS)

    # identities (signed operations)
    @staticmethod
    def _view(repo: Repository, identity: Identity) -> IdentityView:
        providers = dict.fromkeys(row.provider for row in store.logins_of(repo, identity.id))
        return IdentityView(identity, list(providers))

    def describe_identity(self, identity_id: str) -> IdentityView:
        with self.core.store.transaction() as repo:
            return self._view(repo, store.require_identity(repo, identity_id))

    def identity_page(
        self, pool_id: str, limit: int, token: str | None
    ) -> tuple[list[IdentityView], str | None]:
        with self.core.store.transaction() as repo:
            store.require_pool(repo, pool_id)
            page, next_token = paginate(store.identities(repo, pool_id), limit, token)
            return [self._view(repo, identity) for identity in page], next_token

    def delete_identities(self, identity_ids: Sequence[str]) -> None:
        """Delete the identities that exist; unknown ids are no error, as in Cognito."""
        with self.core.store.transaction() as repo:
            for identity_id in identity_ids:
                try:
                    store.delete_identity(repo, store.require_identity(repo, identity_id))
                except ResourceNotFound:
                    continue

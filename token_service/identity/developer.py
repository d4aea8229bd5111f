"""Developer identities: the developer provider's tokens, lookup, unlink and merge (signed)."""

from __future__ import annotations

from typing import Any

from token_service.admin.paging import paginate
from token_service.errors import InvalidParameter, ResourceNotFound
from token_service.identity import store
from token_service.identity.errors import DeveloperUserAlreadyRegistered, ResourceConflict
from token_service.identity.links import IdentityLinks, OpenIdToken
from token_service.store.models import IdentityPool
from token_service.store.repositories import Repository
from token_service.store.retry import retrying

# Cognito Identity's lifetime of developer tokens without TokenDuration (at most 24 hours).
DEVELOPER_TOKEN_SECONDS = 900


class DeveloperIdentities(IdentityLinks):
    """The developer provider's operations; each needs the pool's DeveloperProviderName."""

    def developer_token(
        self,
        pool_id: str,
        identity_id: str | None,
        logins: dict[str, Any],
        principal_tags: dict[str, str],
        ttl: int | None,
    ) -> OpenIdToken:
        """GetOpenIdTokenForDeveloperIdentity: the developer user's identity (made at the
        first call, or the one given), linked to every login given, and its token."""
        return retrying(
            lambda: self._developer_token(pool_id, identity_id, logins, principal_tags, ttl)
        )

    @staticmethod
    def _developer_pool(
        repo: Repository, pool_id: str, provider: str | None = None
    ) -> IdentityPool:
        pool = store.require_pool(repo, pool_id)
        if pool.developer_provider_name is None:
            raise InvalidParameter(f"Identity pool {pool_id} has no DeveloperProviderName.")
        if provider is not None and provider != pool.developer_provider_name:
            raise InvalidParameter(
                f"DeveloperProviderName {provider} is not the developer provider of {pool_id}."
            )
        return pool

    def _developer_token(
        self,
        pool_id: str,
        identity_id: str | None,
        logins: dict[str, Any],
        principal_tags: dict[str, str],
        ttl: int | None,
    ) -> OpenIdToken:
        with self.core.store.transaction() as repo:
            pool = self._developer_pool(repo, pool_id)
            if pool.developer_provider_name not in logins:
                raise InvalidParameter(
                    f"Logins must hold the developer provider {pool.developer_provider_name}."
                )
            resolved = self._resolve(repo, pool, logins, developer=True)
            if identity_id is None:
                identity = self._identity_for(repo, pool, resolved)
            else:
                identity = store.require_identity(repo, identity_id, pool.id)
                for login, owner in self._owners(repo, pool, resolved).items():
                    if owner == identity.id:
                        continue
                    if login.provider == pool.developer_provider_name:
                        raise DeveloperUserAlreadyRegistered(
                            "The developer user identifier is already registered with another "
                            "identity id."
                        )
                    raise ResourceConflict("A login is linked to another identity.")
                self._link(repo, pool, identity, resolved)
            ttl = DEVELOPER_TOKEN_SECONDS if ttl is None else ttl
            return self._token(repo, identity, resolved, ttl, principal_tags)

    def lookup_developer_identity(
        self,
        pool_id: str,
        identity_id: str | None,
        user_id: str | None,
        limit: int,
        token: str | None,
    ) -> tuple[str, list[str], str | None]:
        """The identity and its developer user ids (a page of them), by either."""
        if identity_id is None and user_id is None:
            raise InvalidParameter("IdentityId or DeveloperUserIdentifier is required.")
        with self.core.store.transaction() as repo:
            pool = self._developer_pool(repo, pool_id)
            provider = pool.developer_provider_name
            assert provider is not None
            if user_id is not None:
                row = store.login(repo, pool.id, provider, user_id)
                if row is None:
                    raise ResourceNotFound("The developer user identifier is not registered.")
                if identity_id is not None and identity_id != row.identity_id:
                    raise ResourceConflict(
                        "The developer user identifier is linked to another identity."
                    )
                identity_id = row.identity_id
            assert identity_id is not None
            store.require_identity(repo, identity_id, pool.id)
            ids = [row.login_id for row in store.logins_of(repo, identity_id, provider)]
            page, next_token = paginate(ids, limit, token)
            return identity_id, page, next_token

    def unlink_developer_identity(
        self, identity_id: str, pool_id: str, provider: str, user_id: str
    ) -> None:
        with self.core.store.transaction() as repo:
            pool = self._developer_pool(repo, pool_id, provider)
            row = store.login(repo, pool.id, provider, user_id)
            if row is None or row.identity_id != identity_id:
                raise ResourceNotFound(
                    "The developer user identifier is not linked to this identity."
                )
            repo.delete(row)
            store.require_identity(repo, identity_id).updated_at = self.core.clock()

    def merge_developer_identities(
        self, pool_id: str, provider: str, source_user: str, destination_user: str
    ) -> str:
        """Move every login of the source user's identity to the destination user's; the
        source identity is deleted. Returns the destination identity id."""
        with self.core.store.transaction() as repo:
            pool = self._developer_pool(repo, pool_id, provider)
            rows = [
                store.login(repo, pool.id, provider, u) for u in (source_user, destination_user)
            ]
            source, destination = rows
            if source is None or destination is None:
                raise ResourceNotFound("The developer user identifier is not registered.")
            merged, kept = source.identity_id, destination.identity_id
            if merged != kept:
                for row in store.logins_of(repo, merged):
                    row.identity_id = kept
                repo.session.flush()
                store.delete_identity(repo, store.require_identity(repo, merged))
                store.require_identity(repo, kept).updated_at = self.core.clock()
            return kept

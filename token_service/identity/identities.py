"""Identities: GetId, the OpenID tokens, developer logins (lookup, unlink, merge), listing.

A login belongs to at most one identity of a pool. Logins given with a request that are
not linked yet are linked to its identity (Cognito's implicit linking); one linked to
another identity is a conflict, never a silent move.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from token_service.admin.paging import paginate
from token_service.errors import (
    ConcurrentModification,
    InvalidParameter,
    NotAuthorized,
    ResourceNotFound,
)
from token_service.identity import logins as login_checks
from token_service.identity import store
from token_service.identity.errors import DeveloperUserAlreadyRegistered, ResourceConflict
from token_service.identity.keys import KEY_SET
from token_service.identity.logins import Login
from token_service.identity.pools import IdentityPoolAdmin
from token_service.identity.tokens import openid_claims
from token_service.store.models import Identity, IdentityLogin, IdentityPool
from token_service.store.repositories import Repository
from token_service.tokens import sign

# Cognito Identity's lifetimes: GetOpenIdToken's tokens live 10 minutes, the developer
# tokens 15 minutes unless TokenDuration says otherwise (at most 24 hours).
T = TypeVar("T")
# Tries of a call that links logins: a concurrent first call for the same login wins once.
ATTEMPTS = 3
OPENID_TOKEN_SECONDS = 600
DEVELOPER_TOKEN_SECONDS = 900
NO_GUESTS = "Unauthenticated access is not supported for this identity pool."
LOGINS_MISMATCH = (
    "Logins don't match. Please include at least one valid login for this identity or "
    "identity pool."
)


@dataclass(frozen=True)
class OpenIdToken:
    identity_id: str
    token: str


@dataclass(frozen=True)
class IdentityView:
    identity: Identity
    providers: list[str]


class Identities(IdentityPoolAdmin):
    """Every Cognito Identity operation, sharing one core."""

    # helpers
    def _new_identity(self, repo: Repository, pool: IdentityPool, now: float) -> Identity:
        identity = Identity(
            id=f"{pool.id.split(':', 1)[0]}:{uuid.uuid4()}",
            identity_pool_id=pool.id,
            created_at=now,
            updated_at=now,
        )
        repo.add(identity)
        return identity

    @staticmethod
    def _owners(repo: Repository, pool: IdentityPool, logins: Sequence[Login]) -> dict[Login, str]:
        found = {}
        for login in logins:
            row = store.login(repo, pool.id, login.provider, login.login_id)
            if row is not None:
                found[login] = row.identity_id
        return found

    def _link(
        self, repo: Repository, pool: IdentityPool, identity: Identity, logins: Sequence[Login]
    ) -> None:
        """Link the logins not linked yet. The caller has refused those linked elsewhere; one
        linked elsewhere since (a concurrent first call) makes this call retry."""
        now = self.core.clock()
        owners = self._owners(repo, pool, logins)
        if set(owners.values()) - {identity.id}:
            raise ConcurrentModification("Conflicting concurrent change; retry.")
        for login in logins:
            if login not in owners:
                row = IdentityLogin(
                    identity_pool_id=pool.id,
                    provider=login.provider,
                    login_id=login.login_id,
                    identity_id=identity.id,
                    created_at=now,
                )
                repo.add(row)
                identity.updated_at = now

    def _identity_for(
        self, repo: Repository, pool: IdentityPool, logins: Sequence[Login]
    ) -> Identity:
        """The one identity the logins are linked to, or a new one; linked to all of them."""
        owners = set(self._owners(repo, pool, logins).values())
        if len(owners) > 1:
            raise ResourceConflict("The logins are linked to different identities.")
        if owners:
            identity = store.require_identity(repo, owners.pop())
        else:
            identity = self._new_identity(repo, pool, self.core.clock())
        self._link(repo, pool, identity, logins)
        return identity

    def _token(
        self,
        repo: Repository,
        identity: Identity,
        logins: Sequence[Login],
        ttl: int,
        principal_tags: dict[str, str] | None = None,
    ) -> OpenIdToken:
        claims = openid_claims(
            self.core.settings,
            identity_id=identity.id,
            identity_pool_id=identity.identity_pool_id,
            logins=logins,
            principal_tags=principal_tags or {},
            now=int(self.core.clock()),
            ttl=ttl,
        )
        kid, private_key = self.keys.signer(repo, KEY_SET)
        return OpenIdToken(identity.id, sign(claims, kid, private_key))

    def _resolve(
        self, repo: Repository, pool: IdentityPool, logins: dict[str, Any], developer: bool
    ) -> list[Login]:
        return login_checks.resolve(repo, self.core, pool, logins, developer=developer)

    def _retrying(self, work: Callable[[], T]) -> T:
        """Run `work` (one transaction) again when a concurrent call linked the same login
        first: the next attempt finds that call's identity instead of making a second one."""
        for _ in range(ATTEMPTS - 1):
            try:
                return work()
            except ConcurrentModification:
                continue
        return work()

    def get_id(self, pool_id: str, logins: dict[str, Any]) -> str:
        """The identity of the logins (made at their first use), or a new guest's."""
        return self._retrying(lambda: self._get_id(pool_id, logins))

    def get_open_id_token(self, identity_id: str, logins: dict[str, Any]) -> OpenIdToken:
        return self._retrying(lambda: self._get_open_id_token(identity_id, logins))

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
        return self._retrying(
            lambda: self._developer_token(pool_id, identity_id, logins, principal_tags, ttl)
        )

    # unsigned operations
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

    # developer operations (signed)
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

    # identities (signed)
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

"""Linking logins to identities, and the OpenID tokens of an identity.

A login belongs to at most one identity of a pool. Logins given with a request that are not
linked yet are linked to its identity (Cognito's implicit linking); one linked to another
identity is a conflict, never a silent move.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from token_service.errors import ConcurrentModification
from token_service.identity import logins as login_checks
from token_service.identity import store
from token_service.identity.errors import ResourceConflict
from token_service.identity.keys import KEY_SET
from token_service.identity.logins import Login
from token_service.identity.pools import IdentityPoolAdmin
from token_service.identity.tokens import openid_claims
from token_service.store.models import Identity, IdentityLogin, IdentityPool
from token_service.store.repositories import Repository
from token_service.tokens import sign


@dataclass(frozen=True)
class OpenIdToken:
    identity_id: str
    token: str


class IdentityLinks(IdentityPoolAdmin):
    """What the operations that link logins share: finding, making and linking identities."""

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

"""Signing-key rotation per pool."""

from __future__ import annotations

from token_service.admin.base import AdminBase
from token_service.admin.clients import MAX_TOKEN_SECONDS
from token_service.store.models import SigningKey


class KeyAdmin(AdminBase):
    def rotate_keys(self, pool_id: str) -> SigningKey:
        """New signer; old keys stay published for the longest token validity of the pool."""
        with self.core.store.transaction() as repo:
            clients = repo.clients(pool_id)
            longest = max(
                (max(c.access_token_seconds, c.id_token_seconds) for c in clients),
                default=MAX_TOKEN_SECONDS,
            )
            return self.core.keys.rotate(repo, pool_id, self.core.clock(), longest)

    def list_keys(self, pool_id: str) -> list[SigningKey]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.keys(pool_id))

"""The identity issuer's key set: the pools' key handling (`token_service.keys`) over its
own table, so its keys rotate, retire and are published exactly as a user pool's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from token_service.identity import store
from token_service.keys import Keys, key_columns
from token_service.store.models import IdentitySigningKey
from token_service.store.repositories import Repository

# The name the key set goes by in the `Keys` calls (there is one identity issuer).
KEY_SET = "The identity issuer"
# Longest OpenID token (TokenDuration's maximum): a rotated key stays published this long.
MAX_TOKEN_SECONDS = 86400


class IdentityKeys(Keys):
    def ensure(self, repo: Repository, now: float) -> None:
        """Give the issuer its first key; a no-op once it has one."""
        if store.active_signing_key(repo) is None:
            self.create(repo, KEY_SET, now)

    def _row(self, pool_id: str, jwk: dict[str, str], sealed: bytes, now: float) -> Any:
        return IdentitySigningKey(**key_columns(jwk, sealed, now))

    def _keys(self, repo: Repository, pool_id: str) -> Sequence[Any]:
        return store.signing_keys(repo)

    def _active(self, repo: Repository, pool_id: str) -> Any:
        return store.active_signing_key(repo)

    def _published(self, repo: Repository, pool_id: str, now: float) -> Sequence[Any]:
        return store.published_signing_keys(repo, now)

    def _key(self, repo: Repository, pool_id: str, kid: str) -> Any:
        return store.signing_key(repo, kid)

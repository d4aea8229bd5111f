"""Identity pools: creation, description, update, listing, deletion.

CreateIdentityPool and UpdateIdentityPool take the same `IdentityPoolSettings` through the
same `_validate`; an update replaces every setting, except DeveloperProviderName, which is
set once and never changed (the developer logins of the pool are keyed by it).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from token_service.admin.paging import paginate
from token_service.core import Core
from token_service.errors import InvalidParameter
from token_service.identity import store
from token_service.identity.keys import KEY_SET, MAX_TOKEN_SECONDS, IdentityKeys
from token_service.identity.providers import user_pool_of
from token_service.store.models import IdentityPool

POOL_NAME = re.compile(r"[\w\s+=,.@-]{1,128}")
DEVELOPER_PROVIDER_NAME = re.compile(r"[\w._-]{1,128}")
PROVIDER_NAME = re.compile(r"[\w._:/-]{1,128}")
CLIENT_ID = re.compile(r"\w{1,128}")
# Settings kept in IdentityPool.extra and described as given: logins of those providers
# cannot be verified here, so they are refused.
KEPT_SETTINGS = (
    "SupportedLoginProviders",
    "OpenIdConnectProviderARNs",
    "SamlProviderARNs",
    "IdentityPoolTags",
)


@dataclass(frozen=True)
class IdentityPoolSettings:
    name: str
    allow_unauthenticated: bool
    allow_classic_flow: bool = False
    developer_provider_name: str | None = None
    # [{"ProviderName", "ClientId", "ServerSideTokenCheck"}]
    cognito_identity_providers: Sequence[dict[str, Any]] = ()
    kept: dict[str, Any] = field(default_factory=dict)


def check_pattern(pattern: re.Pattern[str], value: str, name: str) -> None:
    """Cognito Identity's validation error when `value` is not all of `pattern`."""
    if not pattern.fullmatch(value):
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern.pattern}"
        )


class IdentityPoolAdmin:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.keys = IdentityKeys(core.sealer)

    def _validate(self, settings: IdentityPoolSettings) -> None:
        check_pattern(POOL_NAME, settings.name, "identityPoolName")
        if settings.developer_provider_name is not None:
            check_pattern(
                DEVELOPER_PROVIDER_NAME, settings.developer_provider_name, "developerProviderName"
            )
        with self.core.store.transaction() as repo:
            for provider in settings.cognito_identity_providers:
                name, client_id = provider["ProviderName"], provider["ClientId"]
                check_pattern(PROVIDER_NAME, name, "cognitoIdentityProviders.providerName")
                check_pattern(CLIENT_ID, client_id, "cognitoIdentityProviders.clientId")
                pool_id = user_pool_of(repo, self.core.settings, name)
                client = repo.client(client_id)
                if pool_id is None or client is None or client.pool_id != pool_id:
                    raise InvalidParameter(
                        f"CognitoIdentityProviders: {name} with client {client_id} is not an "
                        "app client of a user pool of this service."
                    )

    @staticmethod
    def _apply(pool: IdentityPool, settings: IdentityPoolSettings, now: float) -> None:
        pool.name = settings.name
        pool.allow_unauthenticated = settings.allow_unauthenticated
        pool.allow_classic_flow = settings.allow_classic_flow
        pool.cognito_identity_providers = [dict(p) for p in settings.cognito_identity_providers]
        pool.extra = dict(settings.kept)
        pool.updated_at = now

    def create_identity_pool(self, settings: IdentityPoolSettings) -> IdentityPool:
        self._validate(settings)
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            pool = IdentityPool(
                id=f"{self.core.settings.region}:{uuid.uuid4()}",
                developer_provider_name=settings.developer_provider_name,
                created_at=now,
            )
            self._apply(pool, settings, now)
            repo.add(pool)
            self.keys.ensure(repo, now)
            return pool

    def describe_identity_pool(self, pool_id: str) -> IdentityPool:
        with self.core.store.transaction() as repo:
            return store.require_pool(repo, pool_id)

    def update_identity_pool(self, pool_id: str, settings: IdentityPoolSettings) -> IdentityPool:
        self._validate(settings)
        with self.core.store.transaction() as repo:
            pool = store.require_pool(repo, pool_id)
            wanted = settings.developer_provider_name
            if pool.developer_provider_name is None:
                pool.developer_provider_name = wanted
            elif wanted is not None and wanted != pool.developer_provider_name:
                raise InvalidParameter("DeveloperProviderName cannot be changed once it is set.")
            self._apply(pool, settings, self.core.clock())
            return pool

    def delete_identity_pool(self, pool_id: str) -> None:
        with self.core.store.transaction() as repo:
            store.delete_pool(repo, store.require_pool(repo, pool_id))

    def identity_pool_page(
        self, limit: int, token: str | None
    ) -> tuple[list[IdentityPool], str | None]:
        with self.core.store.transaction() as repo:
            return paginate(store.pools(repo), limit, token)

    def rotate_identity_keys(self) -> str:
        """New signer for the OpenID tokens; the old keys stay published as long as a token
        they signed may live. Returns the new key's kid."""
        with self.core.store.transaction() as repo:
            now = self.core.clock()
            return self.keys.rotate(repo, KEY_SET, now, MAX_TOKEN_SECONDS).kid

    def identity_jwks(self) -> dict[str, Any]:
        with self.core.store.transaction() as repo:
            return self.keys.jwks(repo, KEY_SET, self.core.clock())

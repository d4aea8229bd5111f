"""User pools: creation with their first signing key, description, listing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from token_service.admin.base import ALNUM, AdminBase, random_string
from token_service.errors import InvalidParameter
from token_service.passwords import DEFAULT_POLICY
from token_service.store.models import Pool

_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_]{1,20}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class PoolAdmin(AdminBase):
    def create_pool(
        self,
        name: str,
        *,
        region: str | None = None,
        password_policy: dict[str, Any] | None = None,
        custom_attributes: Sequence[str] = (),
        pool_id: str | None = None,
    ) -> Pool:
        """A pool and its first signing key. Custom names are given without `custom:`.

        `pool_id` pins the id (Cognito always picks it) so that a deployment can name its
        issuer before the pool exists, as docker-compose does.
        """
        region = region or self.core.settings.region
        if not name or len(name) > 128:
            raise InvalidParameter("PoolName must be 1 to 128 characters.")
        if not _REGION.match(region):
            raise InvalidParameter(f"Invalid region {region!r}.")
        for attr in custom_attributes:
            if not _CUSTOM_NAME.match(attr):
                raise InvalidParameter(f"Invalid custom attribute name {attr!r}.")
        if pool_id is not None and not re.fullmatch(
            rf"{re.escape(region)}_[A-Za-z0-9]{{9}}", pool_id
        ):
            raise InvalidParameter(f"Pool id must be {region}_ followed by 9 letters or digits.")
        policy = _password_policy(password_policy or {})
        now = self.core.clock()
        pool = Pool(
            id=pool_id or f"{region}_{random_string(ALNUM, 9)}",
            name=name,
            region=region,
            password_policy=policy,
            custom_attributes=sorted({f"custom:{a}" for a in custom_attributes}),
            created_at=now,
            updated_at=now,
        )
        with self.core.store.transaction() as repo:
            if pool_id is not None and repo.pool(pool_id) is not None:
                raise InvalidParameter(f"User pool {pool_id} already exists.")
            repo.add(pool)
            self.core.keys.create(repo, pool.id, now)
        return pool

    def describe_pool(self, pool_id: str) -> tuple[Pool, int]:
        """The pool and its number of users."""
        with self.core.store.transaction() as repo:
            return self.require_pool(repo, pool_id), repo.count_users(pool_id)

    def list_pools(self) -> list[Pool]:
        with self.core.store.transaction() as repo:
            return list(repo.pools())


def _password_policy(given: dict[str, Any]) -> dict[str, Any]:
    """Cognito's PasswordPolicy with defaults filled in, each value of the right type."""
    policy = dict(DEFAULT_POLICY)
    for key, value in given.items():
        if key not in DEFAULT_POLICY:
            raise InvalidParameter(f"Unknown PasswordPolicy field {key}.")
        if type(value) is not type(DEFAULT_POLICY[key]):
            raise InvalidParameter(
                f"PasswordPolicy.{key} must be a {type(DEFAULT_POLICY[key]).__name__}."
            )
        policy[key] = value
    if not 6 <= policy["MinimumLength"] <= 99:
        raise InvalidParameter("MinimumLength must be between 6 and 99.")
    return policy

"""What every admin area shares: the core, lookups that raise Cognito's not-found errors."""

from __future__ import annotations

import secrets
import string

from token_service.core import Core
from token_service.errors import ResourceNotFound, UserNotFound
from token_service.store.models import Group, Pool, User
from token_service.store.repositories import Repository

ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits


def random_string(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


class AdminBase:
    def __init__(self, core: Core) -> None:
        self.core = core

    @staticmethod
    def require_pool(repo: Repository, pool_id: str) -> Pool:
        pool = repo.pool(pool_id)
        if pool is None:
            raise ResourceNotFound(f"User pool {pool_id} does not exist.")
        return pool

    @staticmethod
    def require_user(repo: Repository, pool_id: str, username: str) -> User:
        """The user by username or, as Cognito's admin operations allow, by `sub`."""
        AdminBase.require_pool(repo, pool_id)
        user = repo.user_by_username(pool_id, username)
        if user is None:
            by_sub = repo.user_by_sub(username)
            user = by_sub if by_sub is not None and by_sub.pool_id == pool_id else None
        if user is None:
            raise UserNotFound("User does not exist.")
        return user

    @staticmethod
    def require_group(repo: Repository, pool_id: str, name: str) -> Group:
        group = repo.group(pool_id, name)
        if group is None:
            raise ResourceNotFound("Group not found.")
        return group

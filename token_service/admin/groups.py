"""Groups and their memberships."""

from __future__ import annotations

from token_service.admin.base import AdminBase
from token_service.errors import GroupExists, InvalidParameter
from token_service.store.models import Group, Membership


class GroupAdmin(AdminBase):
    def create_group(
        self,
        pool_id: str,
        name: str,
        *,
        description: str | None = None,
        precedence: int | None = None,
    ) -> Group:
        if not name or len(name) > 128:
            raise InvalidParameter("GroupName must be 1 to 128 characters.")
        now = self.core.clock()
        group = Group(
            pool_id=pool_id,
            name=name,
            description=description,
            precedence=precedence,
            created_at=now,
            updated_at=now,
        )
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            if repo.group(pool_id, name) is not None:
                raise GroupExists("A group with the name already exists.")
            repo.add(group)
        return group

    def list_groups(self, pool_id: str) -> list[Group]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.groups(pool_id))

    def add_to_group(self, pool_id: str, username: str, group_name: str) -> None:
        with self.core.store.transaction() as repo:
            user = self.require_user(repo, pool_id, username)
            self.require_group(repo, pool_id, group_name)
            if repo.membership(pool_id, group_name, user.sub) is None:
                repo.add(Membership(pool_id=pool_id, group_name=group_name, user_sub=user.sub))

    def remove_from_group(self, pool_id: str, username: str, group_name: str) -> None:
        with self.core.store.transaction() as repo:
            user = self.require_user(repo, pool_id, username)
            self.require_group(repo, pool_id, group_name)
            membership = repo.membership(pool_id, group_name, user.sub)
            if membership is not None:
                repo.delete(membership)

    def groups_for_user(self, pool_id: str, username: str) -> list[Group]:
        with self.core.store.transaction() as repo:
            return list(repo.groups_of(self.require_user(repo, pool_id, username)))

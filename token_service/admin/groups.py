"""Groups and their memberships."""

from __future__ import annotations

import re

from token_service.admin.base import AdminBase
from token_service.admin.paging import paginate
from token_service.errors import GroupExists, InvalidParameter
from token_service.store.models import Group, Membership, User

_ROLE_ARN = re.compile(
    r"arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?"
)


def _check_group_fields(
    description: str | None, precedence: int | None, role_arn: str | None
) -> None:
    """Cognito's limits on a group's settings, the same for CreateGroup and UpdateGroup."""
    if description is not None and len(description) > 2048:
        raise InvalidParameter("Description must be at most 2048 characters.")
    if precedence is not None and precedence < 0:
        raise InvalidParameter("Precedence must be 0 or more.")
    if role_arn is not None and not (20 <= len(role_arn) <= 2048 and _ROLE_ARN.fullmatch(role_arn)):
        raise InvalidParameter("RoleArn is not a valid ARN.")


class GroupAdmin(AdminBase):
    def create_group(
        self,
        pool_id: str,
        name: str,
        *,
        description: str | None = None,
        precedence: int | None = None,
        role_arn: str | None = None,
    ) -> Group:
        if not name or len(name) > 128:
            raise InvalidParameter("GroupName must be 1 to 128 characters.")
        _check_group_fields(description, precedence, role_arn)
        now = self.core.clock()
        group = Group(
            pool_id=pool_id,
            name=name,
            description=description,
            precedence=precedence,
            role_arn=role_arn,
            created_at=now,
            updated_at=now,
        )
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            if repo.group(pool_id, name) is not None:
                raise GroupExists("A group with the name already exists.")
            repo.add(group)
        return group

    def get_group(self, pool_id: str, name: str) -> Group:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return self.require_group(repo, pool_id, name)

    def update_group(
        self,
        pool_id: str,
        name: str,
        *,
        description: str | None,
        precedence: int | None,
        role_arn: str | None,
    ) -> Group:
        """Change what is given; Cognito's UpdateGroup keeps settings it is not given."""
        _check_group_fields(description, precedence, role_arn)
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            group = self.require_group(repo, pool_id, name)
            if description is not None:
                group.description = description
            if precedence is not None:
                group.precedence = precedence
            if role_arn is not None:
                group.role_arn = role_arn
            group.updated_at = self.core.clock()
            return group

    def delete_group(self, pool_id: str, name: str) -> None:
        """The group and its memberships (its users stay)."""
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            repo.delete_group(self.require_group(repo, pool_id, name))

    def list_groups(self, pool_id: str) -> list[Group]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.groups(pool_id))

    def group_page(
        self, pool_id: str, limit: int, token: str | None
    ) -> tuple[list[Group], str | None]:
        return paginate(self.list_groups(pool_id), limit, token)

    def users_in_group(
        self, pool_id: str, name: str, limit: int, token: str | None
    ) -> tuple[list[User], str | None]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            members = list(repo.members(self.require_group(repo, pool_id, name)))
        return paginate(members, limit, token)

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

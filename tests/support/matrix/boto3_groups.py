"""boto3 rows: groups and memberships, and the groups claim they put in tokens."""

from __future__ import annotations

from tests.support.matrix.core import Rows, Target, check, claims, cognito_error, equal
from tests.support.matrix.kit import Kit

rows = Rows("boto3")


@rows.row("boto3.create_group", "CreateGroup and GetGroup")
def create_group(target: Target) -> None:
    kit = Kit(target)
    created = kit.admin.create_group(
        UserPoolId=kit.pool_id, GroupName="admins", Description="the admins", Precedence=1
    )["Group"]
    equal(created["GroupName"], "admins", "GroupName")
    group = kit.admin.get_group(UserPoolId=kit.pool_id, GroupName="admins")["Group"]
    equal((group["Description"], group["Precedence"]), ("the admins", 1), "group settings")
    equal(group["UserPoolId"], kit.pool_id, "UserPoolId")


@rows.row("boto3.create_group.duplicate", "the same group twice is GroupExistsException")
def create_group_duplicate(target: Target) -> None:
    kit = Kit(target)
    kit.group("admins")
    with cognito_error("GroupExistsException"):
        kit.group("admins")


@rows.row("boto3.get_group.unknown", "an unknown group is ResourceNotFoundException")
def get_group_unknown(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("ResourceNotFoundException"):
        kit.admin.get_group(UserPoolId=kit.pool_id, GroupName="nowhere")


@rows.row("boto3.list_groups", "ListGroups through its paginator")
def list_groups(target: Target) -> None:
    kit = Kit(target)
    made = {kit.group() for _ in range(3)}
    pages = list(
        kit.admin.get_paginator("list_groups").paginate(
            UserPoolId=kit.pool_id, PaginationConfig={"PageSize": 2}
        )
    )
    equal({g["GroupName"] for page in pages for g in page["Groups"]}, made, "groups")
    check(len(pages) >= 2, f"3 groups in pages of 2 came in {len(pages)} page(s)")


@rows.row("boto3.update_group", "UpdateGroup changes Description and Precedence")
def update_group(target: Target) -> None:
    kit = Kit(target)
    name = kit.group(Description="old", Precedence=5)
    kit.admin.update_group(UserPoolId=kit.pool_id, GroupName=name, Description="new", Precedence=2)
    group = kit.admin.get_group(UserPoolId=kit.pool_id, GroupName=name)["Group"]
    equal((group["Description"], group["Precedence"]), ("new", 2), "updated group")


@rows.row("boto3.delete_group", "DeleteGroup; memberships go with it")
def delete_group(target: Target) -> None:
    kit = Kit(target)
    name, person = kit.group(), kit.person()
    kit.admin.admin_add_user_to_group(
        UserPoolId=kit.pool_id, Username=person.username, GroupName=name
    )
    kit.admin.delete_group(UserPoolId=kit.pool_id, GroupName=name)
    with cognito_error("ResourceNotFoundException"):
        kit.admin.get_group(UserPoolId=kit.pool_id, GroupName=name)
    groups = kit.admin.admin_list_groups_for_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(groups["Groups"], [], "groups of the user after DeleteGroup")


@rows.row("boto3.admin_add_user_to_group", "membership shows in AdminListGroupsForUser")
def add_user_to_group(target: Target) -> None:
    kit = Kit(target)
    name, person = kit.group(), kit.person()
    kit.admin.admin_add_user_to_group(
        UserPoolId=kit.pool_id, Username=person.username, GroupName=name
    )
    pages = kit.admin.get_paginator("admin_list_groups_for_user").paginate(
        UserPoolId=kit.pool_id, Username=person.username
    )
    equal([g["GroupName"] for page in pages for g in page["Groups"]], [name], "groups of the user")


@rows.row("boto3.admin_add_user_to_group.unknown_group", "adding to an unknown group")
def add_user_to_unknown_group(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    with cognito_error("ResourceNotFoundException"):
        kit.admin.admin_add_user_to_group(
            UserPoolId=kit.pool_id, Username=person.username, GroupName="nowhere"
        )


@rows.row("boto3.list_users_in_group", "ListUsersInGroup through its paginator")
def list_users_in_group(target: Target) -> None:
    kit = Kit(target)
    name = kit.group()
    members = set()
    for _ in range(3):
        person = kit.person(password=None)
        kit.admin.admin_add_user_to_group(
            UserPoolId=kit.pool_id, Username=person.username, GroupName=name
        )
        members.add(person.username)
    kit.person(password=None)
    pages = kit.admin.get_paginator("list_users_in_group").paginate(
        UserPoolId=kit.pool_id, GroupName=name, PaginationConfig={"PageSize": 2}
    )
    equal({u["Username"] for page in pages for u in page["Users"]}, members, "members")


@rows.row("boto3.admin_remove_user_from_group", "AdminRemoveUserFromGroup")
def remove_user_from_group(target: Target) -> None:
    kit = Kit(target)
    name, person = kit.group(), kit.person()
    kit.admin.admin_add_user_to_group(
        UserPoolId=kit.pool_id, Username=person.username, GroupName=name
    )
    kit.admin.admin_remove_user_from_group(
        UserPoolId=kit.pool_id, Username=person.username, GroupName=name
    )
    groups = kit.admin.admin_list_groups_for_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(groups["Groups"], [], "groups after removal")


@rows.row("boto3.groups_claim", "cognito:groups in both tokens, ordered by precedence")
def groups_claim(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    for name, precedence in (("readers", 5), ("admins", 1)):
        kit.group(name, Precedence=precedence)
        kit.admin.admin_add_user_to_group(
            UserPoolId=kit.pool_id, Username=person.username, GroupName=name
        )
    tokens = kit.sign_in(app, person)
    for kind in ("AccessToken", "IdToken"):
        equal(claims(tokens[kind]).get("cognito:groups"), ["admins", "readers"], kind)
    loner = kit.person()
    check(
        "cognito:groups" not in claims(kit.sign_in(app, loner)["AccessToken"]),
        "cognito:groups present for a user in no group",
    )


@rows.row("boto3.list_groups.limit_too_large", "ListGroups Limit over 60")
def list_groups_limit(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("InvalidParameterException"):
        kit.admin.list_groups(UserPoolId=kit.pool_id, Limit=61)

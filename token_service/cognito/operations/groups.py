"""Groups and memberships (admin operations)."""

from __future__ import annotations

from typing import Any

from token_service.admin.paging import check_limit
from token_service.cognito.operations.base import Operation, Params, opt_int, opt_str, req_str
from token_service.cognito.operations.shapes import group_shape, page_shape, user_shape
from token_service.services import Services


def _group_fields(params: Params) -> dict[str, Any]:
    return {
        "description": opt_str(params, "Description"),
        "precedence": opt_int(params, "Precedence"),
        "role_arn": opt_str(params, "RoleArn"),
    }


def create_group(services: Services, params: Params) -> dict[str, Any]:
    group = services.admin.create_group(
        req_str(params, "UserPoolId"), req_str(params, "GroupName"), **_group_fields(params)
    )
    return {"Group": group_shape(group)}


def get_group(services: Services, params: Params) -> dict[str, Any]:
    group = services.admin.get_group(req_str(params, "UserPoolId"), req_str(params, "GroupName"))
    return {"Group": group_shape(group)}


def update_group(services: Services, params: Params) -> dict[str, Any]:
    group = services.admin.update_group(
        req_str(params, "UserPoolId"), req_str(params, "GroupName"), **_group_fields(params)
    )
    return {"Group": group_shape(group)}


def delete_group(services: Services, params: Params) -> dict[str, Any]:
    services.admin.delete_group(req_str(params, "UserPoolId"), req_str(params, "GroupName"))
    return {}


def list_groups(services: Services, params: Params) -> dict[str, Any]:
    groups, token = services.admin.group_page(
        req_str(params, "UserPoolId"),
        check_limit("limit", opt_int(params, "Limit"), 60, minimum=0),
        opt_str(params, "NextToken"),
    )
    return page_shape("Groups", [group_shape(g) for g in groups], token)


def list_users_in_group(services: Services, params: Params) -> dict[str, Any]:
    users, token = services.admin.users_in_group(
        req_str(params, "UserPoolId"),
        req_str(params, "GroupName"),
        check_limit("limit", opt_int(params, "Limit"), 60, minimum=0),
        opt_str(params, "NextToken"),
    )
    return page_shape("Users", [user_shape(u) for u in users], token)


def admin_add_user_to_group(services: Services, params: Params) -> dict[str, Any]:
    services.admin.add_to_group(
        req_str(params, "UserPoolId"), req_str(params, "Username"), req_str(params, "GroupName")
    )
    return {}


def admin_remove_user_from_group(services: Services, params: Params) -> dict[str, Any]:
    services.admin.remove_from_group(
        req_str(params, "UserPoolId"), req_str(params, "Username"), req_str(params, "GroupName")
    )
    return {}


def admin_list_groups_for_user(services: Services, params: Params) -> dict[str, Any]:
    groups = services.admin.groups_for_user(
        req_str(params, "UserPoolId"), req_str(params, "Username")
    )
    return {"Groups": [group_shape(g) for g in groups]}


OPERATIONS: dict[str, Operation] = {
    "CreateGroup": Operation(create_group, admin=True),
    "GetGroup": Operation(get_group, admin=True),
    "UpdateGroup": Operation(update_group, admin=True),
    "DeleteGroup": Operation(delete_group, admin=True),
    "ListGroups": Operation(list_groups, admin=True),
    "ListUsersInGroup": Operation(list_users_in_group, admin=True),
    "AdminAddUserToGroup": Operation(admin_add_user_to_group, admin=True),
    "AdminRemoveUserFromGroup": Operation(admin_remove_user_from_group, admin=True),
    "AdminListGroupsForUser": Operation(admin_list_groups_for_user, admin=True),
}

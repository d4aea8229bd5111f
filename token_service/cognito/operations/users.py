"""Users and groups (admin operations)."""

from __future__ import annotations

from typing import Any

from token_service.cognito.operations.base import (
    Operation,
    Params,
    attributes_param,
    opt_int,
    opt_str,
    req_str,
)
from token_service.cognito.operations.shapes import group_shape, user_mfa_shape, user_shape
from token_service.services import Services


def admin_create_user(services: Services, params: Params) -> dict[str, Any]:
    user = services.admin.create_user(
        req_str(params, "UserPoolId"),
        req_str(params, "Username"),
        attributes_param(params, "UserAttributes"),
        password=opt_str(params, "TemporaryPassword"),
    )
    return {"User": user_shape(user)}


def admin_set_user_password(services: Services, params: Params) -> dict[str, Any]:
    services.admin.set_password(
        req_str(params, "UserPoolId"),
        req_str(params, "Username"),
        req_str(params, "Password"),
        bool(params.get("Permanent", False)),
    )
    return {}


def admin_get_user(services: Services, params: Params) -> dict[str, Any]:
    user = services.admin.get_user(req_str(params, "UserPoolId"), req_str(params, "Username"))
    return {**user_shape(user, "UserAttributes"), **user_mfa_shape(user)}


def admin_disable_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.set_enabled(req_str(params, "UserPoolId"), req_str(params, "Username"), False)
    return {}


def admin_enable_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.set_enabled(req_str(params, "UserPoolId"), req_str(params, "Username"), True)
    return {}


def admin_delete_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.delete_user(req_str(params, "UserPoolId"), req_str(params, "Username"))
    return {}


def list_users(services: Services, params: Params) -> dict[str, Any]:
    page = services.admin.list_users(
        req_str(params, "UserPoolId"),
        filter_=opt_str(params, "Filter"),
        limit=opt_int(params, "Limit") or 60,
        token=opt_str(params, "PaginationToken"),
    )
    wanted = params.get("AttributesToGet")
    users = []
    for user in page.users:
        shape = user_shape(user)
        if isinstance(wanted, list):
            shape["Attributes"] = [a for a in shape["Attributes"] if a["Name"] in wanted]
        users.append(shape)
    response: dict[str, Any] = {"Users": users}
    if page.next_token:
        response["PaginationToken"] = page.next_token
    return response


def create_group(services: Services, params: Params) -> dict[str, Any]:
    group = services.admin.create_group(
        req_str(params, "UserPoolId"),
        req_str(params, "GroupName"),
        description=opt_str(params, "Description"),
        precedence=opt_int(params, "Precedence"),
    )
    return {"Group": group_shape(group)}


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
    "AdminCreateUser": Operation(admin_create_user, admin=True),
    "AdminSetUserPassword": Operation(admin_set_user_password, admin=True),
    "AdminGetUser": Operation(admin_get_user, admin=True),
    "AdminDisableUser": Operation(admin_disable_user, admin=True),
    "AdminEnableUser": Operation(admin_enable_user, admin=True),
    "AdminDeleteUser": Operation(admin_delete_user, admin=True),
    "ListUsers": Operation(list_users, admin=True),
    "CreateGroup": Operation(create_group, admin=True),
    "AdminAddUserToGroup": Operation(admin_add_user_to_group, admin=True),
    "AdminRemoveUserFromGroup": Operation(admin_remove_user_from_group, admin=True),
    "AdminListGroupsForUser": Operation(admin_list_groups_for_user, admin=True),
}

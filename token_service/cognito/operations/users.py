"""Users (admin operations): create, read, change attributes, enable, sign out, delete."""

from __future__ import annotations

from typing import Any

from token_service.cognito.operations.base import (
    Operation,
    Params,
    attributes_param,
    list_param,
    opt_int,
    opt_str,
    req_str,
)
from token_service.cognito.operations.shapes import user_mfa_shape, user_shape
from token_service.errors import InvalidParameter
from token_service.events import SIGN_OUT, RequestContext, Subject
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


def admin_update_user_attributes(services: Services, params: Params) -> dict[str, Any]:
    if params.get("UserAttributes") is None:
        raise InvalidParameter(
            "1 validation error detected: Value at 'userAttributes' failed to satisfy constraint: Member must not be null"
        )
    services.admin.update_attributes(
        req_str(params, "UserPoolId"),
        req_str(params, "Username"),
        attributes_param(params, "UserAttributes"),
    )
    return {}


def admin_delete_user_attributes(services: Services, params: Params) -> dict[str, Any]:
    names = list_param(params, "UserAttributeNames")
    if params.get("UserAttributeNames") is None or not all(isinstance(n, str) for n in names):
        raise InvalidParameter("UserAttributeNames must be a list of attribute names.")
    services.admin.delete_attributes(
        req_str(params, "UserPoolId"), req_str(params, "Username"), names
    )
    return {}


def admin_user_global_sign_out(
    services: Services, params: Params, context: RequestContext
) -> dict[str, Any]:
    pool_id, username = req_str(params, "UserPoolId"), req_str(params, "Username")
    services.events.observe(
        context,
        Subject(None, pool_id=pool_id, username=username),
        SIGN_OUT,
        "AdminUserGlobalSignOut",
        lambda: services.admin.global_sign_out(pool_id, username),
        lambda _: (SIGN_OUT, None),
    )
    return {}


OPERATIONS: dict[str, Operation] = {
    "AdminCreateUser": Operation(admin_create_user, admin=True),
    "AdminSetUserPassword": Operation(admin_set_user_password, admin=True),
    "AdminGetUser": Operation(admin_get_user, admin=True),
    "AdminDisableUser": Operation(admin_disable_user, admin=True),
    "AdminEnableUser": Operation(admin_enable_user, admin=True),
    "AdminDeleteUser": Operation(admin_delete_user, admin=True),
    "ListUsers": Operation(list_users, admin=True),
    "AdminUpdateUserAttributes": Operation(admin_update_user_attributes, admin=True),
    "AdminDeleteUserAttributes": Operation(admin_delete_user_attributes, admin=True),
    "AdminUserGlobalSignOut": Operation(admin_user_global_sign_out, admin=True, contextual=True),
}

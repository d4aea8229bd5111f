"""User pools (admin operations): create, describe, update, list, delete."""

from __future__ import annotations

from typing import Any

from token_service.admin import STANDARD_ATTRIBUTES
from token_service.admin.paging import check_limit
from token_service.admin.pools import EXTRA_SETTINGS, PoolSettings
from token_service.cognito.operations.base import (
    Operation,
    Params,
    dict_param,
    list_param,
    opt_int,
    opt_str,
    req_str,
    str_list,
)
from token_service.cognito.operations.shapes import (
    page_shape,
    pool_description_shape,
    pool_shape,
)
from token_service.errors import InvalidParameter
from token_service.services import Services


def pool_settings(params: Params) -> PoolSettings:
    """The settings CreateUserPool and UpdateUserPool share; omitted ones take defaults."""
    policies = dict_param(params, "Policies")
    if set(policies) - {"PasswordPolicy", "SignInPolicy"}:
        raise InvalidParameter("Policies takes PasswordPolicy and SignInPolicy.")
    if dict_param(params, "LambdaConfig"):
        raise InvalidParameter("LambdaConfig: Lambda triggers are not supported.")
    admin_config = dict(dict_param(params, "AdminCreateUserConfig"))
    allow_admin_only = admin_config.pop("AllowAdminCreateUserOnly", False)
    if not isinstance(allow_admin_only, bool):
        raise InvalidParameter("AdminCreateUserConfig.AllowAdminCreateUserOnly must be a boolean.")
    extra = {
        name: params[name]
        for name in EXTRA_SETTINGS
        if name in params and name not in ("SignInPolicy", "AdminCreateUserConfig")
    }
    if "SignInPolicy" in policies:
        extra["SignInPolicy"] = policies["SignInPolicy"]
    if admin_config:
        extra["AdminCreateUserConfig"] = admin_config
    return PoolSettings(
        password_policy=dict_param(policies, "PasswordPolicy"),
        mfa_configuration=opt_str(params, "MfaConfiguration"),
        auto_verified_attributes=str_list(params, "AutoVerifiedAttributes"),
        admin_create_only=allow_admin_only,
        deletion_protection=opt_str(params, "DeletionProtection") or "INACTIVE",
        extra=extra,
    )


def create_user_pool(services: Services, params: Params) -> dict[str, Any]:
    custom = []
    for item in list_param(params, "Schema"):
        name = item.get("Name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise InvalidParameter("Schema entries need a Name.")
        if name.removeprefix("custom:") not in STANDARD_ATTRIBUTES and name != "sub":
            custom.append(name.removeprefix("custom:"))
    if dict_param(params, "UsernameConfiguration").get("CaseSensitive") is True:
        raise InvalidParameter("UsernameConfiguration: case-sensitive usernames are not supported.")
    pool = services.admin.create_pool(
        req_str(params, "PoolName"),
        custom_attributes=custom,
        username_attributes=str_list(params, "UsernameAttributes"),
        settings=pool_settings(params),
    )
    return {"UserPool": pool_shape(pool, 0)}


def describe_user_pool(services: Services, params: Params) -> dict[str, Any]:
    pool, users = services.admin.describe_pool(req_str(params, "UserPoolId"))
    return {"UserPool": pool_shape(pool, users)}


def update_user_pool(services: Services, params: Params) -> dict[str, Any]:
    services.admin.update_pool(
        req_str(params, "UserPoolId"), opt_str(params, "PoolName"), pool_settings(params)
    )
    return {}


def delete_user_pool(services: Services, params: Params) -> dict[str, Any]:
    services.admin.delete_pool(req_str(params, "UserPoolId"))
    return {}


def list_user_pools(services: Services, params: Params) -> dict[str, Any]:
    if params.get("MaxResults") is None:
        raise InvalidParameter(
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must not be null"
        )
    limit = check_limit("maxResults", opt_int(params, "MaxResults"), 60)
    pools, token = services.admin.pool_page(limit, opt_str(params, "NextToken"))
    return page_shape("UserPools", [pool_description_shape(p) for p in pools], token)


OPERATIONS: dict[str, Operation] = {
    "CreateUserPool": Operation(create_user_pool, admin=True),
    "DescribeUserPool": Operation(describe_user_pool, admin=True),
    "UpdateUserPool": Operation(update_user_pool, admin=True),
    "DeleteUserPool": Operation(delete_user_pool, admin=True),
    "ListUserPools": Operation(list_user_pools, admin=True),
}

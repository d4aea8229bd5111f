"""Pools, app clients and resource servers (admin operations)."""

from __future__ import annotations

from typing import Any

from token_service.admin import DEFAULT_REFRESH_SECONDS, DEFAULT_TOKEN_SECONDS, STANDARD_ATTRIBUTES
from token_service.cognito.operations.base import (
    Operation,
    Params,
    dict_param,
    list_param,
    opt_int,
    req_str,
)
from token_service.cognito.operations.shapes import client_shape, pool_shape
from token_service.errors import InvalidParameter
from token_service.services import Services

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def create_user_pool(services: Services, params: Params) -> dict[str, Any]:
    policy = dict_param(dict_param(params, "Policies"), "PasswordPolicy")
    custom = []
    for item in list_param(params, "Schema"):
        name = item.get("Name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise InvalidParameter("Schema entries need a Name.")
        if name.removeprefix("custom:") not in STANDARD_ATTRIBUTES and name != "sub":
            custom.append(name.removeprefix("custom:"))
    pool = services.admin.create_pool(
        req_str(params, "PoolName"), password_policy=policy, custom_attributes=custom
    )
    return {"UserPool": pool_shape(pool, 0)}


def describe_user_pool(services: Services, params: Params) -> dict[str, Any]:
    pool, users = services.admin.describe_pool(req_str(params, "UserPoolId"))
    return {"UserPool": pool_shape(pool, users)}


def _validity(params: Params, name: str, unit_key: str, default_unit: str, default: int) -> int:
    value = opt_int(params, name)
    if value is None:
        return default
    unit = dict_param(params, "TokenValidityUnits").get(unit_key, default_unit)
    if unit not in _UNIT_SECONDS:
        raise InvalidParameter(
            f"TokenValidityUnits.{unit_key} must be one of {sorted(_UNIT_SECONDS)}."
        )
    return value * _UNIT_SECONDS[unit]


def create_user_pool_client(services: Services, params: Params) -> dict[str, Any]:
    flows = params.get("ExplicitAuthFlows")
    created = services.admin.create_client(
        req_str(params, "UserPoolId"),
        req_str(params, "ClientName"),
        generate_secret=bool(params.get("GenerateSecret", False)),
        explicit_auth_flows=list_param(params, "ExplicitAuthFlows") if flows is not None else None,
        oauth_flows=list_param(params, "AllowedOAuthFlows"),
        scopes=list_param(params, "AllowedOAuthScopes"),
        access_token_seconds=_validity(
            params, "AccessTokenValidity", "AccessToken", "hours", DEFAULT_TOKEN_SECONDS
        ),
        id_token_seconds=_validity(
            params, "IdTokenValidity", "IdToken", "hours", DEFAULT_TOKEN_SECONDS
        ),
        refresh_token_seconds=_validity(
            params, "RefreshTokenValidity", "RefreshToken", "days", DEFAULT_REFRESH_SECONDS
        ),
    )
    return {"UserPoolClient": client_shape(created.client, created.secret)}


def create_resource_server(services: Services, params: Params) -> dict[str, Any]:
    scopes = []
    for item in list_param(params, "Scopes"):
        if not isinstance(item, dict) or not isinstance(item.get("ScopeName"), str):
            raise InvalidParameter("Scopes entries need a ScopeName.")
        scopes.append((item["ScopeName"], str(item.get("ScopeDescription", ""))))
    server = services.admin.create_resource_server(
        req_str(params, "UserPoolId"),
        req_str(params, "Identifier"),
        req_str(params, "Name"),
        scopes,
    )
    return {
        "ResourceServer": {
            "UserPoolId": server.pool_id,
            "Identifier": server.identifier,
            "Name": server.name,
            "Scopes": server.scopes,
        }
    }


OPERATIONS: dict[str, Operation] = {
    "CreateUserPool": Operation(create_user_pool, admin=True),
    "DescribeUserPool": Operation(describe_user_pool, admin=True),
    "CreateUserPoolClient": Operation(create_user_pool_client, admin=True),
    "CreateResourceServer": Operation(create_resource_server, admin=True),
}

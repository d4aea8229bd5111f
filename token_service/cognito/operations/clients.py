"""App clients and resource servers (admin operations)."""

from __future__ import annotations

from typing import Any

from token_service.admin.clients import (
    DEFAULT_AUTH_SESSION_MINUTES,
    DEFAULT_REFRESH_SECONDS,
    DEFAULT_TOKEN_SECONDS,
    DEFAULT_VALIDITY_UNITS,
    UNIT_SECONDS,
    ClientSettings,
)
from token_service.admin.paging import check_limit
from token_service.cognito.operations.base import (
    Operation,
    Params,
    dict_param,
    list_param,
    opt_bool,
    opt_int,
    opt_str,
    req_str,
    str_list,
)
from token_service.cognito.operations.shapes import (
    client_description_shape,
    client_shape,
    page_shape,
    resource_server_shape,
)
from token_service.errors import InvalidParameter
from token_service.services import Services

_VALIDITIES = (
    ("AccessTokenValidity", "AccessToken", DEFAULT_TOKEN_SECONDS),
    ("IdTokenValidity", "IdToken", DEFAULT_TOKEN_SECONDS),
    ("RefreshTokenValidity", "RefreshToken", DEFAULT_REFRESH_SECONDS),
)


def _optional_str_list(params: Params, name: str) -> list[str] | None:
    return str_list(params, name) if params.get(name) is not None else None


def client_settings(params: Params) -> ClientSettings:
    """Every client setting of Create/UpdateUserPoolClient; omitted ones take defaults."""
    units = dict(DEFAULT_VALIDITY_UNITS)
    for key, unit in dict_param(params, "TokenValidityUnits").items():
        if key not in units or unit not in UNIT_SECONDS:
            raise InvalidParameter(
                f"TokenValidityUnits.{key} must be one of {sorted(UNIT_SECONDS)}."
            )
        units[key] = unit
    seconds = {}
    for name, key, default in _VALIDITIES:
        value = opt_int(params, name)
        # RefreshTokenValidity 0 is Cognito's "the default".
        seconds[name] = default if not value else value * UNIT_SECONDS[units[key]]
    rotation = params.get("RefreshTokenRotation")
    if rotation is not None and not isinstance(rotation, dict):
        raise InvalidParameter("RefreshTokenRotation must be a map.")
    extra = {
        name: params[name]
        for name in ("AnalyticsConfiguration", "EnablePropagateAdditionalUserContextData")
        if params.get(name) is not None
    }
    revocation = opt_bool(params, "EnableTokenRevocation")
    return ClientSettings(
        explicit_auth_flows=_optional_str_list(params, "ExplicitAuthFlows"),
        oauth_flows=str_list(params, "AllowedOAuthFlows"),
        scopes=str_list(params, "AllowedOAuthScopes"),
        oauth_flows_user_pool_client=opt_bool(params, "AllowedOAuthFlowsUserPoolClient"),
        access_token_seconds=seconds["AccessTokenValidity"],
        id_token_seconds=seconds["IdTokenValidity"],
        refresh_token_seconds=seconds["RefreshTokenValidity"],
        validity_units=units,
        callback_urls=str_list(params, "CallbackURLs"),
        logout_urls=str_list(params, "LogoutURLs"),
        default_redirect_uri=opt_str(params, "DefaultRedirectURI"),
        supported_identity_providers=str_list(params, "SupportedIdentityProviders"),
        read_attributes=_optional_str_list(params, "ReadAttributes"),
        write_attributes=_optional_str_list(params, "WriteAttributes"),
        prevent_user_existence_errors=opt_str(params, "PreventUserExistenceErrors") or "ENABLED",
        enable_token_revocation=True if revocation is None else revocation,
        auth_session_minutes=opt_int(params, "AuthSessionValidity") or DEFAULT_AUTH_SESSION_MINUTES,
        refresh_rotation=rotation,
        extra=extra,
    )


def create_user_pool_client(services: Services, params: Params) -> dict[str, Any]:
    if params.get("ClientSecret") is not None:
        raise InvalidParameter("ClientSecret: choosing a client secret is not supported.")
    created = services.admin.create_client(
        req_str(params, "UserPoolId"),
        req_str(params, "ClientName"),
        generate_secret=opt_bool(params, "GenerateSecret") is True,
        settings=client_settings(params),
    )
    return {"UserPoolClient": client_shape(created.client, created.secret)}


def describe_user_pool_client(services: Services, params: Params) -> dict[str, Any]:
    client = services.admin.describe_client(
        req_str(params, "UserPoolId"), req_str(params, "ClientId")
    )
    return {"UserPoolClient": client_shape(client, services.admin.client_secret(client))}


def update_user_pool_client(services: Services, params: Params) -> dict[str, Any]:
    updated = services.admin.update_client(
        req_str(params, "UserPoolId"),
        req_str(params, "ClientId"),
        opt_str(params, "ClientName"),
        client_settings(params),
    )
    return {"UserPoolClient": client_shape(updated.client, updated.secret)}


def delete_user_pool_client(services: Services, params: Params) -> dict[str, Any]:
    services.admin.delete_client(req_str(params, "UserPoolId"), req_str(params, "ClientId"))
    return {}


def list_user_pool_clients(services: Services, params: Params) -> dict[str, Any]:
    clients, token = services.admin.client_page(
        req_str(params, "UserPoolId"),
        check_limit("maxResults", opt_int(params, "MaxResults"), 60),
        opt_str(params, "NextToken"),
    )
    return page_shape("UserPoolClients", [client_description_shape(c) for c in clients], token)


def _scopes(params: Params) -> list[tuple[str, str]]:
    scopes = []
    for item in list_param(params, "Scopes"):
        if not isinstance(item, dict) or not isinstance(item.get("ScopeName"), str):
            raise InvalidParameter("Scopes entries need a ScopeName.")
        description = item.get("ScopeDescription", "")
        if not isinstance(description, str):
            raise InvalidParameter("Scopes.ScopeDescription must be a string.")
        scopes.append((item["ScopeName"], description))
    return scopes


def _resource_server_fields(params: Params) -> tuple[str, str, str, list[tuple[str, str]]]:
    """What Create- and UpdateResourceServer both take: pool, identifier, name, scopes."""
    return (
        req_str(params, "UserPoolId"),
        req_str(params, "Identifier"),
        req_str(params, "Name"),
        _scopes(params),
    )


def create_resource_server(services: Services, params: Params) -> dict[str, Any]:
    server = services.admin.create_resource_server(*_resource_server_fields(params))
    return {"ResourceServer": resource_server_shape(server)}


def describe_resource_server(services: Services, params: Params) -> dict[str, Any]:
    server = services.admin.describe_resource_server(
        req_str(params, "UserPoolId"), req_str(params, "Identifier")
    )
    return {"ResourceServer": resource_server_shape(server)}


def update_resource_server(services: Services, params: Params) -> dict[str, Any]:
    server = services.admin.update_resource_server(*_resource_server_fields(params))
    return {"ResourceServer": resource_server_shape(server)}


def delete_resource_server(services: Services, params: Params) -> dict[str, Any]:
    services.admin.delete_resource_server(
        req_str(params, "UserPoolId"), req_str(params, "Identifier")
    )
    return {}


def list_resource_servers(services: Services, params: Params) -> dict[str, Any]:
    servers, token = services.admin.resource_server_page(
        req_str(params, "UserPoolId"),
        check_limit("maxResults", opt_int(params, "MaxResults"), 50),
        opt_str(params, "NextToken"),
    )
    return page_shape("ResourceServers", [resource_server_shape(s) for s in servers], token)


OPERATIONS: dict[str, Operation] = {
    "CreateUserPoolClient": Operation(create_user_pool_client, admin=True),
    "DescribeUserPoolClient": Operation(describe_user_pool_client, admin=True),
    "UpdateUserPoolClient": Operation(update_user_pool_client, admin=True),
    "DeleteUserPoolClient": Operation(delete_user_pool_client, admin=True),
    "ListUserPoolClients": Operation(list_user_pool_clients, admin=True),
    "CreateResourceServer": Operation(create_resource_server, admin=True),
    "DescribeResourceServer": Operation(describe_resource_server, admin=True),
    "UpdateResourceServer": Operation(update_resource_server, admin=True),
    "DeleteResourceServer": Operation(delete_resource_server, admin=True),
    "ListResourceServers": Operation(list_resource_servers, admin=True),
}

"""One function per Cognito operation: request dict in, response dict out (Cognito's shapes).

Admin operations are only reached after SigV4 verification (see `api.cognito`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from token_service.admin import (
    DEFAULT_REFRESH_SECONDS,
    DEFAULT_TOKEN_SECONDS,
    STANDARD_ATTRIBUTES,
    user_attributes,
)
from token_service.errors import InvalidParameter
from token_service.issue import NewPasswordRequired, UserTokens
from token_service.services import Services
from token_service.store.models import Client, Group, Pool, User

Params = dict[str, Any]
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


# parameter access
def _str(params: Params, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null"
        )
    return value


def _opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidParameter(f"{name} must be a string.")
    return value


def _opt_int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise InvalidParameter(f"{name} must be an integer.")
    return value


def _list(params: Params, name: str) -> list[Any]:
    value = params.get(name, [])
    if not isinstance(value, list):
        raise InvalidParameter(f"{name} must be a list.")
    return value


def _dict(params: Params, name: str) -> dict[str, Any]:
    value = params.get(name, {})
    if not isinstance(value, dict):
        raise InvalidParameter(f"{name} must be a map.")
    return value


def _attributes(params: Params, name: str) -> dict[str, str]:
    result = {}
    for item in _list(params, name):
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise InvalidParameter(f"{name} entries need a Name.")
        value = item.get("Value", "")
        if not isinstance(value, str):
            raise InvalidParameter(f"{name}.{item['Name']} must be a string.")
        if item["Name"] == "sub":
            raise InvalidParameter("Attribute sub cannot be set: it is chosen by the service.")
        result[item["Name"]] = value
    return result


# response shapes
def pool_shape(pool: Pool, users: int) -> dict[str, Any]:
    schema = [
        {"Name": "sub", "AttributeDataType": "String", "Mutable": False, "Required": True},
        {"Name": "email", "AttributeDataType": "String", "Mutable": True, "Required": False},
        {
            "Name": "email_verified",
            "AttributeDataType": "Boolean",
            "Mutable": True,
            "Required": False,
        },
    ] + [
        {"Name": name, "AttributeDataType": "String", "Mutable": True, "Required": False}
        for name in pool.custom_attributes
    ]
    return {
        "Id": pool.id,
        "Name": pool.name,
        "Arn": f"arn:aws:cognito-idp:{pool.region}:000000000000:userpool/{pool.id}",
        "Policies": {"PasswordPolicy": pool.password_policy},
        "SchemaAttributes": schema,
        "UsernameConfiguration": {"CaseSensitive": False},
        "MfaConfiguration": "OFF",
        "EstimatedNumberOfUsers": users,
        "CreationDate": pool.created_at,
        "LastModifiedDate": pool.updated_at,
    }


def client_shape(client: Client, secret: str | None = None) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "UserPoolId": client.pool_id,
        "ClientName": client.name,
        "ClientId": client.id,
        "CreationDate": client.created_at,
        "LastModifiedDate": client.updated_at,
        "RefreshTokenValidity": client.refresh_token_seconds,
        "AccessTokenValidity": client.access_token_seconds,
        "IdTokenValidity": client.id_token_seconds,
        "TokenValidityUnits": {
            "AccessToken": "seconds",
            "IdToken": "seconds",
            "RefreshToken": "seconds",
        },
        "ExplicitAuthFlows": client.explicit_auth_flows,
        "AllowedOAuthFlows": client.oauth_flows,
        "AllowedOAuthScopes": client.scopes,
        "AllowedOAuthFlowsUserPoolClient": bool(client.oauth_flows),
        "PreventUserExistenceErrors": "ENABLED",
        "EnableTokenRevocation": True,
    }
    if secret is not None:
        shape["ClientSecret"] = secret
    return shape


def user_shape(user: User, attributes_key: str = "Attributes") -> dict[str, Any]:
    return {
        "Username": user.username,
        attributes_key: user_attributes(user),
        "UserCreateDate": user.created_at,
        "UserLastModifiedDate": user.updated_at,
        "Enabled": user.enabled,
        "UserStatus": user.status,
    }


def group_shape(group: Group) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "GroupName": group.name,
        "UserPoolId": group.pool_id,
        "CreationDate": group.created_at,
        "LastModifiedDate": group.updated_at,
    }
    if group.description is not None:
        shape["Description"] = group.description
    if group.precedence is not None:
        shape["Precedence"] = group.precedence
    return shape


def auth_shape(result: UserTokens | NewPasswordRequired) -> dict[str, Any]:
    if isinstance(result, NewPasswordRequired):
        return {
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "ChallengeParameters": {
                "USER_ID_FOR_SRP": result.username,
                "requiredAttributes": "[]",
                "userAttributes": json.dumps(result.attributes),
            },
            "Session": result.session,
        }
    tokens: dict[str, Any] = {
        "AccessToken": result.access_token,
        "ExpiresIn": result.expires_in,
        "TokenType": "Bearer",
        "IdToken": result.id_token,
    }
    if result.refresh_token is not None:
        tokens["RefreshToken"] = result.refresh_token
    return {"ChallengeParameters": {}, "AuthenticationResult": tokens}


# public operations
def _authenticate(services: Services, params: Params, pool_id: str | None) -> dict[str, Any]:
    """InitiateAuth and AdminInitiateAuth share everything but the password flow's name."""
    flow = _str(params, "AuthFlow")
    client_id = _str(params, "ClientId")
    auth = _dict(params, "AuthParameters")
    password_flows = (
        ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH") if pool_id else ("USER_PASSWORD_AUTH",)
    )
    if flow in password_flows:
        result = services.issuer.password_auth(
            client_id,
            str(auth.get("USERNAME", "")),
            str(auth.get("PASSWORD", "")),
            secret_hash_value=auth.get("SECRET_HASH"),
            pool_id=pool_id,
            admin=pool_id is not None,
        )
        return auth_shape(result)
    if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
        tokens = services.issuer.refresh(
            client_id,
            str(auth.get("REFRESH_TOKEN", "")),
            secret_hash_value=auth.get("SECRET_HASH"),
            username=auth.get("USERNAME"),
            pool_id=pool_id,
            cognito=True,
        )
        return auth_shape(tokens)
    raise InvalidParameter(
        f"Unsupported AuthFlow {flow} (supported: {', '.join(password_flows)}, REFRESH_TOKEN_AUTH)."
    )


def initiate_auth(services: Services, params: Params) -> dict[str, Any]:
    return _authenticate(services, params, None)


def respond_to_auth_challenge(services: Services, params: Params) -> dict[str, Any]:
    """Only NEW_PASSWORD_REQUIRED exists here: the answer to a temporary password."""
    challenge = _str(params, "ChallengeName")
    if challenge != "NEW_PASSWORD_REQUIRED":
        raise InvalidParameter(f"Unsupported ChallengeName {challenge}.")
    responses = _dict(params, "ChallengeResponses")
    tokens = services.issuer.respond_new_password(
        _str(params, "ClientId"),
        _str(params, "Session"),
        str(responses.get("USERNAME", "")),
        str(responses.get("NEW_PASSWORD", "")),
        secret_hash_value=responses.get("SECRET_HASH"),
    )
    return auth_shape(tokens)


def get_user(services: Services, params: Params) -> dict[str, Any]:
    user, _ = services.issuer.authenticate(_str(params, "AccessToken"))
    return {"Username": user.username, "UserAttributes": user_attributes(user)}


def global_sign_out(services: Services, params: Params) -> dict[str, Any]:
    services.issuer.global_sign_out(_str(params, "AccessToken"))
    return {}


def revoke_token(services: Services, params: Params) -> dict[str, Any]:
    services.issuer.revoke(
        _str(params, "Token"), _str(params, "ClientId"), _opt_str(params, "ClientSecret")
    )
    return {}


# admin operations
def create_user_pool(services: Services, params: Params) -> dict[str, Any]:
    policy = _dict(_dict(params, "Policies"), "PasswordPolicy")
    custom = []
    for item in _list(params, "Schema"):
        name = item.get("Name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise InvalidParameter("Schema entries need a Name.")
        if name.removeprefix("custom:") not in STANDARD_ATTRIBUTES and name != "sub":
            custom.append(name.removeprefix("custom:"))
    pool = services.admin.create_pool(
        _str(params, "PoolName"), password_policy=policy, custom_attributes=custom
    )
    return {"UserPool": pool_shape(pool, 0)}


def describe_user_pool(services: Services, params: Params) -> dict[str, Any]:
    pool, users = services.admin.describe_pool(_str(params, "UserPoolId"))
    return {"UserPool": pool_shape(pool, users)}


def _validity(params: Params, name: str, unit_key: str, default_unit: str, default: int) -> int:
    value = _opt_int(params, name)
    if value is None:
        return default
    unit = _dict(params, "TokenValidityUnits").get(unit_key, default_unit)
    if unit not in _UNIT_SECONDS:
        raise InvalidParameter(
            f"TokenValidityUnits.{unit_key} must be one of {sorted(_UNIT_SECONDS)}."
        )
    return value * _UNIT_SECONDS[unit]


def create_user_pool_client(services: Services, params: Params) -> dict[str, Any]:
    flows = params.get("ExplicitAuthFlows")
    created = services.admin.create_client(
        _str(params, "UserPoolId"),
        _str(params, "ClientName"),
        generate_secret=bool(params.get("GenerateSecret", False)),
        explicit_auth_flows=_list(params, "ExplicitAuthFlows") if flows is not None else None,
        oauth_flows=_list(params, "AllowedOAuthFlows"),
        scopes=_list(params, "AllowedOAuthScopes"),
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
    for item in _list(params, "Scopes"):
        if not isinstance(item, dict) or not isinstance(item.get("ScopeName"), str):
            raise InvalidParameter("Scopes entries need a ScopeName.")
        scopes.append((item["ScopeName"], str(item.get("ScopeDescription", ""))))
    server = services.admin.create_resource_server(
        _str(params, "UserPoolId"), _str(params, "Identifier"), _str(params, "Name"), scopes
    )
    return {
        "ResourceServer": {
            "UserPoolId": server.pool_id,
            "Identifier": server.identifier,
            "Name": server.name,
            "Scopes": server.scopes,
        }
    }


def admin_create_user(services: Services, params: Params) -> dict[str, Any]:
    user = services.admin.create_user(
        _str(params, "UserPoolId"),
        _str(params, "Username"),
        _attributes(params, "UserAttributes"),
        password=_opt_str(params, "TemporaryPassword"),
    )
    return {"User": user_shape(user)}


def admin_set_user_password(services: Services, params: Params) -> dict[str, Any]:
    services.admin.set_password(
        _str(params, "UserPoolId"),
        _str(params, "Username"),
        _str(params, "Password"),
        bool(params.get("Permanent", False)),
    )
    return {}


def admin_get_user(services: Services, params: Params) -> dict[str, Any]:
    user = services.admin.get_user(_str(params, "UserPoolId"), _str(params, "Username"))
    return user_shape(user, "UserAttributes")


def admin_disable_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.set_enabled(_str(params, "UserPoolId"), _str(params, "Username"), False)
    return {}


def admin_enable_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.set_enabled(_str(params, "UserPoolId"), _str(params, "Username"), True)
    return {}


def admin_delete_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.delete_user(_str(params, "UserPoolId"), _str(params, "Username"))
    return {}


def list_users(services: Services, params: Params) -> dict[str, Any]:
    page = services.admin.list_users(
        _str(params, "UserPoolId"),
        filter_=_opt_str(params, "Filter"),
        limit=_opt_int(params, "Limit") or 60,
        token=_opt_str(params, "PaginationToken"),
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
        _str(params, "UserPoolId"),
        _str(params, "GroupName"),
        description=_opt_str(params, "Description"),
        precedence=_opt_int(params, "Precedence"),
    )
    return {"Group": group_shape(group)}


def admin_add_user_to_group(services: Services, params: Params) -> dict[str, Any]:
    services.admin.add_to_group(
        _str(params, "UserPoolId"), _str(params, "Username"), _str(params, "GroupName")
    )
    return {}


def admin_remove_user_from_group(services: Services, params: Params) -> dict[str, Any]:
    services.admin.remove_from_group(
        _str(params, "UserPoolId"), _str(params, "Username"), _str(params, "GroupName")
    )
    return {}


def admin_list_groups_for_user(services: Services, params: Params) -> dict[str, Any]:
    groups = services.admin.groups_for_user(_str(params, "UserPoolId"), _str(params, "Username"))
    return {"Groups": [group_shape(g) for g in groups]}


def admin_initiate_auth(services: Services, params: Params) -> dict[str, Any]:
    return _authenticate(services, params, _str(params, "UserPoolId"))


@dataclass(frozen=True)
class Operation:
    handler: Callable[[Services, Params], dict[str, Any]]
    # Admin operations need a valid SigV4 signature by the configured admin credentials.
    admin: bool


OPERATIONS: dict[str, Operation] = {
    "InitiateAuth": Operation(initiate_auth, admin=False),
    "RespondToAuthChallenge": Operation(respond_to_auth_challenge, admin=False),
    "GetUser": Operation(get_user, admin=False),
    "GlobalSignOut": Operation(global_sign_out, admin=False),
    "RevokeToken": Operation(revoke_token, admin=False),
    "CreateUserPool": Operation(create_user_pool, admin=True),
    "DescribeUserPool": Operation(describe_user_pool, admin=True),
    "CreateUserPoolClient": Operation(create_user_pool_client, admin=True),
    "CreateResourceServer": Operation(create_resource_server, admin=True),
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
    "AdminInitiateAuth": Operation(admin_initiate_auth, admin=True),
}

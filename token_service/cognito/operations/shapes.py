"""Cognito's response shapes for pools, clients, users, groups and sign-in results."""

from __future__ import annotations

from typing import Any

from token_service.admin import user_attributes
from token_service.admin.clients import (
    DEFAULT_AUTH_SESSION_MINUTES,
    DEFAULT_VALIDITY_UNITS,
    UNIT_SECONDS,
)
from token_service.admin.pools import EXTRA_DEFAULTS, EXTRA_SETTINGS
from token_service.issue import UserTokens
from token_service.signin.challenges import Challenge
from token_service.store.models import Client, Group, Pool, ResourceServer, User


def pool_shape(pool: Pool, users: int) -> dict[str, Any]:
    """DescribeUserPool's UserPoolType: every setting stored, Cognito's default for the rest."""
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
    extra = {**EXTRA_DEFAULTS, **(pool.extra or {})}
    settings = {name: extra[name] for name in EXTRA_SETTINGS if name in extra}
    policies: dict[str, Any] = {"PasswordPolicy": pool.password_policy}
    if "SignInPolicy" in settings:
        policies["SignInPolicy"] = settings.pop("SignInPolicy")
    settings["AdminCreateUserConfig"] = {
        "AllowAdminCreateUserOnly": bool(pool.admin_create_only),
        **settings.get("AdminCreateUserConfig", {}),
    }
    shape = {
        "Id": pool.id,
        "Name": pool.name,
        "Arn": f"arn:aws:cognito-idp:{pool.region}:000000000000:userpool/{pool.id}",
        "Policies": policies,
        "DeletionProtection": pool.deletion_protection or "INACTIVE",
        "LambdaConfig": {},
        "SchemaAttributes": schema,
        "AutoVerifiedAttributes": list(pool.auto_verified_attributes or []),
        "UsernameConfiguration": {"CaseSensitive": False},
        "MfaConfiguration": pool.mfa_configuration or "OFF",
        "EstimatedNumberOfUsers": users,
        "CreationDate": pool.created_at,
        "LastModifiedDate": pool.updated_at,
        **settings,
    }
    if pool.username_attributes:
        shape["UsernameAttributes"] = list(pool.username_attributes)
    return shape


def pool_description_shape(pool: Pool) -> dict[str, Any]:
    """ListUserPools' UserPoolDescriptionType."""
    return {
        "Id": pool.id,
        "Name": pool.name,
        "LambdaConfig": {},
        "CreationDate": pool.created_at,
        "LastModifiedDate": pool.updated_at,
    }


def client_shape(client: Client, secret: str | None = None) -> dict[str, Any]:
    """UserPoolClientType; validities in the units they were given in."""
    extra = dict(client.extra or {})
    # Rows from before units were kept hold no units: their validities are in seconds.
    given = extra.pop("TokenValidityUnits", None if client.extra is None else {})
    units = (
        dict.fromkeys(DEFAULT_VALIDITY_UNITS, "seconds")
        if given is None
        else {
            **DEFAULT_VALIDITY_UNITS,
            **given,
        }
    )
    shape: dict[str, Any] = {
        "UserPoolId": client.pool_id,
        "ClientName": client.name,
        "ClientId": client.id,
        "CreationDate": client.created_at,
        "LastModifiedDate": client.updated_at,
        "RefreshTokenValidity": client.refresh_token_seconds // UNIT_SECONDS[units["RefreshToken"]],
        "AccessTokenValidity": client.access_token_seconds // UNIT_SECONDS[units["AccessToken"]],
        "IdTokenValidity": client.id_token_seconds // UNIT_SECONDS[units["IdToken"]],
        "TokenValidityUnits": units,
        "ExplicitAuthFlows": client.explicit_auth_flows,
        "AllowedOAuthFlows": client.oauth_flows,
        "AllowedOAuthScopes": client.scopes,
        "AllowedOAuthFlowsUserPoolClient": extra.pop(
            "AllowedOAuthFlowsUserPoolClient", bool(client.oauth_flows)
        ),
        "PreventUserExistenceErrors": client.prevent_user_existence_errors or "ENABLED",
        "EnableTokenRevocation": extra.pop("EnableTokenRevocation", True),
        "EnablePropagateAdditionalUserContextData": False,
        "AuthSessionValidity": client.auth_session_minutes or DEFAULT_AUTH_SESSION_MINUTES,
        **extra,
    }
    optional = {
        "CallbackURLs": client.callback_urls,
        "LogoutURLs": client.logout_urls,
        "DefaultRedirectURI": client.default_redirect_uri,
        "SupportedIdentityProviders": client.supported_identity_providers,
        "ReadAttributes": client.read_attributes,
        "WriteAttributes": client.write_attributes,
        "RefreshTokenRotation": client.refresh_rotation,
    }
    shape.update({name: value for name, value in optional.items() if value})
    if secret is not None:
        shape["ClientSecret"] = secret
    return shape


def client_description_shape(client: Client) -> dict[str, Any]:
    """ListUserPoolClients' UserPoolClientDescription."""
    return {"ClientId": client.id, "UserPoolId": client.pool_id, "ClientName": client.name}


def resource_server_shape(server: ResourceServer) -> dict[str, Any]:
    return {
        "UserPoolId": server.pool_id,
        "Identifier": server.identifier,
        "Name": server.name,
        "Scopes": server.scopes,
    }


def user_shape(user: User, attributes_key: str = "Attributes") -> dict[str, Any]:
    return {
        "Username": user.username,
        attributes_key: user_attributes(user),
        "UserCreateDate": user.created_at,
        "UserLastModifiedDate": user.updated_at,
        "Enabled": user.enabled,
        "UserStatus": user.status,
    }


def user_mfa_shape(user: User) -> dict[str, Any]:
    """GetUser's and AdminGetUser's MFA members, present only when set (as in Cognito)."""
    shape: dict[str, Any] = {}
    if user.mfa_enabled:
        shape["UserMFASettingList"] = list(user.mfa_enabled)
    if user.mfa_preferred:
        shape["PreferredMfaSetting"] = user.mfa_preferred
    return shape


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
    if group.role_arn is not None:
        shape["RoleArn"] = group.role_arn
    return shape


def auth_shape(result: UserTokens | Challenge) -> dict[str, Any]:
    if isinstance(result, Challenge):
        shape: dict[str, Any] = {
            "ChallengeName": result.name,
            "ChallengeParameters": result.parameters,
        }
        if result.session is not None:
            shape["Session"] = result.session
        return shape
    tokens: dict[str, Any] = {
        "AccessToken": result.access_token,
        "ExpiresIn": result.expires_in,
        "TokenType": "Bearer",
        "IdToken": result.id_token,
    }
    if result.refresh_token is not None:
        tokens["RefreshToken"] = result.refresh_token
    return {"ChallengeParameters": {}, "AuthenticationResult": tokens}


def page_shape(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    """A list operation's answer: the items, and NextToken when another page follows."""
    response: dict[str, Any] = {key: items}
    if token:
        response["NextToken"] = token
    return response

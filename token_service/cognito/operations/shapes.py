"""Cognito's response shapes for pools, clients, users, groups and sign-in results."""

from __future__ import annotations

from typing import Any

from token_service.admin import user_attributes
from token_service.issue import UserTokens
from token_service.signin.challenges import Challenge
from token_service.store.models import Client, Group, Pool, User


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
        "MfaConfiguration": pool.mfa_configuration or "OFF",
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

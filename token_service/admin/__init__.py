"""Provisioning: pools, app clients, resource servers, users, groups, key rotation, identity
providers and the partner identities linked to users.

Used by both the Cognito admin operations and the CLI, so both enforce the same rules.
One module per area; `Admin` combines them.
"""

from __future__ import annotations

from token_service.admin.clients import (
    DEFAULT_AUTH_FLOWS,
    DEFAULT_REFRESH_SECONDS,
    DEFAULT_TOKEN_SECONDS,
    EXPLICIT_AUTH_FLOWS,
    MAX_REFRESH_SECONDS,
    MAX_TOKEN_SECONDS,
    MIN_REFRESH_SECONDS,
    MIN_TOKEN_SECONDS,
    OAUTH_FLOWS,
    STANDARD_SCOPES,
    ClientAdmin,
    NewClient,
)
from token_service.admin.groups import GroupAdmin
from token_service.admin.identity_providers import IdentityProviderAdmin, ProviderSettings
from token_service.admin.keys import KeyAdmin
from token_service.admin.pools import PoolAdmin
from token_service.admin.provider_links import ProviderLinkAdmin, ProviderUser
from token_service.admin.resource_servers import ResourceServerAdmin
from token_service.admin.users import STANDARD_ATTRIBUTES, UserAdmin, UserPage, user_attributes

__all__ = [
    "DEFAULT_AUTH_FLOWS",
    "DEFAULT_REFRESH_SECONDS",
    "DEFAULT_TOKEN_SECONDS",
    "EXPLICIT_AUTH_FLOWS",
    "MAX_REFRESH_SECONDS",
    "MAX_TOKEN_SECONDS",
    "MIN_REFRESH_SECONDS",
    "MIN_TOKEN_SECONDS",
    "OAUTH_FLOWS",
    "STANDARD_ATTRIBUTES",
    "STANDARD_SCOPES",
    "Admin",
    "NewClient",
    "ProviderSettings",
    "ProviderUser",
    "UserPage",
    "user_attributes",
]


class Admin(
    PoolAdmin,
    ResourceServerAdmin,
    ClientAdmin,
    UserAdmin,
    GroupAdmin,
    KeyAdmin,
    IdentityProviderAdmin,
    ProviderLinkAdmin,
):
    """Every provisioning operation, sharing one core."""

"""Identity providers on a pool and partner identities linked to users (admin operations)."""

from __future__ import annotations

from typing import Any

from token_service.admin import ProviderSettings, ProviderUser
from token_service.admin.paging import check_limit
from token_service.admin.provider_metadata import public_details
from token_service.admin.provider_rules import check_identifiers, string_map
from token_service.cognito.operations.base import (
    Operation,
    Params,
    opt_int,
    opt_str,
    req_str,
)
from token_service.cognito.operations.shapes import page_shape
from token_service.errors import InvalidParameter
from token_service.services import Services
from token_service.store.models import IdentityProvider


def provider_shape(row: IdentityProvider) -> dict[str, Any]:
    """IdentityProviderType: the details without the secret or the kept metadata document."""
    return {
        "UserPoolId": row.pool_id,
        "ProviderName": row.name,
        "ProviderType": row.type,
        "ProviderDetails": public_details(row.details),
        "AttributeMapping": dict(row.attribute_mapping),
        "IdpIdentifiers": list(row.identifiers),
        "LastModifiedDate": row.updated_at,
        "CreationDate": row.created_at,
    }


def provider_description_shape(row: IdentityProvider) -> dict[str, Any]:
    """ListIdentityProviders' ProviderDescription."""
    return {
        "ProviderName": row.name,
        "ProviderType": row.type,
        "LastModifiedDate": row.updated_at,
        "CreationDate": row.created_at,
    }


def _settings(params: Params) -> ProviderSettings:
    if params.get("AcrMapping") is not None:
        raise InvalidParameter("AcrMapping is not supported.")
    details, mapping, identifiers = (
        params.get(n) for n in ("ProviderDetails", "AttributeMapping", "IdpIdentifiers")
    )
    return ProviderSettings(
        details=None if details is None else string_map(details, "ProviderDetails"),
        attribute_mapping=None
        if mapping is None
        else string_map(mapping, "AttributeMapping", max_key=32),
        identifiers=None if identifiers is None else check_identifiers(identifiers),
    )


def create_identity_provider(services: Services, params: Params) -> dict[str, Any]:
    pool_id, name = req_str(params, "UserPoolId"), req_str(params, "ProviderName")
    provider_type = req_str(params, "ProviderType")
    if params.get("ProviderDetails") is None:
        raise InvalidParameter(
            "1 validation error detected: Value at 'providerDetails' failed to satisfy "
            "constraint: Member must not be null"
        )
    row = services.admin.create_identity_provider(pool_id, name, provider_type, _settings(params))
    return {"IdentityProvider": provider_shape(row)}


def describe_identity_provider(services: Services, params: Params) -> dict[str, Any]:
    row = services.admin.describe_identity_provider(
        req_str(params, "UserPoolId"), req_str(params, "ProviderName")
    )
    return {"IdentityProvider": provider_shape(row)}


def update_identity_provider(services: Services, params: Params) -> dict[str, Any]:
    row = services.admin.update_identity_provider(
        req_str(params, "UserPoolId"), req_str(params, "ProviderName"), _settings(params)
    )
    return {"IdentityProvider": provider_shape(row)}


def delete_identity_provider(services: Services, params: Params) -> dict[str, Any]:
    services.admin.delete_identity_provider(
        req_str(params, "UserPoolId"), req_str(params, "ProviderName")
    )
    return {}


def list_identity_providers(services: Services, params: Params) -> dict[str, Any]:
    rows, token = services.admin.identity_provider_page(
        req_str(params, "UserPoolId"),
        check_limit("maxResults", opt_int(params, "MaxResults"), 60, minimum=0),
        opt_str(params, "NextToken"),
    )
    return page_shape("Providers", [provider_description_shape(r) for r in rows], token)


def get_identity_provider_by_identifier(services: Services, params: Params) -> dict[str, Any]:
    row = services.admin.identity_provider_by_identifier(
        req_str(params, "UserPoolId"), req_str(params, "IdpIdentifier")
    )
    return {"IdentityProvider": provider_shape(row)}


def _provider_user(params: Params, name: str) -> ProviderUser:
    """A ProviderUserIdentifierType parameter (DestinationUser, SourceUser, User)."""
    value = params.get(name)
    if not isinstance(value, dict):
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            "Member must not be null"
        )
    return ProviderUser(
        provider_name=req_str(value, "ProviderName"),
        attribute_name=opt_str(value, "ProviderAttributeName"),
        attribute_value=opt_str(value, "ProviderAttributeValue") or "",
    )


def admin_link_provider_for_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.link_provider_for_user(
        req_str(params, "UserPoolId"),
        _provider_user(params, "DestinationUser"),
        _provider_user(params, "SourceUser"),
    )
    return {}


def admin_disable_provider_for_user(services: Services, params: Params) -> dict[str, Any]:
    services.admin.disable_provider_for_user(
        req_str(params, "UserPoolId"), _provider_user(params, "User")
    )
    return {}


OPERATIONS: dict[str, Operation] = {
    "CreateIdentityProvider": Operation(create_identity_provider, admin=True),
    "DescribeIdentityProvider": Operation(describe_identity_provider, admin=True),
    "UpdateIdentityProvider": Operation(update_identity_provider, admin=True),
    "DeleteIdentityProvider": Operation(delete_identity_provider, admin=True),
    "ListIdentityProviders": Operation(list_identity_providers, admin=True),
    "GetIdentityProviderByIdentifier": Operation(get_identity_provider_by_identifier, admin=True),
    "AdminLinkProviderForUser": Operation(admin_link_provider_for_user, admin=True),
    "AdminDisableProviderForUser": Operation(admin_disable_provider_for_user, admin=True),
}

"""Cognito Identity's operations (`AWSCognitoIdentityService.<Op>`): request dict in,
response dict out, in its shapes.

GetId and GetOpenIdToken are public, as in botocore's model (their Logins authenticate);
every other operation needs a SigV4 signature for `cognito-identity` by the admin credentials.
"""

from __future__ import annotations

import re
from typing import Any

from token_service.cognito.operations.base import (
    Operation,
    Params,
    dict_param,
    list_param,
    opt_bool,
    opt_int,
    opt_str,
    req_str,
)
from token_service.cognito.operations.shapes import page_shape
from token_service.errors import InvalidParameter
from token_service.identity.identities import IdentityView
from token_service.identity.links import OpenIdToken
from token_service.identity.logins import check_developer_user_id
from token_service.identity.pools import KEPT_SETTINGS, IdentityPoolSettings
from token_service.services import Services
from token_service.store.models import IdentityPool

ID = re.compile(r"[\w-]+:[0-9a-f-]+")
MAX_ID = 55
MAX_PAGE = 60
MAX_TOKEN_DURATION = 86400


def _check_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_ID or not ID.fullmatch(value):
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {ID.pattern}"
        )
    return value


def _req_id(params: Params, name: str) -> str:
    return _check_id(req_str(params, name), name)


def _opt_id(params: Params, name: str) -> str | None:
    value = opt_str(params, name)
    return None if value is None else _check_id(value, name)


def _page_size(params: Params, *, required: bool) -> int:
    value = opt_int(params, "MaxResults")
    if value is None and not required:
        return MAX_PAGE
    if value is None or not 1 <= value <= MAX_PAGE:
        raise InvalidParameter(
            f"1 validation error detected: Value at 'maxResults' failed to satisfy constraint: "
            f"Member must have value between 1 and {MAX_PAGE}"
        )
    return value


def _string_map(params: Params, name: str, maximum: int) -> dict[str, str]:
    values = dict_param(params, name)
    if len(values) > maximum or not all(isinstance(v, str) for v in values.values()):
        raise InvalidParameter(f"{name} must map strings to strings, at most {maximum} entries.")
    return values


def _required_bool(params: Params, name: str) -> bool:
    value = opt_bool(params, name)
    if value is None:
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            "Member must not be null"
        )
    return value


def _cognito_providers(params: Params) -> list[dict[str, Any]]:
    providers = []
    for item in list_param(params, "CognitoIdentityProviders"):
        if not isinstance(item, dict):
            raise InvalidParameter("CognitoIdentityProviders entries must be objects.")
        check = opt_bool(item, "ServerSideTokenCheck")
        providers.append(
            {
                "ProviderName": req_str(item, "ProviderName"),
                "ClientId": req_str(item, "ClientId"),
                "ServerSideTokenCheck": bool(check),
            }
        )
    return providers


def _pool_settings(params: Params) -> IdentityPoolSettings:
    kept: dict[str, Any] = {
        "SupportedLoginProviders": _string_map(params, "SupportedLoginProviders", 10)
    }
    for name in ("OpenIdConnectProviderARNs", "SamlProviderARNs"):
        values = list_param(params, name)
        if not all(isinstance(v, str) for v in values):
            raise InvalidParameter(f"{name} must be a list of strings.")
        kept[name] = values
    kept["IdentityPoolTags"] = _string_map(params, "IdentityPoolTags", 50)
    return IdentityPoolSettings(
        name=req_str(params, "IdentityPoolName"),
        allow_unauthenticated=_required_bool(params, "AllowUnauthenticatedIdentities"),
        allow_classic_flow=bool(opt_bool(params, "AllowClassicFlow")),
        developer_provider_name=opt_str(params, "DeveloperProviderName"),
        cognito_identity_providers=_cognito_providers(params),
        kept={k: v for k, v in kept.items() if v},
    )


def pool_shape(pool: IdentityPool) -> dict[str, Any]:
    """IdentityPool: every setting as given (empty ones left out, as Cognito does)."""
    shape: dict[str, Any] = {
        "IdentityPoolId": pool.id,
        "IdentityPoolName": pool.name,
        "AllowUnauthenticatedIdentities": pool.allow_unauthenticated,
        "AllowClassicFlow": pool.allow_classic_flow,
    }
    if pool.developer_provider_name is not None:
        shape["DeveloperProviderName"] = pool.developer_provider_name
    if pool.cognito_identity_providers:
        shape["CognitoIdentityProviders"] = pool.cognito_identity_providers
    shape.update({name: pool.extra[name] for name in KEPT_SETTINGS if name in pool.extra})
    return shape


def identity_shape(view: IdentityView) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "IdentityId": view.identity.id,
        "CreationDate": view.identity.created_at,
        "LastModifiedDate": view.identity.updated_at,
    }
    if view.providers:
        shape["Logins"] = view.providers
    return shape


def _token_shape(token: OpenIdToken) -> dict[str, Any]:
    return {"IdentityId": token.identity_id, "Token": token.token}


def create_identity_pool(services: Services, params: Params) -> dict[str, Any]:
    return pool_shape(services.identity.create_identity_pool(_pool_settings(params)))


def describe_identity_pool(services: Services, params: Params) -> dict[str, Any]:
    return pool_shape(services.identity.describe_identity_pool(_req_id(params, "IdentityPoolId")))


def update_identity_pool(services: Services, params: Params) -> dict[str, Any]:
    pool_id = _req_id(params, "IdentityPoolId")
    return pool_shape(services.identity.update_identity_pool(pool_id, _pool_settings(params)))


def delete_identity_pool(services: Services, params: Params) -> dict[str, Any]:
    services.identity.delete_identity_pool(_req_id(params, "IdentityPoolId"))
    return {}


def list_identity_pools(services: Services, params: Params) -> dict[str, Any]:
    pools, token = services.identity.identity_pool_page(
        _page_size(params, required=True), opt_str(params, "NextToken")
    )
    items = [{"IdentityPoolId": p.id, "IdentityPoolName": p.name} for p in pools]
    return page_shape("IdentityPools", items, token)


def get_id(services: Services, params: Params) -> dict[str, Any]:
    identity_id = services.identity.get_id(
        _req_id(params, "IdentityPoolId"), dict_param(params, "Logins")
    )
    return {"IdentityId": identity_id}


def get_open_id_token(services: Services, params: Params) -> dict[str, Any]:
    token = services.identity.get_open_id_token(
        _req_id(params, "IdentityId"), dict_param(params, "Logins")
    )
    return _token_shape(token)


def get_open_id_token_for_developer_identity(services: Services, params: Params) -> dict[str, Any]:
    duration = opt_int(params, "TokenDuration")
    if duration is not None and not 1 <= duration <= MAX_TOKEN_DURATION:
        raise InvalidParameter(
            "1 validation error detected: Value at 'tokenDuration' failed to satisfy constraint: "
            f"Member must have value between 1 and {MAX_TOKEN_DURATION}"
        )
    if not isinstance(params.get("Logins"), dict):
        raise InvalidParameter(
            "1 validation error detected: Value at 'logins' failed to satisfy constraint: "
            "Member must not be null"
        )
    token = services.identity.developer_token(
        _req_id(params, "IdentityPoolId"),
        _opt_id(params, "IdentityId"),
        dict_param(params, "Logins"),
        _string_map(params, "PrincipalTags", 50),
        duration,
    )
    return _token_shape(token)


def _developer_user(params: Params, name: str) -> str:
    return check_developer_user_id(req_str(params, name), name)


def lookup_developer_identity(services: Services, params: Params) -> dict[str, Any]:
    user_id = opt_str(params, "DeveloperUserIdentifier")
    identity_id, user_ids, token = services.identity.lookup_developer_identity(
        _req_id(params, "IdentityPoolId"),
        _opt_id(params, "IdentityId"),
        None if user_id is None else check_developer_user_id(user_id, "DeveloperUserIdentifier"),
        _page_size(params, required=False),
        opt_str(params, "NextToken"),
    )
    response = page_shape("DeveloperUserIdentifierList", user_ids, token)
    return {"IdentityId": identity_id, **response}


def unlink_developer_identity(services: Services, params: Params) -> dict[str, Any]:
    services.identity.unlink_developer_identity(
        _req_id(params, "IdentityId"),
        _req_id(params, "IdentityPoolId"),
        req_str(params, "DeveloperProviderName"),
        _developer_user(params, "DeveloperUserIdentifier"),
    )
    return {}


def merge_developer_identities(services: Services, params: Params) -> dict[str, Any]:
    identity_id = services.identity.merge_developer_identities(
        _req_id(params, "IdentityPoolId"),
        req_str(params, "DeveloperProviderName"),
        _developer_user(params, "SourceUserIdentifier"),
        _developer_user(params, "DestinationUserIdentifier"),
    )
    return {"IdentityId": identity_id}


def describe_identity(services: Services, params: Params) -> dict[str, Any]:
    return identity_shape(services.identity.describe_identity(_req_id(params, "IdentityId")))


def list_identities(services: Services, params: Params) -> dict[str, Any]:
    pool_id = _req_id(params, "IdentityPoolId")
    opt_bool(params, "HideDisabled")
    views, token = services.identity.identity_page(
        pool_id, _page_size(params, required=True), opt_str(params, "NextToken")
    )
    response = page_shape("Identities", [identity_shape(v) for v in views], token)
    return {"IdentityPoolId": pool_id, **response}


def delete_identities(services: Services, params: Params) -> dict[str, Any]:
    ids = list_param(params, "IdentityIdsToDelete")
    if not 1 <= len(ids) <= MAX_PAGE:
        raise InvalidParameter(
            "1 validation error detected: Value at 'identityIdsToDelete' failed to satisfy "
            f"constraint: Member must have length between 1 and {MAX_PAGE}"
        )
    services.identity.delete_identities([_check_id(i, "identityIdsToDelete") for i in ids])
    return {"UnprocessedIdentityIds": []}


OPERATIONS: dict[str, Operation] = {
    "CreateIdentityPool": Operation(create_identity_pool, admin=True),
    "DescribeIdentityPool": Operation(describe_identity_pool, admin=True),
    "UpdateIdentityPool": Operation(update_identity_pool, admin=True),
    "DeleteIdentityPool": Operation(delete_identity_pool, admin=True),
    "ListIdentityPools": Operation(list_identity_pools, admin=True),
    "GetId": Operation(get_id, admin=False),
    "GetOpenIdToken": Operation(get_open_id_token, admin=False),
    "GetOpenIdTokenForDeveloperIdentity": Operation(
        get_open_id_token_for_developer_identity, admin=True
    ),
    "LookupDeveloperIdentity": Operation(lookup_developer_identity, admin=True),
    "UnlinkDeveloperIdentity": Operation(unlink_developer_identity, admin=True),
    "MergeDeveloperIdentities": Operation(merge_developer_identities, admin=True),
    "DescribeIdentity": Operation(describe_identity, admin=True),
    "ListIdentities": Operation(list_identities, admin=True),
    "DeleteIdentities": Operation(delete_identities, admin=True),
}

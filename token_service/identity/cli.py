"""`token-service identity-pool ...`: identity pools from the command line, on the store."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from token_service.errors import InvalidParameter
from token_service.identity.pools import KEPT_SETTINGS, IdentityPoolSettings
from token_service.identity.tokens import ISSUER_PATH
from token_service.services import Services
from token_service.store.models import IdentityPool

# `_parser`'s own helpers: a subcommand group, and one command in it.
GroupOf = Callable[[str, str], Any]
Command = Callable[..., argparse.ArgumentParser]


def identity_pool_view(pool: IdentityPool) -> dict[str, Any]:
    return {
        "id": pool.id,
        "name": pool.name,
        "allow_unauthenticated": pool.allow_unauthenticated,
        "developer_provider_name": pool.developer_provider_name,
        "cognito_identity_providers": pool.cognito_identity_providers,
        **{name: pool.extra[name] for name in KEPT_SETTINGS if name in pool.extra},
        "jwks_path": f"/{ISSUER_PATH}/.well-known/jwks.json",
        "created_at": pool.created_at,
    }


def _providers(items: list[str]) -> list[dict[str, Any]]:
    providers = []
    for item in items:
        name, sep, client_id = item.rpartition("=")
        if not sep or not name or not client_id:
            raise InvalidParameter(f"--provider takes PROVIDER_NAME=CLIENT_ID, not {item!r}")
        providers.append(
            {"ProviderName": name, "ClientId": client_id, "ServerSideTokenCheck": False}
        )
    return providers


def create(s: Services, a: argparse.Namespace) -> Any:
    settings = IdentityPoolSettings(
        name=a.name,
        allow_unauthenticated=a.allow_unauthenticated,
        developer_provider_name=a.developer_provider_name,
        cognito_identity_providers=_providers(a.provider),
    )
    return identity_pool_view(s.identity.create_identity_pool(settings))


def list_pools(s: Services, a: argparse.Namespace) -> Any:
    pools, token = s.identity.identity_pool_page(60, None)
    while token:
        more, token = s.identity.identity_pool_page(60, token)
        pools += more
    return [identity_pool_view(p) for p in pools]


def describe(s: Services, a: argparse.Namespace) -> Any:
    return identity_pool_view(s.identity.describe_identity_pool(a.identity_pool))


def delete(s: Services, a: argparse.Namespace) -> Any:
    s.identity.delete_identity_pool(a.identity_pool)
    return {"deleted": a.identity_pool}


def rotate_keys(s: Services, a: argparse.Namespace) -> Any:
    return {"kid": s.identity.rotate_identity_keys(), **s.identity.identity_jwks()}


def add_commands(group_of: GroupOf, command: Command) -> None:
    pools = group_of("identity-pool", "Cognito Identity pools (developer identities)")
    p = command(pools, "create", create, "create an identity pool")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--allow-unauthenticated", action="store_true", help="let GetId make guest identities"
    )
    p.add_argument(
        "--developer-provider-name",
        help="the Logins key of developer user ids (set once, never changed)",
    )
    p.add_argument(
        "--provider",
        action="append",
        default=[],
        metavar="PROVIDER_NAME=CLIENT_ID",
        help="a user pool whose ID tokens log in, e.g. "
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc=CLIENT_ID (repeatable)",
    )
    command(pools, "list", list_pools, "list identity pools")
    for name, func, help_ in (
        ("describe", describe, "show one identity pool"),
        ("delete", delete, "delete an identity pool, its identities and their logins"),
    ):
        p = command(pools, name, func, help_)
        p.add_argument("identity_pool", metavar="IDENTITY_POOL_ID")
    command(
        pools,
        "rotate-keys",
        rotate_keys,
        "new signing key of the OpenID tokens; old ones stay published until their tokens expire",
    )

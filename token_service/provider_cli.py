"""`token-service idp ...` and `token-service user link|disable-provider`: identity providers
and linked partner identities from the command line, with the operations' rules.

A client secret is read from stdin (`--client-secret-stdin`), never from the command line
where the process list would show it, and no command prints it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from token_service.admin import ProviderSettings, ProviderUser
from token_service.admin.provider_links import SUBJECT_ATTRIBUTE
from token_service.admin.provider_metadata import public_details
from token_service.cli_args import CommandError, key_value
from token_service.services import Services
from token_service.store.models import IdentityProvider

Group = argparse._SubParsersAction  # type: ignore[type-arg]
Command = Callable[..., argparse.ArgumentParser]


def provider_view(row: IdentityProvider) -> dict[str, Any]:
    return {
        "pool_id": row.pool_id,
        "name": row.name,
        "type": row.type,
        "details": public_details(row.details),
        "attribute_mapping": row.attribute_mapping,
        "identifiers": row.identifiers,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _settings(a: argparse.Namespace, *, creating: bool) -> ProviderSettings:
    """The options as the operations' settings; on update only what was given."""
    details = key_value(a.detail, "--detail")
    if "client_secret" in details:
        raise CommandError("give the client secret with --client-secret-stdin, not --detail")
    if a.metadata_file is not None:
        details["MetadataFile"] = Path(a.metadata_file).read_text()
    if a.client_secret_stdin:
        details["client_secret"] = sys.stdin.readline().rstrip("\r\n")
    return ProviderSettings(
        details=details if details or creating else None,
        attribute_mapping=key_value(a.mapping, "--mapping") if a.mapping or creating else None,
        identifiers=list(a.identifier) if a.identifier or a.no_identifiers or creating else None,
    )


def idp_create(s: Services, a: argparse.Namespace) -> Any:
    settings = _settings(a, creating=True)
    return provider_view(s.admin.create_identity_provider(a.pool, a.name, a.type, settings))


def idp_update(s: Services, a: argparse.Namespace) -> Any:
    return provider_view(
        s.admin.update_identity_provider(a.pool, a.name, _settings(a, creating=False))
    )


def idp_list(s: Services, a: argparse.Namespace) -> Any:
    return [provider_view(row) for row in s.admin.list_identity_providers(a.pool)]


def idp_describe(s: Services, a: argparse.Namespace) -> Any:
    if a.identifier_lookup:
        return provider_view(s.admin.identity_provider_by_identifier(a.pool, a.identifier_lookup))
    if not a.name:
        raise CommandError("give --name or --identifier")
    return provider_view(s.admin.describe_identity_provider(a.pool, a.name))


def idp_delete(s: Services, a: argparse.Namespace) -> Any:
    s.admin.delete_identity_provider(a.pool, a.name)
    return {"pool_id": a.pool, "name": a.name, "result": "deleted"}


def _identity(a: argparse.Namespace) -> ProviderUser:
    return ProviderUser(a.provider, a.attribute, a.subject)


def user_link(s: Services, a: argparse.Namespace) -> Any:
    destination = ProviderUser("Cognito", None, a.username)
    s.admin.link_provider_for_user(a.pool, destination, _identity(a))
    return {"pool_id": a.pool, "username": a.username, "provider": a.provider, "result": "linked"}


def user_disable_provider(s: Services, a: argparse.Namespace) -> Any:
    s.admin.disable_provider_for_user(a.pool, _identity(a))
    return {"pool_id": a.pool, "provider": a.provider, "subject": a.subject, "result": "disabled"}


def _provider_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="ProviderName (3 to 32 characters)")
    p.add_argument(
        "--detail",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a ProviderDetails entry, e.g. oidc_issuer=https://... (repeatable; on update the "
        "given entries replace all details)",
    )
    p.add_argument("--metadata-file", metavar="PATH", help="SAML metadata document (MetadataFile)")
    p.add_argument(
        "--client-secret-stdin",
        action="store_true",
        help="read the OIDC client_secret from the first line of stdin",
    )
    p.add_argument(
        "--mapping",
        action="append",
        default=[],
        metavar="ATTRIBUTE=CLAIM",
        help="AttributeMapping entry, e.g. username=oid or email=email (repeatable)",
    )
    p.add_argument(
        "--identifier", action="append", default=[], help="IdpIdentifier, e.g. an email domain"
    )


def _identity_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", required=True, help="the identity provider's name")
    p.add_argument("--subject", required=True, help="the identity's user identifier at the IdP")
    p.add_argument(
        "--attribute",
        default=SUBJECT_ATTRIBUTE,
        help=f"ProviderAttributeName (default {SUBJECT_ATTRIBUTE})",
    )


def add_commands(
    group_of: Callable[[str, str], Group],
    command: Command,
    users: Group,
    pool_opt: argparse.ArgumentParser,
    user_opt: argparse.ArgumentParser,
) -> None:
    """Register the `idp` group and the `user` linking commands on the CLI's parser."""
    idps = group_of("idp", "identity providers of a pool (OIDC, SAML)")
    p = command(idps, "create", idp_create, "register an identity provider", pool_opt)
    _provider_options(p)
    p.add_argument("--type", required=True, choices=["OIDC", "SAML"], help="ProviderType")
    p.set_defaults(no_identifiers=False)
    p = command(idps, "update", idp_update, "change an identity provider", pool_opt)
    _provider_options(p)
    p.add_argument("--no-identifiers", action="store_true", help="remove every IdpIdentifier")
    command(idps, "list", idp_list, "list the pool's identity providers", pool_opt)
    p = command(idps, "describe", idp_describe, "show one identity provider", pool_opt)
    p.add_argument("--name")
    p.add_argument("--identifier", dest="identifier_lookup", help="find it by an IdpIdentifier")
    p = command(idps, "delete", idp_delete, "delete a provider and its links", pool_opt)
    p.add_argument("--name", required=True)
    p = command(users, "link", user_link, "link a partner identity to a user", pool_opt, user_opt)
    _identity_options(p)
    p = command(
        users,
        "disable-provider",
        user_disable_provider,
        "stop a partner identity from signing in",
        pool_opt,
    )
    _identity_options(p)

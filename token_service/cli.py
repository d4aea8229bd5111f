"""`token-service`: serve, and provision pools, clients, resource servers, users, groups, keys,
identity providers.

Provisioning commands work directly against the store, so an operator can set everything
up before the server runs. Every command prints JSON with `--json` and fails with a
one-line reason and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from token_service import provider_cli
from token_service.accounts.outbox import list_outbox, prune_outbox
from token_service.cli_args import CommandError, key_value
from token_service.errors import TokenServiceError
from token_service.events import SignInEvents, event_view
from token_service.hosted.branding import set_branding
from token_service.hosted.links import DEFAULT_MAX_SECONDS, IssuedSecret, PartnerLinks, secret_view
from token_service.identity import cli as identity_cli
from token_service.services import Services, build_services
from token_service.settings import Settings, SettingsError
from token_service.store.models import Client, Group, Pool, ResourceServer, SigningKey, User

FLOWS = {
    "password": "ALLOW_USER_PASSWORD_AUTH",
    "srp": "ALLOW_USER_SRP_AUTH",
    "admin-password": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "refresh": "ALLOW_REFRESH_TOKEN_AUTH",
}
# `client create` without --flow: sign-in by password or SRP, and refresh.
DEFAULT_CLI_FLOWS = ("password", "srp", "refresh")
OAUTH_FLOWS = ("client_credentials", "code")


# JSON views of stored objects (secrets never included, but for a client's creation)
def pool_view(pool: Pool) -> dict[str, Any]:
    return {
        "id": pool.id,
        "name": pool.name,
        "region": pool.region,
        "custom_attributes": pool.custom_attributes,
        "password_policy": pool.password_policy,
        "mfa_configuration": pool.mfa_configuration or "OFF",
        "deletion_protection": pool.deletion_protection or "INACTIVE",
        "auto_verified_attributes": pool.auto_verified_attributes or [],
        "username_attributes": pool.username_attributes or [],
        "admin_create_only": bool(pool.admin_create_only),
        "jwks_path": f"/{pool.id}/.well-known/jwks.json",
        "created_at": pool.created_at,
    }


def client_view(client: Client, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "client_id": client.id,
        "pool_id": client.pool_id,
        "name": client.name,
        "confidential": client.secret_sealed is not None,
        "explicit_auth_flows": client.explicit_auth_flows,
        "oauth_flows": client.oauth_flows,
        "scopes": client.scopes,
        "access_token_seconds": client.access_token_seconds,
        "id_token_seconds": client.id_token_seconds,
        "refresh_token_seconds": client.refresh_token_seconds,
        "callback_urls": client.callback_urls or [],
        "logout_urls": client.logout_urls or [],
        "supported_identity_providers": client.supported_identity_providers or [],
        "default_redirect_uri": client.default_redirect_uri,
        "read_attributes": client.read_attributes,
        "write_attributes": client.write_attributes,
        "refresh_token_rotation": client.refresh_rotation or {"Feature": "DISABLED"},
    }
    if secret is not None:
        view["client_secret"] = secret
    return view


def resource_server_view(server: ResourceServer) -> dict[str, Any]:
    return {
        "pool_id": server.pool_id,
        "identifier": server.identifier,
        "name": server.name,
        "scopes": [f"{server.identifier}/{s['ScopeName']}" for s in server.scopes],
    }


def user_view(user: User) -> dict[str, Any]:
    return {
        "sub": user.sub,
        "username": user.username,
        "pool_id": user.pool_id,
        "enabled": user.enabled,
        "status": user.status,
        "attributes": user.attributes,
    }


def group_view(group: Group) -> dict[str, Any]:
    return {
        "pool_id": group.pool_id,
        "name": group.name,
        "description": group.description,
        "precedence": group.precedence,
    }


def key_view(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "pool_id": key.pool_id,
        "active": key.active,
        "created_at": key.created_at,
        "retire_after": key.retire_after,
    }


def _password(args: argparse.Namespace) -> str | None:
    if args.password is not None and args.password_stdin:
        raise CommandError("give --password or --password-stdin, not both")
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str | None = args.password
    return password


# commands: each takes the services and parsed arguments, returns what to print
def pool_create(s: Services, a: argparse.Namespace) -> Any:
    policy = json.loads(a.password_policy) if a.password_policy else None
    if policy is not None and not isinstance(policy, dict):
        raise CommandError("--password-policy must be a JSON object")
    return pool_view(
        s.admin.create_pool(
            a.name,
            region=a.region,
            password_policy=policy,
            custom_attributes=a.custom_attribute,
            pool_id=a.id,
        )
    )


def pool_list(s: Services, a: argparse.Namespace) -> Any:
    return [pool_view(p) for p in s.admin.list_pools()]


def pool_show(s: Services, a: argparse.Namespace) -> Any:
    pool, users = s.admin.describe_pool(a.pool)
    return {**pool_view(pool), "users": users}


def pool_branding(s: Services, a: argparse.Namespace) -> Any:
    stored = set_branding(s.core, a.pool, a.logo_url, a.primary_color, a.clear)
    return {"pool_id": a.pool, "branding": stored}


def resource_server_create(s: Services, a: argparse.Namespace) -> Any:
    scopes = [(name, desc) for name, _, desc in (item.partition("=") for item in a.scope)]
    return resource_server_view(
        s.admin.create_resource_server(a.pool, a.identifier, a.name or a.identifier, scopes)
    )


def resource_server_list(s: Services, a: argparse.Namespace) -> Any:
    return [resource_server_view(r) for r in s.admin.list_resource_servers(a.pool)]


def client_create(s: Services, a: argparse.Namespace) -> Any:
    explicit = [FLOWS[f] for f in (a.flow or DEFAULT_CLI_FLOWS) if f in FLOWS]
    oauth = [f for f in a.flow if f in OAUTH_FLOWS]
    browser = "code" in oauth
    created = s.admin.create_client(
        a.pool,
        a.name,
        generate_secret=a.secret,
        explicit_auth_flows=explicit,
        oauth_flows=oauth,
        scopes=a.scope,
        callback_urls=a.callback_url,
        logout_urls=a.logout_url,
        # The hosted login signs users in from the pool itself unless told otherwise.
        supported_identity_providers=a.identity_provider or (["COGNITO"] if browser else []),
        access_token_seconds=a.access_token_minutes * 60,
        id_token_seconds=a.id_token_minutes * 60,
        refresh_token_seconds=a.refresh_token_days * 86400,
        validity_units={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"},
    )
    return client_view(created.client, created.secret)


def client_list(s: Services, a: argparse.Namespace) -> Any:
    return [client_view(c) for c in s.admin.list_clients(a.pool)]


def client_show(s: Services, a: argparse.Namespace) -> Any:
    return client_view(s.admin.describe_client(a.pool, a.client_id))


def user_create(s: Services, a: argparse.Namespace) -> Any:
    attributes = key_value(a.attribute, "--attribute")
    if a.email:
        attributes["email"] = a.email
        attributes.setdefault("email_verified", "true" if a.email_verified else "false")
    user = s.admin.create_user(
        a.pool, a.username, attributes, password=_password(a), permanent=not a.temporary, sub=a.sub
    )
    return user_view(user)


def user_set_password(s: Services, a: argparse.Namespace) -> Any:
    password = _password(a)
    if password is None:
        raise CommandError("give --password or --password-stdin")
    s.admin.set_password(a.pool, a.username, password, permanent=not a.temporary)
    return user_view(s.admin.get_user(a.pool, a.username))


def user_show(s: Services, a: argparse.Namespace) -> Any:
    user = s.admin.get_user(a.pool, a.username)
    return {
        **user_view(user),
        "groups": [g.name for g in s.admin.groups_for_user(a.pool, a.username)],
    }


def user_list(s: Services, a: argparse.Namespace) -> Any:
    users, token = [], None
    while True:
        page = s.admin.list_users(a.pool, filter_=a.filter, token=token)
        users += [user_view(u) for u in page.users]
        if not (token := page.next_token):
            return users


def _user_action(
    action: Callable[[Services, argparse.Namespace], None],
) -> Callable[[Services, argparse.Namespace], Any]:
    def run(s: Services, a: argparse.Namespace) -> Any:
        action(s, a)
        return {"pool_id": a.pool, "username": a.username, "result": "ok"}

    return run


def group_create(s: Services, a: argparse.Namespace) -> Any:
    return group_view(
        s.admin.create_group(a.pool, a.name, description=a.description, precedence=a.precedence)
    )


def group_list(s: Services, a: argparse.Namespace) -> Any:
    return [group_view(g) for g in s.admin.list_groups(a.pool)]


def keys_rotate(s: Services, a: argparse.Namespace) -> Any:
    s.admin.rotate_keys(a.pool)
    return [key_view(k) for k in s.admin.list_keys(a.pool)]


def keys_list(s: Services, a: argparse.Namespace) -> Any:
    return [key_view(k) for k in s.admin.list_keys(a.pool)]


def outbox(s: Services, a: argparse.Namespace) -> Any:
    if a.prune:
        return prune_outbox(s.core)
    return list_outbox(s.core, a.pool, a.to, a.limit)


def _issued(issued: IssuedSecret) -> dict[str, Any]:
    return {**secret_view(issued.row), "secret": issued.secret}


def partner_create(s: Services, a: argparse.Namespace) -> Any:
    links = PartnerLinks(s.core, s.hosted)
    return _issued(links.create(a.pool, a.client_id, a.name, a.max_link_seconds))


def partner_rotate(s: Services, a: argparse.Namespace) -> Any:
    return _issued(PartnerLinks(s.core, s.hosted).rotate(a.pool, a.id))


def partner_revoke(s: Services, a: argparse.Namespace) -> Any:
    return secret_view(PartnerLinks(s.core, s.hosted).revoke(a.pool, a.id))


def partner_list(s: Services, a: argparse.Namespace) -> Any:
    return [secret_view(row) for row in PartnerLinks(s.core, s.hosted).list(a.pool)]


def events_list(s: Services, a: argparse.Namespace) -> Any:
    sub = s.admin.get_user(a.pool, a.username).sub if a.username else None
    if not 1 <= a.limit <= 1000:
        raise CommandError("--limit must be 1 to 1000")
    page, token = SignInEvents(s.core).page(a.pool, user_sub=sub, limit=a.limit, token=a.page_token)
    return {"events": [event_view(e) for e in page], "next_page_token": token}


def serve(settings: Settings, a: argparse.Namespace) -> int:
    import uvicorn

    from token_service.api.app import StripQueryFilter, create_app

    settings = settings.with_overrides(host=a.host, port=a.port, issuer_base=a.issuer_base)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=a.log_level,
        log_config=_json_log_config(a.log_level) if a.json else uvicorn.config.LOGGING_CONFIG,
    )
    logging.getLogger("uvicorn.access").addFilter(StripQueryFilter())
    if not (settings.admin_access_key_id and settings.admin_secret_access_key):
        logging.getLogger("uvicorn.error").warning(
            "no admin credentials configured: every SigV4 admin operation will be refused"
        )
    uvicorn.Server(config).run()
    return 0


def _json_log_config(level: str) -> dict[str, Any]:
    """With --json the server logs one JSON object per line, uvicorn's records included."""
    from pythonjsonlogger.core import RESERVED_ATTRS

    level = level.upper()
    formatter = {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
    }
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {n: {"level": level} for n in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }


# argument parsing
def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON")
    common.add_argument(
        "--database-url",
        help="store URL (default: $TOKEN_SERVICE_DATABASE_URL or sqlite:///./var/token-service.db)",
    )
    pool_opt = argparse.ArgumentParser(add_help=False)
    pool_opt.add_argument("--pool", required=True, metavar="POOL_ID", help="user pool id")
    user_opt = argparse.ArgumentParser(add_help=False)
    user_opt.add_argument("--username", required=True)
    password_opt = argparse.ArgumentParser(add_help=False)
    password_opt.add_argument(
        "--password", help="password (visible in the process list; prefer --password-stdin)"
    )
    password_opt.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    password_opt.add_argument(
        "--temporary",
        action="store_true",
        help="user must change it at next sign-in (FORCE_CHANGE_PASSWORD)",
    )

    parser = argparse.ArgumentParser(
        prog="token-service", description="Cognito-compatible token issuer."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def group_of(name: str, help_: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        sub = commands.add_parser(name, help=help_, description=help_)
        return sub.add_subparsers(dest="action", required=True, metavar="ACTION")

    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        func: Callable[..., Any],
        help_: str,
        *parents: argparse.ArgumentParser,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, help=help_, description=help_, parents=[common, *parents]
        )
        sub.set_defaults(func=func)
        return sub

    p = commands.add_parser(
        "serve", help="run the HTTP server", description="Run the HTTP server.", parents=[common]
    )
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 9229)")
    p.add_argument(
        "--issuer-base",
        help="issuer base URL (default: $TOKEN_SERVICE_ISSUER_BASE or http://HOST:PORT)",
    )
    p.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    p.set_defaults(func=None)

    pools = group_of("pool", "user pools")
    p = command(pools, "create", pool_create, "create a user pool (with its first signing key)")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--id", help="pin the pool id (REGION_ + 9 letters or digits); default: a random one"
    )
    p.add_argument(
        "--region", help="region part of the pool id (default: $TOKEN_SERVICE_REGION or us-east-1)"
    )
    p.add_argument(
        "--custom-attribute",
        action="append",
        default=[],
        metavar="NAME",
        help="custom attribute, stored as custom:NAME (repeatable)",
    )
    p.add_argument(
        "--password-policy",
        metavar="JSON",
        help='Cognito PasswordPolicy, e.g. {"MinimumLength": 12}',
    )
    command(pools, "list", pool_list, "list user pools")
    p = command(pools, "show", pool_show, "show one user pool")
    p.add_argument("pool", metavar="POOL_ID")
    p = command(pools, "branding", pool_branding, "the hosted login's logo and colour", pool_opt)
    p.add_argument("--logo-url", help="https URL of a logo shown above the forms")
    p.add_argument("--primary-color", help="#RRGGBB of the buttons and the page's accent")
    p.add_argument("--clear", action="store_true", help="remove what was set before")

    servers = group_of("resource-server", "resource servers and their custom scopes")
    p = command(servers, "create", resource_server_create, "create a resource server", pool_opt)
    p.add_argument("--identifier", required=True, help="e.g. pdp; scopes become IDENTIFIER/SCOPE")
    p.add_argument("--name", help="display name (default: the identifier)")
    p.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="NAME[=DESCRIPTION]",
        help="scope (repeatable)",
    )
    command(servers, "list", resource_server_list, "list resource servers", pool_opt)

    clients = group_of("client", "app clients")
    p = command(
        clients,
        "create",
        client_create,
        "create an app client (its secret is shown once)",
        pool_opt,
    )
    p.add_argument("--name", required=True)
    p.add_argument(
        "--secret", action="store_true", help="confidential client: generate a client secret"
    )
    p.add_argument(
        "--flow",
        action="append",
        default=[],
        choices=[*FLOWS, *OAUTH_FLOWS],
        help="allowed flow (repeatable; default: password, srp and refresh; code = the hosted"
        " login's authorization code grant)",
    )
    p.add_argument(
        "--scope", action="append", default=[], help="allowed scope, e.g. pdp/decide (repeatable)"
    )
    p.add_argument(
        "--callback-url",
        action="append",
        default=[],
        help="where the hosted login may send the browser back (repeatable; code flow)",
    )
    p.add_argument(
        "--logout-url", action="append", default=[], help="allowed sign-out target (repeatable)"
    )
    p.add_argument(
        "--identity-provider",
        action="append",
        default=[],
        help="COGNITO or an identity provider of the pool (repeatable; code flow default: COGNITO)",
    )
    p.add_argument("--access-token-minutes", type=int, default=480, help="5..1440, default 480")
    p.add_argument("--id-token-minutes", type=int, default=480, help="5..1440, default 480")
    p.add_argument("--refresh-token-days", type=int, default=30, help="default 30")
    command(clients, "list", client_list, "list app clients", pool_opt)
    p = command(clients, "show", client_show, "show one app client", pool_opt)
    p.add_argument("--client-id", required=True)

    users = group_of("user", "users")
    p = command(
        users,
        "create",
        user_create,
        "create a user (prints its sub)",
        pool_opt,
        user_opt,
        password_opt,
    )
    p.add_argument("--email")
    p.add_argument("--email-verified", action="store_true", help="mark the email verified")
    p.add_argument(
        "--attribute",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="e.g. custom:tenant_id=UUID (repeatable)",
    )
    p.add_argument(
        "--sub", help="use this UUID as sub instead of a random one (not possible in Cognito)"
    )
    command(
        users,
        "set-password",
        user_set_password,
        "set a user's password",
        pool_opt,
        user_opt,
        password_opt,
    )
    command(users, "show", user_show, "show a user and its groups", pool_opt, user_opt)
    p = command(users, "list", user_list, "list users", pool_opt)
    p.add_argument("--filter", help='Cognito ListUsers filter, e.g. email = "a@example.com"')
    command(
        users,
        "disable",
        _user_action(lambda s, a: s.admin.set_enabled(a.pool, a.username, False)),
        "disable a user and revoke its refresh tokens",
        pool_opt,
        user_opt,
    )
    command(
        users,
        "enable",
        _user_action(lambda s, a: s.admin.set_enabled(a.pool, a.username, True)),
        "enable a user",
        pool_opt,
        user_opt,
    )
    command(
        users,
        "delete",
        _user_action(lambda s, a: s.admin.delete_user(a.pool, a.username)),
        "delete a user",
        pool_opt,
        user_opt,
    )

    provider_cli.add_commands(group_of, command, users, pool_opt, user_opt)

    groups = group_of("group", "groups and membership")
    p = command(groups, "create", group_create, "create a group", pool_opt)
    p.add_argument("--name", required=True)
    p.add_argument("--description")
    p.add_argument("--precedence", type=int)
    command(groups, "list", group_list, "list groups", pool_opt)
    p = command(
        groups,
        "add-user",
        _user_action(lambda s, a: s.admin.add_to_group(a.pool, a.username, a.group)),
        "add a user to a group",
        pool_opt,
        user_opt,
    )
    p.add_argument("--group", required=True)
    p = command(
        groups,
        "remove-user",
        _user_action(lambda s, a: s.admin.remove_from_group(a.pool, a.username, a.group)),
        "remove a user from a group",
        pool_opt,
        user_opt,
    )
    p.add_argument("--group", required=True)

    p = commands.add_parser(
        "outbox",
        help="list delivered messages, newest first (without SMTP they hold the codes)",
        description="List the outbox: messages delivered to users, newest first, with their "
        "status (pending, sent, failed). Without TOKEN_SERVICE_SMTP_URL a message here is the "
        "delivery and holds its code; with SMTP each mail is recorded without the code. "
        "--prune deletes sent and failed messages older than TOKEN_SERVICE_OUTBOX_RETENTION_DAYS.",
        parents=[common],
    )
    p.add_argument("--pool", metavar="POOL_ID", help="only messages of this pool")
    p.add_argument("--to", metavar="ADDRESS", help="only messages to this email or phone number")
    p.add_argument("--limit", type=int, default=20, help="at most N messages (default 20)")
    p.add_argument(
        "--prune", action="store_true", help="delete sent and failed messages past the retention"
    )
    p.set_defaults(func=outbox)

    partners = group_of("partner", "partner secrets for sign-in links (HS256, sealed)")
    p = command(
        partners, "create", partner_create, "issue a secret (shown once) for a client", pool_opt
    )
    p.add_argument("--client-id", required=True, help="the app client links sign in to")
    p.add_argument("--name", required=True, help="who the partner is")
    p.add_argument(
        "--max-link-seconds",
        type=int,
        default=DEFAULT_MAX_SECONDS,
        help=f"longest exp - iat a link may claim (default {DEFAULT_MAX_SECONDS})",
    )
    for name, func, help_ in (
        ("rotate", partner_rotate, "a new secret (shown once); the old one stops working"),
        ("revoke", partner_revoke, "stop a secret from signing links"),
    ):
        p = command(partners, name, func, help_, pool_opt)
        p.add_argument("--id", required=True, help="the secret's id")
    command(partners, "list", partner_list, "list the pool's partner secrets", pool_opt)

    p = commands.add_parser(
        "events",
        help="sign-in events (API and hosted login), newest first",
        description="Sign-in events of the Cognito API and the hosted login (attempts, "
        "failures, challenges, MFA steps, failed refreshes, sign-outs, client_credentials "
        "tokens, session starts and ends, partner links), newest first, a page at a time.",
        parents=[common, pool_opt],
    )
    p.add_argument("--username", help="only this user's events")
    p.add_argument("--limit", type=int, default=60, help="at most N events (default 60)")
    p.add_argument("--page-token", help="next_page_token of the previous page")
    p.set_defaults(func=events_list)

    keys = group_of("keys", "signing keys")
    command(
        keys,
        "rotate",
        keys_rotate,
        "make a new signing key; old ones stay published until their tokens expire",
        pool_opt,
    )
    command(keys, "list", keys_list, "list signing keys (public data only)", pool_opt)
    identity_cli.add_commands(group_of, command)
    return parser


def _print(result: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
    elif isinstance(result, list):
        for item in result:
            print("  ".join(f"{k}={v}" for k, v in item.items() if not isinstance(v, dict | list)))
    else:
        for key, value in result.items():
            print(f"{key}: {json.dumps(value) if isinstance(value, dict | list) else value}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env().with_overrides(database_url=args.database_url)
        if args.func is None:
            return serve(settings, args)
        result = args.func(build_services(settings), args)
    except (TokenServiceError, SettingsError, CommandError) as error:
        print(f"token-service: error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as error:
        print(f"token-service: error: invalid JSON: {error.msg}", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        print(
            f"token-service: error: store: {type(error).__name__}: {str(error).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    except OSError as error:
        print(
            f"token-service: error: {error.strerror or error}: {error.filename or ''}",
            file=sys.stderr,
        )
        return 1
    _print(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

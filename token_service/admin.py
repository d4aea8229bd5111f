"""Provisioning: pools, app clients, resource servers, users, groups and key rotation.

Used by both the Cognito admin operations and the CLI, so both enforce the same rules.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from token_service.core import Core
from token_service.errors import (
    GroupExists,
    InvalidParameter,
    ResourceNotFound,
    ScopeDoesNotExist,
    UsernameExists,
    UserNotFound,
)
from token_service.passwords import DEFAULT_POLICY, check_policy
from token_service.store.models import (
    Client,
    Group,
    Membership,
    Pool,
    ResourceServer,
    SigningKey,
    User,
)
from token_service.store.repositories import Repository
from token_service.tokens import USER_SCOPE

STANDARD_ATTRIBUTES = frozenset(
    [
        "address",
        "birthdate",
        "email",
        "email_verified",
        "family_name",
        "gender",
        "given_name",
        "locale",
        "middle_name",
        "name",
        "nickname",
        "phone_number",
        "phone_number_verified",
        "picture",
        "preferred_username",
        "profile",
        "zoneinfo",
        "updated_at",
        "website",
    ]
)
STANDARD_SCOPES = frozenset({"openid", "email", "phone", "profile", USER_SCOPE})
EXPLICIT_AUTH_FLOWS = frozenset(
    {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_CUSTOM_AUTH",
    }
)
OAUTH_FLOWS = frozenset({"client_credentials", "code", "implicit"})
DEFAULT_AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
DEFAULT_TOKEN_SECONDS = 8 * 3600
DEFAULT_REFRESH_SECONDS = 30 * 86400
MIN_TOKEN_SECONDS, MAX_TOKEN_SECONDS = 300, 86400
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 3600, 3650 * 86400
_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_]{1,20}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_FILTER = re.compile(r'^\s*([\w:]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class NewClient:
    """A created client; `secret` is shown only here, never again."""

    client: Client
    secret: str | None


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_token: str | None


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidParameter("Invalid pagination token.")


def user_attributes(user: User) -> list[dict[str, str]]:
    """Cognito's attribute list: `sub` first, then the stored attributes."""
    return [{"Name": "sub", "Value": user.sub}] + [
        {"Name": name, "Value": value} for name, value in user.attributes.items()
    ]


class Admin:
    def __init__(self, core: Core) -> None:
        self.core = core

    # lookups shared by every operation
    @staticmethod
    def require_pool(repo: Repository, pool_id: str) -> Pool:
        pool = repo.pool(pool_id)
        if pool is None:
            raise ResourceNotFound(f"User pool {pool_id} does not exist.")
        return pool

    @staticmethod
    def require_user(repo: Repository, pool_id: str, username: str) -> User:
        """The user by username or, as Cognito's admin operations allow, by `sub`."""
        Admin.require_pool(repo, pool_id)
        user = repo.user_by_username(pool_id, username)
        if user is None:
            by_sub = repo.user_by_sub(username)
            user = by_sub if by_sub is not None and by_sub.pool_id == pool_id else None
        if user is None:
            raise UserNotFound("User does not exist.")
        return user

    @staticmethod
    def require_group(repo: Repository, pool_id: str, name: str) -> Group:
        group = repo.group(pool_id, name)
        if group is None:
            raise ResourceNotFound("Group not found.")
        return group

    # pools
    def create_pool(
        self,
        name: str,
        *,
        region: str | None = None,
        password_policy: dict[str, Any] | None = None,
        custom_attributes: Sequence[str] = (),
        pool_id: str | None = None,
    ) -> Pool:
        """A pool and its first signing key. Custom names are given without `custom:`.

        `pool_id` pins the id (Cognito always picks it) so that a deployment can name its
        issuer before the pool exists, as docker-compose does.
        """
        region = region or self.core.settings.region
        if not name or len(name) > 128:
            raise InvalidParameter("PoolName must be 1 to 128 characters.")
        if not _REGION.match(region):
            raise InvalidParameter(f"Invalid region {region!r}.")
        for attr in custom_attributes:
            if not _CUSTOM_NAME.match(attr):
                raise InvalidParameter(f"Invalid custom attribute name {attr!r}.")
        if pool_id is not None and not re.fullmatch(
            rf"{re.escape(region)}_[A-Za-z0-9]{{9}}", pool_id
        ):
            raise InvalidParameter(f"Pool id must be {region}_ followed by 9 letters or digits.")
        policy = _password_policy(password_policy or {})
        now = self.core.clock()
        pool = Pool(
            id=pool_id or f"{region}_{_random(_ALNUM, 9)}",
            name=name,
            region=region,
            password_policy=policy,
            custom_attributes=sorted({f"custom:{a}" for a in custom_attributes}),
            created_at=now,
            updated_at=now,
        )
        with self.core.store.transaction() as repo:
            if pool_id is not None and repo.pool(pool_id) is not None:
                raise InvalidParameter(f"User pool {pool_id} already exists.")
            repo.add(pool)
            self.core.keys.create(repo, pool.id, now)
        return pool

    def describe_pool(self, pool_id: str) -> tuple[Pool, int]:
        """The pool and its number of users."""
        with self.core.store.transaction() as repo:
            return self.require_pool(repo, pool_id), repo.count_users(pool_id)

    def list_pools(self) -> list[Pool]:
        with self.core.store.transaction() as repo:
            return list(repo.pools())

    # resource servers and clients
    def create_resource_server(
        self, pool_id: str, identifier: str, name: str, scopes: Sequence[tuple[str, str]]
    ) -> ResourceServer:
        if not identifier or not name:
            raise InvalidParameter("Identifier and Name are required.")
        names = [scope for scope, _ in scopes]
        if len(set(names)) != len(names) or not all(
            re.fullmatch(r"[\x21\x23-\x5B\x5D-\x7E]+", n) for n in names
        ):
            raise InvalidParameter("Scope names must be unique and contain no spaces or quotes.")
        server = ResourceServer(
            pool_id=pool_id,
            identifier=identifier,
            name=name,
            scopes=[{"ScopeName": n, "ScopeDescription": d or n} for n, d in scopes],
        )
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            if repo.resource_server(pool_id, identifier) is not None:
                raise InvalidParameter(f"{identifier} already exists in pool {pool_id}.")
            repo.add(server)
        return server

    def list_resource_servers(self, pool_id: str) -> list[ResourceServer]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.resource_servers(pool_id))

    def create_client(
        self,
        pool_id: str,
        name: str,
        *,
        generate_secret: bool = False,
        explicit_auth_flows: Sequence[str] | None = None,
        oauth_flows: Sequence[str] = (),
        scopes: Sequence[str] = (),
        access_token_seconds: int = DEFAULT_TOKEN_SECONDS,
        id_token_seconds: int = DEFAULT_TOKEN_SECONDS,
        refresh_token_seconds: int = DEFAULT_REFRESH_SECONDS,
    ) -> NewClient:
        flows = list(DEFAULT_AUTH_FLOWS if explicit_auth_flows is None else explicit_auth_flows)
        if unknown := set(flows) - EXPLICIT_AUTH_FLOWS:
            raise InvalidParameter(f"Unknown ExplicitAuthFlows: {sorted(unknown)}.")
        if unknown := set(oauth_flows) - OAUTH_FLOWS:
            raise InvalidParameter(f"Unknown AllowedOAuthFlows: {sorted(unknown)}.")
        if "client_credentials" in oauth_flows:
            if not generate_secret:
                raise InvalidParameter(
                    "client_credentials flow can not be selected if client does not have a client secret."
                )
            if len(oauth_flows) > 1:
                raise InvalidParameter(
                    "client_credentials flow can not be combined with other OAuth flows."
                )
            if not scopes:
                raise InvalidParameter("client_credentials flow needs at least one custom scope.")
        for label, seconds in (
            ("AccessTokenValidity", access_token_seconds),
            ("IdTokenValidity", id_token_seconds),
        ):
            if not MIN_TOKEN_SECONDS <= seconds <= MAX_TOKEN_SECONDS:
                raise InvalidParameter(f"{label} must be between 5 minutes and 1 day.")
        if not MIN_REFRESH_SECONDS <= refresh_token_seconds <= MAX_REFRESH_SECONDS:
            raise InvalidParameter("RefreshTokenValidity must be between 60 minutes and 10 years.")
        secret = _random(_LOWER_ALNUM, 51) if generate_secret else None
        now = self.core.clock()
        client = Client(
            id=_random(_LOWER_ALNUM, 26),
            pool_id=pool_id,
            name=name,
            secret_sealed=self.core.sealer.seal(secret.encode(), "client-secret")
            if secret
            else None,
            explicit_auth_flows=flows,
            oauth_flows=list(oauth_flows),
            scopes=list(dict.fromkeys(scopes)),
            access_token_seconds=access_token_seconds,
            id_token_seconds=id_token_seconds,
            refresh_token_seconds=refresh_token_seconds,
            created_at=now,
            updated_at=now,
        )
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            defined = {
                f"{server.identifier}/{scope['ScopeName']}"
                for server in repo.resource_servers(pool_id)
                for scope in server.scopes
            }
            for scope in client.scopes:
                custom_only = "client_credentials" in oauth_flows
                if scope not in defined and (custom_only or scope not in STANDARD_SCOPES):
                    raise ScopeDoesNotExist(f"Invalid scope requested: {scope}")
            repo.add(client)
        return NewClient(client, secret)

    def describe_client(self, pool_id: str, client_id: str) -> Client:
        with self.core.store.transaction() as repo:
            client = repo.client(client_id)
            if client is None or client.pool_id != pool_id:
                raise ResourceNotFound(f"User pool client {client_id} does not exist.")
            return client

    def list_clients(self, pool_id: str) -> list[Client]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.clients(pool_id))

    # users
    def _check_attributes(self, pool: Pool, attributes: dict[str, str]) -> None:
        for name, value in attributes.items():
            if name not in STANDARD_ATTRIBUTES and name not in pool.custom_attributes:
                raise InvalidParameter(
                    f"Attributes did not conform to the schema: {name}: Attribute does not exist in the schema."
                )
            if name.endswith("_verified") and value not in ("true", "false"):
                raise InvalidParameter(f"{name} must be 'true' or 'false'.")

    def create_user(
        self,
        pool_id: str,
        username: str,
        attributes: dict[str, str],
        *,
        password: str | None = None,
        permanent: bool = False,
        sub: str | None = None,
    ) -> User:
        """A new user, CONFIRMED only with a permanent password; `sub` is given by the CLI only."""
        if not username or len(username) > 128 or any(c.isspace() for c in username):
            raise InvalidParameter("Username must be 1 to 128 characters without whitespace.")
        if sub is not None:
            try:
                sub = str(uuid.UUID(sub))
            except ValueError:
                raise InvalidParameter(f"sub must be a UUID, not {sub!r}.") from None
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            self._check_attributes(pool, attributes)
            if password is not None:
                check_policy(password, pool.password_policy)
            if repo.user_by_username(pool_id, username) is not None:
                raise UsernameExists("User account already exists")
            if sub is not None and repo.user_by_sub(sub) is not None:
                raise UsernameExists("A user with this sub already exists")
            # Without a temporary password Cognito mails one; here nobody learns it, so the
            # user signs in only after an administrator sets a password.
            user = User(
                sub=sub or str(uuid.uuid4()),
                pool_id=pool_id,
                username=username,
                username_key=username.lower(),
                attributes=dict(attributes),
                enabled=True,
                status="CONFIRMED" if password and permanent else "FORCE_CHANGE_PASSWORD",
                password_hash=self.core.passwords.hash(password or secrets.token_urlsafe(24)),
                created_at=now,
                updated_at=now,
            )
            repo.add(user)
        return user

    def set_password(self, pool_id: str, username: str, password: str, permanent: bool) -> None:
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            user = self.require_user(repo, pool_id, username)
            check_policy(password, pool.password_policy)
            user.password_hash = self.core.passwords.hash(password)
            user.status = "CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD"
            user.updated_at = self.core.clock()
            failures = repo.failures(pool_id, username)
            failures.count, failures.locked_until = 0, 0.0

    def get_user(self, pool_id: str, username: str) -> User:
        with self.core.store.transaction() as repo:
            return self.require_user(repo, pool_id, username)

    def set_enabled(self, pool_id: str, username: str, enabled: bool) -> None:
        """Disabling also revokes the user's refresh tokens, as Cognito does."""
        with self.core.store.transaction() as repo:
            user = self.require_user(repo, pool_id, username)
            now = self.core.clock()
            user.enabled = enabled
            user.updated_at = now
            if not enabled:
                repo.revoke_refresh_tokens(user.sub, now)

    def delete_user(self, pool_id: str, username: str) -> None:
        with self.core.store.transaction() as repo:
            repo.delete_user(self.require_user(repo, pool_id, username))

    def list_users(
        self, pool_id: str, *, filter_: str | None = None, limit: int = 60, token: str | None = None
    ) -> UserPage:
        """Users matching a Cognito filter (`attr = "v"` or `attr ^= "v"`), a page at a time."""
        if not 1 <= limit <= 60:
            raise InvalidParameter("Limit must be between 1 and 60.")
        match = _FILTER.match(filter_) if filter_ else None
        if filter_ and match is None:
            raise InvalidParameter("Error while parsing filter.")
        offset = _page_offset(token)
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            users = list(repo.users(pool_id))
        if match:
            name, op, value = match.group(1), match.group(2), match.group(3).replace('\\"', '"')
            users = [u for u in users if _matches(_filter_value(u, name), op, value)]
        page = users[offset : offset + limit]
        more = offset + limit < len(users)
        return UserPage(page, _page_token(offset + limit) if more else None)

    # groups
    def create_group(
        self,
        pool_id: str,
        name: str,
        *,
        description: str | None = None,
        precedence: int | None = None,
    ) -> Group:
        if not name or len(name) > 128:
            raise InvalidParameter("GroupName must be 1 to 128 characters.")
        now = self.core.clock()
        group = Group(
            pool_id=pool_id,
            name=name,
            description=description,
            precedence=precedence,
            created_at=now,
            updated_at=now,
        )
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            if repo.group(pool_id, name) is not None:
                raise GroupExists("A group with the name already exists.")
            repo.add(group)
        return group

    def list_groups(self, pool_id: str) -> list[Group]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.groups(pool_id))

    def add_to_group(self, pool_id: str, username: str, group_name: str) -> None:
        with self.core.store.transaction() as repo:
            user = self.require_user(repo, pool_id, username)
            self.require_group(repo, pool_id, group_name)
            if repo.membership(pool_id, group_name, user.sub) is None:
                repo.add(Membership(pool_id=pool_id, group_name=group_name, user_sub=user.sub))

    def remove_from_group(self, pool_id: str, username: str, group_name: str) -> None:
        with self.core.store.transaction() as repo:
            user = self.require_user(repo, pool_id, username)
            self.require_group(repo, pool_id, group_name)
            membership = repo.membership(pool_id, group_name, user.sub)
            if membership is not None:
                repo.delete(membership)

    def groups_for_user(self, pool_id: str, username: str) -> list[Group]:
        with self.core.store.transaction() as repo:
            return list(repo.groups_of(self.require_user(repo, pool_id, username)))

    # keys
    def rotate_keys(self, pool_id: str) -> SigningKey:
        """New signer; old keys stay published for the longest token validity of the pool."""
        with self.core.store.transaction() as repo:
            clients = repo.clients(pool_id)
            longest = max(
                (max(c.access_token_seconds, c.id_token_seconds) for c in clients),
                default=MAX_TOKEN_SECONDS,
            )
            return self.core.keys.rotate(repo, pool_id, self.core.clock(), longest)

    def list_keys(self, pool_id: str) -> list[SigningKey]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.keys(pool_id))


def _password_policy(given: dict[str, Any]) -> dict[str, Any]:
    """Cognito's PasswordPolicy with defaults filled in, each value of the right type."""
    policy = dict(DEFAULT_POLICY)
    for key, value in given.items():
        if key not in DEFAULT_POLICY:
            raise InvalidParameter(f"Unknown PasswordPolicy field {key}.")
        if type(value) is not type(DEFAULT_POLICY[key]):
            raise InvalidParameter(
                f"PasswordPolicy.{key} must be a {type(DEFAULT_POLICY[key]).__name__}."
            )
        policy[key] = value
    if not 6 <= policy["MinimumLength"] <= 99:
        raise InvalidParameter("MinimumLength must be between 6 and 99.")
    return policy


def _filter_value(user: User, name: str) -> str | None:
    if name == "username":
        return user.username
    if name == "sub":
        return user.sub
    if name in ("cognito:user_status", "status"):
        return (
            user.status
            if name == "cognito:user_status"
            else ("Enabled" if user.enabled else "Disabled")
        )
    return user.attributes.get(name)


def _matches(actual: str | None, op: str, expected: str) -> bool:
    if actual is None:
        return False
    return actual == expected if op == "=" else actual.startswith(expected)

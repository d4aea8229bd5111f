"""Users: creation, passwords, enabling, deletion and Cognito's ListUsers filter."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from token_service.accounts.destinations import EMAIL, is_email
from token_service.admin.base import AdminBase
from token_service.admin.paging import paginate
from token_service.errors import AliasExists, InvalidParameter, UsernameExists
from token_service.passwords import check_policy
from token_service.store.models import Pool, User
from token_service.store.repositories import Repository

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
# Attributes with a `_verified` flag that a change of value clears.
_VERIFIABLE = ("email", "phone_number")
_FILTER = re.compile(r'^\s*([\w:]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def claim_email_alias(repo: Repository, pool: Pool, user: User, email: str, *, take: bool) -> None:
    """In pools where the email is a username, refuse one that signs another user in;
    with `take` (the address is verified), make it sign this user in."""
    if EMAIL not in (pool.username_attributes or []):
        return
    other = repo.user_by_username(pool.id, email)
    if other is not None and other.sub != user.sub:
        raise AliasExists("An account with the given email already exists.")
    if take:
        user.username_key = email.lower()


def email_username(username: str, attributes: dict[str, str]) -> dict[str, str]:
    """In pools where the email is a username: the attributes of a user created with
    `username`, which must be an email address and becomes the `email` attribute."""
    if not is_email(username):
        raise InvalidParameter("Username should be an email.")
    given = attributes.get(EMAIL)
    if given is not None and given.lower() != username.lower():
        raise InvalidParameter(
            "UserAttributes.email differs from Username, which is the user's email address."
        )
    return {**attributes, EMAIL: username}


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_token: str | None


def user_attributes(user: User) -> list[dict[str, str]]:
    """Cognito's attribute list: `sub` first, then the stored attributes."""
    return [{"Name": "sub", "Value": user.sub}] + [
        {"Name": name, "Value": value} for name, value in user.attributes.items()
    ]


class UserAdmin(AdminBase):
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
        """A new user, CONFIRMED only with a permanent password; `sub` is given by the CLI only.

        In pools where the email is a username, `username` is the email address the user
        signs in with, and their username is their `sub`, as SignUp makes it.
        """
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
            alias_pool = EMAIL in (pool.username_attributes or [])
            if alias_pool:
                attributes = email_username(username, attributes)
            self._check_attributes(pool, attributes)
            if password is not None:
                check_policy(password, pool.password_policy)
            if repo.user_by_username(pool_id, username) is not None:
                raise UsernameExists(
                    "An account with the given email already exists."
                    if alias_pool
                    else "User account already exists"
                )
            if sub is not None and repo.user_by_sub(sub) is not None:
                raise UsernameExists("A user with this sub already exists")
            user_sub = sub or str(uuid.uuid4())
            # Without a temporary password Cognito mails one; here nobody learns it, so the
            # user signs in only after an administrator sets a password.
            user = User(
                sub=user_sub,
                pool_id=pool_id,
                username=user_sub if alias_pool else username,
                username_key=username.lower(),
                attributes=dict(attributes),
                enabled=True,
                status="CONFIRMED" if password and permanent else "FORCE_CHANGE_PASSWORD",
                password_hash=None,
                created_at=now,
                updated_at=now,
            )
            self.core.passwords.set(user, password or secrets.token_urlsafe(24))
            repo.add(user)
        return user

    def set_password(self, pool_id: str, username: str, password: str, permanent: bool) -> None:
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            user = self.require_user(repo, pool_id, username)
            if user.status == "EXTERNAL_PROVIDER":
                raise InvalidParameter(
                    "A federated user (status EXTERNAL_PROVIDER) signs in at its identity "
                    "provider and has no password here."
                )
            check_policy(password, pool.password_policy)
            self.core.passwords.set(user, password)
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
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            users = list(repo.users(pool_id))
        if match:
            name, op, value = match.group(1), match.group(2), match.group(3).replace('\\"', '"')
            users = [u for u in users if _matches(_filter_value(u, name), op, value)]
        return UserPage(*paginate(users, limit, token))

    def update_attributes(self, pool_id: str, username: str, attributes: dict[str, str]) -> None:
        """Set attributes (an empty value deletes one); a changed email or phone number
        is unverified again unless its `_verified` flag is set in the same call."""
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            user = self.require_user(repo, pool_id, username)
            self._check_attributes(pool, attributes)
            updated = dict(user.attributes)
            for name, value in attributes.items():
                flag = f"{name}_verified"
                if name in _VERIFIABLE and updated.get(name) != value and flag not in attributes:
                    updated[flag] = "false"
                if value:
                    updated[name] = value
                else:
                    updated.pop(name, None)
            if updated.get("email") and "email" in attributes:
                verified = updated.get("email_verified") == "true"
                claim_email_alias(repo, pool, user, updated["email"], take=verified)
            user.attributes = updated
            user.updated_at = self.core.clock()

    def delete_attributes(self, pool_id: str, username: str, names: list[str]) -> None:
        """Remove attributes; `sub` cannot be removed, names outside the schema are refused."""
        if "sub" in names:
            raise InvalidParameter("Cannot modify an immutable attribute: sub")
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            user = self.require_user(repo, pool_id, username)
            self._check_attributes(pool, dict.fromkeys(names, "false"))
            user.attributes = {k: v for k, v in user.attributes.items() if k not in names}
            user.updated_at = self.core.clock()

    def global_sign_out(self, pool_id: str, username: str) -> None:
        """Revoke every sign-in of the user: refresh fails, access tokens fail at GetUser."""
        with self.core.store.transaction() as repo:
            user = self.require_user(repo, pool_id, username)
            repo.revoke_refresh_tokens(user.sub, self.core.clock())


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

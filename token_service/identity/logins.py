"""The Logins map of a request, checked: each entry becomes a `Login` (who, at which provider).

Keys are the pool's DeveloperProviderName (value: the developer's user id, only from the
signed developer operations) or one of its CognitoIdentityProviders' names (value: an ID
token of that user pool, verified). Any other key is refused: SupportedLoginProviders and
OpenID Connect or SAML provider ARNs are kept, but their tokens cannot be verified here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from token_service.core import Core
from token_service.errors import InvalidParameter, NotAuthorized
from token_service.identity.providers import user_pool_of, verify_id_token
from token_service.store.models import IdentityPool
from token_service.store.repositories import Repository

MAX_LOGINS = 10
MAX_DEVELOPER_USER_ID = 1024


@dataclass(frozen=True)
class Login:
    provider: str
    # The developer user id, or the user pool user's `sub`.
    login_id: str
    # The last `amr` entry of the tokens it gets, as Cognito Identity writes it.
    reference: str


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_developer_user_id(value: str, name: str) -> str:
    """1 to 1024 characters the store can hold: no NUL, no lone surrogate (not UTF-8)."""
    if not 1 <= len(value) <= MAX_DEVELOPER_USER_ID or "\x00" in value or not _utf8(value):
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            f"Member must have length between 1 and {MAX_DEVELOPER_USER_ID}, in UTF-8 and "
            "without NUL"
        )
    return value


def developer_login(pool: IdentityPool, user_id: str) -> Login:
    provider = pool.developer_provider_name
    assert provider is not None
    return Login(provider, user_id, f"{provider}:{pool.id}:{user_id}")


def resolve(
    repo: Repository, core: Core, pool: IdentityPool, logins: dict[str, Any], *, developer: bool
) -> list[Login]:
    """The logins of the map, each verified; `developer` admits the developer provider."""
    if len(logins) > MAX_LOGINS:
        raise InvalidParameter(f"Logins may hold at most {MAX_LOGINS} entries.")
    resolved = []
    for provider, value in logins.items():
        if not isinstance(value, str) or not value:
            raise InvalidParameter(f"Logins.{provider[:128]} must be a non-empty string.")
        if developer and provider == pool.developer_provider_name:
            check_developer_user_id(value, "logins")
            resolved.append(developer_login(pool, value))
            continue
        clients = {
            p["ClientId"] for p in pool.cognito_identity_providers if p["ProviderName"] == provider
        }
        pool_id = user_pool_of(repo, core.settings, provider) if clients else None
        if pool_id is None:
            raise NotAuthorized(
                f"Invalid login token. {provider[:128]} is not a provider of {pool.id}."
            )
        sub = verify_id_token(repo, core.keys, core.settings, pool_id, clients, value, core.clock())
        resolved.append(Login(provider, sub, f"{provider}:CognitoSignIn:{sub}"))
    return resolved

"""App clients: auth flows, OAuth flows and scopes, token validities, redirect URLs, sealed secrets.

Create and update take the same `ClientSettings` and pass the same `_validate`, so no
setting can be stored by one that the other would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from token_service.admin.base import LOWER_ALNUM, AdminBase, random_string
from token_service.admin.paging import paginate
from token_service.admin.users import STANDARD_ATTRIBUTES
from token_service.errors import InvalidParameter, ResourceNotFound, ScopeDoesNotExist
from token_service.store.models import Client, Pool
from token_service.store.repositories import Repository
from token_service.tokens import USER_SCOPE

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
# Cognito's for a client created without ExplicitAuthFlows (CUSTOM_AUTH itself is not offered).
DEFAULT_AUTH_FLOWS = ("ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH")
DEFAULT_TOKEN_SECONDS = 8 * 3600
DEFAULT_REFRESH_SECONDS = 30 * 86400
MIN_TOKEN_SECONDS, MAX_TOKEN_SECONDS = 300, 86400
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 3600, 3650 * 86400
# The units Cognito reports validities in when none were given.
DEFAULT_VALIDITY_UNITS = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# The pool's own directory in SupportedIdentityProviders; other names are the pool's IdPs.
POOL_DIRECTORY = "COGNITO"
DEFAULT_AUTH_SESSION_MINUTES = 3


@dataclass(frozen=True)
class ClientSettings:
    """Every setting of an app client; each default is Cognito's for an omitted parameter."""

    explicit_auth_flows: Sequence[str] | None = None  # None: DEFAULT_AUTH_FLOWS
    oauth_flows: Sequence[str] = ()
    scopes: Sequence[str] = ()
    oauth_flows_user_pool_client: bool | None = None  # None: true exactly when flows are set
    access_token_seconds: int = DEFAULT_TOKEN_SECONDS
    id_token_seconds: int = DEFAULT_TOKEN_SECONDS
    refresh_token_seconds: int = DEFAULT_REFRESH_SECONDS
    validity_units: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_VALIDITY_UNITS))
    callback_urls: Sequence[str] = ()
    logout_urls: Sequence[str] = ()
    default_redirect_uri: str | None = None
    supported_identity_providers: Sequence[str] = ()
    read_attributes: Sequence[str] | None = None
    write_attributes: Sequence[str] | None = None
    prevent_user_existence_errors: str = "ENABLED"
    enable_token_revocation: bool = True
    auth_session_minutes: int = DEFAULT_AUTH_SESSION_MINUTES
    # {"Feature": "ENABLED"|"DISABLED", "RetryGracePeriodSeconds": 0..60}
    refresh_rotation: dict[str, Any] | None = None
    # Kept and described as given: AnalyticsConfiguration, EnablePropagateAdditionalUserContextData.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewClient:
    """A created client and its secret (None for a public client)."""

    client: Client
    secret: str | None


def rotation_enabled(client: Client) -> bool:
    """Whether refreshing through GetTokensFromRefreshToken hands out a new refresh token."""
    return (client.refresh_rotation or {}).get("Feature") == "ENABLED"


def rotation_grace_seconds(client: Client) -> int:
    return int((client.refresh_rotation or {}).get("RetryGracePeriodSeconds", 0))


def check_url(name: str, url: str) -> None:
    """Cognito's redirect URL rules: absolute, no fragment, HTTPS except for localhost."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or not (parts.netloc or parts.scheme != "http"):
        raise InvalidParameter(f"{name} must be absolute URLs: {url!r} is not.")
    if parts.fragment or "#" in url:
        raise InvalidParameter(f"{name} must not contain a fragment: {url!r}.")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise InvalidParameter(f"{name} must use HTTPS unless the host is localhost: {url!r}.")


def _validate(settings: ClientSettings, has_secret: bool) -> None:
    """The rules that need no stored data; scopes and attributes are checked in the store."""
    flows = list(settings.explicit_auth_flows or ())
    if unknown := set(flows) - EXPLICIT_AUTH_FLOWS:
        raise InvalidParameter(f"Unknown ExplicitAuthFlows: {sorted(unknown)}.")
    oauth_flows = list(settings.oauth_flows)
    if unknown := set(oauth_flows) - OAUTH_FLOWS:
        raise InvalidParameter(f"Unknown AllowedOAuthFlows: {sorted(unknown)}.")
    if "client_credentials" in oauth_flows:
        if not has_secret:
            raise InvalidParameter(
                "client_credentials flow can not be selected if client does not have a client secret."
            )
        if len(oauth_flows) > 1:
            raise InvalidParameter(
                "client_credentials flow can not be combined with other OAuth flows."
            )
        if not settings.scopes:
            raise InvalidParameter("client_credentials flow needs at least one custom scope.")
    if settings.oauth_flows_user_pool_client and not oauth_flows:
        raise InvalidParameter(
            "AllowedOAuthFlows must be given when AllowedOAuthFlowsUserPoolClient is true."
        )
    if {"code", "implicit"} & set(oauth_flows) and not settings.callback_urls:
        raise InvalidParameter("CallbackURLs are required for the code and implicit flows.")
    for label, seconds in (
        ("AccessTokenValidity", settings.access_token_seconds),
        ("IdTokenValidity", settings.id_token_seconds),
    ):
        if not MIN_TOKEN_SECONDS <= seconds <= MAX_TOKEN_SECONDS:
            raise InvalidParameter(f"{label} must be between 5 minutes and 1 day.")
    if not MIN_REFRESH_SECONDS <= settings.refresh_token_seconds <= MAX_REFRESH_SECONDS:
        raise InvalidParameter("RefreshTokenValidity must be between 60 minutes and 10 years.")
    for name, urls in (
        ("CallbackURLs", settings.callback_urls),
        ("LogoutURLs", settings.logout_urls),
    ):
        if len(urls) > 100:
            raise InvalidParameter(f"{name} takes at most 100 URLs.")
        for url in urls:
            check_url(name, url)
    if settings.default_redirect_uri is not None:
        check_url("DefaultRedirectURI", settings.default_redirect_uri)
        if settings.default_redirect_uri not in settings.callback_urls:
            raise InvalidParameter("DefaultRedirectURI must be one of the CallbackURLs.")
    if settings.prevent_user_existence_errors not in ("ENABLED", "LEGACY"):
        raise InvalidParameter("PreventUserExistenceErrors must be ENABLED or LEGACY.")
    if not 3 <= settings.auth_session_minutes <= 15:
        raise InvalidParameter("AuthSessionValidity must be between 3 and 15 minutes.")
    rotation = settings.refresh_rotation
    if rotation is not None:
        if set(rotation) - {"Feature", "RetryGracePeriodSeconds"}:
            raise InvalidParameter(
                "RefreshTokenRotation takes Feature and RetryGracePeriodSeconds."
            )
        if rotation.get("Feature") not in ("ENABLED", "DISABLED"):
            raise InvalidParameter("RefreshTokenRotation.Feature must be ENABLED or DISABLED.")
        grace = rotation.get("RetryGracePeriodSeconds", 0)
        if type(grace) is not int or not 0 <= grace <= 60:
            raise InvalidParameter(
                "RefreshTokenRotation.RetryGracePeriodSeconds must be between 0 and 60."
            )


def _check_stored(repo: Repository, pool: Pool, settings: ClientSettings) -> None:
    """Scopes must be defined (custom ones by a resource server), attributes in the schema,
    identity providers registered on the pool (or COGNITO, the pool's own directory)."""
    defined = {
        f"{server.identifier}/{scope['ScopeName']}"
        for server in repo.resource_servers(pool.id)
        for scope in server.scopes
    }
    custom_only = "client_credentials" in settings.oauth_flows
    for scope in settings.scopes:
        if scope not in defined and (custom_only or scope not in STANDARD_SCOPES):
            raise ScopeDoesNotExist(f"Invalid scope requested: {scope}")
    for name in settings.supported_identity_providers:
        if name != POOL_DIRECTORY and repo.identity_provider(pool.id, name) is None:
            raise InvalidParameter(
                f"SupportedIdentityProviders: the provider {name} does not exist for "
                f"User Pool {pool.id}"
            )
    known = STANDARD_ATTRIBUTES | set(pool.custom_attributes)
    for name, attributes in (
        ("ReadAttributes", settings.read_attributes),
        ("WriteAttributes", settings.write_attributes),
    ):
        if unknown := set(attributes or ()) - known:
            raise InvalidParameter(f"Invalid {name}: {sorted(unknown)} are not in the schema.")


def _apply(client: Client, settings: ClientSettings, now: float) -> None:
    """Write every setting onto the row (all of them: an update resets what it omits)."""
    client.explicit_auth_flows = list(
        DEFAULT_AUTH_FLOWS if settings.explicit_auth_flows is None else settings.explicit_auth_flows
    )
    client.oauth_flows = list(settings.oauth_flows)
    client.scopes = list(dict.fromkeys(settings.scopes))
    client.access_token_seconds = settings.access_token_seconds
    client.id_token_seconds = settings.id_token_seconds
    client.refresh_token_seconds = settings.refresh_token_seconds
    client.callback_urls = list(settings.callback_urls)
    client.logout_urls = list(settings.logout_urls)
    client.default_redirect_uri = settings.default_redirect_uri
    client.supported_identity_providers = list(settings.supported_identity_providers)
    client.read_attributes = (
        None if settings.read_attributes is None else list(settings.read_attributes)
    )
    client.write_attributes = (
        None if settings.write_attributes is None else list(settings.write_attributes)
    )
    client.prevent_user_existence_errors = settings.prevent_user_existence_errors
    client.refresh_rotation = (
        {"RetryGracePeriodSeconds": 0, **settings.refresh_rotation}
        if settings.refresh_rotation is not None
        else None
    )
    client.auth_session_minutes = settings.auth_session_minutes
    oauth_client = settings.oauth_flows_user_pool_client
    client.extra = {
        **settings.extra,
        "TokenValidityUnits": {**DEFAULT_VALIDITY_UNITS, **settings.validity_units},
        "AllowedOAuthFlowsUserPoolClient": (
            bool(settings.oauth_flows) if oauth_client is None else oauth_client
        ),
        "EnableTokenRevocation": settings.enable_token_revocation,
    }
    client.updated_at = now


class ClientAdmin(AdminBase):
    @staticmethod
    def require_client(repo: Repository, pool_id: str, client_id: str) -> Client:
        AdminBase.require_pool(repo, pool_id)
        client = repo.client(client_id)
        if client is None or client.pool_id != pool_id:
            raise ResourceNotFound(f"User pool client {client_id} does not exist.")
        return client

    def create_client(
        self,
        pool_id: str,
        name: str,
        *,
        generate_secret: bool = False,
        settings: ClientSettings | None = None,
        **fields: Any,
    ) -> NewClient:
        """A client with `settings` (or `ClientSettings(**fields)`); its secret is made here."""
        chosen = settings if settings is not None else ClientSettings(**fields)
        _validate(chosen, generate_secret)
        secret = random_string(LOWER_ALNUM, 51) if generate_secret else None
        now = self.core.clock()
        client = Client(
            id=random_string(LOWER_ALNUM, 26),
            pool_id=pool_id,
            name=name,
            secret_sealed=self.core.sealer.seal(secret.encode(), "client-secret")
            if secret
            else None,
            created_at=now,
        )
        _apply(client, chosen, now)
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            _check_stored(repo, pool, chosen)
            repo.add(client)
        return NewClient(client, secret)

    def update_client(
        self, pool_id: str, client_id: str, name: str | None, settings: ClientSettings
    ) -> NewClient:
        """Replace every setting, as Cognito's UpdateUserPoolClient does; name and secret stay."""
        with self.core.store.transaction() as repo:
            client = self.require_client(repo, pool_id, client_id)
            _validate(settings, client.secret_sealed is not None)
            pool = self.require_pool(repo, pool_id)
            _check_stored(repo, pool, settings)
            if name is not None:
                client.name = name
            _apply(client, settings, self.core.clock())
            return NewClient(client, self.client_secret(client))

    def client_secret(self, client: Client) -> str | None:
        """The client's secret in clear: it is sealed (SECRET_HASH needs it), not hashed."""
        if client.secret_sealed is None:
            return None
        return self.core.sealer.unseal(client.secret_sealed, "client-secret").decode()

    def describe_client(self, pool_id: str, client_id: str) -> Client:
        with self.core.store.transaction() as repo:
            return self.require_client(repo, pool_id, client_id)

    def list_clients(self, pool_id: str) -> list[Client]:
        with self.core.store.transaction() as repo:
            self.require_pool(repo, pool_id)
            return list(repo.clients(pool_id))

    def client_page(
        self, pool_id: str, limit: int, token: str | None
    ) -> tuple[list[Client], str | None]:
        return paginate(self.list_clients(pool_id), limit, token)

    def delete_client(self, pool_id: str, client_id: str) -> None:
        """The client and every sign-in made through it."""
        with self.core.store.transaction() as repo:
            repo.delete_client(self.require_client(repo, pool_id, client_id))

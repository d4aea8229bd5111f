"""App clients: auth flows, OAuth flows and scopes, token validities, sealed secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from token_service.admin.base import LOWER_ALNUM, AdminBase, random_string
from token_service.errors import InvalidParameter, ResourceNotFound, ScopeDoesNotExist
from token_service.store.models import Client
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
DEFAULT_AUTH_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
DEFAULT_TOKEN_SECONDS = 8 * 3600
DEFAULT_REFRESH_SECONDS = 30 * 86400
MIN_TOKEN_SECONDS, MAX_TOKEN_SECONDS = 300, 86400
MIN_REFRESH_SECONDS, MAX_REFRESH_SECONDS = 3600, 3650 * 86400


@dataclass(frozen=True)
class NewClient:
    """A created client; `secret` is shown only here, never again."""

    client: Client
    secret: str | None


class ClientAdmin(AdminBase):
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
        secret = random_string(LOWER_ALNUM, 51) if generate_secret else None
        now = self.core.clock()
        client = Client(
            id=random_string(LOWER_ALNUM, 26),
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

"""The identity providers registered on a pool, as the sign-in flows read them.

Rows are written by the identity-provider operations; everything here is read-only. A
provider's ProviderDetails carry Cognito's keys plus a few of ours (`first_sign_in`,
`enabled`, `allowed_tenants`, `token_exchange`), all strings as boto3 sends them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from token_service.core import Core
from token_service.errors import TokenServiceError
from token_service.store.models import Client, IdentityProvider
from token_service.store.repositories import Repository

# What a first sign-in does when no link exists (ProviderDetails `first_sign_in`).
CREATE = "create"
LINK_VERIFIED_EMAIL = "link_verified_email"
REFUSE = "refuse"
FIRST_SIGN_IN_POLICIES = (CREATE, LINK_VERIFIED_EMAIL, REFUSE)
# The claim that identifies a user when AttributeMapping does not map `username`.
DEFAULT_SUBJECT_CLAIM = "sub"
SECRET_PURPOSE = "identity-provider-client-secret"
# Entra ID's multi-tenant issuers hold a tenant placeholder (Microsoft writes it both ways).
TENANT_PLACEHOLDERS = ("{tenantid}", "{tenant}")
_TENANT_LIST = re.compile(r"[\s,]+")


class ProviderUnavailable(TokenServiceError):
    """The named provider is unknown, disabled, or not one the app client may use."""

    cognito_type = "InvalidParameterException"
    oauth_error = "invalid_request"


@dataclass(frozen=True)
class Provider:
    pool_id: str
    name: str
    type: str
    details: dict[str, str]
    attribute_mapping: dict[str, str]
    identifiers: list[str]

    @classmethod
    def from_row(cls, row: IdentityProvider) -> Provider:
        return cls(
            pool_id=row.pool_id,
            name=row.name,
            type=row.type,
            details=dict(row.details),
            attribute_mapping=dict(row.attribute_mapping),
            identifiers=list(row.identifiers),
        )

    @property
    def subject_claim(self) -> str:
        return self.attribute_mapping.get("username") or DEFAULT_SUBJECT_CLAIM

    @property
    def first_sign_in(self) -> str:
        policy = self.details.get("first_sign_in", CREATE)
        # The operations refuse other values; an unknown one read here fails closed.
        return policy if policy in FIRST_SIGN_IN_POLICIES else REFUSE

    @property
    def enabled(self) -> bool:
        return self.details.get("enabled", "true").lower() != "false"

    @property
    def allowed_tenants(self) -> frozenset[str]:
        raw = self.details.get("allowed_tenants", "")
        return frozenset(t for t in _TENANT_LIST.split(raw) if t)

    @property
    def issuer(self) -> str | None:
        """The OIDC issuer as registered (it may hold a tenant placeholder)."""
        return self.details.get("oidc_issuer")

    def issuer_matches(self, issuer: str, tenant: str | None) -> bool:
        """Whether a token's `iss` is this provider's: exactly, or its tenant placeholder
        filled with the token's own `tid` (Entra ID's multi-tenant issuer)."""
        registered = self.issuer
        if not registered:
            return False
        if issuer == registered:
            return True
        if not tenant:
            return False
        return any(
            placeholder in registered and registered.replace(placeholder, tenant) == issuer
            for placeholder in TENANT_PLACEHOLDERS
        )


class IdentityProviders:
    def __init__(self, core: Core) -> None:
        self.core = core

    def get(self, repo: Repository, pool_id: str, name: str) -> Provider | None:
        row = repo.identity_provider(pool_id, name)
        return Provider.from_row(row) if row is not None else None

    def list(self, repo: Repository, pool_id: str) -> Sequence[Provider]:
        return [Provider.from_row(row) for row in repo.identity_providers(pool_id)]

    def by_identifier(self, repo: Repository, pool_id: str, identifier: str) -> Provider | None:
        wanted = identifier.lower()
        for provider in self.list(repo, pool_id):
            if any(known.lower() == wanted for known in provider.identifiers):
                return provider
        return None

    def by_email_domain(self, repo: Repository, pool_id: str, email: str) -> Provider | None:
        """The provider whose IdpIdentifiers hold the email's domain (login-page routing)."""
        _, at, domain = email.rpartition("@")
        return self.by_identifier(repo, pool_id, domain) if at and domain else None

    def by_issuer(
        self, repo: Repository, pool_id: str, issuer: str, tenant: str | None = None
    ) -> Sequence[Provider]:
        return [
            provider
            for provider in self.list(repo, pool_id)
            if provider.type == "OIDC" and provider.issuer_matches(issuer, tenant)
        ]

    def for_client(self, repo: Repository, client: Client, name: str) -> Provider:
        """The provider `client` may sign users in through, or ProviderUnavailable saying why."""
        if name not in (client.supported_identity_providers or []):
            raise ProviderUnavailable(f"The app client does not support the provider {name}.")
        provider = self.get(repo, client.pool_id, name)
        if provider is None:
            raise ProviderUnavailable(f"No identity provider named {name} exists in the pool.")
        if not provider.enabled:
            raise ProviderUnavailable(f"The identity provider {name} is disabled.")
        return provider

    def client_secret(self, repo: Repository, provider: Provider) -> str | None:
        row = repo.identity_provider(provider.pool_id, provider.name)
        if row is None or row.client_secret_sealed is None:
            return None
        return self.core.sealer.unseal(row.client_secret_sealed, SECRET_PURPOSE).decode()

    def seal_secret(self, secret: str) -> bytes:
        """How the operations store a client secret (the one purpose `client_secret` opens)."""
        return self.core.sealer.seal(secret.encode(), SECRET_PURPOSE)

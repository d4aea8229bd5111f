"""Which pool user a partner identity signs in as: its link, else the provider's first-sign-in policy.

A partner identity is (provider, subject): the subject is the value of the claim the
provider's AttributeMapping maps `username` to. Its first sign-in, with no link yet:
- `create`: a new user `<ProviderName>_<subject>` with status EXTERNAL_PROVIDER (Cognito's way);
- `link_verified_email`: the pool's one non-federated user whose email is verified and equal
  to the IdP's, but only when the IdP asserts that email as verified; otherwise `create`;
- `refuse`: only identities linked beforehand (AdminLinkProviderForUser) sign in.
Mapped attributes are written on every sign-in, so the user follows the partner's directory.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from token_service.admin.users import STANDARD_ATTRIBUTES
from token_service.errors import NotAuthorized
from token_service.federation.providers import CREATE, LINK_VERIFIED_EMAIL, REFUSE, Provider
from token_service.store.models import FederatedIdentity, User
from token_service.store.repositories import Repository

EXTERNAL_PROVIDER = "EXTERNAL_PROVIDER"
# How a link came to be (FederatedIdentity.linked_by).
LINKED_AT_SIGN_IN = "sign_in"
LINKED_BY_EMAIL = "email"
LINKED_BY_ADMIN = "admin"
MAX_USERNAME = 128
MAX_ATTRIBUTE_VALUE = 2048
# RFC 8176 authentication method values: an IdP's `amr` is passed on only within these.
RFC8176_METHODS = frozenset(
    [
        "face",
        "fpt",
        "geo",
        "hwk",
        "iris",
        "kba",
        "mca",
        "mfa",
        "otp",
        "pin",
        "pwd",
        "rba",
        "retina",
        "sc",
        "sms",
        "swk",
        "tel",
        "user",
        "vbm",
        "wia",
    ]
)
# Ours, for a sign-in at a partner IdP that did not say how it authenticated the user.
EXTERNAL_METHOD = "ext"


class FederationRefused(NotAuthorized):
    """A partner identity that may not sign in here; the message says why."""


@dataclass(frozen=True)
class ExternalIdentity:
    """A partner identity its IdP vouched for, after the flow verified the token or assertion."""

    provider: Provider
    subject: str
    # Every verified claim (OIDC) or SAML attribute (one value, or a list of several).
    claims: Mapping[str, Any]
    # True only when the IdP asserted the email as verified.
    email_verified: bool

    @property
    def email(self) -> str | None:
        value = self.claims.get(self.provider.attribute_mapping.get("email", "email"))
        return value if isinstance(value, str) and "@" in value else None


def federated_username(provider: Provider, subject: str) -> str:
    return f"{provider.name}_{subject}"


def sign_in_methods(claims: Mapping[str, Any]) -> list[str]:
    """The `amr` of a federated sign-in: the IdP's registered values, else `ext`."""
    asserted = claims.get("amr")
    methods = [m for m in asserted if m in RFC8176_METHODS] if isinstance(asserted, list) else []
    return list(dict.fromkeys(methods)) or [EXTERNAL_METHOD]


def sign_in_external(repo: Repository, identity: ExternalIdentity, now: float) -> User:
    """The user `identity` signs in as, linked or created per the provider's policy.

    Runs in the caller's transaction: a refusal raises before anything is written.
    """
    provider, subject = identity.provider, identity.subject
    username = federated_username(provider, subject)
    if not subject or len(username) > MAX_USERNAME or not subject.isprintable():
        raise FederationRefused("The identity provider's user identifier is not usable here.")
    link = repo.federated_identity(provider.pool_id, provider.name, subject, lock=True)
    if link is not None:
        if link.disabled_at is not None:
            raise FederationRefused("This identity is disabled for sign-in.")
        user = repo.user_by_sub(link.user_sub)
        if user is None:
            raise FederationRefused("This identity's user no longer exists.")
    else:
        user, linked_by = _first_sign_in(repo, identity, username, now)
        link_identity(repo, provider, subject, user, linked_by, now)
    if not user.enabled:
        raise FederationRefused("User is disabled.")
    _map_attributes(repo, identity, user)
    user.updated_at = now
    return user


def _first_sign_in(
    repo: Repository, identity: ExternalIdentity, username: str, now: float
) -> tuple[User, str]:
    provider = identity.provider
    policy = provider.first_sign_in
    if policy == REFUSE:
        raise FederationRefused(
            "This identity is not linked to a user, and the provider creates none."
        )
    if policy == LINK_VERIFIED_EMAIL and identity.email_verified and identity.email:
        matches = [
            user
            for user in repo.users_with_email(provider.pool_id, identity.email)
            if user.status != EXTERNAL_PROVIDER and user.attributes.get("email_verified") == "true"
        ]
        if len(matches) > 1:
            raise FederationRefused("Several users have this email address; none is linked.")
        if matches:
            return matches[0], LINKED_BY_EMAIL
    assert policy in (CREATE, LINK_VERIFIED_EMAIL)
    existing = repo.user_by_username(provider.pool_id, username)
    if existing is not None:
        # A provider deleted and registered again finds its users by name; a native user who
        # picked that name is never taken over.
        if existing.status != EXTERNAL_PROVIDER:
            raise FederationRefused("A user with this identity's username already exists.")
        return existing, LINKED_AT_SIGN_IN
    user = User(
        sub=str(uuid.uuid4()),
        pool_id=provider.pool_id,
        username=username,
        username_key=username.lower(),
        attributes={},
        enabled=True,
        status=EXTERNAL_PROVIDER,
        password_hash=None,
        created_at=now,
        updated_at=now,
    )
    repo.add(user)
    return user, LINKED_AT_SIGN_IN


def link_identity(
    repo: Repository, provider: Provider, subject: str, user: User, linked_by: str, now: float
) -> FederatedIdentity:
    """Link (provider, subject) to `user` and show it in the user's `identities`."""
    link = FederatedIdentity(
        pool_id=provider.pool_id,
        provider_name=provider.name,
        provider_subject=subject,
        user_sub=user.sub,
        linked_by=linked_by,
        created_at=now,
        disabled_at=None,
    )
    repo.add(link)
    refresh_identities(repo, user)
    return link


def refresh_identities(repo: Repository, user: User) -> None:
    """Rewrite the user's `identities` attribute from its links (absent when it has none)."""
    attributes = dict(user.attributes)
    links = [link for link in repo.federated_identities_of(user.sub) if link.disabled_at is None]
    if links:
        attributes["identities"] = identities_attribute(repo, links)
    else:
        attributes.pop("identities", None)
    user.attributes = attributes


def identities_attribute(repo: Repository, links: list[FederatedIdentity]) -> str:
    """Cognito's `identities` attribute: a JSON string; the oldest link is the primary one."""
    entries = []
    for index, link in enumerate(links):
        provider = repo.identity_provider(link.pool_id, link.provider_name)
        entries.append(
            {
                "dateCreated": str(int(link.created_at * 1000)),
                "userId": link.provider_subject,
                "providerName": link.provider_name,
                "providerType": provider.type if provider is not None else "OIDC",
                "issuer": None,
                "primary": "true" if index == 0 else "false",
            }
        )
    return json.dumps(entries, separators=(",", ":"))


def _map_attributes(repo: Repository, identity: ExternalIdentity, user: User) -> None:
    """Write the mapped attributes; an email is verified only when the IdP said so."""
    pool = repo.pool(user.pool_id)
    custom = set(pool.custom_attributes) if pool is not None else set()
    attributes = dict(user.attributes)
    for ours, theirs in identity.provider.attribute_mapping.items():
        if ours in ("username", "identities", "sub", "email_verified"):
            continue
        if not (ours in STANDARD_ATTRIBUTES or ours in custom):
            continue
        value = _attribute_value(identity.claims.get(theirs))
        if value is not None:
            attributes[ours] = value
    if identity.email is not None and "email" in identity.provider.attribute_mapping:
        attributes["email_verified"] = "true" if identity.email_verified else "false"
    user.attributes = attributes


def _attribute_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = ",".join(value)
    else:
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= MAX_ATTRIBUTE_VALUE and text.isprintable() else None

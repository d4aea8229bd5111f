"""Linking partner identities to pool users by hand: AdminLinkProviderForUser and
AdminDisableProviderForUser.

A link is made on the provider's subject (the claim its AttributeMapping maps `username`
to): `ProviderAttributeName` is `Cognito_Subject`, or a pool attribute mapped from that
same claim. Links go to users of the pool's own directory, at most five per user.
"""

from __future__ import annotations

from dataclasses import dataclass

from token_service.admin.base import AdminBase
from token_service.admin.provider_rules import COGNITO_NAMES
from token_service.errors import AliasExists, InvalidParameter, LimitExceeded

# A module import: linking itself imports the admin package (its attribute names).
from token_service.federation import linking
from token_service.federation.providers import Provider
from token_service.store.repositories import Repository

SUBJECT_ATTRIBUTE = "Cognito_Subject"
# Cognito's limit of partner identities linked to one user.
MAX_LINKS = 5
MAX_SUBJECT = 256


@dataclass(frozen=True)
class ProviderUser:
    """Cognito's ProviderUserIdentifierType."""

    provider_name: str
    attribute_name: str | None
    attribute_value: str


class ProviderLinkAdmin(AdminBase):
    @staticmethod
    def _source_provider(
        repo: Repository, pool_id: str, source: ProviderUser, field: str
    ) -> Provider:
        """The pool's provider `source` names, with a link attribute it can be linked on."""
        if source.provider_name in COGNITO_NAMES:
            raise InvalidParameter(
                f"{field}.ProviderName must be one of the pool's identity providers, not Cognito."
            )
        AdminBase.require_pool(repo, pool_id)
        row = repo.identity_provider(pool_id, source.provider_name)
        if row is None:
            raise InvalidParameter(
                f"{field}.ProviderName: the provider {source.provider_name} does not exist for "
                f"User Pool {pool_id}"
            )
        provider = Provider.from_row(row)
        claim = provider.subject_claim
        mapped = {
            attribute
            for attribute, theirs in provider.attribute_mapping.items()
            if theirs == claim and attribute != "username"
        }
        if source.attribute_name != SUBJECT_ATTRIBUTE and source.attribute_name not in mapped:
            raise InvalidParameter(
                f"{field}.ProviderAttributeName must be {SUBJECT_ATTRIBUTE} or an attribute "
                f"mapped from the provider's user identifier ({claim}): identities are "
                "linked on it."
            )
        value = source.attribute_value
        if not value or len(value) > MAX_SUBJECT or not value.isprintable():
            raise InvalidParameter(
                f"{field}.ProviderAttributeValue must be the identity's {claim} value "
                f"(1 to {MAX_SUBJECT} printable characters)."
            )
        return provider

    def link_provider_for_user(
        self, pool_id: str, destination: ProviderUser, source: ProviderUser
    ) -> None:
        """Link the identity to a user of the pool's directory; linking a disabled identity
        again enables it for the user named. The same link twice changes nothing."""
        if destination.provider_name != "Cognito":
            raise InvalidParameter(
                "DestinationUser.ProviderName must be Cognito: identities are linked to users "
                "of the pool's own directory."
            )
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            provider = self._source_provider(repo, pool_id, source, "SourceUser")
            user = self.require_user(repo, pool_id, destination.attribute_value)
            if user.status == linking.EXTERNAL_PROVIDER:
                raise InvalidParameter(
                    "DestinationUser must be a user of the pool's own directory, not a "
                    "federated user."
                )
            subject = source.attribute_value
            link = repo.federated_identity(pool_id, provider.name, subject, lock=True)
            if link is not None and link.disabled_at is None:
                if link.user_sub == user.sub:
                    return
                raise AliasExists("The identity is already linked to another user.")
            active = [
                other
                for other in repo.federated_identities_of(user.sub)
                if other.disabled_at is None
            ]
            if len(active) >= MAX_LINKS:
                raise LimitExceeded(f"A user has at most {MAX_LINKS} linked identities.")
            if link is None:
                linking.link_identity(repo, provider, subject, user, linking.LINKED_BY_ADMIN, now)
            else:
                previous = repo.user_by_sub(link.user_sub)
                link.user_sub, link.linked_by = user.sub, linking.LINKED_BY_ADMIN
                link.disabled_at = None
                repo.session.flush()
                for changed in (previous, user):
                    if changed is not None:
                        linking.refresh_identities(repo, changed)
                        changed.updated_at = now

    def disable_provider_for_user(self, pool_id: str, identity: ProviderUser) -> None:
        """The identity signs in as no one from now on; a federated user it signed in as
        also loses its refresh tokens (it had no other way in)."""
        if identity.provider_name in COGNITO_NAMES:
            raise InvalidParameter(
                "User.ProviderName Cognito (ending a pool user's password sign-in) is not "
                "supported: use AdminDisableUser."
            )
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            provider = self._source_provider(repo, pool_id, identity, "User")
            link = repo.federated_identity(
                pool_id, provider.name, identity.attribute_value, lock=True
            )
            if link is None:
                raise InvalidParameter("The identity is not linked to any user.")
            if link.disabled_at is not None:
                return
            link.disabled_at = now
            repo.session.flush()
            user = repo.user_by_sub(link.user_sub)
            if user is not None:
                linking.refresh_identities(repo, user)
                user.updated_at = now
                if user.status == linking.EXTERNAL_PROVIDER:
                    repo.revoke_refresh_tokens(user.sub, now)

"""Cognito Identity: identity pools, their identities, developer and user-pool logins, and
the OpenID tokens of the identity issuer (`AWSCognitoIdentityService.*`)."""

from __future__ import annotations

from token_service.identity.identities import Identities
from token_service.identity.pools import IdentityPoolSettings

__all__ = ["Identities", "IdentityPoolSettings"]

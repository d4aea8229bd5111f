"""Cognito Identity's own error types (the shared ones live in `token_service.errors`)."""

from __future__ import annotations

from token_service.errors import TokenServiceError


class ResourceConflict(TokenServiceError):
    """A login already belongs to another identity, or two logins name different identities."""

    cognito_type = "ResourceConflictException"


class DeveloperUserAlreadyRegistered(TokenServiceError):
    """A developer user id is linked to another identity than the one asked for."""

    cognito_type = "DeveloperUserAlreadyRegisteredException"

"""The token service's exception hierarchy.

Each error knows how both protocols spell it: the Cognito JSON API (`__type` and HTTP
status, which botocore turns into `ClientError` codes) and OAuth 2.0 (RFC 6749 `error`
and status). Messages never carry a secret, a password or a token.
"""

from __future__ import annotations


class TokenServiceError(Exception):
    """Base of every error raised on purpose."""

    cognito_type = "InternalErrorException"
    status = 400
    oauth_error = "invalid_request"
    oauth_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(TokenServiceError):
    """A request parameter is missing, malformed or not allowed."""

    cognito_type = "InvalidParameterException"


class ResourceNotFound(TokenServiceError):
    """A pool, client, group or resource server does not exist."""

    cognito_type = "ResourceNotFoundException"


class UserNotFound(TokenServiceError):
    """Admin operations name a user that does not exist (sign-in never raises this)."""

    cognito_type = "UserNotFoundException"


class UsernameExists(TokenServiceError):
    cognito_type = "UsernameExistsException"


class GroupExists(TokenServiceError):
    cognito_type = "GroupExistsException"


class ScopeDoesNotExist(TokenServiceError):
    """A client asks for a scope no resource server of its pool defines."""

    cognito_type = "ScopeDoesNotExistException"


class InvalidPassword(TokenServiceError):
    """A new password does not meet the pool's password policy."""

    cognito_type = "InvalidPasswordException"


class NotAuthorized(TokenServiceError):
    """Authentication failed: credentials, token, disabled user or lockout."""

    cognito_type = "NotAuthorizedException"
    oauth_error = "invalid_grant"


class InvalidClient(NotAuthorized):
    """Client authentication failed (unknown client, wrong or missing secret)."""

    oauth_error = "invalid_client"
    oauth_status = 401


class InvalidGrant(NotAuthorized):
    """A refresh token is unknown, expired, revoked or belongs to another client."""


class RequestTooLarge(TokenServiceError):
    """The request body is over `TOKEN_SERVICE_MAX_BODY_BYTES`; it is not read."""

    cognito_type = "RequestTooLargeException"
    status = 413
    oauth_status = 413


class InvalidScope(TokenServiceError):
    cognito_type = "InvalidParameterException"
    oauth_error = "invalid_scope"


class UnauthorizedClient(TokenServiceError):
    """The client is not allowed the flow it asks for."""

    cognito_type = "InvalidParameterException"
    oauth_error = "unauthorized_client"


class UnsupportedGrantType(TokenServiceError):
    oauth_error = "unsupported_grant_type"


class Unauthorized(TokenServiceError):
    """RevokeToken by a client the token was not issued to."""

    cognito_type = "UnauthorizedException"
    oauth_error = "unauthorized_client"


class UnsupportedTokenType(TokenServiceError):
    """Only refresh tokens can be revoked."""

    cognito_type = "UnsupportedTokenTypeException"
    oauth_error = "unsupported_token_type"


class ConcurrentModification(TokenServiceError):
    """Two requests changed the same thing at once; the loser may retry (SDKs do by themselves)."""

    cognito_type = "TooManyRequestsException"
    oauth_error = "temporarily_unavailable"
    oauth_status = 503


class CodeMismatch(TokenServiceError):
    """A one-time code (or TOTP code) is not the one expected."""

    cognito_type = "CodeMismatchException"


class ExpiredCode(TokenServiceError):
    """A one-time code has expired or was already used."""

    cognito_type = "ExpiredCodeException"


class LimitExceeded(TokenServiceError):
    """Too many wrong guesses at a one-time code: the code is void until a new one is sent."""

    cognito_type = "LimitExceededException"


class CodeDeliveryFailure(TokenServiceError):
    """A code could not be delivered: the code is void and the failure is on record in the outbox."""

    cognito_type = "CodeDeliveryFailureException"


class UserNotConfirmed(TokenServiceError):
    """A signed-up user gave the right password but has not confirmed the account yet."""

    cognito_type = "UserNotConfirmedException"


class PasswordResetRequired(TokenServiceError):
    """An administrator reset the user's password: the user must finish ConfirmForgotPassword."""

    cognito_type = "PasswordResetRequiredException"


class DuplicateProvider(TokenServiceError):
    """CreateIdentityProvider names a provider the pool already has."""

    cognito_type = "DuplicateProviderException"


class AliasExists(TokenServiceError):
    """An email that signs users in (UsernameAttributes) already belongs to another user."""

    cognito_type = "AliasExistsException"


class EnableSoftwareTokenMFA(TokenServiceError):
    """VerifySoftwareToken got a wrong code: the authenticator is not enrolled."""

    cognito_type = "EnableSoftwareTokenMFAException"


class SoftwareTokenMFANotFound(TokenServiceError):
    """No authenticator factor where one is needed (pool without TOTP, user without one)."""

    cognito_type = "SoftwareTokenMFANotFoundException"


class InvalidSmsRoleTrustRelationship(TokenServiceError):
    """An SMS role was named, but this service cannot assume roles to send SMS."""

    cognito_type = "InvalidSmsRoleTrustRelationshipException"


class RefreshTokenReuse(InvalidGrant):
    """A refresh token replaced by rotation was presented again: its sign-in is revoked."""

    cognito_type = "RefreshTokenReuseException"

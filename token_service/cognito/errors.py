"""Errors of the AWS JSON protocol itself, raised before any operation runs."""

from __future__ import annotations

from token_service.errors import TokenServiceError


class UnknownOperation(TokenServiceError):
    cognito_type = "UnknownOperationException"


class SerializationError(TokenServiceError):
    """The body is not a JSON object."""

    cognito_type = "SerializationException"


class MissingAuthenticationToken(TokenServiceError):
    """An admin operation arrived without a SigV4 Authorization header."""

    cognito_type = "MissingAuthenticationTokenException"


class IncompleteSignature(TokenServiceError):
    """The Authorization header is not a well-formed SigV4 header."""

    cognito_type = "IncompleteSignatureException"


class UnrecognizedClient(TokenServiceError):
    """The access key id is not the configured admin key."""

    cognito_type = "UnrecognizedClientException"


class InvalidSignature(TokenServiceError):
    """The signature does not match, or is outside the allowed clock skew."""

    cognito_type = "InvalidSignatureException"


class InternalError(TokenServiceError):
    cognito_type = "InternalErrorException"
    status = 500

"""The PDP's exception hierarchy.

Every error that can reach an HTTP client or the CLI derives from `PDPError`, carries a
machine-readable `code`, and never carries a secret or a raw token.
"""

from __future__ import annotations


class PDPError(Exception):
    """Base of every error the PDP raises on purpose."""

    code = "pdp_error"
    status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class InvalidRequest(PDPError):
    """The request body or a parameter is malformed; `field` names the culprit."""

    code = "invalid_request"
    status = 400


class Unauthenticated(PDPError):
    """The caller presented no credentials, or credentials that do not verify."""

    code = "unauthenticated"
    status = 401


class Forbidden(PDPError):
    """The caller is authenticated but lacks the scope the endpoint needs."""

    code = "forbidden"
    status = 403


class NotFound(PDPError):
    code = "not_found"
    status = 404


class Conflict(PDPError):
    code = "conflict"
    status = 409


class Unprocessable(PDPError):
    """Well-formed but semantically invalid (a reference to something that does not exist)."""

    code = "unprocessable"
    status = 422


class StoreUnavailable(PDPError):
    """The database did not answer in time (down, unreachable, silent, locked): retry later."""

    code = "store_unavailable"
    status = 503
    retry_after_seconds = 5


class TokenError(PDPError):
    """A token failed verification. `reason` is a stable code used as a deny reason."""

    code = "invalid_token"
    status = 401

    def __init__(self, message: str, *, reason: str = "invalid_token") -> None:
        super().__init__(message)
        self.reason = reason

"""Authorization requests: `/oauth2/authorize` and `/login` take the same query, checked here.

Until `client_id` and `redirect_uri` are known good (the client exists and the URI is one of
its CallbackURLs, character for character), an error is `UntrustedRequest`: the caller shows
an error page and never redirects. After that, errors are `RedirectError`s, sent back to the
client as RFC 6749 section 4.1.2.1 says (`error`, `error_description`, `state`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from token_service.store.models import Client
from token_service.store.repositories import Repository

# Parameters are bounded; none may hold a control character (they reach HTML, URLs, the store).
MAX_PARAMETER_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 7636: S256 challenges are base64url without padding, 43 characters; allow its range.
_CODE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
PROMPTS = ("login", "none")
# The user pool itself, as Cognito names it; any other identity provider (`identity_provider`,
# `idp_identifier`) is federation's (token_service/federation/browser.py).
OWN_IDENTITY_PROVIDER = "COGNITO"


class UntrustedRequest(Exception):
    """The request names no known client or an unregistered redirect_uri: show a page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RedirectError(Exception):
    """An error to send back to the (verified) redirect_uri."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str) -> None:
        super().__init__(description)
        self.redirect_uri = redirect_uri
        self.state = state
        self.error = error
        self.description = description

    @property
    def location(self) -> str:
        params = {"error": self.error, "error_description": self.description}
        return redirect_location(self.redirect_uri, params, self.state)


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked request: the client, where to send the answer, what was asked for."""

    client: Client
    redirect_uri: str
    scopes: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    prompt: str | None
    login_hint: str | None
    # The parameters as received, to carry from page to page.
    query: dict[str, str]

    def redirect(self, **params: str) -> str:
        return redirect_location(self.redirect_uri, params, self.state)


def redirect_location(redirect_uri: str, params: dict[str, str], state: str | None) -> str:
    """`redirect_uri` with `params` (and `state`) added to whatever query it already has."""
    parts = urlsplit(redirect_uri)
    added = urlencode({**params, **({"state": state} if state is not None else {})})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def single_values(items: Sequence[tuple[str, str]]) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, value in items:
        if name in query:
            raise UntrustedRequest(f"The parameter {name} was given more than once.")
        if len(value) > MAX_PARAMETER_LENGTH or _CONTROL.search(value):
            raise UntrustedRequest(f"The parameter {name} is too long or holds control characters.")
        query[name] = value
    return query


def parse_authorization_request(
    repo: Repository, items: Sequence[tuple[str, str]]
) -> AuthorizationRequest:
    """Check an authorization request against its client, in Cognito's order of checks."""
    query = single_values(items)
    client_id = query.get("client_id", "")
    client = repo.client(client_id) if client_id else None
    if client is None:
        raise UntrustedRequest("client_id is missing or names no app client.")
    redirect_uri = query.get("redirect_uri", "")
    if not redirect_uri or redirect_uri not in (client.callback_urls or []):
        raise UntrustedRequest("redirect_uri is not one of the app client's callback URLs.")
    state = query.get("state")

    def refuse(error: str, description: str) -> RedirectError:
        return RedirectError(redirect_uri, state, error, description)

    if not (client.extra or {}).get("AllowedOAuthFlowsUserPoolClient", bool(client.oauth_flows)):
        raise refuse("unauthorized_client", "The client is not allowed OAuth flows.")
    response_type = query.get("response_type")
    if not response_type:
        raise refuse("invalid_request", "response_type is required.")
    if response_type != "code":
        raise refuse("unsupported_response_type", "Only response_type=code is supported.")
    if "code" not in client.oauth_flows:
        raise refuse("unauthorized_client", "The client is not allowed the code grant.")
    requested = query["scope"].split() if query.get("scope") else list(client.scopes)
    if not requested or not set(requested) <= set(client.scopes):
        raise refuse("invalid_scope", "A requested scope is not allowed for this client.")
    challenge = query.get("code_challenge")
    method = query.get("code_challenge_method")
    if method is not None and method != "S256":
        raise refuse("invalid_request", "code_challenge_method must be S256.")
    if challenge is not None and (method is None or not _CODE_CHALLENGE.fullmatch(challenge)):
        raise refuse(
            "invalid_request", "code_challenge must be an S256 challenge, with its method."
        )
    if method is not None and challenge is None:
        raise refuse("invalid_request", "code_challenge_method was given without code_challenge.")
    if challenge is None and client.secret_sealed is None:
        raise refuse("invalid_request", "Public clients must send a PKCE code_challenge.")
    prompt = query.get("prompt")
    if prompt is not None and prompt not in PROMPTS:
        raise refuse("invalid_request", "prompt must be login or none.")
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=list(dict.fromkeys(requested)),
        state=state,
        nonce=query.get("nonce"),
        code_challenge=challenge,
        prompt=prompt,
        login_hint=query.get("login_hint"),
        query=query,
    )

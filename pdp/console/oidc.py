"""Signing in to the console through the token service's hosted login: the authorization
code flow with PKCE (RFC 7636), the console being a public client of a pool.

The endpoints come from the issuer's discovery document. The code is redeemed over the back
channel, so the tokens never pass through the browser; only the access token is kept.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from pdp.errors import PDPError

TIMEOUT_SECONDS = 5.0


class SignInFailed(PDPError):
    """The hosted sign-in could not be completed; the message is safe to show."""

    code = "sign_in_failed"
    status = 400


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str
    end_session: str | None


@dataclass(frozen=True)
class Authorization:
    """A started sign-in: where to send the browser, and what to keep to finish it."""

    url: str
    verifier: str
    state: str


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class HostedSignIn:
    """The console's OAuth client of one pool."""

    def __init__(self, issuer: str, client_id: str, http: httpx.Client | None = None) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._http = http or httpx.Client(timeout=TIMEOUT_SECONDS)
        self._endpoints: Endpoints | None = None
        self._lock = threading.Lock()

    def form_origins(self) -> set[str]:
        """The origins the console's forms and their redirects may reach (CSP form-action)."""
        origins = {origin_of(self.issuer)}
        if self._endpoints is not None:
            origins.add(origin_of(self._endpoints.authorize))
            if self._endpoints.end_session:
                origins.add(origin_of(self._endpoints.end_session))
        return origins

    def endpoints(self) -> Endpoints:
        """The issuer's endpoints, read once from its discovery document."""
        with self._lock:
            if self._endpoints is None:
                self._endpoints = self._discover()
            return self._endpoints

    def _discover(self) -> Endpoints:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            response = self._http.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError):
            raise SignInFailed("the sign-in service's discovery document is unavailable") from None
        authorize, token = document.get("authorization_endpoint"), document.get("token_endpoint")
        if not isinstance(authorize, str) or not isinstance(token, str):
            raise SignInFailed("the sign-in service's discovery document names no endpoints")
        end_session = document.get("end_session_endpoint")
        return Endpoints(authorize, token, end_session if isinstance(end_session, str) else None)

    def start(self, redirect_uri: str) -> Authorization:
        """The authorize URL of a new sign-in. No scope is asked for, so the token carries
        the scopes the pool grants this client (`pdp/admin` or `pdp/audit`)."""
        verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
        }
        return Authorization(f"{self.endpoints().authorize}?{urlencode(query)}", verifier, state)

    def redeem(self, code: str, verifier: str, redirect_uri: str) -> str:
        """Exchange the code for tokens; the access token, or SignInFailed."""
        form = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        try:
            response = self._http.post(self.endpoints().token, data=form)
            body: Any = response.json()
        except (httpx.HTTPError, ValueError):
            raise SignInFailed("the sign-in service did not answer") from None
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str):
            raise SignInFailed("the sign-in service refused the code; sign in again")
        return token

    def logout_url(self, logout_uri: str) -> str | None:
        """Where to end the hosted login's own session too, if the issuer has such an end."""
        end = self.endpoints().end_session
        if end is None:
            return None
        return f"{end}?{urlencode({'client_id': self.client_id, 'logout_uri': logout_uri})}"

    def close(self) -> None:
        self._http.close()

"""Partner issuers' signing keys: OpenID discovery and JWKS, cached per process.

Verifying a partner's token needs its issuer's keys. They are fetched over HTTP and kept for
`cache_seconds`; a token naming a `kid` the cached set lacks (the issuer rotated its keys)
refetches the set, but not more often than once per `min_refetch_seconds` for one JWKS, so
forged tokens with random kids cannot make us hammer a partner. An issuer that does not answer
keeps the keys we already had; with none, the caller is told the keys are unavailable.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from token_service.errors import TokenServiceError

DISCOVERY_PATH = "/.well-known/openid-configuration"
FETCH_TIMEOUT_SECONDS = 5.0
# Larger documents are not JWKS or discovery documents anyone publishes.
MAX_DOCUMENT_BYTES = 512 * 1024


class PartnerUnavailable(TokenServiceError):
    """The partner's discovery document or keys could not be fetched: try again later."""

    cognito_type = "InternalErrorException"
    status = 503
    oauth_error = "temporarily_unavailable"
    oauth_status = 503


class UnknownKey(TokenServiceError):
    """No key of the partner's JWKS has the token's `kid`."""

    cognito_type = "NotAuthorizedException"
    oauth_error = "invalid_grant"


@dataclass
class _Cached:
    value: Any = None
    fetched_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


def _parse_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """Signing keys by kid; keys without a kid, for encryption, or unusable are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, KeyError, TypeError):
            continue
    return keys


class PartnerKeys:
    """Discovery documents and JWKS of partner issuers, shared by every federation flow."""

    def __init__(
        self,
        http: httpx.Client | None = None,
        *,
        cache_seconds: float = 3600.0,
        min_refetch_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http or httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False)
        self._cache_seconds = cache_seconds
        self._min_refetch = min_refetch_seconds
        self._clock = clock
        self._documents: dict[str, _Cached] = {}
        self._jwks: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def discovery(self, issuer: str) -> dict[str, Any]:
        """The issuer's OpenID discovery document (`{issuer}/.well-known/openid-configuration`)."""
        url = issuer.rstrip("/") + DISCOVERY_PATH
        entry = self._entry(self._documents, url)
        with entry.lock:
            if entry.value is None or self._age(entry) > self._cache_seconds:
                document = self._fetch(url, "discovery document", keep=entry.value)
                if not isinstance(document.get("jwks_uri"), str):
                    raise PartnerUnavailable("The identity provider's discovery names no jwks_uri.")
                entry.value, entry.fetched_at = document, self._clock()
            return dict(entry.value)

    def jwks_uri(self, issuer: str, details: dict[str, str]) -> str:
        """Where the provider's keys are: ProviderDetails `jwks_uri`, else discovery."""
        configured = details.get("jwks_uri")
        return configured if configured else str(self.discovery(issuer)["jwks_uri"])

    def key(self, jwks_uri: str, kid: str) -> jwt.PyJWK:
        """The signing key `kid` of the JWKS at `jwks_uri`, refetched once on a miss."""
        entry = self._entry(self._jwks, jwks_uri)
        with entry.lock:
            if entry.value is None or self._age(entry) > self._cache_seconds:
                entry.value = self._keys(jwks_uri, entry)
            key = entry.value.get(kid)
            if key is None and self._age(entry) >= self._min_refetch:
                entry.value = self._keys(jwks_uri, entry)
                key = entry.value.get(kid)
        if key is None:
            raise UnknownKey("The token's kid is not a signing key of the identity provider.")
        return key

    def _keys(self, jwks_uri: str, entry: _Cached) -> dict[str, jwt.PyJWK]:
        previous = entry.value
        document = self._fetch(jwks_uri, "keys", keep=previous)
        entry.fetched_at = self._clock()
        return _parse_keys(document) if document is not previous else previous

    def _entry(self, table: dict[str, _Cached], url: str) -> _Cached:
        with self._lock:
            return table.setdefault(url, _Cached())

    def _age(self, entry: _Cached) -> float:
        return self._clock() - entry.fetched_at

    def _fetch(self, url: str, what: str, *, keep: Any) -> Any:
        """The JSON object at `url`; on failure `keep` (the cached value) if there is one."""
        try:
            response = self._http.get(url)
            if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
                raise ValueError(response.status_code)
            document = response.json()
            if not isinstance(document, dict):
                raise ValueError("not an object")
        except (httpx.HTTPError, ValueError):
            if keep is not None:
                return keep
            raise PartnerUnavailable(
                f"The identity provider's {what} could not be fetched."
            ) from None
        return document

    def close(self) -> None:
        self._http.close()

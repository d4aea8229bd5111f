"""Token verification against trusted issuers' JWKS.

The PDP verifies tokens like any resource server: it fetches each trusted issuer's JWKS over
HTTP, caches the keys, and accepts only asymmetric signatures from a key of the issuer the
token names. Callers (PEPs, admins) and subjects are verified the same way.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import get_default_algorithms

from pdp.errors import TokenError
from pdp.settings import TrustedIssuer

# Only asymmetric algorithms: an HMAC "signature" keyed with a public key is a classic forgery.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384")
# The curve each ECDSA algorithm is defined on (RFC 7518 section 3.4); RS*/PS* need RSA keys.
EC_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
# RFC 7519 NumericDate claims: JSON numbers, never strings.
NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")
# Do not refetch a JWKS for an unknown kid more often than this, so bad tokens cannot
# make us hammer an issuer.
MIN_REFETCH_SECONDS = 10.0
# Longest time a verified token is trusted without verifying it again.
VERIFIED_TOKEN_SECONDS = 60.0
JWKS_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Principal:
    """Who is calling the PDP: a PEP or an admin, identified by its access token."""

    client_id: str | None
    subject: str | None
    scopes: frozenset[str]
    issuer: str | None

    @classmethod
    def anonymous(cls) -> Principal:
        """The caller when PEP authentication is switched off (development only)."""
        return cls(
            client_id=None,
            subject=None,
            scopes=frozenset({"pdp/decide", "pdp/admin"}),
            issuer=None,
        )


def _check_key_fits(alg: str, key: Any) -> None:
    """Refuse a key of another family than the header's alg: a JWKS key is chosen by kid,
    which the token names, so an ES256 header may point at an RSA key (and vice versa)."""
    curve = EC_CURVES.get(alg)
    if curve is None:
        fits = isinstance(key, RSAPublicKey)
    else:
        fits = isinstance(key, EllipticCurvePublicKey) and key.curve.name == curve
    if not fits:
        raise TokenError(
            f"signature algorithm {alg} does not fit the type of the key the kid names",
            reason="bad_algorithm",
        )


def _check_numeric_dates(claims: dict[str, Any]) -> None:
    """exp, nbf and iat must be finite JSON numbers; PyJWT alone accepts numeric strings."""
    for name in NUMERIC_DATE_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise TokenError(
                f"the token's {name} claim must be a number (RFC 7519 NumericDate)",
                reason="malformed_token",
            )


def _authenticated_identity(claims: dict[str, Any]) -> bool:
    """A Cognito Identity OpenID token of an authenticated identity: it has no token_use,
    its aud is the identity pool (the client checked against client_ids) and its amr starts
    with "authenticated". A guest's token ("unauthenticated") is refused."""
    amr = claims.get("amr")
    return isinstance(amr, list) and amr[:1] == ["authenticated"]


class _IssuerKeys:
    """The cached JWKS of one issuer."""

    def __init__(self, issuer: TrustedIssuer, cache_seconds: float, http: httpx.Client) -> None:
        self.issuer = issuer
        self._cache_seconds = cache_seconds
        self._http = http
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any:
        if self._age() > self._cache_seconds:
            self._refresh_if_older_than(self._cache_seconds)
        key = self._keys.get(kid)
        if key is None and self._age() > MIN_REFETCH_SECONDS:
            # A new kid usually means the issuer rotated its keys.
            self._refresh_if_older_than(MIN_REFETCH_SECONDS)
            key = self._keys.get(kid)
        if key is None:
            raise TokenError(
                "the token's signing key is not in the issuer's JWKS", reason="unknown_key"
            )
        return key

    def _age(self) -> float:
        return time.monotonic() - self._fetched_at

    def _refresh_if_older_than(self, seconds: float) -> None:
        with self._lock:
            if self._age() > seconds:
                self._refresh()

    def _refresh(self) -> None:
        try:
            response = self._http.get(self.issuer.jwks_uri, timeout=JWKS_TIMEOUT_SECONDS)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError):
            # Keep serving the keys we had: an issuer outage must not fail every decision.
            self._fetched_at = time.monotonic()
            if not self._keys:
                raise TokenError(
                    "the issuer's JWKS could not be fetched", reason="jwks_unavailable"
                ) from None
            return
        keys: dict[str, Any] = {}
        algorithms = get_default_algorithms()
        for jwk in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict) or "kid" not in jwk:
                continue
            kty = jwk.get("kty")
            family = {"RSA": "RS256", "EC": "ES256"}.get(kty)
            if family is None:
                continue
            try:
                keys[jwk["kid"]] = algorithms[family].from_jwk(jwk)
            except (jwt.InvalidKeyError, ValueError, KeyError, TypeError):
                continue
        self._keys = keys
        self._fetched_at = time.monotonic()


class _VerifiedTokens:
    """Recently verified tokens, so a PEP's token is not re-verified on every request.

    Keyed by a hash of the token (never the token), held until the token expires or for at
    most `VERIFIED_TOKEN_SECONDS`, so a key removed from an issuer's JWKS stops working soon.
    """

    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[bytes, tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> dict[str, Any] | None:
        key = self._key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.time():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, token: str, claims: dict[str, Any]) -> None:
        until = min(float(claims["exp"]), time.time() + VERIFIED_TOKEN_SECONDS)
        with self._lock:
            self._entries[self._key(token)] = (until, claims)
            if len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


class Authenticator:
    """Verifies tokens from the trusted issuers; knows nothing about HTTP requests."""

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        *,
        cache_seconds: float = 300.0,
        http: httpx.Client | None = None,
    ) -> None:
        self._http = http or httpx.Client()
        self._issuers = {i.issuer: _IssuerKeys(i, cache_seconds, self._http) for i in issuers}
        self._verified = _VerifiedTokens()

    def verify(self, token: str) -> dict[str, Any]:
        """Return the verified claims of an access or ID token, or raise TokenError."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            self._verified.put(token, claims)
        return dict(claims)

    def verify_cached(self, token: str) -> dict[str, Any] | None:
        """The claims of a token verified recently, without any I/O; None if not cached."""
        claims = self._verified.get(token)
        return dict(claims) if claims is not None else None

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError(
                "the token is not a well-formed JWT", reason="malformed_token"
            ) from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise TokenError(f"signature algorithm {alg!r} is not accepted", reason="bad_algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenError("the token header has no kid", reason="unknown_key")
        issuer_name = unverified.get("iss")
        keys = self._issuers.get(issuer_name) if isinstance(issuer_name, str) else None
        if keys is None:
            raise TokenError("the token's issuer is not trusted", reason="untrusted_issuer")
        _check_numeric_dates(unverified)
        key = keys.key(kid)
        _check_key_fits(alg, key)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                issuer=issuer_name,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired", reason="token_expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenError("the token is not valid yet", reason="token_not_yet_valid") from None
        except jwt.InvalidSignatureError:
            raise TokenError(
                "the token's signature does not verify", reason="bad_signature"
            ) from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"the token is invalid: {exc}", reason="invalid_claims") from None
        except Exception:
            # Fail closed: whatever else the library raises on a hostile token is a refusal.
            raise TokenError(
                "the token's signature could not be checked", reason="bad_signature"
            ) from None
        self._check_use(claims, keys.issuer)
        return claims

    @staticmethod
    def _check_use(claims: dict[str, Any], issuer: TrustedIssuer) -> None:
        token_use = claims.get("token_use")
        if token_use == "access":
            client = claims.get("client_id")
        elif token_use == "id" or (token_use is None and _authenticated_identity(claims)):
            client = claims.get("aud")
        else:
            raise TokenError("token_use must be 'access' or 'id'", reason="bad_token_use")
        if not isinstance(client, str):
            raise TokenError("the token names no client", reason="invalid_claims")
        if issuer.client_ids and client not in issuer.client_ids:
            raise TokenError(
                "the token was issued to a client that is not accepted", reason="untrusted_client"
            )

    def authenticate_caller(self, token: str) -> Principal:
        """Verify a PEP's or an admin's bearer token; only access tokens carry scopes."""
        return self.caller_from_claims(self.verify(token))

    @staticmethod
    def caller_from_claims(claims: dict[str, Any]) -> Principal:
        if claims.get("token_use") != "access":
            raise TokenError("callers must present an access token", reason="bad_token_use")
        scope = claims.get("scope", "")
        return Principal(
            client_id=claims.get("client_id"),
            subject=claims.get("sub"),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            issuer=claims.get("iss"),
        )

    def close(self) -> None:
        self._http.close()

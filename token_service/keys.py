"""Per-pool RSA signing keys: creation, rotation, the JWKS, and the signer.

Private keys are sealed in the store (see `sealing`) and only ever decrypted into memory
here, to sign. A rotated key stays published until `retire_after`, the moment every token
it signed has expired, so verifiers holding such tokens keep working.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from token_service.errors import ResourceNotFound
from token_service.sealing import Sealer
from token_service.store.models import SigningKey
from token_service.store.repositories import Repository

_PURPOSE = "signing-key"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key: RSAPublicKey) -> dict[str, str]:
    """The JWK Cognito publishes, with `kid` = RFC 7638 thumbprint."""
    numbers = public_key.public_numbers()
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {
        "alg": "RS256",
        "e": members["e"],
        "kid": kid,
        "kty": "RSA",
        "n": members["n"],
        "use": "sig",
    }


def key_columns(jwk: dict[str, str], sealed: bytes, now: float) -> dict[str, Any]:
    """The columns of a new signer, whichever table keeps its key set."""
    return {
        "kid": jwk["kid"],
        "private_sealed": sealed,
        "public_jwk": jwk,
        "active": True,
        "created_at": now,
        "retire_after": None,
    }


class Keys:
    """The user pools' key sets; a subclass keeps another family of key sets (its rows and
    lookups in the `_row`, `_keys`, `_active`, `_published` and `_key` hooks)."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        self._private: dict[str, RSAPrivateKey] = {}
        self._public: dict[str, RSAPublicKey] = {}
        self._lock = threading.Lock()

    def create(self, repo: Repository, pool_id: str, now: float) -> SigningKey:
        """Make a new RSA 2048 key the pool's signer."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        jwk = public_jwk(private_key.public_key())
        key = self._row(pool_id, jwk, self._sealer.seal(pem, _PURPOSE), now)
        repo.add(key)
        return key

    def rotate(self, repo: Repository, pool_id: str, now: float, max_validity: int) -> SigningKey:
        """New signer; the previous ones retire once their longest-lived token has expired."""
        for old in self._keys(repo, pool_id):
            if old.active:
                old.active = False
                old.retire_after = now + max_validity
        return self.create(repo, pool_id, now)

    def jwks(self, repo: Repository, pool_id: str, now: float) -> dict[str, Any]:
        return {"keys": [dict(key.public_jwk) for key in self._published(repo, pool_id, now)]}

    def signer(self, repo: Repository, pool_id: str) -> tuple[str, RSAPrivateKey]:
        key = self._active(repo, pool_id)
        if key is None:
            raise ResourceNotFound(f"{pool_id} has no signing key.")
        with self._lock:
            private_key = self._private.get(key.kid)
            if private_key is None:
                pem = self._sealer.unseal(key.private_sealed, _PURPOSE)
                loaded = serialization.load_pem_private_key(pem, password=None)
                assert isinstance(loaded, RSAPrivateKey)
                private_key = self._private[key.kid] = loaded
        return key.kid, private_key

    def verifier(self, repo: Repository, pool_id: str, kid: str, now: float) -> RSAPublicKey | None:
        """The public key for `kid` while it is published, else None."""
        key = self._key(repo, pool_id, kid)
        if key is None or (key.retire_after is not None and key.retire_after <= now):
            return None
        with self._lock:
            public_key = self._public.get(kid)
            if public_key is None:
                loaded = RSAAlgorithm.from_jwk(json.dumps(key.public_jwk))
                assert isinstance(loaded, RSAPublicKey)
                public_key = self._public[kid] = loaded
        return public_key

    def _row(self, pool_id: str, jwk: dict[str, str], sealed: bytes, now: float) -> Any:
        return SigningKey(pool_id=pool_id, **key_columns(jwk, sealed, now))

    def _keys(self, repo: Repository, pool_id: str) -> Sequence[Any]:
        if repo.pool(pool_id) is None:
            raise ResourceNotFound(f"User pool {pool_id} does not exist.")
        return repo.keys(pool_id)

    def _active(self, repo: Repository, pool_id: str) -> Any:
        return repo.active_key(pool_id)

    def _published(self, repo: Repository, pool_id: str, now: float) -> Sequence[Any]:
        return repo.published_keys(pool_id, now)

    def _key(self, repo: Repository, pool_id: str, kid: str) -> Any:
        return repo.signing_key(pool_id, kid)

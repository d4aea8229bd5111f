"""Encryption at rest for what must stay recoverable: client secrets and private signing keys.

Client secrets cannot be stored as one-way hashes because SECRET_HASH is an HMAC keyed with
the secret itself; they are sealed with AES-256-GCM instead, under a key that lives outside
the database (env `TOKEN_SERVICE_ENCRYPTION_KEY`, or a 0600 key file made on first use).
A stolen database alone therefore reveals neither secrets nor private keys.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from token_service.settings import Settings, SettingsError

_NONCE_BYTES = 12


def _decode_key(raw: str, origin: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (binascii.Error, ValueError):
        raise SettingsError(f"{origin} is not urlsafe base64") from None
    if len(key) != 32:
        raise SettingsError(f"{origin} must decode to 32 bytes, not {len(key)}")
    return key


def load_key(settings: Settings) -> bytes:
    """The sealing key from the environment, else from the key file (created if missing)."""
    if settings.encryption_key:
        return _decode_key(settings.encryption_key, "TOKEN_SERVICE_ENCRYPTION_KEY")
    path = Path(settings.key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        encoded = base64.urlsafe_b64encode(os.urandom(32)).decode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(encoded + "\n")
    return _decode_key(path.read_text(), f"key file {path}")


class Sealer:
    """AES-256-GCM with a random nonce per value; `purpose` is bound as associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def open(self, sealed: bytes, purpose: str) -> bytes | None:
        """The plaintext, or None when `sealed` was not sealed by this key for `purpose`."""
        try:
            return self._aead.decrypt(
                sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], purpose.encode()
            )
        except InvalidTag:
            return None

    def unseal(self, sealed: bytes, purpose: str) -> bytes:
        """Open a stored value; failure means the sealing key was changed."""
        plaintext = self.open(sealed, purpose)
        if plaintext is None:
            raise SettingsError(
                "stored secrets do not decrypt: the encryption key differs from the one used "
                "to store them"
            )
        return plaintext

"""A pool's SAML service-provider key pair: made on first use, the private key sealed at rest.

The key signs the pool's AuthnRequests (RSA-SHA256); the self-signed certificate that carries
its public half is published in the pool's SP metadata, which is how IdPs learn to trust it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from token_service.core import Core
from token_service.errors import ConcurrentModification
from token_service.store.models import SamlSigningKey
from token_service.store.repositories import Repository

_PURPOSE = "saml-sp-signing-key"
CERTIFICATE_YEARS = 10


@dataclass(frozen=True)
class KeyPair:
    """A private key (PKCS#8 PEM) and its self-signed certificate (PEM)."""

    private_pem: str
    certificate_pem: str


def self_signed(common_name: str, years: int = CERTIFICATE_YEARS) -> KeyPair:
    """A new RSA-2048 key and a certificate for it, valid from yesterday for `years`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * years))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyPair(private.decode(), certificate.public_bytes(serialization.Encoding.PEM).decode())


class SamlKeys:
    def __init__(self, core: Core) -> None:
        self.core = core

    def pair(self, pool_id: str) -> KeyPair:
        """The pool's key pair in a transaction of its own; when two requests make the
        pool's first key at once, the loser takes the winner's."""
        try:
            with self.core.store.transaction() as repo:
                return self.for_pool(repo, pool_id)
        except ConcurrentModification:
            with self.core.store.transaction() as repo:
                return self.for_pool(repo, pool_id)

    def for_pool(self, repo: Repository, pool_id: str) -> KeyPair:
        """The pool's key pair, made and stored (sealed) the first time it is asked for."""
        row = repo.session.get(SamlSigningKey, pool_id)
        if row is None:
            pair = self_signed(f"urn:amazon:cognito:sp:{pool_id}")
            sealed = self.core.sealer.seal(pair.private_pem.encode(), _PURPOSE)
            repo.add(
                SamlSigningKey(
                    pool_id=pool_id,
                    private_sealed=sealed,
                    certificate_pem=pair.certificate_pem,
                    created_at=self.core.clock(),
                )
            )
            return pair
        private = self.core.sealer.unseal(row.private_sealed, _PURPOSE)
        return KeyPair(private.decode(), row.certificate_pem)

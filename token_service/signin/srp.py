"""SRP sign-in (USER_SRP_AUTH, then the PASSWORD_VERIFIER challenge), as Amazon Cognito runs it.

`start` answers the client's A with the user's salt, the server's B and a SECRET_BLOCK;
`respond` checks the client's proof (PASSWORD_CLAIM_SIGNATURE) and goes on as every correct
first factor does, through `Issuer.continue_sign_in`.

The SECRET_BLOCK is the exchange's state, sealed (AES-GCM, its own purpose) so the client can
neither read b nor change anything: the client, the pool, the user, A, b, B, an expiry (the
client's session lifetime) and a nonce that is used once, so a block cannot be replayed.

No user enumeration: a username that does not exist, or whose password predates SRP support
(no verifier yet), gets a well-formed challenge from a decoy salt and verifier, derived from
the username under a server key so that asking twice gives the same salt; the server then
does the same modular arithmetic as for a real user, and the proof fails like a wrong
password, counted towards the username's lockout.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from token_service import srp
from token_service.core import Core
from token_service.errors import InvalidParameter, NotAuthorized, UnauthorizedClient
from token_service.issue import BAD_CREDENTIALS, Issuer, UserTokens
from token_service.sealing import load_key
from token_service.settings import Settings
from token_service.signin.challenges import Challenge, session_seconds
from token_service.store.models import Client, User
from token_service.store.repositories import Repository

PASSWORD_VERIFIER = "PASSWORD_VERIFIER"
SRP_FLOW = "ALLOW_USER_SRP_AUTH"
FLOW_NOT_ENABLED = "USER_SRP_AUTH is not enabled for the client."
BAD_TIMESTAMP = "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english."
# How far the client's TIMESTAMP may be from the server's clock.
TIMESTAMP_SKEW_SECONDS = 300
MAX_USERNAME_LENGTH = 128
_BLOCK_PURPOSE = "srp-secret-block"


@lru_cache(maxsize=8)
def _decoy_key(settings: Settings) -> bytes:
    """A key for decoy salts and verifiers, derived from the sealing key (never stored)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"srp-decoy")
    return hkdf.derive(load_key(settings))


def _check_username(username: str) -> None:
    if len(username) > MAX_USERNAME_LENGTH or "\x00" in username:
        raise InvalidParameter(
            f"USERNAME must be at most {MAX_USERNAME_LENGTH} characters, without NUL."
        )


@dataclass(frozen=True)
class Claim:
    """The client's answer to PASSWORD_VERIFIER."""

    secret_block: str  # PASSWORD_CLAIM_SECRET_BLOCK: the SECRET_BLOCK it was given
    signature: str  # PASSWORD_CLAIM_SIGNATURE
    timestamp: str  # TIMESTAMP, which the signature covers


@dataclass(frozen=True)
class _Secrets:
    """Who the exchange is for, with the salt and verifier it runs against."""

    user: User | None  # None: a decoy (unknown user, or no verifier yet)
    user_id: str  # USER_ID_FOR_SRP
    salt: str
    verifier: int


@dataclass(frozen=True)
class _Block:
    """An opened SECRET_BLOCK."""

    client_id: str
    pool_id: str
    alias_pool: bool
    login: str  # the USERNAME the sign-in started with: its failures count for it
    user_id: str
    sub: str | None
    a: int
    key: srp.ServerKey
    expires_at: float
    nonce: str


class SrpSignIn:
    def __init__(self, core: Core, issuer: Issuer) -> None:
        self.core = core
        self.issuer = issuer

    def start(
        self,
        client_id: str,
        username: str,
        srp_a: str,
        *,
        secret_hash_value: str | None = None,
        pool_id: str | None = None,
    ) -> Challenge:
        """USER_SRP_AUTH: the PASSWORD_VERIFIER challenge for USERNAME and SRP_A."""
        _check_username(username)
        a = srp.parse_hex(srp_a)
        if a is None:
            raise InvalidParameter("SRP_A must be a hexadecimal number.")
        if not srp.valid_a(a):
            raise InvalidParameter("SRP_A mod N cannot be 0.")
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self._client(repo, client_id, pool_id)
            self.issuer.check_secret_hash(client, [username], secret_hash_value)
            self.issuer.lockout(repo, client.pool_id, username, now)
            pool = repo.pool(client.pool_id)
            found = repo.user_by_username(client.pool_id, username)
            alias_pool = bool(pool and pool.username_attributes)
            chosen = self._secrets(client.pool_id, username, found, alias_pool)
            key = srp.server_key(chosen.verifier)
            block = self._seal(client, username, chosen, a, key, now, alias_pool)
        parameters = {
            "SALT": chosen.salt,
            "SRP_B": f"{key.B:x}",
            "SECRET_BLOCK": block,
            "USERNAME": chosen.user_id,
            "USER_ID_FOR_SRP": chosen.user_id,
        }
        return Challenge(PASSWORD_VERIFIER, parameters, None)

    def respond(
        self,
        client_id: str,
        username: str,
        claim: Claim,
        *,
        secret_hash_value: str | None = None,
        pool_id: str | None = None,
    ) -> UserTokens | Challenge:
        """PASSWORD_VERIFIER: check the proof; a wrong one counts towards lockout."""
        _check_username(username)
        sealed, signature = claim.secret_block, claim.signature
        moment = srp.parse_timestamp(claim.timestamp)
        if moment is None:
            raise InvalidParameter(BAD_TIMESTAMP)
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self._client(repo, client_id, pool_id)
            self.issuer.check_secret_hash(client, [username], secret_hash_value)
            block = self._open(sealed, client, now)
            names = (block.login, block.user_id, block.sub or "")
            named = username.lower() in (name.lower() for name in names)
            if not named or abs(moment.timestamp() - now) > TIMESTAMP_SKEW_SECONDS:
                raise NotAuthorized(BAD_CREDENTIALS)
            failures = self.issuer.lockout(repo, block.pool_id, block.login, now)
            if not repo.use_nonce(f"srp:{block.nonce}", block.expires_at, now):
                raise NotAuthorized(BAD_CREDENTIALS)
            # Looked up for decoys too (no sub matches ""), so both cost one query.
            user = repo.user_by_sub(block.sub or "")
            chosen = self._secrets(block.pool_id, block.login, user, block.alias_pool)
            session_key = srp.session_key(block.a, block.key, chosen.verifier)
            expected = srp.claim_signature(
                session_key or b"",
                block.pool_id,
                block.user_id,
                base64.b64decode(sealed),
                srp.format_timestamp(moment),
            )
            proven = hmac.compare_digest(expected.encode(), signature.encode())
            if not (proven and session_key and chosen.user is not None):
                failure = self.issuer.record_failure(failures, now)
            else:
                failures.count = 0
                if not chosen.user.enabled:
                    failure = NotAuthorized("User is disabled.")
                else:
                    return self.issuer.continue_sign_in(repo, client, chosen.user, now, ["pwd"])
        raise failure

    def _client(self, repo: Repository, client_id: str, pool_id: str | None) -> Client:
        client = self.issuer.client(repo, client_id, pool_id)
        if SRP_FLOW not in client.explicit_auth_flows:
            raise UnauthorizedClient(FLOW_NOT_ENABLED)
        return client

    def _secrets(
        self, pool_id: str, username: str, user: User | None, alias_pool: bool
    ) -> _Secrets:
        """The user's own salt and verifier, or the username's decoy ones.

        In pools where users sign in with their email (`UsernameAttributes`), a user's
        USER_ID_FOR_SRP is their generated username, a UUID; a decoy's is a UUID too.
        """
        verifier = self.core.passwords.srp_verifier(user) if user is not None else None
        if user is not None and user.srp_salt and verifier is not None:
            return _Secrets(user, srp.user_id_for(user.username), user.srp_salt, verifier)
        key = _decoy_key(self.core.settings)
        label = f"{pool_id}\x00{username.lower()}".encode()
        salt = hmac.new(key, b"salt\x00" + label, hashlib.sha256).digest()[:16]
        # 384 bytes of HMAC output, reduced mod N: a number like any verifier g^x mod N.
        stream = b"".join(
            hmac.new(key, b"verifier\x00" + bytes([i]) + label, hashlib.sha256).digest()
            for i in range(12)
        )
        verifier = int.from_bytes(stream) % srp.N
        user_id = srp.user_id_for(username)
        if alias_pool:
            seed = hmac.new(key, b"user-id\x00" + label, hashlib.sha256).digest()[:16]
            user_id = str(uuid.UUID(bytes=seed, version=4))
        return _Secrets(None, user_id, srp.pad_hex(int.from_bytes(salt)), verifier)

    def _seal(
        self,
        client: Client,
        login: str,
        chosen: _Secrets,
        a: int,
        key: srp.ServerKey,
        now: float,
        alias_pool: bool,
    ) -> str:
        payload = {
            "client": client.id,
            "pool": client.pool_id,
            "alias_pool": alias_pool,
            "login": login,
            "user": chosen.user_id,
            "sub": chosen.user.sub if chosen.user is not None else None,
            "a": f"{a:x}",
            "b": f"{key.b:x}",
            "B": f"{key.B:x}",
            "exp": now + session_seconds(client),
            "nonce": secrets.token_urlsafe(16),
        }
        sealed = self.core.sealer.seal(json.dumps(payload).encode(), _BLOCK_PURPOSE)
        return base64.b64encode(sealed).decode()

    def _open(self, sealed: str, client: Client, now: float) -> _Block:
        """The block when it is genuine, this client's and live; else a failed sign-in."""
        try:
            opened = self.core.sealer.open(base64.b64decode(sealed, validate=True), _BLOCK_PURPOSE)
            payload = json.loads(opened) if opened else None
            block = _Block(
                client_id=str(payload["client"]),
                pool_id=str(payload["pool"]),
                alias_pool=bool(payload["alias_pool"]),
                login=str(payload["login"]),
                user_id=str(payload["user"]),
                sub=str(payload["sub"]) if payload["sub"] else None,
                a=int(payload["a"], 16),
                key=srp.ServerKey(int(payload["b"], 16), int(payload["B"], 16)),
                expires_at=float(payload["exp"]),
                nonce=str(payload["nonce"]),
            )
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise NotAuthorized(BAD_CREDENTIALS) from None
        if block.client_id != client.id or block.pool_id != client.pool_id:
            raise NotAuthorized(BAD_CREDENTIALS)
        if block.expires_at <= now:
            raise NotAuthorized(BAD_CREDENTIALS)
        return block

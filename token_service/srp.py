"""Amazon Cognito's SRP-6a, server side: the math only (no store, no HTTP).

Cognito's variant, as its client libraries (amazon-cognito-identity-js, Amplify, pycognito)
compute it: the 3072-bit group of RFC 5054 with g = 2 and SHA-256, where every number that is
hashed is first written as `pad_hex` writes it (hex of even length, with a leading "00" when
the top bit is set, as a two's-complement positive), not padded to the length of N.

    k = H(pad(N) | pad(g))          u = H(pad(A) | pad(B))
    x = H(salt | H(poolName | userId | ":" | password))    v = g^x
    B = k*v + g^b                   S = (A * v^u)^b
    K = HKDF-SHA256(ikm = pad(S), salt = pad(u), info = "Caldera Derived Key")[:16]
    PASSWORD_CLAIM_SIGNATURE = Base64(HMAC-SHA256(K, poolName | userId | secret block | timestamp))

poolName is the pool id's part after "_". The timestamp is Cognito's
"EEE MMM d HH:mm:ss UTC yyyy" in English, the day of the month without a leading zero.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3D"
    "C2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9"
    "DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6B"
    "F12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB31"
    "43DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
_INFO = b"Caldera Derived Key"
_SALT_BYTES = 16
# The server's secret exponent: 256 bits, RFC 5054's minimum for b.
_SECRET_BYTES = 32
# Hex digits an SRP_A may have: the digits of N, and some leading zeros.
MAX_A_HEX_DIGITS = 1024
_HEX = re.compile(r"[0-9a-fA-F]+")

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TIMESTAMP = re.compile(
    rf"({'|'.join(_WEEKDAYS)}) ({'|'.join(_MONTHS)}) (\d{{1,2}}) "
    r"(\d{2}):(\d{2}):(\d{2}) UTC (\d{4})"
)


def pad_hex(value: int) -> str:
    """Hex of even length, "00"-prefixed when the top bit is set (Cognito's padHex)."""
    digits = f"{value:x}"
    if len(digits) % 2:
        digits = "0" + digits
    elif digits[0] in "89abcdef":
        digits = "00" + digits
    return digits


def _hash_int(*values: int) -> int:
    """H(pad(v1) | pad(v2) | ...) as an integer."""
    data = b"".join(bytes.fromhex(pad_hex(v)) for v in values)
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


K_MULTIPLIER = _hash_int(N, G)


def pool_name(pool_id: str) -> str:
    """The part of the pool id after "_", which Cognito's SRP hashes."""
    return pool_id.split("_", 1)[1] if "_" in pool_id else pool_id


def user_id_for(username: str) -> str:
    """USER_ID_FOR_SRP of a username: its lower-case form, which verifiers are derived over.

    Usernames match whatever their letter case, so a sign-in's USERNAME and the stored
    username have the same lower-case form: answering with it tells nobody whether the name
    exists (the stored spelling would, to a sign-in in another case).
    """
    return username.lower()


def _x(pool_id: str, user_id: str, password: str, salt: int) -> int:
    inner = hashlib.sha256(f"{pool_name(pool_id)}{user_id}:{password}".encode()).digest()
    return int.from_bytes(hashlib.sha256(bytes.fromhex(pad_hex(salt)) + inner).digest(), "big")


@dataclass(frozen=True)
class Verifier:
    """What the store keeps instead of anything SRP could use as a password: salt and g^x."""

    salt: str  # pad_hex form, as SALT is sent
    verifier: str  # pad_hex form


def derive_verifier(
    pool_id: str, user_id: str, password: str, salt: bytes | None = None
) -> Verifier:
    """The salt (random unless given) and verifier v = g^x mod N for this password."""
    salt_value = int.from_bytes(salt if salt is not None else secrets.token_bytes(_SALT_BYTES))
    v = pow(G, _x(pool_id, user_id, password, salt_value), N)
    return Verifier(salt=pad_hex(salt_value), verifier=pad_hex(v))


def parse_hex(text: str) -> int | None:
    """A positive hex number as the clients send it (no sign, prefix or spaces), else None."""
    if not _HEX.fullmatch(text) or len(text) > MAX_A_HEX_DIGITS:
        return None
    return int(text, 16)


def valid_a(a: int) -> bool:
    """SRP-6a's check of the client's public value: A mod N must not be 0."""
    return a % N != 0


@dataclass(frozen=True)
class ServerKey:
    """The server's ephemeral pair: secret b and public B = k*v + g^b mod N."""

    b: int
    B: int


def server_key(verifier: int) -> ServerKey:
    """A fresh (b, B) for this verifier; B mod N is never 0."""
    while True:
        b = int.from_bytes(secrets.token_bytes(_SECRET_BYTES))
        big_b = (K_MULTIPLIER * verifier + pow(G, b, N)) % N
        if big_b != 0:
            return ServerKey(b, big_b)


def session_key(a: int, key: ServerKey, verifier: int) -> bytes | None:
    """K, the 16 bytes both sides derive; None when u = 0 (the exchange must be refused)."""
    u = _hash_int(a, key.B)
    if u == 0:
        return None
    s = pow(a * pow(verifier, u, N), key.b, N)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=16, salt=bytes.fromhex(pad_hex(u)), info=_INFO)
    return hkdf.derive(bytes.fromhex(pad_hex(s)))


def claim_signature(
    key: bytes, pool_id: str, user_id: str, secret_block: bytes, timestamp: str
) -> str:
    """PASSWORD_CLAIM_SIGNATURE as the client must send it."""
    message = pool_name(pool_id).encode() + user_id.encode() + secret_block + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def format_timestamp(moment: datetime) -> str:
    """Cognito's TIMESTAMP: "Tue Dec 1 09:05:03 UTC 2026" (day not zero-padded)."""
    moment = moment.astimezone(UTC)
    return (
        f"{_WEEKDAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day} "
        f"{moment:%H:%M:%S} UTC {moment.year}"
    )


def parse_timestamp(text: str) -> datetime | None:
    """The moment a TIMESTAMP names, or None when it is not in Cognito's format.

    The weekday is read but not checked; the signature is computed over the canonical
    spelling of the moment (`format_timestamp`), so a zero-padded day or a wrong weekday
    parses but does not verify, as with Cognito.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    _, month, day, hour, minute, second, year = match.groups()
    try:
        return datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=UTC,
        )
    except ValueError:
        return None

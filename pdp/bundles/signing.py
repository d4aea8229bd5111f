"""Bundle signatures as OPA writes and checks them (`.signatures.json`).

`.signatures.json` is `{"signatures": ["<compact JWS>"]}`: header `{"alg", "kid"}`, payload
`{"files": [{"name", "hash", "algorithm": "SHA-256"}, ...], "keyid"}` listing every file of the
bundle but the signature file itself, `.manifest` included. OPA hashes its structured documents
(`data.json`, `data.yaml`, `.manifest`) over a canonical JSON form, so that whitespace and key
order do not matter, and every other file over its bytes; `file_digest` does the same, so
OPA-signed bundles verify here and ours in OPA (docs/bundles.md has the details).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pdp.bundles.archive import MANIFEST, SIGNATURES, BundleFiles, BundleFormatError, DataLoader

# The algorithms `pdp bundle build` signs with, and those accepted on verification (OPA's
# asymmetric ones; HMAC would put the signing secret on every replica).
SIGNING_ALGORITHMS = ("RS256", "ES256")
VERIFY_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
_HASHES: dict[str, Callable[[], Any]] = {
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}
# OPA's bundle.IsStructuredDoc: these are hashed over their canonical JSON form.
_STRUCTURED = frozenset({"data.json", "data.yaml", MANIFEST, SIGNATURES})
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class SignatureError(Exception):
    """A bundle failed signature verification; `reason` is a stable code, the message names
    the file ("unsigned", "unknown_key_id", "bad_signature", "unsupported_algorithm",
    "file_mismatch", "missing_file", "extra_file")."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SignatureStatus:
    """ "verified", "unsigned" (no keys, no signature) or "signed_unverified" (no keys)."""

    status: str
    key_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"status": self.status, "key_id": self.key_id}


# --- canonical JSON (Go's encoding/json, keys sorted, no HTML escaping) ----------------------


class _Number(str):
    """A JSON number kept as written: OPA decodes with UseNumber and re-emits the literal."""


def _go_float(value: float) -> str:
    """A float as Go's encoding/json writes it (shortest digits; exponent only when tiny/huge)."""
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    if 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(repr(value)), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, exponent = repr(value).split("e")
    mantissa = mantissa.removesuffix(".0")
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def _go_string(text: str) -> str:
    """Go escapes U+2028/U+2029 even without HTML escaping and writes invalid text as U+FFFD."""
    encoded = json.dumps(_LONE_SURROGATE.sub("\ufffd", text), ensure_ascii=False)
    return encoded.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _canonical(value: Any) -> str:
    if isinstance(value, dict):
        items = (f"{_go_string(k)}:{_canonical(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, str):
        return _go_string(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def _structured_value(content: bytes) -> Any:
    """What OPA's util.Unmarshal reads: JSON with numbers as written, else YAML."""
    text = content.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace")
    try:
        return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_reject)
    except ValueError:
        return yaml.load(text, Loader=DataLoader)  # a SafeLoader


def _reject(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def canonical_json(name: str, content: bytes) -> bytes:
    """The canonical form OPA hashes a structured document over; BundleFormatError if invalid."""
    try:
        return _canonical(_structured_value(content)).encode("utf-8")
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        raise BundleFormatError(f"{name} is not valid data: {exc}") from None


def file_digest(name: str, content: bytes, *, algorithm: str = "SHA-256") -> str:
    """The hex digest OPA signs for a bundle file: canonical JSON for structured documents."""
    if PurePosixPath(name).name in _STRUCTURED:
        content = canonical_json(name, content)
    return _HASHES[algorithm](content).hexdigest()


def bundle_digest(data: bytes) -> str:
    """The digest of a whole archive, as the bundle store and `ETag` name it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- keys -------------------------------------------------------------------------------------


def load_private_key(pem: bytes, algorithm: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """A PEM private key fit for `algorithm`; ValueError says what is wrong with it."""
    if algorithm not in SIGNING_ALGORITHMS:
        raise ValueError(f"signing algorithm {algorithm!r} is not one of {SIGNING_ALGORITHMS}")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from None
    if algorithm == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        return key
    if (
        algorithm == "ES256"
        and isinstance(key, ec.EllipticCurvePrivateKey)
        and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    needs = "an RSA key" if algorithm == "RS256" else "an EC P-256 key"
    raise ValueError(f"{algorithm} needs {needs}, not a {type(key).__name__.lstrip('_')}")


def load_public_key(pem: str | bytes) -> Any:
    """A PEM public key (RSA or EC); ValueError when it is not one. Check configured keys early."""
    raw = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError(f"{type(key).__name__.lstrip('_')} keys cannot verify bundles")
    return key


# --- signing and verifying --------------------------------------------------------------------


def sign_files(
    files: BundleFiles, private_key_pem: bytes, key_id: str, algorithm: str = "RS256"
) -> bytes:
    """The `.signatures.json` for `files`: one JWS over every file's digest, as `opa build`
    `--signing-key` writes it (the key id both in the header and, deprecated, in the payload)."""
    key = load_private_key(private_key_pem, algorithm)
    entries = [
        {"name": name, "hash": file_digest(name, files[name]), "algorithm": "SHA-256"}
        for name in sorted(files)
        if name != SIGNATURES
    ]
    payload = json.dumps({"files": entries, "keyid": key_id}, separators=(",", ":"))
    token = jwt.api_jws.encode(
        payload.encode(), key, algorithm=algorithm, headers={"kid": key_id, "typ": None}
    )
    return json.dumps({"signatures": [token]}, indent=2).encode() + b"\n"


def _decode_signatures(content: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The one JWS of a `.signatures.json`, its header and its (unverified) payload."""
    try:
        document = json.loads(content)
        signatures = document["signatures"]
        if not isinstance(signatures, list) or len(signatures) != 1:
            raise ValueError("expected exactly one signature")
        token = signatures[0]
        header = jwt.get_unverified_header(token)
        payload = json.loads(
            jwt.api_jws.decode_complete(token, options={"verify_signature": False})["payload"]
        )
        if not isinstance(payload, dict):
            raise ValueError("the payload is not a JSON object")
    except (ValueError, KeyError, TypeError, jwt.PyJWTError) as exc:
        raise SignatureError("bad_signature", f"{SIGNATURES} is malformed: {exc}") from None
    return token, header, payload


def _listed_files(payload: dict[str, Any]) -> dict[str, dict[str, str]]:
    entries = payload.get("files")
    listed: dict[str, dict[str, str]] = {}
    if not isinstance(entries, list):
        raise SignatureError("bad_signature", f"{SIGNATURES}: the payload lists no files")
    for entry in entries:
        fields = ("name", "hash", "algorithm")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            raise SignatureError("bad_signature", f"{SIGNATURES}: malformed file entry {entry!r}")
        if entry["name"] in listed:
            raise SignatureError("bad_signature", f"{SIGNATURES}: {entry['name']} listed twice")
        listed[entry["name"]] = entry
    return listed


def verify_files(files: BundleFiles, public_keys: Mapping[str, str]) -> SignatureStatus:
    """Check `files` against their signature with `public_keys` (key id -> PEM).

    With no keys configured a bundle is reported "unsigned" or "signed_unverified"; with keys
    every file but the signature file must be listed with its hash, none listed may be missing,
    and the JWS must verify with the key its `kid` (or payload `keyid`) names. The first
    problem raises SignatureError.
    """
    if SIGNATURES not in files:
        if public_keys:
            raise SignatureError("unsigned", f"{SIGNATURES} is missing: the bundle is not signed")
        return SignatureStatus("unsigned")
    token, header, payload = _decode_signatures(files[SIGNATURES])
    key_id = header.get("kid") or payload.get("keyid")
    if not isinstance(key_id, str) or not key_id:
        key_id = None
    if not public_keys:
        return SignatureStatus("signed_unverified", key_id)
    algorithm = header.get("alg")
    if algorithm not in VERIFY_ALGORITHMS:
        raise SignatureError(
            "unsupported_algorithm", f"{SIGNATURES}: signature algorithm {algorithm!r}"
        )
    if key_id is None or key_id not in public_keys:
        raise SignatureError("unknown_key_id", f"{SIGNATURES}: no key configured for {key_id!r}")
    try:
        jwt.api_jws.decode(token, load_public_key(public_keys[key_id]), algorithms=[algorithm])
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise SignatureError(
            "bad_signature",
            f"{SIGNATURES}: the signature does not verify with key {key_id!r} ({exc})",
        ) from None
    listed = _listed_files(payload)
    for name in sorted(files):
        if name == SIGNATURES:
            continue
        entry = listed.pop(name, None)
        if entry is None:
            raise SignatureError("extra_file", f"{name}: not listed in the bundle signature")
        if entry["algorithm"] not in _HASHES:
            raise SignatureError(
                "unsupported_algorithm", f"{name}: hash algorithm {entry['algorithm']!r}"
            )
        if file_digest(name, files[name], algorithm=entry["algorithm"]) != entry["hash"].lower():
            raise SignatureError("file_mismatch", f"{name}: content does not match its signed hash")
    if listed:
        missing = min(listed)
        raise SignatureError("missing_file", f"{missing}: signed but missing from the bundle")
    return SignatureStatus("verified", key_id)


def require_trusted(files: BundleFiles, public_keys: Mapping[str, str], revision: str) -> None:
    """Refuse to serve `files` unless `public_keys` (this replica's) verify them. A shared
    store may hold what a replica with other keys, or none, published; without keys this
    replica serves what it is given, as it publishes it. SignatureError names the revision."""
    if not public_keys:
        return
    try:
        verify_files(files, public_keys)
    except SignatureError as exc:
        raise SignatureError(
            exc.reason,
            f"revision {revision!r} is not signed by a key this replica trusts ({exc.reason}: {exc})",
        ) from None

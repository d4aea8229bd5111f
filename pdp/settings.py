"""Configuration, read once from the environment (flags override a few of these)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./var/pdp.db"
DEFAULT_ENTRYPOINT = "data.authz.decision"


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer whose tokens the PDP accepts, and where to find its signing keys."""

    issuer: str
    jwks_uri: str
    # When set, only tokens issued to these app clients are accepted.
    client_ids: tuple[str, ...] = ()


class SettingsError(ValueError):
    """An environment variable holds a value the PDP cannot use."""


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None


def parse_trusted_issuers(raw: str) -> tuple[TrustedIssuer, ...]:
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"PDP_TRUSTED_ISSUERS is not valid JSON: {exc.msg}") from None
    if not isinstance(items, list):
        raise SettingsError("PDP_TRUSTED_ISSUERS must be a JSON list")
    issuers = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("issuer"), str):
            raise SettingsError(f"PDP_TRUSTED_ISSUERS[{index}] needs an 'issuer' string")
        jwks_uri = item.get("jwks_uri") or item["issuer"].rstrip("/") + "/.well-known/jwks.json"
        client_ids = item.get("client_ids") or []
        if not isinstance(client_ids, list) or not all(isinstance(c, str) for c in client_ids):
            raise SettingsError(f"PDP_TRUSTED_ISSUERS[{index}].client_ids must be strings")
        issuers.append(
            TrustedIssuer(issuer=item["issuer"], jwks_uri=jwks_uri, client_ids=tuple(client_ids))
        )
    return tuple(issuers)


def _positive(value: float, name: str) -> float:
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, not {value:g}")
    return value


def parse_verification_keys(raw: str) -> dict[str, str]:
    """`PDP_BUNDLE_VERIFICATION_KEYS`: a JSON object, key id -> PEM public key."""
    try:
        keys = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"PDP_BUNDLE_VERIFICATION_KEYS is not valid JSON: {exc.msg}") from None
    if not isinstance(keys, dict) or not all(
        isinstance(kid, str) and kid and isinstance(pem, str) and "-----BEGIN" in pem
        for kid, pem in keys.items()
    ):
        raise SettingsError("PDP_BUNDLE_VERIFICATION_KEYS must map key ids to PEM public keys")
    return keys


def parse_api_keys(raw: str) -> tuple[tuple[str, str], ...]:
    """`PDP_API_KEYS`: a JSON object, PEP key id -> SHA-256 hex digest of its API key."""
    try:
        keys = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"PDP_API_KEYS is not valid JSON: {exc.msg}") from None
    if not isinstance(keys, dict) or not all(
        isinstance(kid, str)
        and kid
        and isinstance(digest, str)
        and len(digest) == 64
        and all(c in "0123456789abcdefABCDEF" for c in digest)
        for kid, digest in keys.items()
    ):
        raise SettingsError("PDP_API_KEYS must map key ids to SHA-256 hex digests of the keys")
    return tuple((kid, digest.lower()) for kid, digest in keys.items())


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    bundle: Path | None = None
    trusted_issuers: tuple[TrustedIssuer, ...] = ()
    require_pep_auth: bool = True
    decision_entrypoint: str = DEFAULT_ENTRYPOINT
    # Largest request body accepted on any endpoint, in bytes.
    max_body_bytes: int = 1_048_576
    # Deepest nesting of arrays and objects accepted in a JSON body or `?input=`.
    max_json_depth: int = 64
    # Bound of the in-memory decision-log queue; beyond it records are dropped and counted.
    decision_log_queue: int = 10_000
    # Local spool of decision records the database does not have yet (docs/reliability.md),
    # its bound in bytes (beyond it records are dropped and counted) and how often it is
    # fsynced (what a machine crash can lose; a killed process loses none of it).
    decision_log_spool_dir: Path = Path("var/decision-spool")
    decision_log_spool_max_bytes: int = 256 * 1024 * 1024
    decision_log_fsync_seconds: float = 1.0
    # An evaluation slower than this is abandoned and denied with reason `timeout`.
    eval_timeout_seconds: float = 1.0
    # How often a replica checks the shared store for directory changes made elsewhere.
    directory_poll_seconds: float = 1.0
    # Seconds a fetched JWKS is trusted before it is fetched again.
    jwks_cache_seconds: float = 300.0
    # PEP API keys (key id, SHA-256 hex of the key); the keys themselves are never stored.
    api_keys: tuple[tuple[str, str], ...] = ()
    # Key id -> PEM public key; when set, only bundles signed by one of them are published.
    bundle_verification_keys: Mapping[str, str] = field(default_factory=dict)
    # Largest bundle accepted, compressed (the upload) and decompressed, in bytes.
    bundle_max_bytes: int = 64 * 1024 * 1024
    # The published bundle this replica serves (unless `bundle` names one on disk).
    bundle_name: str = "main"
    # How often a replica checks the shared store for a new active revision.
    bundle_poll_seconds: float = 1.0
    # Decisions remembered per process (LRU) for bundles that declare a decision-cache time
    # granularity; 0 turns the cache off.
    decision_cache_entries: int = 10_000
    # Threads per process that run evaluations; 0 = two per core, at least four.
    decision_threads: int = 0
    # Bound of every database call: connecting, each statement, waiting for a pooled
    # connection, and an admin request's wait for its store work (then 503 with Retry-After).
    database_timeout_seconds: float = 5.0
    # The console's sign-in (docs/console.md): the pool issuer whose hosted login it uses and
    # its public app client there; without both, the console asks for a pasted token.
    console_issuer: str | None = None
    console_client_id: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        bundle = os.environ.get("PDP_BUNDLE") or None
        return cls(
            database_url=os.environ.get("PDP_DATABASE_URL") or DEFAULT_DATABASE_URL,
            bundle=Path(bundle) if bundle else None,
            trusted_issuers=parse_trusted_issuers(os.environ.get("PDP_TRUSTED_ISSUERS") or "[]"),
            require_pep_auth=_bool("PDP_REQUIRE_PEP_AUTH", True),
            decision_entrypoint=os.environ.get("PDP_DECISION_ENTRYPOINT") or DEFAULT_ENTRYPOINT,
            max_body_bytes=_int("PDP_MAX_BODY_BYTES", 1_048_576),
            max_json_depth=_int("PDP_MAX_JSON_DEPTH", 64),
            decision_log_queue=_int("PDP_DECISION_LOG_QUEUE", 10_000),
            decision_log_spool_dir=Path(
                os.environ.get("PDP_DECISION_LOG_SPOOL_DIR") or "var/decision-spool"
            ),
            decision_log_spool_max_bytes=_int(
                "PDP_DECISION_LOG_SPOOL_MAX_BYTES", 256 * 1024 * 1024
            ),
            decision_log_fsync_seconds=_float("PDP_DECISION_LOG_FSYNC_SECONDS", 1.0),
            eval_timeout_seconds=_float("PDP_EVAL_TIMEOUT_SECONDS", 1.0),
            directory_poll_seconds=_float("PDP_DIRECTORY_POLL_SECONDS", 1.0),
            jwks_cache_seconds=_float("PDP_JWKS_CACHE_SECONDS", 300.0),
            api_keys=parse_api_keys(os.environ.get("PDP_API_KEYS") or "{}"),
            bundle_verification_keys=parse_verification_keys(
                os.environ.get("PDP_BUNDLE_VERIFICATION_KEYS") or "{}"
            ),
            bundle_max_bytes=_int("PDP_BUNDLE_MAX_BYTES", 64 * 1024 * 1024),
            bundle_name=os.environ.get("PDP_BUNDLE_NAME") or "main",
            bundle_poll_seconds=_positive(
                _float("PDP_BUNDLE_POLL_SECONDS", 1.0), "PDP_BUNDLE_POLL_SECONDS"
            ),
            decision_cache_entries=_int("PDP_DECISION_CACHE_ENTRIES", 10_000),
            decision_threads=_int("PDP_DECISION_THREADS", 0),
            database_timeout_seconds=_positive(
                _float("PDP_DATABASE_TIMEOUT_SECONDS", 5.0), "PDP_DATABASE_TIMEOUT_SECONDS"
            ),
            console_issuer=os.environ.get("PDP_CONSOLE_ISSUER") or None,
            console_client_id=os.environ.get("PDP_CONSOLE_CLIENT_ID") or None,
        )

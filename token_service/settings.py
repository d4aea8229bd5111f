"""Configuration, read once from the environment; `serve` flags override host and port."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///./var/token-service.db"
DEFAULT_KEY_FILE = "./var/token-service.key"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9229
# The largest legitimate body (a pool with 50 custom attributes, a user with all of them at
# Cognito's 2048-character value limit) is far below 1 MiB.
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_MAIL_FROM = "no-reply@localhost"


class SettingsError(ValueError):
    """An environment variable holds a value the token service cannot use."""


def _int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Base of every issuer (`<base>/<pool_id>`); empty means the service's own URL.
    issuer_base: str = ""
    region: str = "us-east-1"
    # Credentials that admin (SigV4-signed) Cognito operations must be signed with.
    admin_access_key_id: str = ""
    admin_secret_access_key: str = ""
    # 32-byte key (urlsafe base64) that seals client secrets and private keys at rest.
    # When unset, one is generated once into `key_file`.
    encryption_key: str = ""
    key_file: str = DEFAULT_KEY_FILE
    # Argon2id cost. The defaults are RFC 9106's second recommended setting (64 MiB).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Failed sign-ins (per pool and username) before the username is locked, and for how long.
    lockout_threshold: int = 5
    lockout_seconds: int = 900
    # Largest clock difference accepted in a SigV4 signature's X-Amz-Date.
    sigv4_max_skew_seconds: int = 300
    # Largest request body read; larger ones get a 413 before they are read.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Message delivery: SMTP server URL (smtp://, smtps://; empty = the outbox table only),
    # the From address, and how long one SMTP exchange may take.
    smtp_url: str = ""
    mail_from: str = DEFAULT_MAIL_FROM
    smtp_timeout_seconds: int = 10
    # One-time codes: lifetimes (Cognito's: 24 h for sign-up and attribute verification,
    # 1 h for a password reset) and the wrong guesses after which a code is void.
    signup_code_seconds: int = 86400
    reset_code_seconds: int = 3600
    code_max_attempts: int = 5
    # Codes one user may be sent per purpose within any hour, and how long sent and failed
    # outbox records are kept.
    code_requests_per_hour: int = 5
    outbox_retention_days: int = 30

    @property
    def service_url(self) -> str:
        """Where this process serves: the endpoints it advertises."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def issuer(self, pool_id: str) -> str:
        """`<base>/<pool_id>`; the base is configured, or this service's own URL."""
        return f"{(self.issuer_base or self.service_url).rstrip('/')}/{pool_id}"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ.get
        return cls(
            database_url=env("TOKEN_SERVICE_DATABASE_URL") or DEFAULT_DATABASE_URL,
            host=env("TOKEN_SERVICE_HOST") or DEFAULT_HOST,
            port=_int("TOKEN_SERVICE_PORT", DEFAULT_PORT, minimum=1),
            issuer_base=env("TOKEN_SERVICE_ISSUER_BASE") or "",
            region=env("TOKEN_SERVICE_REGION") or "us-east-1",
            admin_access_key_id=env("TOKEN_SERVICE_ADMIN_ACCESS_KEY_ID") or "",
            admin_secret_access_key=env("TOKEN_SERVICE_ADMIN_SECRET_ACCESS_KEY") or "",
            encryption_key=env("TOKEN_SERVICE_ENCRYPTION_KEY") or "",
            key_file=env("TOKEN_SERVICE_KEY_FILE") or DEFAULT_KEY_FILE,
            argon2_time_cost=_int("TOKEN_SERVICE_ARGON2_TIME_COST", 3, minimum=1),
            argon2_memory_kib=_int("TOKEN_SERVICE_ARGON2_MEMORY_KIB", 65536, minimum=8),
            argon2_parallelism=_int("TOKEN_SERVICE_ARGON2_PARALLELISM", 4, minimum=1),
            lockout_threshold=_int("TOKEN_SERVICE_LOCKOUT_THRESHOLD", 5, minimum=1),
            lockout_seconds=_int("TOKEN_SERVICE_LOCKOUT_SECONDS", 900, minimum=1),
            sigv4_max_skew_seconds=_int("TOKEN_SERVICE_SIGV4_MAX_SKEW_SECONDS", 300, minimum=1),
            max_body_bytes=_int(
                "TOKEN_SERVICE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, minimum=1024
            ),
            smtp_url=env("TOKEN_SERVICE_SMTP_URL") or "",
            mail_from=env("TOKEN_SERVICE_MAIL_FROM") or DEFAULT_MAIL_FROM,
            smtp_timeout_seconds=_int("TOKEN_SERVICE_SMTP_TIMEOUT_SECONDS", 10, minimum=1),
            signup_code_seconds=_int("TOKEN_SERVICE_SIGNUP_CODE_SECONDS", 86400, minimum=1),
            reset_code_seconds=_int("TOKEN_SERVICE_RESET_CODE_SECONDS", 3600, minimum=1),
            code_max_attempts=_int("TOKEN_SERVICE_CODE_MAX_ATTEMPTS", 5, minimum=1),
            code_requests_per_hour=_int("TOKEN_SERVICE_CODE_REQUESTS_PER_HOUR", 5, minimum=1),
            outbox_retention_days=_int("TOKEN_SERVICE_OUTBOX_RETENTION_DAYS", 30, minimum=1),
        )

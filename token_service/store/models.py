"""Tables of the token service. Times are UNIX seconds (float), as Cognito's JSON API sends them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Pool(Base):
    __tablename__ = "user_pools"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    region: Mapped[str] = mapped_column(String(32))
    password_policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Full names of the custom attributes the pool accepts, e.g. "custom:tenant_id".
    custom_attributes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Client(Base):
    __tablename__ = "app_clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    # AES-GCM sealed secret (SECRET_HASH verification needs the secret itself); None = public.
    secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    explicit_auth_flows: Mapped[list[str]] = mapped_column(JSON)
    oauth_flows: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    access_token_seconds: Mapped[int] = mapped_column(Integer)
    id_token_seconds: Mapped[int] = mapped_column(Integer)
    refresh_token_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class ResourceServer(Base):
    __tablename__ = "resource_servers"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(256), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    # [{"ScopeName": ..., "ScopeDescription": ...}]
    scopes: Mapped[list[dict[str, str]]] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("pool_id", "username_key"),)

    sub: Mapped[str] = mapped_column(String(36), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), index=True)
    username: Mapped[str] = mapped_column(String(128))
    # Usernames match case-insensitively, as in new Cognito pools.
    username_key: Mapped[str] = mapped_column(String(128))
    # Every attribute but `sub`, e.g. {"email": ..., "email_verified": "true", "custom:x": ...}.
    attributes: Mapped[dict[str, str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Group(Base):
    __tablename__ = "groups"

    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    precedence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class Membership(Base):
    __tablename__ = "group_memberships"

    pool_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_sub: Mapped[str] = mapped_column(ForeignKey("users.sub"), primary_key=True)


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("user_pools.id"), index=True)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    public_jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Float)
    # Set at rotation: after this moment no token the key signed is still valid.
    retire_after: Mapped[float | None] = mapped_column(Float, nullable=True)


class RefreshToken(Base):
    """One sign-in: its refresh token (hashed) and the origin_jti its access tokens carry."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin_jti: Mapped[str] = mapped_column(String(36), unique=True)
    pool_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(64))
    user_sub: Mapped[str] = mapped_column(String(36), index=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class SignInFailures(Base):
    """Failed sign-ins per pool and username, whether or not the user exists (no enumeration)."""

    __tablename__ = "sign_in_failures"

    pool_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[float] = mapped_column(Float)

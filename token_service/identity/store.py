"""Queries on the identity tables, over the transaction's repository session."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, or_, select

from token_service.errors import ResourceNotFound
from token_service.store.models import (
    Identity,
    IdentityLogin,
    IdentityPool,
    IdentitySigningKey,
)
from token_service.store.repositories import Repository


def require_pool(repo: Repository, pool_id: str) -> IdentityPool:
    pool = repo.session.get(IdentityPool, pool_id)
    if pool is None:
        raise ResourceNotFound(f"IdentityPool '{pool_id}' not found.")
    return pool


def pools(repo: Repository) -> Sequence[IdentityPool]:
    query = select(IdentityPool).order_by(IdentityPool.created_at, IdentityPool.id)
    return repo.session.scalars(query).all()


def require_identity(repo: Repository, identity_id: str, pool_id: str | None = None) -> Identity:
    """The identity, when it exists (in `pool_id`, when given)."""
    identity = repo.session.get(Identity, identity_id)
    if identity is None or (pool_id is not None and identity.identity_pool_id != pool_id):
        raise ResourceNotFound(f"Identity '{identity_id}' not found.")
    return identity


def identities(repo: Repository, pool_id: str) -> Sequence[Identity]:
    query = select(Identity).where(Identity.identity_pool_id == pool_id)
    return repo.session.scalars(query.order_by(Identity.created_at, Identity.id)).all()


def login(repo: Repository, pool_id: str, provider: str, login_id: str) -> IdentityLogin | None:
    return repo.session.get(IdentityLogin, (pool_id, provider, login_id))


def logins_of(
    repo: Repository, identity_id: str, provider: str | None = None
) -> list[IdentityLogin]:
    """The identity's logins (of one provider, when given), oldest first."""
    query = select(IdentityLogin).where(IdentityLogin.identity_id == identity_id)
    if provider is not None:
        query = query.where(IdentityLogin.provider == provider)
    order = (IdentityLogin.created_at, IdentityLogin.provider, IdentityLogin.login_id)
    return list(repo.session.scalars(query.order_by(*order)).all())


def delete_identity(repo: Repository, identity: Identity) -> None:
    repo.session.execute(delete(IdentityLogin).where(IdentityLogin.identity_id == identity.id))
    repo.delete(identity)


def delete_pool(repo: Repository, pool: IdentityPool) -> None:
    """The pool, its identities and their logins."""
    for table in (IdentityLogin, Identity):
        repo.session.execute(delete(table).where(table.identity_pool_id == pool.id))
    repo.delete(pool)


# the identity issuer's signing keys
def signing_keys(repo: Repository) -> Sequence[IdentitySigningKey]:
    query = select(IdentitySigningKey).order_by(IdentitySigningKey.created_at)
    return repo.session.scalars(query).all()


def active_signing_key(repo: Repository) -> IdentitySigningKey | None:
    query = select(IdentitySigningKey).where(IdentitySigningKey.active)
    return repo.session.scalars(query).first()


def published_signing_keys(repo: Repository, now: float) -> Sequence[IdentitySigningKey]:
    """The signer and the keys not yet retired, newest first."""
    query = select(IdentitySigningKey).where(
        or_(IdentitySigningKey.retire_after.is_(None), IdentitySigningKey.retire_after > now)
    )
    return repo.session.scalars(query.order_by(IdentitySigningKey.created_at.desc())).all()


def signing_key(repo: Repository, kid: str) -> IdentitySigningKey | None:
    return repo.session.get(IdentitySigningKey, kid)

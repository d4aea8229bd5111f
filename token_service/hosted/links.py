"""Partner sign-in links: a partner that signed its user in sends them here with a short JWT.

`GET /{pool_id}/auth/jwt/{token}?<authorization request>`: the query is an ordinary
authorization request (client_id, redirect_uri, response_type=code, state, PKCE, ...), and
the token is `{"iat", "exp", "identity": <sub>}` signed HS256 with a secret issued to the
partner for that app client. A good link starts a hosted session (amr `["partner"]`) and
goes on to the client's callback with a code, exactly as a sign-in at the login page would.

A link is refused unless: the header's alg is HS256 (and its `kid`, when given, names one
of the client's live secrets); the signature verifies under a live secret of the client;
`exp` and `iat` are numbers, `exp` is in the future, `iat` is not (30 s of clock leeway), and
`exp - iat` is at most the secret's maximum; the identity is a user of the pool that is
enabled and CONFIRMED or invited (FORCE_CHANGE_PASSWORD); and the token was never used
before. Every refusal looks the same to the browser; the reason is only in the event record.
Secrets are 32 random bytes, sealed at rest, shown once at creation or rotation.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy import select

from token_service import events
from token_service.admin.base import LOWER_ALNUM, random_string
from token_service.core import Core
from token_service.errors import InvalidParameter, ResourceNotFound, TokenServiceError
from token_service.events import record
from token_service.hosted.authorize import RedirectError, UntrustedRequest
from token_service.hosted.login import HostedLogin
from token_service.hosted.outcomes import Redirect
from token_service.hosted.visit import Visit
from token_service.issue import token_hash
from token_service.store.models import Client, PartnerSecret
from token_service.store.repositories import Repository

BAD_LINK = "This link is invalid or expired."
DEFAULT_MAX_SECONDS = 300
MAX_SECONDS_LIMIT = 3600
CLOCK_LEEWAY = 30
LINK_AMR = ["partner"]
SIGNABLE_STATUSES = ("CONFIRMED", "FORCE_CHANGE_PASSWORD")
_PURPOSE = "partner-secret"


class BadLink(Exception):
    """A link that must not sign anyone in; `reason` is for the event record only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedSecret:
    """A partner secret as created or rotated: the only time `secret` is shown."""

    row: PartnerSecret
    secret: str


def secret_view(row: PartnerSecret) -> dict[str, Any]:
    return {
        "id": row.id,
        "pool_id": row.pool_id,
        "client_id": row.client_id,
        "name": row.name,
        "max_link_seconds": row.max_link_seconds,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
    }


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class PartnerLinks:
    def __init__(self, core: Core, login: HostedLogin) -> None:
        self.core = core
        self.login = login

    # secrets (the CLI)
    def create(self, pool_id: str, client_id: str, name: str, max_seconds: int) -> IssuedSecret:
        if not name or len(name) > 128:
            raise InvalidParameter("--name must be 1 to 128 characters.")
        if not 1 <= max_seconds <= MAX_SECONDS_LIMIT:
            raise InvalidParameter(f"--max-link-seconds must be 1 to {MAX_SECONDS_LIMIT}.")
        with self.core.store.transaction() as repo:
            client = repo.client(client_id)
            if client is None or client.pool_id != pool_id:
                raise ResourceNotFound(f"User pool client {client_id} does not exist.")
            return self._issue(repo, client.pool_id, client.id, name, max_seconds)

    def rotate(self, pool_id: str, secret_id: str) -> IssuedSecret:
        """A new secret for the same partner and client; the old one stops working now."""
        with self.core.store.transaction() as repo:
            old = self._live(repo, pool_id, secret_id)
            old.revoked_at = self.core.clock()
            return self._issue(repo, old.pool_id, old.client_id, old.name, old.max_link_seconds)

    def revoke(self, pool_id: str, secret_id: str) -> PartnerSecret:
        with self.core.store.transaction() as repo:
            row = self._live(repo, pool_id, secret_id)
            row.revoked_at = self.core.clock()
            return row

    def list(self, pool_id: str) -> Sequence[PartnerSecret]:
        with self.core.store.transaction() as repo:
            query = select(PartnerSecret).where(PartnerSecret.pool_id == pool_id)
            return repo.session.scalars(query.order_by(PartnerSecret.created_at)).all()

    def _issue(
        self, repo: Repository, pool_id: str, client_id: str, name: str, max_seconds: int
    ) -> IssuedSecret:
        secret = secrets.token_urlsafe(32)
        row = PartnerSecret(
            id=random_string(LOWER_ALNUM, 20),
            pool_id=pool_id,
            client_id=client_id,
            name=name,
            secret_sealed=b"",
            max_link_seconds=max_seconds,
            created_at=self.core.clock(),
        )
        row.secret_sealed = self.core.sealer.seal(secret.encode(), f"{_PURPOSE}:{row.id}")
        repo.add(row)
        return IssuedSecret(row, secret)

    @staticmethod
    def _live(repo: Repository, pool_id: str, secret_id: str) -> PartnerSecret:
        row = repo.session.get(PartnerSecret, secret_id)
        if row is None or row.pool_id != pool_id or row.revoked_at is not None:
            raise ResourceNotFound(f"Partner secret {secret_id} does not exist or is revoked.")
        return row

    # the link
    def follow(
        self, pool_id: str, token: str, items: Sequence[tuple[str, str]], visit: Visit
    ) -> Redirect:
        """Sign in with a partner's link, or BadLink (recorded) for any reason at all."""
        try:
            request, pool = self.login.request(items)
        except (UntrustedRequest, RedirectError, TokenServiceError):
            self._refused(visit, pool_id, None, "request")
            raise BadLink("request") from None
        client = request.client
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            try:
                if pool.id != pool_id:
                    raise BadLink("pool")
                claims = self._verify(repo, client, token, now)
                user = repo.user_by_sub(str(claims.get("identity", "")))
                if user is None or user.pool_id != pool.id:
                    raise BadLink("identity")
                if not user.enabled or user.status not in SIGNABLE_STATUSES:
                    raise BadLink("user")
                used = token_hash(token)
                if not repo.use_nonce(f"partner-link:{used}", float(claims["exp"]), now):
                    raise BadLink("replayed")
            except BadLink as refused:
                failure = refused
            else:
                record(
                    repo,
                    now,
                    visit,
                    pool.id,
                    events.LINK,
                    events.PASS,
                    client_id=client.id,
                    user_sub=user.sub,
                )
                return self.login.signed_in(
                    repo, request, user.sub, LINK_AMR, int(now), visit, user.username
                )
        self._refused(visit, pool.id, client.id, failure.reason)
        raise failure

    def _verify(self, repo: Repository, client: Client, token: str, now: float) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise BadLink("malformed") from None
        if header.get("alg") != "HS256":
            raise BadLink("algorithm")
        query = select(PartnerSecret).where(
            PartnerSecret.client_id == client.id, PartnerSecret.revoked_at.is_(None)
        )
        if "kid" in header:
            query = query.where(PartnerSecret.id == str(header["kid"]))
        for row in repo.session.scalars(query).all():
            secret = self.core.sealer.unseal(row.secret_sealed, f"{_PURPOSE}:{row.id}")
            try:
                claims = jwt.decode(
                    token,
                    secret,
                    algorithms=["HS256"],
                    options={
                        "require": ["exp", "iat", "identity"],
                        "verify_exp": False,
                        "verify_iat": False,
                        "verify_aud": False,
                    },
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise BadLink("claims") from None
            exp, iat = claims.get("exp"), claims.get("iat")
            if not _numeric(exp) or not _numeric(iat) or not isinstance(claims["identity"], str):
                raise BadLink("claims")
            if exp <= now or iat > now + CLOCK_LEEWAY:
                raise BadLink("expired")
            if exp - iat > row.max_link_seconds:
                raise BadLink("lifetime")
            return claims
        raise BadLink("signature")

    def _refused(self, visit: Visit, pool_id: str, client_id: str | None, reason: str) -> None:
        with self.core.store.transaction() as repo:
            if repo.pool(pool_id) is None:
                return
            record(
                repo,
                self.core.clock(),
                visit,
                pool_id,
                events.LINK,
                events.FAIL,
                client_id=client_id,
                reason=reason,
            )

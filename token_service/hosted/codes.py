"""Authorization codes: issued after a hosted sign-in, redeemed once at `/oauth2/token`.

A code is 32 random bytes; only its SHA-256 is stored. It lives 5 minutes and is bound to
the client, the redirect_uri, the PKCE challenge, the nonce and scopes of its request, and
the amr and auth_time of the hosted session it came from. Redeeming it twice is taken as a
stolen code (RFC 6749 section 4.1.2): the second use fails and revokes the sign-in the first
use created, so the tokens it gave stop working at GetUser, userInfo and refresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete

from token_service.core import Core
from token_service.errors import InvalidGrant, InvalidParameter
from token_service.hosted.authorize import AuthorizationRequest
from token_service.issue import Issuer, UserTokens, token_hash
from token_service.store.models import AuthorizationCode, Client, HostedSession
from token_service.store.repositories import Repository

CODE_SECONDS = 300
# A used code is kept this long past its expiry, so a late replay still revokes its sign-in.
KEEP_SECONDS = 86400
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
REPLAYED = "The authorization code was already used; the tokens it gave are revoked."


def s256(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Redeemed:
    """The tokens of a redeemed code and the scopes they were granted."""

    tokens: UserTokens
    scopes: list[str]


class CodeGrant:
    def __init__(self, core: Core, issuer: Issuer) -> None:
        self.core = core
        self.issuer = issuer

    def create(
        self, repo: Repository, request: AuthorizationRequest, session: HostedSession, now: float
    ) -> str:
        """A new code for `request`, signed in by `session`; only its hash is stored."""
        repo.session.execute(
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - KEEP_SECONDS)
        )
        code = secrets.token_urlsafe(32)
        repo.add(
            AuthorizationCode(
                code_hash=token_hash(code),
                pool_id=request.client.pool_id,
                client_id=request.client.id,
                user_sub=session.user_sub,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                scopes=request.scopes,
                nonce=request.nonce,
                amr=list(session.amr),
                auth_time=session.auth_time,
                expires_at=now + CODE_SECONDS,
            )
        )
        return code

    def redeem(
        self,
        client_id: str,
        client_secret: str | None,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
    ) -> Redeemed:
        """Tokens for a live, unused code of this client, its redirect_uri and PKCE verifier."""
        if not code:
            raise InvalidParameter("code is required.")
        if not redirect_uri:
            raise InvalidParameter("redirect_uri is required.")
        if code_verifier is not None and not _VERIFIER.fullmatch(code_verifier):
            raise InvalidParameter("code_verifier must be 43 to 128 unreserved characters.")
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self.issuer.oauth_client(repo, client_id, client_secret)
            row = repo.session.get(
                AuthorizationCode, token_hash(code), with_for_update=True, populate_existing=True
            )
            if row is None or row.client_id != client.id:
                raise InvalidGrant("Invalid authorization code.")
            if row.used_at is None:
                return self._issue(repo, client, row, redirect_uri, code_verifier, now)
            if row.origin_jti and (first := repo.sign_in(row.origin_jti)) is not None:
                first.revoked_at = first.revoked_at or now
        # Out of the transaction: the revocation is committed before the replay is refused.
        raise InvalidGrant(REPLAYED)

    def _issue(
        self,
        repo: Repository,
        client: Client,
        row: AuthorizationCode,
        redirect_uri: str,
        code_verifier: str | None,
        now: float,
    ) -> Redeemed:
        if row.expires_at <= now:
            raise InvalidGrant("The authorization code has expired.")
        if not hmac.compare_digest(row.redirect_uri.encode(), redirect_uri.encode()):
            raise InvalidGrant("redirect_uri differs from the authorization request's.")
        self._check_verifier(row, code_verifier)
        user = repo.user_by_sub(row.user_sub)
        if user is None or not user.enabled:
            raise InvalidGrant("The user is disabled or no longer exists.")
        tokens = self.issuer.issue_user_tokens(
            repo,
            client,
            user,
            now,
            None,
            row.amr,
            scopes=row.scopes,
            nonce=row.nonce,
            auth_time=row.auth_time,
        )
        row.used_at, row.origin_jti = now, tokens.origin_jti
        return Redeemed(tokens, list(row.scopes))

    @staticmethod
    def _check_verifier(row: AuthorizationCode, verifier: str | None) -> None:
        if row.code_challenge is None:
            if verifier is not None:
                raise InvalidGrant("code_verifier given, but the request sent no code_challenge.")
            return
        if verifier is None:
            raise InvalidGrant("code_verifier is required.")
        if not hmac.compare_digest(s256(verifier).encode(), row.code_challenge.encode()):
            raise InvalidGrant("code_verifier does not match the code_challenge.")

"""Issuing and revoking tokens: password sign-in, refresh, client credentials, sign-out.

Every way of signing a user in (password, SRP, a challenge's answer) ends in
`Issuer.continue_sign_in`, which decides the next challenge or, once every factor passed,
hands a `SignedIn` to the caller's completion: the Cognito API's issues tokens
(`Issuer.tokens`, the default); the hosted login's starts a hosted session and makes an
authorization code instead, so no token is minted that nobody receives.

Failures that must leave a trace (failed sign-ins counting towards lockout) are committed
before the error is raised; every other failure rolls its transaction back, changing nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from token_service import events
from token_service.core import Core
from token_service.errors import (
    InvalidClient,
    InvalidParameter,
    InvalidScope,
    NotAuthorized,
    PasswordResetRequired,
    ResourceNotFound,
    Unauthorized,
    UnauthorizedClient,
    UnsupportedTokenType,
    UserNotConfirmed,
)
from token_service.passwords import check_policy
from token_service.signin.challenges import BAD_SESSION, Challenge, open_session, seal_session
from token_service.signin.mfa import second_factor
from token_service.store.models import Client, RefreshToken, SignInFailures, User
from token_service.store.repositories import Repository
from token_service.tokens import (
    USER_SCOPE,
    access_token_hash,
    id_claims,
    machine_access_claims,
    sign,
    unverified_origin,
    user_access_claims,
    verify_access_token,
)

BAD_CREDENTIALS = "Incorrect username or password."
LOCKED_OUT = "Password attempts exceeded"
NEW_PASSWORD_STEP = "NEW_PASSWORD_REQUIRED"


def secret_hash(client_secret: str, username: str, client_id: str) -> str:
    """Cognito's SECRET_HASH: Base64(HMAC-SHA256(secret, username + client_id))."""
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def token_hash(token: str) -> str:
    """How tokens, codes and cookie values are stored: their SHA-256, never themselves."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class UserTokens:
    access_token: str
    id_token: str
    refresh_token: str | None
    expires_in: int
    # The sign-in the tokens belong to (their `origin_jti`).
    origin_jti: str | None = None


@dataclass(frozen=True)
class SignedIn:
    """Every factor passed: who signed in, to which client, how (`amr`) and when."""

    user: User
    client: Client
    amr: list[str]
    now: float


# What completes a sign-in, inside its transaction: tokens for the API, a code for the pages.
Completion = Callable[[Repository, SignedIn], Any]


@dataclass(frozen=True)
class MachineToken:
    access_token: str
    expires_in: int


def token_user(repo: Repository, sub: str) -> User:
    """An access token's user, read in this transaction: a deleted user's tokens are revoked."""
    user = repo.user_by_sub(sub)
    if user is None:
        raise NotAuthorized("Access Token has been revoked")
    return user


class Issuer:
    def __init__(self, core: Core) -> None:
        self.core = core

    # client authentication
    def client(
        self, repo: Repository, client_id: str, pool_id: str | None = None, *, oauth: bool = False
    ) -> Client:
        """The client; unknown is Cognito's ResourceNotFound, or OAuth's invalid_client."""
        client = repo.client(client_id) if client_id else None
        if client is None or (pool_id is not None and client.pool_id != pool_id):
            if oauth:
                raise InvalidClient("Client authentication failed.")
            raise ResourceNotFound(f"User pool client {client_id} does not exist.")
        return client

    def _secret(self, client: Client) -> str | None:
        if client.secret_sealed is None:
            return None
        return self.core.sealer.unseal(client.secret_sealed, "client-secret").decode()

    def oauth_client(self, repo: Repository, client_id: str, presented: str | None) -> Client:
        """OAuth client authentication at the token endpoint: the client, secret checked."""
        client = self.client(repo, client_id, oauth=True)
        self.check_client_secret(client, presented)
        return client

    def hosted_secret_hash(self, client: Client, username: str) -> str | None:
        """The SECRET_HASH the hosted login answers challenges with, standing in for the app."""
        secret = self._secret(client)
        return secret_hash(secret, username, client.id) if secret is not None else None

    def check_client_secret(self, client: Client, presented: str | None) -> None:
        """OAuth client authentication: confidential clients must present their secret."""
        secret = self._secret(client)
        if secret is None:
            return
        if not presented or not hmac.compare_digest(secret.encode(), presented.encode()):
            raise InvalidClient("Client authentication failed.")

    def check_secret_hash(
        self, client: Client, usernames: list[str], presented: str | None
    ) -> None:
        """Cognito client authentication for sign-in: SECRET_HASH over one of `usernames`."""
        secret = self._secret(client)
        if secret is None:
            return
        if not presented:
            raise InvalidClient(
                f"Client {client.id} is configured with secret but SECRET_HASH was not received"
            )
        expected = [secret_hash(secret, name, client.id).encode() for name in usernames]
        # Compare with every candidate so timing does not tell which one matched.
        matches = [hmac.compare_digest(e, presented.encode()) for e in expected]
        if not any(matches):
            raise InvalidClient(f"Unable to verify secret hash for client {client.id}")

    # password sign-in
    def password_auth(
        self,
        client_id: str,
        username: str,
        password: str,
        *,
        secret_hash_value: str | None = None,
        pool_id: str | None = None,
        admin: bool = False,
        hosted: bool = False,
        complete: Completion | None = None,
    ) -> Any:
        """USER_PASSWORD_AUTH, or ADMIN_USER_PASSWORD_AUTH when `admin` (pool given): the
        next Challenge, or what `complete` makes of the sign-in (tokens by default).

        `hosted`: the hosted login's form, which ExplicitAuthFlows do not govern (Cognito's
        managed login signs in whatever API flows the client allows).
        """
        flow = "ALLOW_ADMIN_USER_PASSWORD_AUTH" if admin else "ALLOW_USER_PASSWORD_AUTH"
        if not username or not password:
            raise InvalidParameter("USERNAME and PASSWORD are required.")
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self.client(repo, client_id, pool_id)
            if not hosted and flow not in client.explicit_auth_flows:
                raise UnauthorizedClient("Auth flow not enabled for this client")
            self.check_secret_hash(client, [username], secret_hash_value)
            failure = self._verify_password(repo, client.pool_id, username, password, now)
            if failure is None:
                user = repo.user_by_username(client.pool_id, username)
                assert user is not None
                # Users whose password predates SRP get their verifier now.
                self.core.passwords.backfill_srp_verifier(user, password)
                if not user.enabled:
                    failure = NotAuthorized("User is disabled.")
                else:
                    return self.continue_sign_in(repo, client, user, now, ["pwd"], complete)
        assert failure is not None
        raise failure

    def continue_sign_in(
        self,
        repo: Repository,
        client: Client,
        user: User,
        now: float,
        amr: list[str],
        complete: Completion | None = None,
    ) -> Any:
        """After a correct factor: a new password, then a second factor, then `complete`
        (by default `tokens`) with the finished sign-in, in the same transaction."""
        # Only the right password learns the account's state, as in Cognito.
        if user.status == "UNCONFIRMED":
            raise UserNotConfirmed("User is not confirmed.")
        if user.status == "RESET_REQUIRED":
            raise PasswordResetRequired("Password reset required for the user")
        if user.status == "FORCE_CHANGE_PASSWORD":
            session = seal_session(self.core.sealer, client, user, NEW_PASSWORD_STEP, now, amr)
            parameters = {
                "USER_ID_FOR_SRP": user.username,
                "requiredAttributes": "[]",
                "userAttributes": json.dumps(user.attributes),
            }
            return Challenge(NEW_PASSWORD_STEP, parameters, session)
        if "mfa" not in amr:
            challenge = second_factor(self.core, repo, client, user, now, amr)
            if challenge is not None:
                return challenge
        return (complete or self.tokens)(repo, SignedIn(user, client, amr, now))

    def tokens(self, repo: Repository, signed_in: SignedIn) -> UserTokens:
        """The Cognito API's completion: a new sign-in's access, ID and refresh tokens."""
        return self.issue_user_tokens(
            repo, signed_in.client, signed_in.user, signed_in.now, None, signed_in.amr
        )

    def respond_new_password(
        self,
        client_id: str,
        session: str,
        username: str,
        new_password: str,
        *,
        secret_hash_value: str | None = None,
        complete: Completion | None = None,
    ) -> Any:
        """Answer NEW_PASSWORD_REQUIRED: set the permanent password and go on signing in."""
        if not session or not username or not new_password:
            raise InvalidParameter("Session, USERNAME and NEW_PASSWORD are required.")
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self.client(repo, client_id)
            self.check_secret_hash(client, [username], secret_hash_value)
            state = open_session(self.core.sealer, session, client, (NEW_PASSWORD_STEP,), now)
            user = repo.user_by_username(client.pool_id, username)
            if user is None or state.sub != user.sub or user.status != "FORCE_CHANGE_PASSWORD":
                raise NotAuthorized(BAD_SESSION)
            if not user.enabled:
                raise NotAuthorized("User is disabled.")
            pool = repo.pool(client.pool_id)
            assert pool is not None
            check_policy(new_password, pool.password_policy)
            self.core.passwords.set(user, new_password)
            user.status = "CONFIRMED"
            user.updated_at = now
            return self.continue_sign_in(repo, client, user, now, state.amr, complete)

    def _verify_password(
        self, repo: Repository, pool_id: str, username: str, password: str, now: float
    ) -> NotAuthorized | None:
        """None when the password is right; records failures whether or not the user exists."""
        failures = self.lockout(repo, pool_id, username, now)
        user = repo.user_by_username(pool_id, username)
        if self.core.passwords.verify(user.password_hash if user else None, password):
            failures.count = 0
            return None
        return self.record_failure(failures, now)

    def lockout(self, repo: Repository, pool_id: str, username: str, now: float) -> SignInFailures:
        """The username's failure row, locked for this transaction; raises while locked out."""
        failures = repo.failures(pool_id, username)
        if failures.locked_until > now:
            raise NotAuthorized(LOCKED_OUT)
        return failures

    def record_failure(self, failures: SignInFailures, now: float) -> NotAuthorized:
        """Count a failed factor and return the error to raise once the transaction commits.

        Raising it inside the transaction would roll the count back: callers leave the
        transaction first and raise after.
        """
        settings = self.core.settings
        failures.count += 1
        if failures.count >= settings.lockout_threshold:
            failures.count = 0
            failures.locked_until = now + settings.lockout_seconds
            return NotAuthorized(LOCKED_OUT)
        return NotAuthorized(BAD_CREDENTIALS)

    def issue_user_tokens(
        self,
        repo: Repository,
        client: Client,
        user: User,
        now: float,
        session: RefreshToken | None,
        amr: list[str] | None = None,
        *,
        scopes: list[str] | None = None,
        nonce: str | None = None,
        auth_time: int | None = None,
    ) -> UserTokens:
        """Access and ID tokens; a new sign-in also gets a refresh token (stored hashed).

        The authorization-code grant passes the granted `scopes` (the access token's `scope`,
        and the ID token then gets `at_hash`), the request's `nonce` and the hosted session's
        `auth_time`.
        """
        refresh_token = None
        if session is None:
            refresh_token = secrets.token_urlsafe(64)
            session = RefreshToken(
                token_hash=token_hash(refresh_token),
                origin_jti=str(uuid.uuid4()),
                pool_id=client.pool_id,
                client_id=client.id,
                user_sub=user.sub,
                auth_time=int(now) if auth_time is None else auth_time,
                expires_at=now + client.refresh_token_seconds,
                revoked_at=None,
                amr=list(amr or ["pwd"]),
            )
            repo.add(session)
        kid, private_key = self.core.keys.signer(repo, client.pool_id)
        common: dict[str, Any] = {
            "issuer": self.core.settings.issuer(client.pool_id),
            "sub": user.sub,
            "username": user.username,
            "groups": [g.name for g in repo.groups_of(user)],
            "client_id": client.id,
            "origin_jti": session.origin_jti,
            "event_id": str(uuid.uuid4()),
            "auth_time": session.auth_time,
            "amr": list(session.amr or ["pwd"]),
            "now": int(now),
        }
        scope = {"scope": " ".join(scopes)} if scopes is not None else {}
        access = user_access_claims(**common, ttl=client.access_token_seconds, **scope)
        access_token = sign(access, kid, private_key)
        identity = id_claims(
            **common,
            attributes=user.attributes,
            ttl=client.id_token_seconds,
            nonce=nonce,
            at_hash=access_token_hash(access_token) if scopes is not None else None,
        )
        return UserTokens(
            access_token=access_token,
            id_token=sign(identity, kid, private_key),
            refresh_token=refresh_token,
            expires_in=client.access_token_seconds,
            origin_jti=session.origin_jti,
        )

    # client credentials
    def client_credentials(
        self, client_id: str, client_secret: str | None, scope: str | None
    ) -> MachineToken:
        """A machine token; requested scopes must be the client's (none asked: all of them)."""
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self.client(repo, client_id, oauth=True)
            if client.secret_sealed is None:
                raise InvalidClient("Client authentication failed.")
            self.check_client_secret(client, client_secret)
            if "client_credentials" not in client.oauth_flows:
                raise UnauthorizedClient("The client is not allowed the client_credentials grant.")
            requested = scope.split() if scope else list(client.scopes)
            if not requested or not set(requested) <= set(client.scopes):
                raise InvalidScope("A requested scope is not allowed for this client.")
            kid, private_key = self.core.keys.signer(repo, client.pool_id)
            claims = machine_access_claims(
                issuer=self.core.settings.issuer(client.pool_id),
                client_id=client.id,
                scope=" ".join(dict.fromkeys(requested)),
                now=int(now),
                ttl=client.access_token_seconds,
            )
            return MachineToken(sign(claims, kid, private_key), client.access_token_seconds)

    # revocation and sign-out
    def revoke(self, token: str, client_id: str, client_secret: str | None) -> None:
        """Revoke a refresh token (and the access tokens of its sign-in). Unknown: no-op."""
        if not token:
            raise InvalidParameter("Token is required.")
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client = self.client(repo, client_id, oauth=True)
            self.check_client_secret(client, client_secret)
            if token.count(".") == 2:
                raise UnsupportedTokenType("Only refresh tokens can be revoked.")
            session = repo.refresh_token(token_hash(token))
            if session is None:
                return
            if session.client_id != client.id:
                raise Unauthorized("The token was not issued to this client.")
            if session.revoked_at is None:
                session.revoked_at = now

    def authenticate(
        self, access_token: str, scopes: tuple[str, ...] = (USER_SCOPE,)
    ) -> tuple[User, dict[str, Any]]:
        """The user and claims of a valid, unrevoked user access token with one of `scopes`."""
        issuer, kid = unverified_origin(access_token)
        pool_id = issuer.rsplit("/", 1)[-1]
        if issuer != self.core.settings.issuer(pool_id):
            raise NotAuthorized("Invalid Access Token")
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            key = self.core.keys.verifier(repo, pool_id, kid, now)
            if key is None:
                raise NotAuthorized("Invalid Access Token")
            claims = verify_access_token(access_token, key, issuer, now)
            if not set(scopes) & set(str(claims.get("scope", "")).split()):
                raise NotAuthorized("Access token does not have required scopes")
            session = repo.sign_in(str(claims.get("origin_jti", "")))
            if session is None or session.revoked_at is not None:
                raise NotAuthorized("Access Token has been revoked")
            user = token_user(repo, claims["sub"])
            if not user.enabled:
                raise NotAuthorized("User is disabled.")
            return user, claims

    def global_sign_out(self, access_token: str, context: events.RequestContext) -> None:
        """Revoke every refresh token of the user, and so every access token's sign-in."""
        user, claims = self.authenticate(access_token)
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            repo.revoke_refresh_tokens(user.sub, now)
            who = {"client_id": claims.get("client_id"), "user_sub": user.sub}
            events.record(
                repo,
                now,
                context,
                user.pool_id,
                events.SIGN_OUT,
                events.PASS,
                **who,
                username=user.username,
                step="GlobalSignOut",
            )

    def jwks(self, pool_id: str) -> dict[str, Any]:
        with self.core.store.transaction() as repo:
            if repo.pool(pool_id) is None:
                raise ResourceNotFound(f"User pool {pool_id} does not exist.")
            return self.core.keys.jwks(repo, pool_id, self.core.clock())

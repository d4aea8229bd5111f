"""Authenticator apps: enrolment (AssociateSoftwareToken, VerifySoftwareToken) and the answers
to the SOFTWARE_TOKEN_MFA and MFA_SETUP challenges.

Enrolment is authorised either by the user's access token or, while signing in to a pool
whose MFA is ON, by the MFA_SETUP challenge's session. Every wrong code counts toward the
same per-username lockout as a wrong password; the count is committed before the error is
raised. A code is accepted once: its step must be later than the last accepted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from token_service.errors import (
    CodeMismatch,
    EnableSoftwareTokenMFA,
    InvalidParameter,
    NotAuthorized,
    SoftwareTokenMFANotFound,
    TokenServiceError,
)
from token_service.issue import LOCKED_OUT, Completion, Issuer, token_user
from token_service.signin.challenges import (
    BAD_SESSION,
    SessionState,
    open_session,
    seal_session,
    session_client_id,
    session_seconds,
)
from token_service.signin.mfa import (
    MFA_SETUP,
    MFA_SETUP_VERIFIED,
    SOFTWARE_TOKEN_MFA,
    enabled_types,
    factor,
    is_active,
    open_secret,
    pool_mfa,
    seal_secret,
)
from token_service.signin.totp import accepted_step, is_code, new_secret
from token_service.store.models import Client, SignInFailures, TotpFactor, User
from token_service.store.repositories import Repository

WRONG_CHALLENGE_CODE = "Invalid code or auth state for the user."
WRONG_ENROLMENT_CODE = "Code mismatch and fail enable Software Token MFA"
NO_USER_FACTOR = "Software Token MFA does not exist for the user."
MAX_DEVICE_NAME = 128
# The second-factor failure rows live beside the password ones, under the pool id plus this
# (pool ids never contain "#").
_CODE_FAILURES = "#totp"


@dataclass(frozen=True)
class Counters:
    """Failed attempts of one username: `shared` with passwords, and `codes` for second factors.

    A correct password resets `shared`; `codes` is reset only by a correct code, so signing
    in again with the password does not buy more guesses at the code.
    """

    shared: SignInFailures
    codes: SignInFailures

    def succeeded(self) -> None:
        self.shared.count = 0
        self.codes.count = 0


@dataclass(frozen=True)
class ChallengeAnswer:
    """Who answers a challenge: RespondToAuthChallenge's ClientId, Session, USERNAME and
    SECRET_HASH, and the pool of AdminRespondToAuthChallenge (None for the public one)."""

    client_id: str
    session: str
    username: str
    secret_hash: str | None
    pool_id: str | None


@dataclass(frozen=True)
class Enrolment:
    """AssociateSoftwareToken's or VerifySoftwareToken's answer; `session` when given one."""

    secret_code: str | None
    session: str | None


def _one_of(access_token: str | None, session: str | None) -> None:
    if bool(access_token) == bool(session):
        raise InvalidParameter("Exactly one of AccessToken and Session is required.")


def require_code(code: object, name: str) -> str:
    """A six-digit code, or InvalidParameter naming the parameter."""
    if code is None or code == "":
        raise InvalidParameter(f"Missing required parameter {name}")
    if not is_code(code):
        raise InvalidParameter(f"{name} must be a code of 6 digits.")
    assert isinstance(code, str)
    return code


class SoftwareTokens:
    """The authenticator factor's operations; sign-in steps go through the Issuer."""

    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.core = issuer.core

    # enrolment
    def associate(self, access_token: str | None, session: str | None) -> Enrolment:
        """A new secret for the user, pending until verified; with a session, the next one."""
        _one_of(access_token, session)
        now = self.core.clock()
        signed_in = self.issuer.authenticate(access_token)[0] if access_token else None
        with self.core.store.transaction() as repo:
            user, setup = self._enrolling(repo, signed_in, session, now)
            pool = repo.pool(user.pool_id)
            if pool is None or pool_mfa(pool) == "OFF":
                raise SoftwareTokenMFANotFound(
                    "Software Token MFA is not enabled for the user pool."
                )
            secret = new_secret()
            sealed = seal_secret(self.core, user, secret)
            row = factor(repo, user)
            # A new secret is unverified: until a code from it is verified it protects nothing.
            if row is None:
                pending = TotpFactor(
                    user_sub=user.sub,
                    secret_sealed=sealed,
                    verified=False,
                    friendly_name=None,
                    last_step=0,
                    created_at=now,
                )
                repo.add(pending)
            else:
                row.secret_sealed, row.verified, row.friendly_name = sealed, False, None
                row.created_at = now
            next_session = None
            if setup is not None:
                next_session = self._next_session(*setup, user, MFA_SETUP)
            return Enrolment(secret, next_session)

    def verify(
        self,
        access_token: str | None,
        session: str | None,
        code: str,
        friendly_name: str | None,
    ) -> Enrolment:
        """Check a code from the pending secret; success verifies the factor.

        During MFA_SETUP the factor is also turned on and preferred (the user is enrolling
        because the pool requires it), and the session returned answers MFA_SETUP.
        """
        _one_of(access_token, session)
        if friendly_name is not None and len(friendly_name) > MAX_DEVICE_NAME:
            raise InvalidParameter(
                f"FriendlyDeviceName must be at most {MAX_DEVICE_NAME} characters."
            )
        now = self.core.clock()
        signed_in = self.issuer.authenticate(access_token)[0] if access_token else None
        with self.core.store.transaction() as repo:
            user, setup = self._enrolling(repo, signed_in, session, now)
            row = factor(repo, user)
            if row is None:
                raise SoftwareTokenMFANotFound(NO_USER_FACTOR)
            counters = self._counters(repo, user.pool_id, user.username, now)
            step = accepted_step(open_secret(self.core, user, row), code, now, row.last_step)
            if step is None:
                failure = self._failure(counters, now, EnableSoftwareTokenMFA(WRONG_ENROLMENT_CODE))
            else:
                counters.succeeded()
                row.verified = True
                row.last_step = step
                row.friendly_name = friendly_name
                if setup is None:
                    return Enrolment(None, None)
                self._use(repo, setup[1], now)
                user.mfa_enabled = sorted({*enabled_types(user), SOFTWARE_TOKEN_MFA})
                user.mfa_preferred = SOFTWARE_TOKEN_MFA
                user.updated_at = now
                return Enrolment(None, self._next_session(*setup, user, MFA_SETUP_VERIFIED))
        raise failure

    # challenges
    def answer_code(
        self, answer: ChallengeAnswer, code: str, complete: Completion | None = None
    ) -> Any:
        """SOFTWARE_TOKEN_MFA: a current code of the user's active factor ends the sign-in
        (`complete` as in `Issuer.continue_sign_in`)."""
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client, user, state = self._challenge(repo, answer, SOFTWARE_TOKEN_MFA, now)
            counters = self._counters(repo, client.pool_id, user.username, now)
            row = factor(repo, user)
            if row is None or not is_active(user, row):
                raise SoftwareTokenMFANotFound(NO_USER_FACTOR)
            step = accepted_step(open_secret(self.core, user, row), code, now, row.last_step)
            if step is None:
                failure = self._failure(counters, now, CodeMismatch(WRONG_CHALLENGE_CODE))
            else:
                self._use(repo, state, now)
                counters.succeeded()
                row.last_step = step
                amr = [*state.amr, "mfa"]
                return self.issuer.continue_sign_in(repo, client, user, now, amr, complete)
        raise failure

    def answer_setup(self, answer: ChallengeAnswer, complete: Completion | None = None) -> Any:
        """MFA_SETUP, with VerifySoftwareToken's session: the user enrolled, sign-in ends."""
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client, user, state = self._challenge(repo, answer, MFA_SETUP_VERIFIED, now)
            if not is_active(user, factor(repo, user)):
                raise SoftwareTokenMFANotFound(NO_USER_FACTOR)
            self._use(repo, state, now)
            amr = [*state.amr, "mfa"]
            return self.issuer.continue_sign_in(repo, client, user, now, amr, complete)

    # shared steps
    def _counters(self, repo: Repository, pool_id: str, username: str, now: float) -> Counters:
        """The username's failure rows, locked for this transaction; raises while locked out."""
        shared = self.issuer.lockout(repo, pool_id, username, now)
        return Counters(shared, repo.failures(pool_id + _CODE_FAILURES, username))

    def _failure(
        self, counters: Counters, now: float, mismatch: TokenServiceError
    ) -> TokenServiceError:
        """Count a wrong code on both rows; the error to raise once the counts are committed.

        Too many wrong codes lock the username, however many correct passwords came between.
        """
        locked = self.issuer.record_failure(counters.shared, now)
        codes_lock = counters.codes.locked_until
        self.issuer.record_failure(counters.codes, now)
        if counters.codes.locked_until != codes_lock:  # this failure reached the threshold
            counters.shared.count = 0
            counters.shared.locked_until = max(
                counters.shared.locked_until, counters.codes.locked_until
            )
            return NotAuthorized(LOCKED_OUT)
        return locked if counters.shared.locked_until > now else mismatch

    def _challenge(
        self, repo: Repository, answer: ChallengeAnswer, step: str, now: float
    ) -> tuple[Client, User, SessionState]:
        """The client, the user and the open session a challenge answer names, all checked."""
        client = self.issuer.client(repo, answer.client_id, answer.pool_id)
        self.issuer.check_secret_hash(client, [answer.username], answer.secret_hash)
        state = open_session(self.core.sealer, answer.session, client, (step,), now)
        name = answer.username
        user = repo.user_by_username(client.pool_id, name) or repo.user_by_sub(name)
        if user is None or user.sub != state.sub:
            raise NotAuthorized(BAD_SESSION)
        if not user.enabled:
            raise NotAuthorized("User is disabled.")
        return client, user, state

    def _enrolling(
        self, repo: Repository, signed_in: User | None, session: str | None, now: float
    ) -> tuple[User, tuple[Client, SessionState] | None]:
        """The enrolling user: the access token's, or an MFA_SETUP session's with its client
        and state (enrolment before the sign-in ends)."""
        if not session:
            assert signed_in is not None
            return token_user(repo, signed_in.sub), None
        client = repo.client(session_client_id(self.core.sealer, session))
        if client is None:
            raise NotAuthorized(BAD_SESSION)
        state = open_session(self.core.sealer, session, client, (MFA_SETUP,), now)
        user = repo.user_by_sub(state.sub)
        if user is None or user.pool_id != client.pool_id:
            raise NotAuthorized(BAD_SESSION)
        if not user.enabled:
            raise NotAuthorized("User is disabled.")
        return user, (client, state)

    @staticmethod
    def _use(repo: Repository, state: SessionState, now: float) -> None:
        """Spend a session: one that was answered before is a replay."""
        if not repo.use_nonce(state.nonce, state.expires_at, now):
            raise NotAuthorized(BAD_SESSION)

    def _next_session(self, client: Client, state: SessionState, user: User, step: str) -> str:
        """A session for the next step that expires when the one it follows would have."""
        issued = state.expires_at - session_seconds(client)
        return seal_session(self.core.sealer, client, user, step, issued, state.amr)

"""The hosted login's decisions: SSO or a prompt, each sign-in step, codes, logout.

Every factor is checked by the same `Issuer` calls the Cognito API makes (`password_auth`,
`respond_new_password`, ...), so lockout, disabled users, password policy and challenges
behave exactly as there; the hosted login stands in for the app (it answers with the
SECRET_HASH of confidential clients itself). It completes a finished sign-in its own way
(`Issuer.continue_sign_in`'s completion): a hosted session and an authorization code, in
the same transaction as the last factor; `/oauth2/token` turns the code into tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from token_service import events
from token_service.core import Core
from token_service.errors import (
    CodeMismatch,
    EnableSoftwareTokenMFA,
    InvalidParameter,
    InvalidPassword,
    TokenServiceError,
)
from token_service.events import SignInEvents, record
from token_service.hosted.authorize import (
    AuthorizationRequest,
    RedirectError,
    UntrustedRequest,
    parse_authorization_request,
    single_values,
)
from token_service.hosted.codes import CodeGrant
from token_service.hosted.outcomes import Outcome, Page, Redirect
from token_service.hosted.second_factor import STEPS as SECOND_FACTOR_STEPS
from token_service.hosted.second_factor import SecondFactor
from token_service.hosted.sessions import HostedSessions
from token_service.hosted.visit import Visit
from token_service.issue import NEW_PASSWORD_STEP, Completion, Issuer, SignedIn
from token_service.signin.challenges import BAD_SESSION, Challenge
from token_service.signin.mfa import MFA_SETUP, SOFTWARE_TOKEN_MFA
from token_service.store.models import Client, Pool
from token_service.store.repositories import Repository

BAD_INPUT = "Enter your username and password."
EXPIRED_STEP = "This sign-in took too long. Sign in again."
UNAVAILABLE_STEP = "This account needs a sign-in step the hosted login does not offer yet."
# Errors that leave the user on the step's page to try again; any other ends the attempt.
RETRYABLE = (InvalidPassword, InvalidParameter, CodeMismatch, EnableSoftwareTokenMFA)
Items = Sequence[tuple[str, str]]


def login_path(request: AuthorizationRequest) -> str:
    """The login page for this request (Cognito's `/login` takes the authorize query)."""
    return f"/login?{urlencode(request.query)}"


class HostedLogin:
    def __init__(self, core: Core, issuer: Issuer) -> None:
        self.core = core
        self.issuer = issuer
        self.codes = CodeGrant(core, issuer)
        self.sessions = HostedSessions(core)
        self.second_factor = SecondFactor(issuer)
        self.events = SignInEvents(core)

    def request(self, items: Items) -> tuple[AuthorizationRequest, Pool]:
        """The checked request and its pool (UntrustedRequest or RedirectError otherwise)."""
        with self.core.store.transaction() as repo:
            request = parse_authorization_request(repo, items)
            pool = repo.pool(request.client.pool_id)
            assert pool is not None
            return request, pool

    def authorize(self, items: Items, visit: Visit) -> Outcome:
        """A code at once for a live session (unless prompt=login), else the login page."""
        request, pool = self.request(items)
        if request.prompt != "login":
            with self.core.store.transaction() as repo:
                session = self.sessions.live(repo, visit.cookie, pool.id)
                if session is not None:
                    now = self.core.clock()
                    code = self.codes.create(repo, request, session, now)
                    record(
                        repo,
                        now,
                        visit,
                        pool.id,
                        events.SIGN_IN,
                        events.PASS,
                        client_id=request.client.id,
                        user_sub=session.user_sub,
                        reason="session",
                    )
                    return Redirect(request.redirect(code=code))
        if request.prompt == "none":
            raise RedirectError(
                request.redirect_uri, request.state, "login_required", "The user is not signed in."
            )
        return Redirect(login_path(request))

    def page(self, items: Items) -> Page:
        request, pool = self.request(items)
        return Page("login", request, pool, username=request.login_hint or "")

    def password(self, items: Items, username: str, password: str, visit: Visit) -> Outcome:
        """The login form's post: the Issuer's USER_PASSWORD_AUTH, as the app would call it."""
        request, pool = self.request(items)
        if not username or not password:
            return Page("login", request, pool, BAD_INPUT, username)
        client = request.client
        try:
            result = self.issuer.password_auth(
                client.id,
                username,
                password,
                secret_hash_value=self.issuer.hosted_secret_hash(client, username),
                hosted=True,
                complete=self._completion(request, visit, username),
            )
        except TokenServiceError as error:
            self._failed(visit, request, username, events.SIGN_IN, error)
            return Page("login", request, pool, error.message, username)
        return self._next(request, pool, username, result, visit)

    def new_password(
        self, items: Items, session: str, username: str, new_password: str, visit: Visit
    ) -> Outcome:
        """NEW_PASSWORD_REQUIRED answered on its page."""
        return self._step(
            items,
            Challenge(NEW_PASSWORD_STEP, {}, session),
            username,
            visit,
            lambda client, complete: self.issuer.respond_new_password(
                client.id,
                session,
                username,
                new_password,
                secret_hash_value=self.issuer.hosted_secret_hash(client, username),
                complete=complete,
            ),
        )

    def authenticator_code(
        self, items: Items, session: str, username: str, code: str, visit: Visit
    ) -> Outcome:
        """SOFTWARE_TOKEN_MFA answered on its page."""
        return self._step(
            items,
            Challenge(SOFTWARE_TOKEN_MFA, {}, session),
            username,
            visit,
            lambda client, complete: self.second_factor.answer_code(
                client, session, username, code, complete
            ),
        )

    def authenticator_setup(
        self,
        items: Items,
        session: str,
        username: str,
        code: str,
        shown: dict[str, str],
        visit: Visit,
    ) -> Outcome:
        """MFA_SETUP answered on its page; `shown` is what the page displayed, to show again."""
        return self._step(
            items,
            Challenge(MFA_SETUP, shown, session),
            username,
            visit,
            lambda client, complete: self.second_factor.answer_setup(
                client, session, username, code, complete
            ),
        )

    def _step(
        self,
        items: Items,
        challenge: Challenge,
        username: str,
        visit: Visit,
        answer: Callable[[Client, Completion], Redirect | Challenge],
    ) -> Outcome:
        """A challenge's answer: the same page again for a wrong answer, the login page when
        the attempt cannot go on (lockout, expired or spent session), else the next step."""
        request, pool = self.request(items)
        kind = events.SIGN_IN if challenge.name == NEW_PASSWORD_STEP else events.MFA
        try:
            result = answer(request.client, self._completion(request, visit, username))
        except RETRYABLE as error:
            self._failed(visit, request, username, kind, error)
            return Page(challenge.name, request, pool, error.message, username, challenge)
        except TokenServiceError as error:
            self._failed(visit, request, username, kind, error)
            message = EXPIRED_STEP if error.message == BAD_SESSION else error.message
            return Page("login", request, pool, message, username)
        return self._next(request, pool, username, result, visit)

    def _failed(
        self,
        visit: Visit,
        request: AuthorizationRequest,
        username: str,
        kind: str,
        error: TokenServiceError,
    ) -> None:
        self.events.record(
            visit,
            request.client.pool_id,
            kind,
            events.FAIL,
            client_id=request.client.id,
            username=username,
            reason=error.message,
        )

    def _next(
        self,
        request: AuthorizationRequest,
        pool: Pool,
        username: str,
        result: Redirect | Challenge,
        visit: Visit,
    ) -> Outcome:
        """A challenge's page, or (signed in) the redirect the completion made."""
        if isinstance(result, Redirect):
            return result
        if result.name == MFA_SETUP:
            result = self.second_factor.enrol(result, pool, username)
        elif result.name not in (NEW_PASSWORD_STEP, *SECOND_FACTOR_STEPS):
            return Page("login", request, pool, UNAVAILABLE_STEP, username)
        return Page(result.name, request, pool, None, username, result)

    def _completion(self, request: AuthorizationRequest, visit: Visit, username: str) -> Completion:
        """How a sign-in at these pages ends: `signed_in`, in the last factor's transaction."""

        def complete(repo: Repository, done: SignedIn) -> Redirect:
            auth_time = int(done.now)
            return self.signed_in(
                repo, request, done.user.sub, done.amr, auth_time, visit, username
            )

        return complete

    def signed_in(
        self,
        repo: Repository,
        request: AuthorizationRequest,
        user_sub: str,
        amr: list[str],
        auth_time: int,
        visit: Visit,
        username: str | None = None,
        provider: str | None = None,
    ) -> Redirect:
        """A new hosted session for the user (replacing the browser's), and the app's code.

        The sign-in event's reason is the `amr`, after the identity provider's name for a
        federated sign-in (`Contoso: pwd mfa`)."""
        now = self.core.clock()
        pool_id = request.client.pool_id
        cookie, session = self.sessions.start(repo, pool_id, user_sub, amr, auth_time, visit.cookie)
        code = self.codes.create(repo, request, session, now)
        who = {"client_id": request.client.id, "user_sub": user_sub, "username": username}
        if "mfa" in amr:
            record(repo, now, visit, pool_id, events.MFA, events.PASS, **who)
        methods = " ".join(amr)
        reason = f"{provider}: {methods}" if provider else methods
        record(repo, now, visit, pool_id, events.SIGN_IN, events.PASS, **who, reason=reason)
        record(repo, now, visit, pool_id, events.SESSION_START, events.PASS, **who)
        return Redirect(request.redirect(code=code), cookie)

    def logout(self, items: Items, visit: Visit) -> str:
        """End the browser's session; where to go next (a registered logout_uri, or login)."""
        query = single_values(items)
        with self.core.store.transaction() as repo:
            client = repo.client(query.get("client_id", "")) if query.get("client_id") else None
            if client is None:
                raise UntrustedRequest("client_id is missing or names no app client.")
            if "logout_uri" in query:
                if query["logout_uri"] not in (client.logout_urls or []):
                    raise UntrustedRequest(
                        "logout_uri is not one of the app client's sign-out URLs."
                    )
                target = query["logout_uri"]
            elif "redirect_uri" in query:
                target = login_path(parse_authorization_request(repo, items))
            else:
                raise UntrustedRequest(
                    "logout needs logout_uri, or redirect_uri and response_type."
                )
            ended = self.sessions.end(repo, visit.cookie)
            if ended is not None:
                record(
                    repo,
                    self.core.clock(),
                    visit,
                    ended.pool_id,
                    events.SESSION_END,
                    events.PASS,
                    client_id=client.id,
                    user_sub=ended.user_sub,
                )
        return target

"""Self-service account operations, one transaction each.

A code is written (its hash, and an outbox record) in the operation's transaction and sent
after it has committed (`token_service.accounts.sending`); codes per user and purpose are
limited (`token_service.accounts.limits`). Wrong codes and wrong passwords are counted, so
those errors are raised only after the transaction has committed the count.

Clients that prevent user existence errors (Cognito's default, ENABLED) answer for a
username without a user as they would for one with a user: ForgotPassword and
ResendConfirmationCode with a decoy delivery, ConfirmForgotPassword and ConfirmSignUp with
CodeMismatchException. LEGACY clients answer UserNotFoundException.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from token_service.accounts import destinations as dest
from token_service.accounts.codes import FORGOT_PASSWORD, MISMATCH, SIGNUP, Codes, verify_purpose
from token_service.accounts.delivery import Mailer, build_mailer, verification_message
from token_service.accounts.limits import CodeRequestLimit, name_key, user_key
from token_service.accounts.outbox import ensure_indexes
from token_service.accounts.sending import Outgoing, Sender
from token_service.admin import Admin
from token_service.admin.users import claim_email_alias, email_username
from token_service.core import Core
from token_service.errors import (
    CodeMismatch,
    InvalidParameter,
    NotAuthorized,
    TokenServiceError,
    UsernameExists,
    UserNotFound,
)
from token_service.issue import Issuer, token_user
from token_service.passwords import check_policy
from token_service.sealing import load_key
from token_service.store.models import Client, Pool, User
from token_service.store.repositories import Repository

NOT_FOUND = "Username/client id combination not found."
UNAUTHORIZED_ATTRIBUTE = "A client attempted to write unauthorized attribute"


@dataclass(frozen=True)
class SignUpResult:
    confirmed: bool
    sub: str
    delivery: dest.CodeDelivery | None


class Accounts:
    def __init__(
        self, core: Core, issuer: Issuer, admin: Admin, mailer: Mailer | None = None
    ) -> None:
        self.core = core
        self.issuer = issuer
        self.admin = admin
        key = load_key(core.settings)
        self.codes = Codes(core.settings, key)
        self._decoy_key = hmac.new(key, b"decoy-destination", hashlib.sha256).digest()
        self.limit = CodeRequestLimit(core.settings.code_requests_per_hour, key)
        self.sender = Sender(
            core.store,
            mailer or build_mailer(core.settings),
            self.codes,
            core.settings.outbox_retention_days,
        )
        ensure_indexes(core.store)

    # helpers
    def _client_pool(
        self, repo: Repository, client_id: str, username: str, secret_hash: str | None
    ) -> tuple[Client, Pool]:
        client = self.issuer.client(repo, client_id)
        self.issuer.check_secret_hash(client, [username], secret_hash)
        pool = repo.pool(client.pool_id)
        assert pool is not None
        return client, pool

    @staticmethod
    def _unknown_user(client: Client) -> TokenServiceError:
        """What a confirm operation answers for a username without a user."""
        if client.prevent_user_existence_errors == "LEGACY":
            return UserNotFound(NOT_FOUND)
        return CodeMismatch(MISMATCH)

    def _send(
        self,
        repo: Repository,
        outgoing: Outgoing,
        pool: Pool,
        user: User,
        purpose: str,
        attribute: str,
        now: float,
    ) -> dest.CodeDelivery:
        """A new code to the user's `attribute`: counted, stored, and sent after the commit."""
        self.limit.take(repo, pool.id, user_key(user.sub), purpose, now)
        code = self.codes.issue(repo, user, purpose, now)
        value = user.attributes[attribute]
        medium = dest.medium_of(attribute)
        message = verification_message(pool, medium, value, code)
        self.sender.queue(repo, outgoing, message, user.sub, purpose, code, now)
        return dest.CodeDelivery(dest.mask(attribute, value), medium, attribute)

    def _authenticated(self, repo: Repository, access_token_user: User) -> tuple[User, Pool]:
        user = token_user(repo, access_token_user.sub)
        pool = repo.pool(user.pool_id)
        assert pool is not None
        return user, pool

    @staticmethod
    def _check_writable(client: Client | None, attributes: dict[str, str]) -> None:
        allowed = client.write_attributes if client is not None else None
        for name in attributes:
            if name.endswith("_verified") or (allowed is not None and name not in allowed):
                raise NotAuthorized(UNAUTHORIZED_ATTRIBUTE)

    # sign-up
    def sign_up(
        self,
        client_id: str,
        username: str,
        password: str,
        attributes: dict[str, str],
        secret_hash: str | None,
    ) -> SignUpResult:
        now = self.core.clock()
        with self.sender.sending() as outgoing, self.core.store.transaction() as repo:
            client, pool = self._client_pool(repo, client_id, username, secret_hash)
            if pool.admin_create_only:
                raise NotAuthorized("SignUp is not permitted for this user pool")
            self._check_writable(client, attributes)
            self.admin._check_attributes(pool, attributes)
            attributes = dict(attributes)
            alias_pool = dest.EMAIL in (pool.username_attributes or [])
            if alias_pool:
                attributes = email_username(username, attributes)
            dest.check_format(attributes)
            check_policy(password, pool.password_policy)
            if repo.user_by_username(pool.id, username) is not None:
                if alias_pool:
                    raise UsernameExists("An account with the given email already exists.")
                raise UsernameExists("User already exists")
            for attribute in dest.VERIFIABLE:
                if attribute in attributes:
                    attributes[f"{attribute}_verified"] = "false"
            sub = str(uuid.uuid4())
            user = User(
                sub=sub,
                pool_id=pool.id,
                username=sub if alias_pool else username,
                username_key=username.lower(),
                attributes=attributes,
                enabled=True,
                status="UNCONFIRMED",
                password_hash=None,
                created_at=now,
                updated_at=now,
            )
            self.core.passwords.set(user, password)
            repo.add(user)
            attribute = dest.confirmation_attribute(pool, user)
            delivery = None
            if attribute is not None:
                delivery = self._send(repo, outgoing, pool, user, SIGNUP, attribute, now)
            return SignUpResult(confirmed=False, sub=sub, delivery=delivery)

    def confirm_sign_up(
        self, client_id: str, username: str, code: str, secret_hash: str | None
    ) -> None:
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client, pool = self._client_pool(repo, client_id, username, secret_hash)
            user = repo.user_by_username(pool.id, username)
            if user is None:
                failure = self._unknown_user(client)
            elif user.status != "UNCONFIRMED":
                raise NotAuthorized(f"User cannot be confirmed. Current status is {user.status}")
            else:
                failure = self.codes.check(repo, user, SIGNUP, code, now)
                if failure is None:
                    self._confirm(user, now)
                    attribute = dest.confirmation_attribute(pool, user)
                    if attribute is not None:
                        user.attributes = {**user.attributes, f"{attribute}_verified": "true"}
                    return
        raise failure

    @staticmethod
    def _confirm(user: User, now: float) -> None:
        user.status = "CONFIRMED"
        user.updated_at = now

    def _code_request(
        self,
        client_id: str,
        username: str,
        secret_hash: str | None,
        purpose: str,
        send: Callable[[Repository, Outgoing, Pool, User, float], dest.CodeDelivery],
    ) -> dest.CodeDelivery:
        """`send` for the user, or a decoy for a username without one (LEGACY: not found).

        The decoy counts toward the same limit as a real request, so the limit tells nothing.
        """
        now = self.core.clock()
        with self.sender.sending() as outgoing, self.core.store.transaction() as repo:
            client, pool = self._client_pool(repo, client_id, username, secret_hash)
            user = repo.user_by_username(pool.id, username)
            if user is not None:
                return send(repo, outgoing, pool, user, now)
            if client.prevent_user_existence_errors == "LEGACY":
                raise UserNotFound(NOT_FOUND)
            self.limit.take(repo, pool.id, name_key(username), purpose, now)
            return dest.decoy(pool, username, self._decoy_key)

    def resend_confirmation_code(
        self, client_id: str, username: str, secret_hash: str | None
    ) -> dest.CodeDelivery:
        def send(
            repo: Repository, outgoing: Outgoing, pool: Pool, user: User, now: float
        ) -> dest.CodeDelivery:
            if user.status != "UNCONFIRMED":
                raise InvalidParameter("User is already confirmed.")
            attribute = dest.confirmation_attribute(pool, user)
            if attribute is None:
                raise InvalidParameter("Cannot resend codes. Auto verification not turned on.")
            return self._send(repo, outgoing, pool, user, SIGNUP, attribute, now)

        return self._code_request(client_id, username, secret_hash, SIGNUP, send)

    def admin_confirm_sign_up(self, pool_id: str, username: str) -> None:
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            user = Admin.require_user(repo, pool_id, username)
            if user.status != "UNCONFIRMED":
                raise NotAuthorized(f"User cannot be confirmed. Current status is {user.status}")
            self._confirm(user, now)
            self.codes.discard(repo, user, SIGNUP)

    # password reset
    def forgot_password(
        self, client_id: str, username: str, secret_hash: str | None
    ) -> dest.CodeDelivery:
        def send(
            repo: Repository, outgoing: Outgoing, pool: Pool, user: User, now: float
        ) -> dest.CodeDelivery:
            if not user.enabled:
                raise NotAuthorized("User is disabled.")
            if user.status in ("FORCE_CHANGE_PASSWORD", "EXTERNAL_PROVIDER"):
                raise NotAuthorized("User password cannot be reset in the current state.")
            return self._send_reset(repo, outgoing, pool, user, now)

        return self._code_request(client_id, username, secret_hash, FORGOT_PASSWORD, send)

    def _send_reset(
        self, repo: Repository, outgoing: Outgoing, pool: Pool, user: User, now: float
    ) -> dest.CodeDelivery:
        attribute = dest.recovery_attribute(user)
        if attribute is None:
            raise InvalidParameter(
                "Cannot reset password for the user as there is no registered/verified email or phone_number"
            )
        return self._send(repo, outgoing, pool, user, FORGOT_PASSWORD, attribute, now)

    def confirm_forgot_password(
        self, client_id: str, username: str, code: str, password: str, secret_hash: str | None
    ) -> None:
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            client, pool = self._client_pool(repo, client_id, username, secret_hash)
            check_policy(password, pool.password_policy)
            user = repo.user_by_username(pool.id, username)
            if user is None:
                failure = self._unknown_user(client)
            else:
                failure = self.codes.check(repo, user, FORGOT_PASSWORD, code, now)
                if failure is None:
                    self.core.passwords.set(user, password)
                    if user.status == "RESET_REQUIRED":
                        user.status = "CONFIRMED"
                    user.updated_at = now
                    failures = repo.failures(pool.id, username)
                    failures.count, failures.locked_until = 0, 0.0
                    return
        raise failure

    def admin_reset_password(self, pool_id: str, username: str) -> None:
        """Require a reset (RESET_REQUIRED); a code goes to a verified email or phone, if any."""
        now = self.core.clock()
        with self.sender.sending() as outgoing, self.core.store.transaction() as repo:
            pool = Admin.require_pool(repo, pool_id)
            user = Admin.require_user(repo, pool_id, username)
            if user.status in ("UNCONFIRMED", "EXTERNAL_PROVIDER"):
                raise NotAuthorized("User password cannot be reset in the current state.")
            user.status = "RESET_REQUIRED"
            user.updated_at = now
            if dest.recovery_attribute(user) is not None:
                self._send_reset(repo, outgoing, pool, user, now)

    # the signed-in user's own account
    def change_password(self, access_token: str, previous: str, proposed: str) -> None:
        signed_in, _ = self.issuer.authenticate(access_token)
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            user, pool = self._authenticated(repo, signed_in)
            check_policy(proposed, pool.password_policy)
            # Counted under the name the user signs in with (the email, where that is the username).
            failures = self.issuer.lockout(repo, pool.id, user.username_key, now)
            if self.core.passwords.verify(user.password_hash, previous):
                failures.count = 0
                self.core.passwords.set(user, proposed)
                user.updated_at = now
                return
            failure = self.issuer.record_failure(failures, now)
        raise failure

    def update_attributes(
        self, access_token: str, attributes: dict[str, str]
    ) -> list[dest.CodeDelivery]:
        """Set attributes; a changed email or phone is unverified, and coded when auto-verified."""
        signed_in, claims = self.issuer.authenticate(access_token)
        now = self.core.clock()
        with self.sender.sending() as outgoing, self.core.store.transaction() as repo:
            user, pool = self._authenticated(repo, signed_in)
            self._check_writable(repo.client(str(claims.get("client_id", ""))), attributes)
            self.admin._check_attributes(pool, attributes)
            dest.check_format(attributes)
            updated, changed = dict(user.attributes), []
            for name, value in attributes.items():
                if name in dest.VERIFIABLE and updated.get(name) != value:
                    updated[f"{name}_verified"] = "false"
                    self.codes.discard(repo, user, verify_purpose(name))
                    changed.append(name)
                updated[name] = value
            if dest.EMAIL in changed:
                claim_email_alias(repo, pool, user, updated[dest.EMAIL], take=False)
            user.attributes = updated
            user.updated_at = now
            auto = pool.auto_verified_attributes or []
            return [
                self._send(repo, outgoing, pool, user, verify_purpose(name), name, now)
                for name in changed
                if name in auto
            ]

    def send_attribute_code(self, access_token: str, attribute: str) -> dest.CodeDelivery:
        signed_in, _ = self.issuer.authenticate(access_token)
        now = self.core.clock()
        with self.sender.sending() as outgoing, self.core.store.transaction() as repo:
            user, pool = self._authenticated(repo, signed_in)
            self._require_verifiable(user, attribute)
            purpose = verify_purpose(attribute)
            return self._send(repo, outgoing, pool, user, purpose, attribute, now)

    def verify_attribute(self, access_token: str, attribute: str, code: str) -> None:
        signed_in, _ = self.issuer.authenticate(access_token)
        now = self.core.clock()
        with self.core.store.transaction() as repo:
            user, pool = self._authenticated(repo, signed_in)
            self._require_verifiable(user, attribute)
            failure = self.codes.check(repo, user, verify_purpose(attribute), code, now)
            if failure is None:
                if attribute == dest.EMAIL:
                    claim_email_alias(repo, pool, user, user.attributes[dest.EMAIL], take=True)
                user.attributes = {**user.attributes, f"{attribute}_verified": "true"}
                user.updated_at = now
                return
        raise failure

    @staticmethod
    def _require_verifiable(user: User, attribute: str) -> None:
        if attribute not in dest.VERIFIABLE:
            raise InvalidParameter("AttributeName must be email or phone_number.")
        if not user.attributes.get(attribute):
            raise InvalidParameter(f"The user has no {attribute} to verify.")

    def delete_user(self, access_token: str) -> None:
        signed_in, _ = self.issuer.authenticate(access_token)
        with self.core.store.transaction() as repo:
            user, _ = self._authenticated(repo, signed_in)
            repo.delete_user(user)

"""The hosted login's self-service pages: forgotten passwords and sign-up.

They call the same account services as Cognito's ForgotPassword, ConfirmForgotPassword,
SignUp and ConfirmSignUp, with the hosted login's SECRET_HASH for confidential clients, so
the rules are the API's: codes expire, wrong ones are counted, and a username without a
user gets the same answer as one with a user (a plausible masked destination, then "Invalid
verification code provided"), so the pages reveal no more than the API does.
"""

from __future__ import annotations

from collections.abc import Sequence

from token_service.accounts.service import Accounts
from token_service.errors import TokenServiceError
from token_service.hosted.login import HostedLogin
from token_service.hosted.outcomes import Page

FORGOT, RESET, SIGN_UP, CONFIRM = "forgot", "reset", "signup", "confirm"
PASSWORD_CHANGED = "Your password was changed. Sign in with your new password."
CONFIRMED = "Your account is confirmed. Sign in."
NEEDS_ADMIN = "Your account was created. An administrator must confirm it before you sign in."
SIGN_UP_CLOSED = "Sign-up is not offered here. Ask an administrator for an account."


def _sent(destination: str) -> str:
    return f"We sent a code to {destination}. Enter it below."


class SelfService:
    def __init__(self, login: HostedLogin, accounts: Accounts) -> None:
        self.login = login
        self.accounts = accounts

    def page(self, items: Sequence[tuple[str, str]], step: str) -> Page:
        request, pool = self.login.request(items)
        if step == SIGN_UP and pool.admin_create_only:
            return Page("login", request, pool, SIGN_UP_CLOSED)
        return Page(step, request, pool, username=request.login_hint or "")

    def forgot(self, items: Sequence[tuple[str, str]], username: str) -> Page:
        request, pool = self.login.request(items)
        client = request.client
        try:
            delivery = self.accounts.forgot_password(
                client.id, username, self.login.issuer.hosted_secret_hash(client, username)
            )
        except TokenServiceError as error:
            return Page(FORGOT, request, pool, error.message, username)
        return Page(RESET, request, pool, username=username, notice=_sent(delivery.destination))

    def reset(
        self, items: Sequence[tuple[str, str]], username: str, code: str, password: str
    ) -> Page:
        request, pool = self.login.request(items)
        client = request.client
        try:
            self.accounts.confirm_forgot_password(
                client.id,
                username,
                code,
                password,
                self.login.issuer.hosted_secret_hash(client, username),
            )
        except TokenServiceError as error:
            return Page(RESET, request, pool, error.message, username)
        return Page("login", request, pool, username=username, notice=PASSWORD_CHANGED)

    def sign_up(
        self, items: Sequence[tuple[str, str]], username: str, email: str, password: str
    ) -> Page:
        request, pool = self.login.request(items)
        client = request.client
        attributes = {"email": email} if email else {}
        try:
            result = self.accounts.sign_up(
                client.id,
                username,
                password,
                attributes,
                self.login.issuer.hosted_secret_hash(client, username),
            )
        except TokenServiceError as error:
            return Page(SIGN_UP, request, pool, error.message, username)
        if result.delivery is None:
            return Page("login", request, pool, username=username, notice=NEEDS_ADMIN)
        notice = _sent(result.delivery.destination)
        return Page(CONFIRM, request, pool, username=username, notice=notice)

    def confirm(self, items: Sequence[tuple[str, str]], username: str, code: str) -> Page:
        request, pool = self.login.request(items)
        client = request.client
        try:
            self.accounts.confirm_sign_up(
                client.id, username, code, self.login.issuer.hosted_secret_hash(client, username)
            )
        except TokenServiceError as error:
            return Page(CONFIRM, request, pool, error.message, username)
        return Page("login", request, pool, username=username, notice=CONFIRMED)

"""The hosted login's authenticator-app steps: SOFTWARE_TOKEN_MFA and MFA_SETUP.

The pages call the same service as RespondToAuthChallenge, AssociateSoftwareToken and
VerifySoftwareToken, so wrong codes count toward the same lockout and a code is accepted
once. Enrolment shows the new secret as text and as an `otpauth://` URI (what authenticator
apps import), and asks for a first code; the secret is verified against the stored one,
never against anything the page posts back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from token_service.issue import Completion, Issuer
from token_service.signin.challenges import Challenge
from token_service.signin.mfa import MFA_SETUP, SOFTWARE_TOKEN_MFA
from token_service.signin.software_token import ChallengeAnswer, SoftwareTokens, require_code
from token_service.store.models import Client, Pool

STEPS = (SOFTWARE_TOKEN_MFA, MFA_SETUP)


def otpauth_uri(pool: Pool, username: str, secret: str) -> str:
    """The key URI authenticator apps read: otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=..."""
    label = f"{quote(pool.name, safe='')}:{quote(username, safe='')}"
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(pool.name, safe='')}"


class SecondFactor:
    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.tokens = SoftwareTokens(issuer)

    def enrol(self, challenge: Challenge, pool: Pool, username: str) -> Challenge:
        """MFA_SETUP: a new pending secret; the challenge to show, with its next session."""
        enrolment = self.tokens.associate(None, challenge.session)
        secret = enrolment.secret_code or ""
        parameters = {"SECRET_CODE": secret, "OTPAUTH_URI": otpauth_uri(pool, username, secret)}
        return Challenge(MFA_SETUP, parameters, enrolment.session)

    def _answer(self, client: Client, session: str, username: str) -> ChallengeAnswer:
        secret_hash = self.issuer.hosted_secret_hash(client, username)
        return ChallengeAnswer(client.id, session, username, secret_hash, None)

    def answer_code(
        self, client: Client, session: str, username: str, code: str, complete: Completion
    ) -> Any:
        code = require_code(code, "code")
        return self.tokens.answer_code(self._answer(client, session, username), code, complete)

    def answer_setup(
        self, client: Client, session: str, username: str, code: str, complete: Completion
    ) -> Any:
        """Verify the first code of the pending secret, then answer MFA_SETUP with it."""
        code = require_code(code, "code")
        verified = self.tokens.verify(None, session, code, None)
        answer = self._answer(client, verified.session or "", username)
        return self.tokens.answer_setup(answer, complete)

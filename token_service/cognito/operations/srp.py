"""SRP sign-in: the USER_SRP_AUTH flow and its PASSWORD_VERIFIER challenge.

Both are offered by the user operations (InitiateAuth, RespondToAuthChallenge) and by their
Admin* variants, which also name the pool.
"""

from __future__ import annotations

from token_service.cognito.operations.base import (
    FlowHandler,
    Params,
    Result,
    dict_param,
    entry_str,
    opt_str,
    req_str,
)
from token_service.cognito.operations.shapes import auth_shape
from token_service.services import Services
from token_service.signin.srp import PASSWORD_VERIFIER, Claim, SrpSignIn


def _start(services: Services, params: Params, pool_id: str | None) -> Result:
    auth = dict_param(params, "AuthParameters")
    challenge = SrpSignIn(services.core, services.issuer).start(
        req_str(params, "ClientId"),
        entry_str(auth, "USERNAME"),
        entry_str(auth, "SRP_A"),
        secret_hash_value=opt_str(auth, "SECRET_HASH"),
        pool_id=pool_id,
    )
    return auth_shape(challenge)


def _password_verifier(services: Services, params: Params, pool_id: str | None) -> Result:
    responses = dict_param(params, "ChallengeResponses")
    claim = Claim(
        secret_block=entry_str(responses, "PASSWORD_CLAIM_SECRET_BLOCK"),
        signature=entry_str(responses, "PASSWORD_CLAIM_SIGNATURE"),
        timestamp=entry_str(responses, "TIMESTAMP"),
    )
    result = SrpSignIn(services.core, services.issuer).respond(
        req_str(params, "ClientId"),
        entry_str(responses, "USERNAME"),
        claim,
        secret_hash_value=opt_str(responses, "SECRET_HASH"),
        pool_id=pool_id,
    )
    return auth_shape(result)


AUTH_FLOWS: dict[str, tuple[FlowHandler, bool, bool]] = {"USER_SRP_AUTH": (_start, True, True)}
CHALLENGES: dict[str, FlowHandler] = {PASSWORD_VERIFIER: _password_verifier}

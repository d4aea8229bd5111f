"""MFA with authenticator apps: pool and user settings, enrolment, and the two challenges.

`CHALLENGES` adds SOFTWARE_TOKEN_MFA and MFA_SETUP to RespondToAuthChallenge and
AdminRespondToAuthChallenge.
"""

from __future__ import annotations

from typing import Any

from token_service.cognito.operations.base import (
    FlowHandler,
    Operation,
    Params,
    Result,
    dict_param,
    entry_str,
    opt_bool,
    opt_str,
    req_str,
)
from token_service.cognito.operations.shapes import auth_shape
from token_service.errors import InvalidParameter
from token_service.services import Services
from token_service.signin.mfa_settings import FactorSetting, MfaSettings
from token_service.signin.software_token import ChallengeAnswer, SoftwareTokens, require_code


def _optional_map(params: Params, name: str) -> dict[str, Any] | None:
    """A map parameter; None when absent or null (SDKs send null for settings left out)."""
    return dict_param(params, name) if params.get(name) is not None else None


def _factor_setting(params: Params, name: str) -> FactorSetting:
    settings = _optional_map(params, name) or {}
    return FactorSetting(
        enabled=opt_bool(settings, "Enabled"), preferred=opt_bool(settings, "PreferredMfa")
    )


def _other_factors(params: Params) -> dict[str, FactorSetting]:
    return {
        "SMS_MFA": _factor_setting(params, "SMSMfaSettings"),
        "EMAIL_OTP": _factor_setting(params, "EmailMfaSettings"),
        "WEB_AUTHN": _factor_setting(params, "WebAuthnMfaSettings"),
    }


def _pool_config_shape(mode: str) -> Result:
    shape: Result = {"MfaConfiguration": mode}
    if mode != "OFF":
        shape["SoftwareTokenMfaConfiguration"] = {"Enabled": True}
    return shape


def set_user_pool_mfa_config(services: Services, params: Params) -> Result:
    if params.get("WebAuthnConfiguration") is not None:
        raise InvalidParameter("WebAuthnConfiguration: passkeys are not available here.")
    software = _optional_map(params, "SoftwareTokenMfaConfiguration") or {}
    mode = MfaSettings(services.issuer).set_pool_config(
        req_str(params, "UserPoolId"),
        opt_str(params, "MfaConfiguration"),
        software_token=bool(opt_bool(software, "Enabled")),
        sms=_optional_map(params, "SmsMfaConfiguration"),
        email=_optional_map(params, "EmailMfaConfiguration"),
    )
    return _pool_config_shape(mode)


def get_user_pool_mfa_config(services: Services, params: Params) -> Result:
    mode = MfaSettings(services.issuer).pool_config(req_str(params, "UserPoolId"))
    return _pool_config_shape(mode)


def associate_software_token(services: Services, params: Params) -> Result:
    enrolment = SoftwareTokens(services.issuer).associate(
        opt_str(params, "AccessToken"), opt_str(params, "Session")
    )
    result: Result = {"SecretCode": enrolment.secret_code}
    if enrolment.session is not None:
        result["Session"] = enrolment.session
    return result


def verify_software_token(services: Services, params: Params) -> Result:
    enrolment = SoftwareTokens(services.issuer).verify(
        opt_str(params, "AccessToken"),
        opt_str(params, "Session"),
        require_code(params.get("UserCode"), "UserCode"),
        opt_str(params, "FriendlyDeviceName"),
    )
    result: Result = {"Status": "SUCCESS"}
    if enrolment.session is not None:
        result["Session"] = enrolment.session
    return result


def set_user_mfa_preference(services: Services, params: Params) -> Result:
    MfaSettings(services.issuer).set_user_preference(
        req_str(params, "AccessToken"),
        _factor_setting(params, "SoftwareTokenMfaSettings"),
        _other_factors(params),
    )
    return {}


def admin_set_user_mfa_preference(services: Services, params: Params) -> Result:
    MfaSettings(services.issuer).admin_set_user_preference(
        req_str(params, "UserPoolId"),
        req_str(params, "Username"),
        _factor_setting(params, "SoftwareTokenMfaSettings"),
        _other_factors(params),
    )
    return {}


def _session(params: Params) -> str:
    session = opt_str(params, "Session")
    if not session:
        raise InvalidParameter("Missing required parameter Session")
    return session


def _answer(params: Params, pool_id: str | None) -> ChallengeAnswer:
    responses = dict_param(params, "ChallengeResponses")
    return ChallengeAnswer(
        client_id=req_str(params, "ClientId"),
        session=_session(params),
        username=entry_str(responses, "USERNAME"),
        secret_hash=opt_str(responses, "SECRET_HASH"),
        pool_id=pool_id,
    )


def _software_token_mfa(services: Services, params: Params, pool_id: str | None) -> Result:
    answer = _answer(params, pool_id)
    code = dict_param(params, "ChallengeResponses").get("SOFTWARE_TOKEN_MFA_CODE")
    tokens = SoftwareTokens(services.issuer).answer_code(
        answer, require_code(code, "SOFTWARE_TOKEN_MFA_CODE")
    )
    return auth_shape(tokens)


def _mfa_setup(services: Services, params: Params, pool_id: str | None) -> Result:
    return auth_shape(SoftwareTokens(services.issuer).answer_setup(_answer(params, pool_id)))


CHALLENGES: dict[str, FlowHandler] = {
    "SOFTWARE_TOKEN_MFA": _software_token_mfa,
    "MFA_SETUP": _mfa_setup,
}

OPERATIONS: dict[str, Operation] = {
    "SetUserPoolMfaConfig": Operation(set_user_pool_mfa_config, admin=True),
    "GetUserPoolMfaConfig": Operation(get_user_pool_mfa_config, admin=True),
    "AssociateSoftwareToken": Operation(associate_software_token, admin=False),
    "VerifySoftwareToken": Operation(verify_software_token, admin=False),
    "SetUserMFAPreference": Operation(set_user_mfa_preference, admin=False),
    "AdminSetUserMFAPreference": Operation(admin_set_user_mfa_preference, admin=True),
}

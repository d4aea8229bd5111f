"""Self-service accounts: sign-up and its confirmation, password reset, the signed-in user's
own password and attributes, attribute verification, and the two admin operations of the
same flows (AdminConfirmSignUp, AdminResetUserPassword). `token_service.accounts` decides."""

from __future__ import annotations

from typing import Any

from token_service.accounts.destinations import CodeDelivery
from token_service.cognito.operations.base import (
    Operation,
    Params,
    Result,
    attributes_param,
    opt_str,
    req_str,
)
from token_service.errors import InvalidParameter
from token_service.services import Services

_USERNAME_PATTERN = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+"


def _username(params: Params) -> str:
    value = req_str(params, "Username")
    if len(value) > 128 or any(c.isspace() for c in value):
        raise InvalidParameter(
            "1 validation error detected: Value at 'username' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {_USERNAME_PATTERN}"
        )
    return value


def _code(params: Params, name: str) -> str:
    value = req_str(params, name)
    if len(value) > 2048 or any(c.isspace() for c in value):
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name[0].lower() + name[1:]}' failed to "
            r"satisfy constraint: Member must satisfy regular expression pattern: [\S]+"
        )
    return value


def _delivery(delivery: CodeDelivery) -> dict[str, str]:
    return {
        "Destination": delivery.destination,
        "DeliveryMedium": delivery.medium,
        "AttributeName": delivery.attribute,
    }


def sign_up(services: Services, params: Params) -> Result:
    result = services.accounts.sign_up(
        req_str(params, "ClientId"),
        _username(params),
        req_str(params, "Password"),
        attributes_param(params, "UserAttributes"),
        opt_str(params, "SecretHash"),
    )
    response: dict[str, Any] = {"UserConfirmed": result.confirmed, "UserSub": result.sub}
    if result.delivery is not None:
        response["CodeDeliveryDetails"] = _delivery(result.delivery)
    return response


def confirm_sign_up(services: Services, params: Params) -> Result:
    services.accounts.confirm_sign_up(
        req_str(params, "ClientId"),
        _username(params),
        _code(params, "ConfirmationCode"),
        opt_str(params, "SecretHash"),
    )
    return {}


def resend_confirmation_code(services: Services, params: Params) -> Result:
    delivery = services.accounts.resend_confirmation_code(
        req_str(params, "ClientId"), _username(params), opt_str(params, "SecretHash")
    )
    return {"CodeDeliveryDetails": _delivery(delivery)}


def admin_confirm_sign_up(services: Services, params: Params) -> Result:
    services.accounts.admin_confirm_sign_up(req_str(params, "UserPoolId"), _username(params))
    return {}


def forgot_password(services: Services, params: Params) -> Result:
    delivery = services.accounts.forgot_password(
        req_str(params, "ClientId"), _username(params), opt_str(params, "SecretHash")
    )
    return {"CodeDeliveryDetails": _delivery(delivery)}


def confirm_forgot_password(services: Services, params: Params) -> Result:
    services.accounts.confirm_forgot_password(
        req_str(params, "ClientId"),
        _username(params),
        _code(params, "ConfirmationCode"),
        req_str(params, "Password"),
        opt_str(params, "SecretHash"),
    )
    return {}


def admin_reset_user_password(services: Services, params: Params) -> Result:
    services.accounts.admin_reset_password(req_str(params, "UserPoolId"), _username(params))
    return {}


def change_password(services: Services, params: Params) -> Result:
    services.accounts.change_password(
        req_str(params, "AccessToken"),
        req_str(params, "PreviousPassword"),
        req_str(params, "ProposedPassword"),
    )
    return {}


def update_user_attributes(services: Services, params: Params) -> Result:
    if params.get("UserAttributes") is None:
        raise InvalidParameter(
            "1 validation error detected: Value at 'userAttributes' failed to satisfy "
            "constraint: Member must not be null"
        )
    deliveries = services.accounts.update_attributes(
        req_str(params, "AccessToken"), attributes_param(params, "UserAttributes")
    )
    return {"CodeDeliveryDetailsList": [_delivery(d) for d in deliveries]}


def get_user_attribute_verification_code(services: Services, params: Params) -> Result:
    delivery = services.accounts.send_attribute_code(
        req_str(params, "AccessToken"), req_str(params, "AttributeName")
    )
    return {"CodeDeliveryDetails": _delivery(delivery)}


def verify_user_attribute(services: Services, params: Params) -> Result:
    services.accounts.verify_attribute(
        req_str(params, "AccessToken"), req_str(params, "AttributeName"), _code(params, "Code")
    )
    return {}


def delete_user(services: Services, params: Params) -> Result:
    services.accounts.delete_user(req_str(params, "AccessToken"))
    return {}


OPERATIONS: dict[str, Operation] = {
    "SignUp": Operation(sign_up, admin=False),
    "ConfirmSignUp": Operation(confirm_sign_up, admin=False),
    "ResendConfirmationCode": Operation(resend_confirmation_code, admin=False),
    "AdminConfirmSignUp": Operation(admin_confirm_sign_up, admin=True),
    "ForgotPassword": Operation(forgot_password, admin=False),
    "ConfirmForgotPassword": Operation(confirm_forgot_password, admin=False),
    "AdminResetUserPassword": Operation(admin_reset_user_password, admin=True),
    "ChangePassword": Operation(change_password, admin=False),
    "UpdateUserAttributes": Operation(update_user_attributes, admin=False),
    "GetUserAttributeVerificationCode": Operation(
        get_user_attribute_verification_code, admin=False
    ),
    "VerifyUserAttribute": Operation(verify_user_attribute, admin=False),
    "DeleteUser": Operation(delete_user, admin=False),
}

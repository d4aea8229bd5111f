"""boto3 rows: TOTP MFA (pool configuration, authenticator setup, the sign-in challenges).

Codes come from pyotp, as an authenticator app computes them. A code is never accepted twice,
so a row that verified with the current step's code signs in with the next step's.
"""

from __future__ import annotations

import time

from tests.support.matrix.core import Rows, Target, check, cognito_error, equal, verify_sign_in
from tests.support.matrix.kit import App, Kit, Person

rows = Rows("boto3", needs=("pyotp",))


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


def optional_mfa(kit: Kit) -> None:
    kit.admin.set_user_pool_mfa_config(
        UserPoolId=kit.pool_id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        MfaConfiguration="OPTIONAL",
    )


def enrol(kit: Kit, app: App, person: Person) -> str:
    """Associate and verify an authenticator for a signed-in user; prefer it. Its secret."""
    token = kit.sign_in(app, person)["AccessToken"]
    secret = kit.public.associate_software_token(AccessToken=token)["SecretCode"]
    verified = kit.public.verify_software_token(
        AccessToken=token, UserCode=totp_code(secret), FriendlyDeviceName="phone"
    )
    equal(verified["Status"], "SUCCESS", "VerifySoftwareToken Status")
    kit.public.set_user_mfa_preference(
        AccessToken=token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return secret


@rows.row("boto3.set_user_pool_mfa_config", "SetUserPoolMfaConfig and GetUserPoolMfaConfig")
def pool_mfa_config(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    config = kit.admin.get_user_pool_mfa_config(UserPoolId=kit.pool_id)
    equal(config["MfaConfiguration"], "OPTIONAL", "MfaConfiguration")
    equal(
        config["SoftwareTokenMfaConfiguration"], {"Enabled": True}, "SoftwareTokenMfaConfiguration"
    )
    pool = kit.admin.describe_user_pool(UserPoolId=kit.pool_id)["UserPool"]
    equal(pool["MfaConfiguration"], "OPTIONAL", "DescribeUserPool MfaConfiguration")


@rows.row("boto3.set_user_pool_mfa_config.on_without_factor", "MFA ON with no factor type enabled")
def pool_mfa_on_without_factor(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("InvalidParameterException"):
        kit.admin.set_user_pool_mfa_config(UserPoolId=kit.pool_id, MfaConfiguration="ON")


@rows.row("boto3.associate_software_token", "AssociateSoftwareToken + VerifySoftwareToken")
def associate(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    secret = enrol(kit, app, person)
    check(len(secret) >= 16, f"SecretCode {len(secret)} characters")
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(user.get("UserMFASettingList"), ["SOFTWARE_TOKEN_MFA"], "UserMFASettingList")
    equal(user.get("PreferredMfaSetting"), "SOFTWARE_TOKEN_MFA", "PreferredMfaSetting")


@rows.row("boto3.verify_software_token.wrong_code", "VerifySoftwareToken with a wrong code")
def verify_wrong(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    token = kit.sign_in(app, person)["AccessToken"]
    secret = kit.public.associate_software_token(AccessToken=token)["SecretCode"]
    wrong = "000000" if totp_code(secret) != "000000" else "111111"
    with cognito_error(("EnableSoftwareTokenMFAException", "CodeMismatchException")):
        kit.public.verify_software_token(AccessToken=token, UserCode=wrong)


@rows.row("boto3.software_token_mfa", "sign-in answers SOFTWARE_TOKEN_MFA; the code completes it")
def software_token_mfa(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    secret = enrol(kit, app, person)
    challenge = kit.initiate(app, person)
    equal(challenge.get("ChallengeName"), "SOFTWARE_TOKEN_MFA", "ChallengeName")
    done = kit.public.respond_to_auth_challenge(
        ClientId=app.id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={
            "USERNAME": person.username,
            "SOFTWARE_TOKEN_MFA_CODE": totp_code(secret, 1),
        },
    )["AuthenticationResult"]
    verify_sign_in(target, kit.pool_id, done, app.id, person.username)


@rows.row("boto3.software_token_mfa.wrong_code", "a wrong TOTP code is CodeMismatchException")
def software_token_wrong(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    secret = enrol(kit, app, person)
    challenge = kit.initiate(app, person)
    right = {totp_code(secret, step) for step in (-1, 0, 1, 2)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333", "444444") if c not in right)
    with cognito_error("CodeMismatchException"):
        kit.public.respond_to_auth_challenge(
            ClientId=app.id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge.get("Session", "x" * 40),
            ChallengeResponses={"USERNAME": person.username, "SOFTWARE_TOKEN_MFA_CODE": wrong},
        )


@rows.row("boto3.mfa_setup", "pool MFA ON: MFA_SETUP, associate and verify with the Session")
def mfa_setup(target: Target) -> None:
    kit = Kit(target)
    kit.admin.set_user_pool_mfa_config(
        UserPoolId=kit.pool_id,
        SoftwareTokenMfaConfiguration={"Enabled": True},
        MfaConfiguration="ON",
    )
    app, person = kit.app(), kit.person()
    challenge = kit.initiate(app, person)
    equal(challenge.get("ChallengeName"), "MFA_SETUP", "ChallengeName")
    associated = kit.public.associate_software_token(Session=challenge["Session"])
    verified = kit.public.verify_software_token(
        Session=associated["Session"], UserCode=totp_code(associated["SecretCode"])
    )
    equal(verified["Status"], "SUCCESS", "Status")
    done = kit.public.respond_to_auth_challenge(
        ClientId=app.id,
        ChallengeName="MFA_SETUP",
        Session=verified["Session"],
        ChallengeResponses={"USERNAME": person.username},
    )["AuthenticationResult"]
    verify_sign_in(target, kit.pool_id, done, app.id, person.username)


@rows.row("boto3.admin_set_user_mfa_preference", "AdminSetUserMFAPreference turns TOTP off")
def admin_mfa_preference(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    enrol(kit, app, person)
    kit.admin.admin_set_user_mfa_preference(
        UserPoolId=kit.pool_id,
        Username=person.username,
        SoftwareTokenMfaSettings={"Enabled": False, "PreferredMfa": False},
    )
    check("AuthenticationResult" in kit.initiate(app, person), "still challenged for MFA")

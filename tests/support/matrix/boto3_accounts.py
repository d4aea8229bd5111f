"""boto3 rows: self-service accounts (sign-up, codes, password reset, own attributes)."""

from __future__ import annotations

from tests.support.matrix.core import (
    OTHER_PASSWORD,
    PASSWORD,
    Rows,
    Target,
    attribute,
    check,
    cognito_error,
    equal,
    unique,
)
from tests.support.matrix.kit import App, Kit, Person

rows = Rows("boto3")
WRONG_CODE = "000000"


def sign_up(kit: Kit, app: App, username: str | None = None) -> Person:
    """SignUp with an email; the person is UNCONFIRMED until the code is confirmed."""
    username = username or unique("self-")
    email = f"{username}@example.com"
    answer = kit.public.sign_up(
        ClientId=app.id,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    equal(answer["UserConfirmed"], False, "UserConfirmed")
    return Person(username, email, answer["UserSub"])


def wrong_code(code: str) -> str:
    """A six-digit code that is not `code`."""
    return WRONG_CODE if code != WRONG_CODE else "111111"


@rows.row("boto3.sign_up", "SignUp: UserSub, CodeDeliveryDetails, user UNCONFIRMED")
def sign_up_row(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app = kit.app()
    username = unique("self-")
    answer = kit.public.sign_up(
        ClientId=app.id,
        Username=username,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}],
    )
    check(len(answer["UserSub"]) == 36, f"UserSub {answer['UserSub']!r}")
    details = answer.get("CodeDeliveryDetails", {})
    equal(
        (details.get("DeliveryMedium"), details.get("AttributeName")),
        ("EMAIL", "email"),
        "delivery",
    )
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=username)
    equal(user["UserStatus"], "UNCONFIRMED", "UserStatus")


@rows.row("boto3.sign_up.duplicate", "SignUp of an existing username")
def sign_up_duplicate(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    person = kit.person()
    with cognito_error("UsernameExistsException"):
        sign_up(kit, app, person.username)


@rows.row("boto3.sign_up.weak_password", "SignUp with a password the policy refuses")
def sign_up_weak(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    with cognito_error("InvalidPasswordException"):
        kit.public.sign_up(ClientId=app.id, Username=unique("self-"), Password="short")


@rows.row("boto3.sign_up.admin_only", "SignUp on a pool that allows admins only")
def sign_up_admin_only(target: Target) -> None:
    kit = Kit(target, AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    app = kit.app()
    with cognito_error("NotAuthorizedException"):
        sign_up(kit, app)


@rows.row("boto3.confirm_sign_up", "the delivered code confirms; sign-in works after")
def confirm_sign_up(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app = kit.app()
    person = sign_up(kit, app)
    kit.public.confirm_sign_up(
        ClientId=app.id, Username=person.username, ConfirmationCode=kit.code(person.email)
    )
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(user["UserStatus"], "CONFIRMED", "UserStatus")
    kit.sign_in(app, person)


@rows.row("boto3.confirm_sign_up.wrong_code", "a wrong code is CodeMismatchException")
def confirm_sign_up_wrong(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app = kit.app()
    person = sign_up(kit, app)
    code = kit.code(person.email)
    with cognito_error("CodeMismatchException"):
        kit.public.confirm_sign_up(
            ClientId=app.id, Username=person.username, ConfirmationCode=wrong_code(code)
        )
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(user["UserStatus"], "UNCONFIRMED", "UserStatus after a wrong code")


@rows.row("boto3.sign_in.unconfirmed", "an unconfirmed user with the right password")
def unconfirmed_sign_in(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    person = sign_up(kit, app)
    with cognito_error("UserNotConfirmedException"):
        kit.sign_in(app, person)


@rows.row("boto3.resend_confirmation_code", "ResendConfirmationCode: the new code confirms")
def resend_code(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app = kit.app()
    person = sign_up(kit, app)
    details = kit.public.resend_confirmation_code(ClientId=app.id, Username=person.username)
    equal(details["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL", "DeliveryMedium")
    kit.public.confirm_sign_up(
        ClientId=app.id, Username=person.username, ConfirmationCode=kit.code(person.email)
    )


@rows.row("boto3.admin_confirm_sign_up", "AdminConfirmSignUp confirms without a code")
def admin_confirm(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    person = sign_up(kit, app)
    kit.admin.admin_confirm_sign_up(UserPoolId=kit.pool_id, Username=person.username)
    kit.sign_in(app, person)


@rows.row("boto3.forgot_password", "ForgotPassword + ConfirmForgotPassword: the new password works")
def forgot_password(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    details = kit.public.forgot_password(ClientId=app.id, Username=person.username)
    equal(details["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL", "DeliveryMedium")
    kit.public.confirm_forgot_password(
        ClientId=app.id,
        Username=person.username,
        ConfirmationCode=kit.code(person.email),
        Password=OTHER_PASSWORD,
    )
    kit.sign_in(app, person, OTHER_PASSWORD)
    with cognito_error("NotAuthorizedException"):
        kit.sign_in(app, person, PASSWORD)


@rows.row("boto3.confirm_forgot_password.wrong_code", "a wrong reset code changes nothing")
def forgot_password_wrong(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    kit.public.forgot_password(ClientId=app.id, Username=person.username)
    code = kit.code(person.email)
    with cognito_error("CodeMismatchException"):
        kit.public.confirm_forgot_password(
            ClientId=app.id,
            Username=person.username,
            ConfirmationCode=wrong_code(code),
            Password=OTHER_PASSWORD,
        )
    kit.sign_in(app, person, PASSWORD)


@rows.row("boto3.change_password", "ChangePassword: the new password works, the old does not")
def change_password(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    token = kit.sign_in(app, person)["AccessToken"]
    kit.public.change_password(
        AccessToken=token, PreviousPassword=PASSWORD, ProposedPassword=OTHER_PASSWORD
    )
    kit.sign_in(app, person, OTHER_PASSWORD)
    with cognito_error("NotAuthorizedException"):
        kit.sign_in(app, person, PASSWORD)


@rows.row("boto3.change_password.wrong_previous", "ChangePassword with a wrong previous password")
def change_password_wrong(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    token = kit.sign_in(app, person)["AccessToken"]
    with cognito_error("NotAuthorizedException"):
        kit.public.change_password(
            AccessToken=token, PreviousPassword="Wr0ng-Password!", ProposedPassword=OTHER_PASSWORD
        )
    kit.sign_in(app, person, PASSWORD)


@rows.row("boto3.update_user_attributes", "UpdateUserAttributes with the access token")
def update_user_attributes(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    token = kit.sign_in(app, person)["AccessToken"]
    kit.public.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "name", "Value": "Alice A."}]
    )
    user = kit.public.get_user(AccessToken=token)
    equal(attribute(user["UserAttributes"], "name"), "Alice A.", "name")


@rows.row(
    "boto3.update_user_attributes.email", "a new email needs its code: verified false, then true"
)
def update_email(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    token = kit.sign_in(app, person)["AccessToken"]
    new_email = f"new-{person.email}"
    answer = kit.public.update_user_attributes(
        AccessToken=token, UserAttributes=[{"Name": "email", "Value": new_email}]
    )
    check(answer.get("CodeDeliveryDetailsList"), "no CodeDeliveryDetailsList")
    user = kit.public.get_user(AccessToken=token)
    equal(attribute(user["UserAttributes"], "email_verified"), "false", "email_verified before")
    kit.public.verify_user_attribute(
        AccessToken=token, AttributeName="email", Code=kit.code(new_email)
    )
    user = kit.public.get_user(AccessToken=token)
    equal(attribute(user["UserAttributes"], "email"), new_email, "email")
    equal(attribute(user["UserAttributes"], "email_verified"), "true", "email_verified after")


@rows.row(
    "boto3.verify_user_attribute.wrong_code", "GetUserAttributeVerificationCode + a wrong code"
)
def verify_attribute_wrong(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    token = kit.sign_in(app, person)["AccessToken"]
    kit.public.get_user_attribute_verification_code(AccessToken=token, AttributeName="email")
    code = kit.code(person.email)
    with cognito_error("CodeMismatchException"):
        kit.public.verify_user_attribute(
            AccessToken=token, AttributeName="email", Code=wrong_code(code)
        )


@rows.row("boto3.delete_user", "DeleteUser with the access token; sign-in stops")
def delete_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    kit.public.delete_user(AccessToken=kit.sign_in(app, person)["AccessToken"])
    with cognito_error("UserNotFoundException"):
        kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    with cognito_error(("NotAuthorizedException", "UserNotFoundException")):
        kit.sign_in(app, person)


@rows.row("boto3.admin_reset_user_password", "AdminResetUserPassword: reset required, then a code")
def admin_reset_password(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    kit.admin.admin_reset_user_password(UserPoolId=kit.pool_id, Username=person.username)
    user = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(user["UserStatus"], "RESET_REQUIRED", "UserStatus")
    with cognito_error("PasswordResetRequiredException"):
        kit.sign_in(app, person)
    kit.public.confirm_forgot_password(
        ClientId=app.id,
        Username=person.username,
        ConfirmationCode=kit.code(person.email),
        Password=OTHER_PASSWORD,
    )
    kit.sign_in(app, person, OTHER_PASSWORD)

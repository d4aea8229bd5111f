"""pycognito rows: the `Cognito` class as Python web apps use it (SRP sign-in, accounts, MFA).

pycognito verifies every token it receives against `<endpoint_url>/<pool id>` as issuer and
that URL's JWKS, so its rows also hold the endpoint to Cognito's token rules.
"""

from __future__ import annotations

from typing import Any

from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.matrix.boto3_accounts import wrong_code
from tests.support.matrix.boto3_mfa import optional_mfa, totp_code
from tests.support.matrix.core import (
    OTHER_PASSWORD,
    PASSWORD,
    Mismatch,
    Rows,
    Target,
    check,
    cognito_error,
    equal,
    unique,
)
from tests.support.matrix.kit import App, Kit, Person

rows = Rows("pycognito", needs=("pycognito",))


def user_cognito(kit: Kit, app: App, username: str | None = None, **tokens: str) -> Any:
    """pycognito as a user's app holds it: unsigned calls to the endpoint."""
    from pycognito import Cognito

    return Cognito(
        kit.pool_id,
        app.id,
        username=username,
        client_secret=app.secret,
        botocore_config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
        boto3_client_kwargs={"endpoint_url": kit.target.url},
        **tokens,
    )


def admin_cognito(kit: Kit, app: App, username: str | None = None) -> Any:
    """pycognito as a backend holds it: signed with the admin credentials."""
    from pycognito import Cognito

    target = kit.target
    return Cognito(
        kit.pool_id,
        app.id,
        username=username,
        client_secret=app.secret,
        botocore_config=Config(retries={"max_attempts": 1}),
        boto3_client_kwargs={
            "endpoint_url": target.url,
            "aws_access_key_id": target.access_key,
            "aws_secret_access_key": target.secret_key,
        },
    )


def signed_in(kit: Kit, app: App, person: Person) -> Any:
    user = user_cognito(kit, app, person.username)
    user.authenticate(password=person.password)
    return user


@rows.row("pycognito.authenticate", "authenticate: SRP sign-in, tokens verified by pycognito")
def authenticate(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    user = signed_in(kit, app, person)
    equal(user.access_claims["username"], person.username, "access token username")
    equal(user.id_claims["sub"], person.sub, "ID token sub")
    check(user.refresh_token, "no refresh token")


@rows.row("pycognito.authenticate.wrong_password", "SRP with a wrong password is refused")
def authenticate_wrong(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    with cognito_error("NotAuthorizedException", "Incorrect username or password."):
        user_cognito(kit, app, person.username).authenticate(password="Wr0ng-Password!")


@rows.row("pycognito.authenticate.secret", "SRP sign-in through a client with a secret")
def authenticate_secret(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(secret=True), kit.person()
    equal(signed_in(kit, app, person).access_claims["client_id"], app.id, "client_id")


@rows.row("pycognito.aws_srp", "AWSSRP.authenticate_user directly, as its docs show")
def aws_srp(target: Target) -> None:
    from pycognito.aws_srp import AWSSRP

    kit = Kit(target)
    app, person = kit.app(), kit.person()
    srp = AWSSRP(
        username=person.username,
        password=PASSWORD,
        pool_id=kit.pool_id,
        client_id=app.id,
        client=kit.public,
    )
    tokens = srp.authenticate_user()["AuthenticationResult"]
    check(tokens.get("AccessToken") and tokens.get("IdToken"), "no tokens")
    wrong = AWSSRP(
        username=person.username,
        password=OTHER_PASSWORD,
        pool_id=kit.pool_id,
        client_id=app.id,
        client=kit.public,
    )
    with cognito_error("NotAuthorizedException"):
        wrong.authenticate_user()


@rows.row("pycognito.admin_authenticate", "admin_authenticate (ADMIN_NO_SRP_AUTH)")
def admin_authenticate(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(secret=True), kit.person()
    admin = admin_cognito(kit, app, person.username)
    admin.admin_authenticate(password=PASSWORD)
    equal(admin.access_claims["username"], person.username, "username")
    with cognito_error("NotAuthorizedException"):
        admin_cognito(kit, app, person.username).admin_authenticate(password=OTHER_PASSWORD)


@rows.row("pycognito.new_password_challenge", "new_password_challenge for an admin-created user")
def new_password_challenge(target: Target) -> None:
    from pycognito.exceptions import ForceChangePasswordException

    kit = Kit(target)
    app, person = kit.app(), kit.person(temporary=PASSWORD)
    user = user_cognito(kit, app, person.username)
    try:
        user.authenticate(password=PASSWORD)
    except ForceChangePasswordException:
        pass
    else:
        raise Mismatch("a temporary password signed in without NEW_PASSWORD_REQUIRED")
    user.new_password_challenge(password=PASSWORD, new_password=OTHER_PASSWORD)
    check(user.access_token, "no access token after the new password")
    signed_in(kit, app, Person(person.username, person.email, person.sub, OTHER_PASSWORD))


@rows.row("pycognito.register", "register, confirm_sign_up with the delivered code, sign in")
def register(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app = kit.app()
    username = unique("reg-")
    user = user_cognito(kit, app, username)
    user.set_base_attributes(email=f"{username}@example.com")
    answer = user.register(username, PASSWORD)
    equal(answer["UserConfirmed"], False, "UserConfirmed")
    with cognito_error("CodeMismatchException"):
        user.confirm_sign_up(wrong_code(kit.code(f"{username}@example.com")), username)
    user.confirm_sign_up(kit.code(f"{username}@example.com"), username)
    signed_in(kit, app, Person(username, f"{username}@example.com", answer["UserSub"]))


@rows.row("pycognito.forgot_password", "initiate_forgot_password + confirm_forgot_password")
def forgot_password(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    user = user_cognito(kit, app, person.username)
    user.initiate_forgot_password()
    user.confirm_forgot_password(kit.code(person.email), OTHER_PASSWORD)
    signed_in(kit, app, Person(person.username, person.email, person.sub, OTHER_PASSWORD))


@rows.row("pycognito.change_password", "change_password; the old password stops working")
def change_password(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    signed_in(kit, app, person).change_password(PASSWORD, OTHER_PASSWORD)
    with cognito_error("NotAuthorizedException"):
        signed_in(kit, app, person)
    signed_in(kit, app, Person(person.username, person.email, person.sub, OTHER_PASSWORD))


@rows.row("pycognito.renew_access_token", "check_token and renew_access_token (refresh)")
def renew(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    user = signed_in(kit, app, person)
    equal(user.check_token(renew=False), False, "a fresh token reported expired")
    first = user.access_token
    user.renew_access_token()
    check(user.access_token != first, "renew_access_token kept the same access token")
    equal(user.access_claims["username"], person.username, "renewed token username")


@rows.row("pycognito.verify_tokens", "verify_tokens on stored tokens; a tampered one refused")
def verify_tokens(target: Target) -> None:
    from pycognito.exceptions import TokenVerificationException

    kit = Kit(target)
    app, person = kit.app(), kit.person()
    tokens = kit.sign_in(app, person)
    user_cognito(
        kit, app, id_token=tokens["IdToken"], access_token=tokens["AccessToken"]
    ).verify_tokens()
    forged = tokens["IdToken"][:-6] + (
        "AAAAAA" if not tokens["IdToken"].endswith("AAAAAA") else "BBBBBB"
    )
    try:
        user_cognito(kit, app, id_token=forged, access_token=tokens["AccessToken"]).verify_tokens()
    except TokenVerificationException:
        return
    raise Mismatch("a tampered ID token verified")


@rows.row("pycognito.get_user", "get_user: attributes of the signed-in user")
def get_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person(**{"custom:tenant_id": "t-7"})
    user = signed_in(kit, app, person).get_user()
    equal(user.email, person.email, "email")
    equal(user._data.get("custom:tenant_id"), "t-7", "custom:tenant_id")


@rows.row("pycognito.update_profile", "update_profile changes the user's own attributes")
def update_profile(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    user = signed_in(kit, app, person)
    user.update_profile({"name": "Alice P."})
    equal(user.get_user().name, "Alice P.", "name")


@rows.row("pycognito.admin_get_user", "admin_get_user and get_users")
def admin_get_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    admin = admin_cognito(kit, app, person.username)
    equal(admin.admin_get_user().user_status, "CONFIRMED", "user_status")
    equal([u.username for u in admin.get_users()], [person.username], "get_users")


@rows.row("pycognito.groups", "get_groups, get_group, admin group membership")
def groups(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    kit.group("admins", Description="the admins", Precedence=1)
    admin = admin_cognito(kit, app, person.username)
    equal([g.group_name for g in admin.get_groups()], ["admins"], "get_groups")
    equal(admin.get_group("admins").description, "the admins", "get_group description")
    admin.admin_add_user_to_group(person.username, "admins")
    equal(admin.admin_list_groups_for_user(person.username), ["admins"], "groups of the user")
    equal(signed_in(kit, app, person).access_claims.get("cognito:groups"), ["admins"], "claim")
    admin.admin_remove_user_from_group(person.username, "admins")
    equal(admin.admin_list_groups_for_user(person.username), [], "after removal")


@rows.row("pycognito.software_token_mfa", "TOTP setup, then authenticate answers the MFA challenge")
def software_token_mfa(target: Target) -> None:
    from pycognito.exceptions import SoftwareTokenMFAChallengeException

    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    user = signed_in(kit, app, person)
    secret = user.associate_software_token()
    equal(user.verify_software_token(totp_code(secret), "phone"), True, "verify_software_token")
    user.set_user_mfa_preference(False, True, "SOFTWARE_TOKEN")
    again = user_cognito(kit, app, person.username)
    try:
        again.authenticate(password=PASSWORD)
    except SoftwareTokenMFAChallengeException:
        pass
    else:
        raise Mismatch("signed in without the TOTP challenge")
    again.respond_to_software_token_mfa_challenge(totp_code(secret, 1))
    equal(again.access_claims["username"], person.username, "username after MFA")


@rows.row("pycognito.logout", "logout (GlobalSignOut): the access token stops working")
def logout(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    user = signed_in(kit, app, person)
    token = user.access_token
    user.logout()
    with cognito_error("NotAuthorizedException"):
        kit.public.get_user(AccessToken=token)


@rows.row("pycognito.delete_user", "delete_user with the user's own token")
def delete_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    signed_in(kit, app, person).delete_user()
    try:
        kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    except ClientError as error:
        equal(error.response["Error"]["Code"], "UserNotFoundException", "after delete_user")
        return
    raise Mismatch("the user still exists after delete_user")


@rows.row("pycognito.admin_create_user", "admin_create_user with a temporary password")
def admin_create_user(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    username = unique("pyc-")
    admin = admin_cognito(kit, app)
    created = admin.admin_create_user(
        username,
        temporary_password=PASSWORD,
        additional_kwargs={"MessageAction": "SUPPRESS"},
        email=f"{username}@example.com",
    )
    equal(created["User"]["UserStatus"], "FORCE_CHANGE_PASSWORD", "UserStatus")

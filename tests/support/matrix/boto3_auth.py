"""boto3 rows: sign-in flows, challenges, refresh, sign-out and revocation."""

from __future__ import annotations

from tests.support.matrix.core import (
    OTHER_PASSWORD,
    PASSWORD,
    Rows,
    Target,
    attribute,
    check,
    claims,
    cognito_error,
    equal,
    secret_hash,
    verify_sign_in,
)
from tests.support.matrix.kit import Kit

rows = Rows("boto3")
WRONG = "Wr0ng-Password!"


@rows.row("boto3.initiate_auth.user_password", "USER_PASSWORD_AUTH: tokens verify, Cognito claims")
def user_password(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    result = kit.sign_in(app, person)
    access = verify_sign_in(target, kit.pool_id, result, app.id, person.username)
    equal(access["scope"], "aws.cognito.signin.user.admin", "access token scope")
    equal(access["sub"], person.sub, "sub")
    check(result.get("RefreshToken"), "no RefreshToken")


@rows.row("boto3.initiate_auth.wrong_password", "a wrong password is refused")
def wrong_password(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    with cognito_error("NotAuthorizedException", "Incorrect username or password."):
        kit.sign_in(app, person, WRONG)


@rows.row(
    "boto3.initiate_auth.unknown_user",
    "with PreventUserExistenceErrors an unknown user looks like a wrong password",
)
def unknown_user(target: Target) -> None:
    kit = Kit(target)
    app = kit.app(PreventUserExistenceErrors="ENABLED")
    with cognito_error("NotAuthorizedException", "Incorrect username or password."):
        kit.public.initiate_auth(
            ClientId=app.id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "nobody", "PASSWORD": PASSWORD},
        )


@rows.row("boto3.initiate_auth.secret_hash", "a client with a secret: SECRET_HASH required")
def secret_hash_required(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(secret=True), kit.person()
    with cognito_error("NotAuthorizedException", "configured with secret but SECRET_HASH was not"):
        kit.public.initiate_auth(
            ClientId=app.id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": person.username, "PASSWORD": PASSWORD},
        )
    with cognito_error("NotAuthorizedException", "Unable to verify secret hash for client"):
        kit.public.initiate_auth(
            ClientId=app.id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={
                "USERNAME": person.username,
                "PASSWORD": PASSWORD,
                "SECRET_HASH": secret_hash(person.username, app.id, "not-the-secret"),
            },
        )
    verify_sign_in(target, kit.pool_id, kit.sign_in(app, person), app.id, person.username)


@rows.row("boto3.initiate_auth.flow_not_enabled", "USER_PASSWORD_AUTH on a client without it")
def flow_not_enabled(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]), kit.person()
    with cognito_error("InvalidParameterException", "flow not enabled for this client"):
        kit.sign_in(app, person)


@rows.row("boto3.initiate_auth.unknown_client", "an unknown ClientId")
def unknown_client(target: Target) -> None:
    kit = Kit(target)
    with cognito_error("ResourceNotFoundException"):
        kit.public.initiate_auth(
            ClientId="nosuchclient00000000000000",
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "x", "PASSWORD": PASSWORD},
        )


@rows.row("boto3.initiate_auth.lockout", "repeated wrong passwords: Password attempts exceeded")
def lockout(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    for _ in range(5):
        with cognito_error("NotAuthorizedException"):
            kit.sign_in(app, person, WRONG)
    with cognito_error("NotAuthorizedException", "Password attempts exceeded"):
        kit.sign_in(app, person)


@rows.row("boto3.admin_initiate_auth", "ADMIN_USER_PASSWORD_AUTH from a backend")
def admin_initiate_auth(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(secret=True), kit.person()
    result = kit.admin_initiate(app, person)["AuthenticationResult"]
    verify_sign_in(target, kit.pool_id, result, app.id, person.username)


@rows.row("boto3.admin_initiate_auth.wrong_password", "ADMIN_USER_PASSWORD_AUTH refuses a bad one")
def admin_initiate_wrong(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    with cognito_error("NotAuthorizedException", "Incorrect username or password."):
        kit.admin_initiate(app, person, WRONG)


@rows.row("boto3.admin_initiate_auth.user_flow", "USER_PASSWORD_AUTH is not an admin flow")
def admin_initiate_user_flow(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    with cognito_error("InvalidParameterException"):
        kit.admin_initiate(app, person, flow="USER_PASSWORD_AUTH")


@rows.row("boto3.initiate_auth.refresh", "REFRESH_TOKEN_AUTH: new tokens, same sign-in")
def refresh(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    first = kit.sign_in(app, person)
    again = kit.refresh(app, first["RefreshToken"])["AuthenticationResult"]
    access = verify_sign_in(target, kit.pool_id, again, app.id, person.username)
    check("RefreshToken" not in again, "REFRESH_TOKEN_AUTH returned a new refresh token")
    equal(access["origin_jti"], claims(first["AccessToken"])["origin_jti"], "origin_jti kept")


@rows.row("boto3.initiate_auth.refresh_invalid", "a made-up refresh token")
def refresh_invalid(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    with cognito_error("NotAuthorizedException", "Invalid Refresh Token"):
        kit.refresh(app, "not-a-refresh-token")


@rows.row("boto3.get_tokens_from_refresh_token", "GetTokensFromRefreshToken (Amplify v6's refresh)")
def get_tokens_from_refresh_token(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(secret=True), kit.person()
    first = kit.sign_in(app, person)
    result = kit.public.get_tokens_from_refresh_token(
        ClientId=app.id, ClientSecret=app.secret, RefreshToken=first["RefreshToken"]
    )["AuthenticationResult"]
    verify_sign_in(target, kit.pool_id, result, app.id, person.username)
    with cognito_error("NotAuthorizedException"):
        kit.public.get_tokens_from_refresh_token(
            ClientId=app.id, ClientSecret=app.secret, RefreshToken="not-a-refresh-token"
        )


@rows.row("boto3.get_tokens_from_refresh_token.rotation", "rotation: a new refresh token each time")
def refresh_rotation(target: Target) -> None:
    kit = Kit(target)
    app = kit.app(RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    person = kit.person()
    first = kit.sign_in(app, person)
    rotated = kit.public.get_tokens_from_refresh_token(
        ClientId=app.id, RefreshToken=first["RefreshToken"]
    )["AuthenticationResult"]
    check(rotated.get("RefreshToken") not in (None, first["RefreshToken"]), "not rotated")
    # Cognito's documented error for a refresh token that rotation has invalidated.
    with cognito_error("RefreshTokenReuseException"):
        kit.public.get_tokens_from_refresh_token(
            ClientId=app.id, RefreshToken=first["RefreshToken"]
        )


@rows.row("boto3.new_password_required", "an admin-created user answers NEW_PASSWORD_REQUIRED")
def new_password_required(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person(temporary=PASSWORD)
    challenge = kit.initiate(app, person)
    equal(challenge.get("ChallengeName"), "NEW_PASSWORD_REQUIRED", "ChallengeName")
    parameters = challenge["ChallengeParameters"]
    check("USER_ID_FOR_SRP" in parameters, f"ChallengeParameters {sorted(parameters)}")
    check("userAttributes" in parameters, "ChallengeParameters lack userAttributes")
    with cognito_error("InvalidPasswordException"):
        kit.public.respond_to_auth_challenge(
            ClientId=app.id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": person.username, "NEW_PASSWORD": "weak"},
        )
    done = kit.public.respond_to_auth_challenge(
        ClientId=app.id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": person.username, "NEW_PASSWORD": OTHER_PASSWORD},
    )["AuthenticationResult"]
    verify_sign_in(target, kit.pool_id, done, app.id, person.username)
    status = kit.admin.admin_get_user(UserPoolId=kit.pool_id, Username=person.username)
    equal(status["UserStatus"], "CONFIRMED", "status after the new password")


@rows.row("boto3.new_password_required.bad_session", "a forged Session is refused")
def new_password_bad_session(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person(temporary=PASSWORD)
    with cognito_error("NotAuthorizedException"):
        kit.public.respond_to_auth_challenge(
            ClientId=app.id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session="A" * 64,
            ChallengeResponses={"USERNAME": person.username, "NEW_PASSWORD": OTHER_PASSWORD},
        )


@rows.row("boto3.admin_respond_to_auth_challenge", "NEW_PASSWORD_REQUIRED through the admin API")
def admin_respond(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(secret=True), kit.person(temporary=PASSWORD)
    hashed = app.hash(person.username)
    challenge = kit.admin_initiate(app, person)
    equal(challenge.get("ChallengeName"), "NEW_PASSWORD_REQUIRED", "ChallengeName")
    done = kit.admin.admin_respond_to_auth_challenge(
        UserPoolId=kit.pool_id,
        ClientId=app.id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": person.username, "NEW_PASSWORD": OTHER_PASSWORD, **hashed},
    )["AuthenticationResult"]
    verify_sign_in(target, kit.pool_id, done, app.id, person.username)


@rows.row("boto3.initiate_auth.srp_challenge", "USER_SRP_AUTH answers PASSWORD_VERIFIER")
def srp_challenge(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    challenge = kit.public.initiate_auth(
        ClientId=app.id,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": person.username, "SRP_A": format(2**1024 + 12345, "x")},
    )
    equal(challenge.get("ChallengeName"), "PASSWORD_VERIFIER", "ChallengeName")
    parameters = challenge["ChallengeParameters"]
    expected = {"SALT", "SRP_B", "SECRET_BLOCK", "USER_ID_FOR_SRP", "USERNAME"}
    check(expected <= parameters.keys(), f"ChallengeParameters {sorted(parameters)}")


@rows.row("boto3.initiate_auth.srp_a_zero", "SRP_A = 0 is refused")
def srp_a_zero(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    with cognito_error(("NotAuthorizedException", "InvalidParameterException")):
        kit.public.initiate_auth(
            ClientId=app.id,
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": person.username, "SRP_A": "0"},
        )


@rows.row("boto3.get_user", "GetUser with the access token")
def get_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person(**{"custom:tenant_id": "t-9"})
    user = kit.public.get_user(AccessToken=kit.sign_in(app, person)["AccessToken"])
    equal(user["Username"], person.username, "Username")
    equal(attribute(user["UserAttributes"], "sub"), person.sub, "sub")
    equal(attribute(user["UserAttributes"], "custom:tenant_id"), "t-9", "custom:tenant_id")


@rows.row("boto3.get_user.bad_token", "GetUser with a token that is not ours")
def get_user_bad_token(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    token = kit.sign_in(app, person)["AccessToken"]
    with cognito_error("NotAuthorizedException"):
        kit.public.get_user(AccessToken=token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"))


@rows.row("boto3.get_user.id_token", "GetUser refuses an ID token")
def get_user_id_token(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    with cognito_error("NotAuthorizedException"):
        kit.public.get_user(AccessToken=kit.sign_in(app, person)["IdToken"])


@rows.row("boto3.global_sign_out", "GlobalSignOut: access and refresh tokens stop working")
def global_sign_out(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    tokens = kit.sign_in(app, person)
    kit.public.global_sign_out(AccessToken=tokens["AccessToken"])
    kit.signed_out(app, tokens, person)


@rows.row("boto3.revoke_token", "RevokeToken: the refresh token and its access tokens stop")
def revoke_token(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(secret=True), kit.person()
    tokens = kit.sign_in(app, person)
    kit.public.revoke_token(Token=tokens["RefreshToken"], ClientId=app.id, ClientSecret=app.secret)
    kit.signed_out(app, tokens, person)


@rows.row("boto3.revoke_token.access_token", "RevokeToken with an access token")
def revoke_access_token(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    tokens = kit.sign_in(app, person)
    with cognito_error("UnsupportedTokenTypeException"):
        kit.public.revoke_token(Token=tokens["AccessToken"], ClientId=app.id)


@rows.row("boto3.revoke_token.other_client", "RevokeToken of another client's refresh token")
def revoke_other_client(target: Target) -> None:
    kit = Kit(target)
    app, other, person = kit.app(), kit.app(), kit.person()
    tokens = kit.sign_in(app, person)
    with cognito_error("UnauthorizedException"):
        kit.public.revoke_token(Token=tokens["RefreshToken"], ClientId=other.id)


@rows.row("boto3.initiate_auth.missing_password", "USER_PASSWORD_AUTH without PASSWORD")
def missing_password(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    with cognito_error("InvalidParameterException", "PASSWORD"):
        kit.public.initiate_auth(
            ClientId=app.id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": person.username},
        )

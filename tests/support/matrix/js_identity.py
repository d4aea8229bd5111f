"""amazon-cognito-identity-js 6.x rows, on Node: `CognitoUserPool({..., endpoint})` as apps use it.

A flow that needs something only the test can read (a delivered code, a TOTP code) runs in
steps: one Node run up to the point the person would read it, the next from there.
"""

from __future__ import annotations

from typing import Any

from tests.support.matrix.boto3_mfa import optional_mfa, totp_code
from tests.support.matrix.core import (
    OTHER_PASSWORD,
    Rows,
    Target,
    check,
    claims,
    cognito_error,
    equal,
    unique,
)
from tests.support.matrix.kit import Kit, Person
from tests.support.matrix.node import refused, run_js, succeeded, tokens_verify

PACKAGE = "amazon-cognito-identity-js"
rows = Rows(PACKAGE, needs=(f"node:{PACKAGE}",))

PRELUDE = """
const C = require("amazon-cognito-identity-js");
const pool = new C.CognitoUserPool({
  UserPoolId: INPUT.pool, ClientId: INPUT.client, endpoint: INPUT.endpoint + "/",
});
const user = new C.CognitoUser({ Username: INPUT.username, Pool: pool });
const call = (start) => new Promise((resolve, reject) =>
  start((error, value) => (error ? reject(error) : resolve(value))));
const signIn = (password, flow) => new Promise((resolve, reject) => {
  if (flow) user.setAuthenticationFlowType(flow);
  const details = new C.AuthenticationDetails({ Username: INPUT.username, Password: password });
  user.authenticateUser(details, {
    onSuccess: (session) => resolve({ session }),
    onFailure: reject,
    newPasswordRequired: () => resolve({ challenge: "NEW_PASSWORD_REQUIRED" }),
    totpRequired: (name) => resolve({ challenge: name }),
    mfaSetup: () => resolve({ challenge: "MFA_SETUP" }),
  });
});
const tokens = (session) => ({
  access: session.getAccessToken().getJwtToken(),
  id: session.getIdToken().getJwtToken(),
  refresh: session.getRefreshToken().getToken(),
  valid: session.isValid(),
});
const signedIn = async (password) => {
  const step = await signIn(password || INPUT.password);
  if (!step.session) throw new Error("challenged: " + step.challenge);
  return step.session;
};
"""


def js(kit: Kit, person: Person, body: str, **extra: object) -> dict[str, Any]:
    """Run `body` after PRELUDE for `person` through a new public client."""
    return run_js(PRELUDE, body, [PACKAGE], kit, kit.app(), person, **extra)


@rows.row("identity-js.authenticate_user", "authenticateUser: SRP sign-in, a valid session")
def authenticate_user(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    result = succeeded(
        run_js(PRELUDE, "done(tokens(await signedIn()));", [PACKAGE], kit, app, person), "sign-in"
    )
    check(result["valid"], "session.isValid() is false")
    tokens_verify(kit, app, person, result)


@rows.row("identity-js.authenticate_user.wrong_password", "SRP with a wrong password")
def authenticate_wrong(target: Target) -> None:
    kit = Kit(target)
    result = js(kit, kit.person(), 'await signIn("Wr0ng-Password!"); done({});')
    refused(result, "NotAuthorizedException", "wrong password")
    equal(result["message"], "Incorrect username or password.", "message")


@rows.row("identity-js.user_password_auth", "setAuthenticationFlowType('USER_PASSWORD_AUTH')")
def user_password_auth(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    body = 'const step = await signIn(INPUT.password, "USER_PASSWORD_AUTH"); done(tokens(step.session));'
    tokens_verify(
        kit, app, person, succeeded(run_js(PRELUDE, body, [PACKAGE], kit, app, person), "sign-in")
    )


@rows.row("identity-js.new_password_required", "newPasswordRequired, completeNewPasswordChallenge")
def new_password_required(target: Target) -> None:
    kit = Kit(target)
    person = kit.person(temporary="Temp0rary-Pass!")
    person = Person(person.username, person.email, person.sub, "Temp0rary-Pass!")
    body = """
const step = await signIn(INPUT.password);
if (step.challenge !== "NEW_PASSWORD_REQUIRED") done({ error: "no challenge", message: JSON.stringify(step) });
const session = await new Promise((resolve, reject) => user.completeNewPasswordChallenge(
  INPUT.newPassword, {}, { onSuccess: resolve, onFailure: reject }));
done(tokens(session));
"""
    succeeded(js(kit, person, body, newPassword=OTHER_PASSWORD), "new password")
    kit.sign_in(kit.app(), person, OTHER_PASSWORD)


@rows.row("identity-js.refresh_session", "refreshSession with the session's refresh token")
def refresh_session(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    body = """
const first = await signedIn();
const again = await call((cb) => user.refreshSession(first.getRefreshToken(), cb));
done({ ...tokens(again), firstAccess: first.getAccessToken().getJwtToken() });
"""
    result = succeeded(run_js(PRELUDE, body, [PACKAGE], kit, app, person), "refresh")
    access = tokens_verify(kit, app, person, result)
    equal(access["origin_jti"], claims(result["firstAccess"])["origin_jti"], "origin_jti")


@rows.row("identity-js.get_session", "getCurrentUser().getSession() after sign-in")
def get_session(target: Target) -> None:
    kit = Kit(target)
    body = """
await signedIn();
const current = pool.getCurrentUser();
const session = await call((cb) => current.getSession(cb));
done({ username: current.getUsername(), valid: session.isValid() });
"""
    person = kit.person()
    result = succeeded(js(kit, person, body), "getSession")
    equal((result["username"], result["valid"]), (person.username, True), "current user")


@rows.row("identity-js.get_user_attributes", "getUserAttributes")
def get_user_attributes(target: Target) -> None:
    kit = Kit(target)
    person = kit.person(**{"custom:tenant_id": "t-3"})
    body = """
await signedIn();
const attributes = await call((cb) => user.getUserAttributes(cb));
done(Object.fromEntries(attributes.map((a) => [a.getName(), a.getValue()])));
"""
    result = succeeded(js(kit, person, body), "getUserAttributes")
    equal((result.get("sub"), result.get("custom:tenant_id")), (person.sub, "t-3"), "attributes")


@rows.row("identity-js.update_attributes", "updateAttributes, then getUserAttributes")
def update_attributes(target: Target) -> None:
    kit = Kit(target)
    body = """
await signedIn();
await call((cb) => user.updateAttributes([new C.CognitoUserAttribute({ Name: "name", Value: "Ada" })], cb));
const attributes = await call((cb) => user.getUserAttributes(cb));
done(Object.fromEntries(attributes.map((a) => [a.getName(), a.getValue()])));
"""
    equal(succeeded(js(kit, kit.person(), body), "updateAttributes").get("name"), "Ada", "name")


@rows.row("identity-js.change_password", "changePassword; the new password signs in")
def change_password(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    body = """
await signedIn();
await call((cb) => user.changePassword(INPUT.password, INPUT.newPassword, cb));
done({});
"""
    succeeded(js(kit, person, body, newPassword=OTHER_PASSWORD), "changePassword")
    app = kit.app()
    kit.sign_in(app, person, OTHER_PASSWORD)
    with cognito_error("NotAuthorizedException"):
        kit.sign_in(app, person)


@rows.row("identity-js.sign_up", "signUp, then confirmRegistration with the delivered code")
def sign_up(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app = kit.app()
    username = unique("js-")
    person = Person(username, f"{username}@example.com", "")
    registered = succeeded(
        run_js(
            PRELUDE,
            """
const attributes = [new C.CognitoUserAttribute({ Name: "email", Value: INPUT.email })];
const result = await call((cb) => pool.signUp(INPUT.username, INPUT.password, attributes, null, cb));
done({ confirmed: result.userConfirmed, sub: result.userSub });
""",
            [PACKAGE],
            kit,
            app,
            person,
        ),
        "signUp",
    )
    equal(registered["confirmed"], False, "userConfirmed")
    body = "done({ result: await call((cb) => user.confirmRegistration(INPUT.code, true, cb)) });"
    confirmed = run_js(PRELUDE, body, [PACKAGE], kit, app, person, code=kit.code(person.email))
    equal(succeeded(confirmed, "confirmRegistration")["result"], "SUCCESS", "confirmRegistration")
    kit.sign_in(app, person)


@rows.row("identity-js.forgot_password", "forgotPassword, then confirmPassword with the code")
def forgot_password(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    asked = """
const data = await new Promise((resolve, reject) => user.forgotPassword({
  onSuccess: resolve, onFailure: reject, inputVerificationCode: resolve }));
done({ medium: data.CodeDeliveryDetails.DeliveryMedium });
"""
    equal(
        succeeded(run_js(PRELUDE, asked, [PACKAGE], kit, app, person), "forgotPassword")["medium"],
        "EMAIL",
        "medium",
    )
    confirm = """
await new Promise((resolve, reject) => user.confirmPassword(INPUT.code, INPUT.newPassword, {
  onSuccess: resolve, onFailure: reject }));
done({});
"""
    succeeded(
        run_js(
            PRELUDE,
            confirm,
            [PACKAGE],
            kit,
            app,
            person,
            code=kit.code(person.email),
            newPassword=OTHER_PASSWORD,
        ),
        "confirmPassword",
    )
    kit.sign_in(app, person, OTHER_PASSWORD)


@rows.row("identity-js.global_sign_out", "globalSignOut: the access token stops working")
def global_sign_out(target: Target) -> None:
    kit = Kit(target)
    body = """
const session = await signedIn();
await new Promise((resolve, reject) => user.globalSignOut({ onSuccess: resolve, onFailure: reject }));
done(tokens(session));
"""
    result = succeeded(js(kit, kit.person(), body), "globalSignOut")
    with cognito_error("NotAuthorizedException"):
        kit.public.get_user(AccessToken=result["access"])


@rows.row("identity-js.totp", "associateSoftwareToken, verifySoftwareToken, then totpRequired")
def totp(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    associate = """
await signedIn();
const secret = await new Promise((resolve, reject) => user.associateSoftwareToken({
  associateSecretCode: resolve, onFailure: reject }));
done({ secret });
"""
    secret = succeeded(run_js(PRELUDE, associate, [PACKAGE], kit, app, person), "associate")[
        "secret"
    ]
    # Both codes are known once the secret is: verify with this step's, sign in with the next.
    verify_then_sign_in = """
await signedIn();
await new Promise((resolve, reject) => user.verifySoftwareToken(INPUT.setupCode, "phone", {
  onSuccess: resolve, onFailure: reject }));
await call((cb) => user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb));
const step = await signIn(INPUT.password);
if (step.challenge !== "SOFTWARE_TOKEN_MFA") done({ error: "no TOTP challenge", message: JSON.stringify(step) });
const session = await new Promise((resolve, reject) => user.sendMFACode(INPUT.code, {
  onSuccess: resolve, onFailure: reject }, "SOFTWARE_TOKEN_MFA"));
done(tokens(session));
"""
    codes = {"setupCode": totp_code(secret), "code": totp_code(secret, 1)}
    result = run_js(PRELUDE, verify_then_sign_in, [PACKAGE], kit, app, person, **codes)
    tokens_verify(kit, app, person, succeeded(result, "TOTP sign-in"))

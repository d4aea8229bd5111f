"""aws-amplify 6.x rows, on Node: `aws-amplify/auth` configured with `userPoolEndpoint`.

Amplify keeps its session in memory under Node, so each run signs in first; flows that need
a code the person reads (sign-up, reset, TOTP) run in steps around reading it.
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

PACKAGE = "aws-amplify"
rows = Rows(PACKAGE, needs=(f"node:{PACKAGE}",))

PRELUDE = """
const { Amplify } = require("aws-amplify");
const auth = require("aws-amplify/auth");
Amplify.configure({ Auth: { Cognito: {
  userPoolId: INPUT.pool, userPoolClientId: INPUT.client, userPoolEndpoint: INPUT.endpoint,
} } });
const tokens = async (options) => {
  const session = await auth.fetchAuthSession(options);
  return { access: session.tokens.accessToken.toString(), id: session.tokens.idToken.toString() };
};
const signedIn = async (options) => {
  const output = await auth.signIn({ username: INPUT.username, password: INPUT.password, options });
  if (!output.isSignedIn) throw new Error("not signed in: " + output.nextStep.signInStep);
  return output;
};
"""


def amplify(kit: Kit, person: Person, body: str, **extra: Any) -> dict[str, Any]:
    """Run `body` after PRELUDE for `person` through a new public client."""
    return run_js(PRELUDE, body, [PACKAGE], kit, kit.app(), person, **extra)


@rows.row("aws-amplify.sign_in", "signIn (default USER_SRP_AUTH), fetchAuthSession")
def sign_in(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    body = """
const output = await signedIn();
const current = await auth.getCurrentUser();
done({ ...(await tokens()), step: output.nextStep.signInStep, username: current.username });
"""
    result = succeeded(run_js(PRELUDE, body, [PACKAGE], kit, app, person), "signIn")
    equal((result["step"], result["username"]), ("DONE", person.username), "signIn output")
    tokens_verify(kit, app, person, result)


@rows.row("aws-amplify.sign_in.wrong_password", "signIn with a wrong password")
def sign_in_wrong(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    body = 'await auth.signIn({ username: INPUT.username, password: "Wr0ng-Password!" }); done({});'
    result = amplify(kit, person, body)
    refused(result, "NotAuthorizedException", "wrong password")
    equal(result["message"], "Incorrect username or password.", "message")


@rows.row("aws-amplify.sign_in.user_password_auth", "signIn with authFlowType USER_PASSWORD_AUTH")
def sign_in_user_password(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    body = 'await signedIn({ authFlowType: "USER_PASSWORD_AUTH" }); done(await tokens());'
    result = run_js(PRELUDE, body, [PACKAGE], kit, app, person)
    tokens_verify(kit, app, person, succeeded(result, "signIn"))


@rows.row("aws-amplify.new_password_required", "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED")
def new_password_required(target: Target) -> None:
    kit = Kit(target)
    made = kit.person(temporary="Temp0rary-Pass!")
    person = Person(made.username, made.email, made.sub, "Temp0rary-Pass!")
    body = """
const output = await auth.signIn({ username: INPUT.username, password: INPUT.password });
const step = output.nextStep.signInStep;
if (step !== "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED") done({ error: "no challenge", message: step });
const confirmed = await auth.confirmSignIn({ challengeResponse: INPUT.newPassword });
done({ signedIn: confirmed.isSignedIn });
"""
    result = succeeded(amplify(kit, person, body, newPassword=OTHER_PASSWORD), "confirmSignIn")
    equal(result["signedIn"], True, "isSignedIn")
    kit.sign_in(kit.app(), person, OTHER_PASSWORD)


@rows.row(
    "aws-amplify.fetch_auth_session.force_refresh",
    "fetchAuthSession({forceRefresh}) through GetTokensFromRefreshToken",
)
def force_refresh(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    body = """
await signedIn();
const first = await tokens();
const again = await tokens({ forceRefresh: true });
done({ ...again, firstAccess: first.access });
"""
    result = succeeded(run_js(PRELUDE, body, [PACKAGE], kit, app, person), "forceRefresh")
    access = tokens_verify(kit, app, person, result)
    equal(access["origin_jti"], claims(result["firstAccess"])["origin_jti"], "origin_jti")
    check(access["jti"] != claims(result["firstAccess"])["jti"], "forceRefresh kept the token")


@rows.row(
    "aws-amplify.fetch_auth_session.rotation",
    "forceRefresh twice on a client that rotates refresh tokens",
)
def force_refresh_rotation(target: Target) -> None:
    kit = Kit(target)
    app = kit.app(RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    person = kit.person()
    body = """
await signedIn();
await tokens({ forceRefresh: true });
done(await tokens({ forceRefresh: true }));
"""
    result = succeeded(run_js(PRELUDE, body, [PACKAGE], kit, app, person), "forceRefresh")
    tokens_verify(kit, app, person, result)


@rows.row("aws-amplify.fetch_user_attributes", "fetchUserAttributes")
def fetch_user_attributes(target: Target) -> None:
    kit = Kit(target)
    person = kit.person(**{"custom:tenant_id": "t-4"})
    body = "await signedIn(); done(await auth.fetchUserAttributes());"
    result = succeeded(amplify(kit, person, body), "fetchUserAttributes")
    equal((result.get("sub"), result.get("custom:tenant_id")), (person.sub, "t-4"), "attributes")


@rows.row("aws-amplify.update_user_attributes", "updateUserAttributes, then fetchUserAttributes")
def update_user_attributes(target: Target) -> None:
    kit = Kit(target)
    body = """
await signedIn();
const output = await auth.updateUserAttributes({ userAttributes: { name: "Grace" } });
const attributes = await auth.fetchUserAttributes();
done({ updated: output.name.isUpdated, name: attributes.name });
"""
    result = succeeded(amplify(kit, kit.person(), body), "updateUserAttributes")
    equal((result["updated"], result["name"]), (True, "Grace"), "name")


@rows.row("aws-amplify.update_password", "updatePassword; the new password signs in")
def update_password(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    body = """
await signedIn();
await auth.updatePassword({ oldPassword: INPUT.password, newPassword: INPUT.newPassword });
done({});
"""
    succeeded(amplify(kit, person, body, newPassword=OTHER_PASSWORD), "updatePassword")
    kit.sign_in(kit.app(), person, OTHER_PASSWORD)


@rows.row("aws-amplify.sign_up", "signUp, then confirmSignUp with the delivered code")
def sign_up(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app = kit.app()
    username = unique("amp-")
    person = Person(username, f"{username}@example.com", "")
    register = """
const output = await auth.signUp({ username: INPUT.username, password: INPUT.password,
  options: { userAttributes: { email: INPUT.email } } });
done({ step: output.nextStep.signUpStep, userId: output.userId });
"""
    result = succeeded(run_js(PRELUDE, register, [PACKAGE], kit, app, person), "signUp")
    equal(result["step"], "CONFIRM_SIGN_UP", "signUpStep")
    confirm = """
const output = await auth.confirmSignUp({ username: INPUT.username, confirmationCode: INPUT.code });
done({ complete: output.isSignUpComplete });
"""
    code = kit.code(person.email)
    done = succeeded(run_js(PRELUDE, confirm, [PACKAGE], kit, app, person, code=code), "confirm")
    equal(done["complete"], True, "isSignUpComplete")
    kit.sign_in(app, person)


@rows.row("aws-amplify.reset_password", "resetPassword, then confirmResetPassword with the code")
def reset_password(target: Target) -> None:
    kit = Kit(target, AutoVerifiedAttributes=["email"])
    app, person = kit.app(), kit.person()
    ask = """
const output = await auth.resetPassword({ username: INPUT.username });
done({ step: output.nextStep.resetPasswordStep });
"""
    result = succeeded(run_js(PRELUDE, ask, [PACKAGE], kit, app, person), "resetPassword")
    equal(result["step"], "CONFIRM_RESET_PASSWORD_WITH_CODE", "resetPasswordStep")
    confirm = """
await auth.confirmResetPassword({ username: INPUT.username, confirmationCode: INPUT.code,
  newPassword: INPUT.newPassword });
done({});
"""
    extra = {"code": kit.code(person.email), "newPassword": OTHER_PASSWORD}
    succeeded(run_js(PRELUDE, confirm, [PACKAGE], kit, app, person, **extra), "confirm")
    kit.sign_in(app, person, OTHER_PASSWORD)


@rows.row("aws-amplify.sign_out.global", "signOut({global: true}) revokes the sign-in")
def sign_out_global(target: Target) -> None:
    kit = Kit(target)
    body = (
        "await signedIn(); const t = await tokens(); await auth.signOut({ global: true }); done(t);"
    )
    result = succeeded(amplify(kit, kit.person(), body), "signOut")
    with cognito_error("NotAuthorizedException"):
        kit.public.get_user(AccessToken=result["access"])


@rows.row("aws-amplify.totp", "setUpTOTP, verifyTOTPSetup, then signIn with the TOTP code")
def totp(target: Target) -> None:
    kit = Kit(target)
    optional_mfa(kit)
    app, person = kit.app(), kit.person()
    setup = """
await signedIn();
const details = await auth.setUpTOTP();
done({ secret: details.sharedSecret });
"""
    secret = succeeded(run_js(PRELUDE, setup, [PACKAGE], kit, app, person), "setUpTOTP")["secret"]
    # Both codes are known once the secret is: verify with this step's, sign in with the next.
    verify_then_sign_in = """
await signedIn();
await auth.verifyTOTPSetup({ code: INPUT.setupCode });
await auth.updateMFAPreference({ totp: "PREFERRED" });
await auth.signOut();
const output = await auth.signIn({ username: INPUT.username, password: INPUT.password });
const step = output.nextStep.signInStep;
if (step !== "CONFIRM_SIGN_IN_WITH_TOTP_CODE") done({ error: "no TOTP step", message: step });
const confirmed = await auth.confirmSignIn({ challengeResponse: INPUT.code });
if (!confirmed.isSignedIn) done({ error: "not signed in", message: confirmed.nextStep.signInStep });
done(await tokens());
"""
    codes = {"setupCode": totp_code(secret), "code": totp_code(secret, 1)}
    result = run_js(PRELUDE, verify_then_sign_in, [PACKAGE], kit, app, person, **codes)
    tokens_verify(kit, app, person, succeeded(result, "TOTP sign-in"))

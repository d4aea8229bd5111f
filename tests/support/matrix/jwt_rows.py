"""Token verifiers and discovery: python-jose, PyJWT, aws-jwt-verify and OIDC metadata.

Resource servers verify Cognito tokens with these libraries and the pool's JWKS; a row passes
only when the right token verifies and a wrong one (tampered, another audience) is refused.
"""

from __future__ import annotations

from typing import Any

from tests.support.cognito_js import run_node
from tests.support.matrix.core import COGNITO_ISSUER_BASE, Mismatch, Rows, Target, check, equal
from tests.support.matrix.kit import App, Kit
from tests.support.matrix.oauth_rows import machine_kit

jose_rows = Rows("python-jose", needs=("jose",))
pyjwt_rows = Rows("PyJWT", needs=("jwt",))
verify_rows = Rows("aws-jwt-verify", needs=("node:aws-jwt-verify",))
discovery_rows = Rows("discovery", needs=("authlib",))


def tampered(token: str) -> str:
    return token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")


def user_tokens(kit: Kit) -> tuple[App, dict[str, Any]]:
    app = kit.app()
    return app, kit.sign_in(app, kit.person())


@jose_rows.row("python-jose.access_token", "jwt.decode of an access token with the JWKS")
def jose_access(target: Target) -> None:
    from jose import jwt

    kit = Kit(target)
    app, tokens = user_tokens(kit)
    payload = jwt.decode(
        tokens["AccessToken"],
        target.jwks(kit.pool_id),
        algorithms=["RS256"],
        issuer=target.issuer(kit.pool_id),
        options={"verify_aud": False},
    )
    equal((payload["token_use"], payload["client_id"]), ("access", app.id), "claims")


@jose_rows.row("python-jose.id_token", "jwt.decode of an ID token with audience = client id")
def jose_id(target: Target) -> None:
    from jose import jwt

    kit = Kit(target)
    app, tokens = user_tokens(kit)
    payload = jwt.decode(
        tokens["IdToken"],
        target.jwks(kit.pool_id),
        algorithms=["RS256"],
        audience=app.id,
        issuer=target.issuer(kit.pool_id),
    )
    equal(payload["token_use"], "id", "token_use")


@jose_rows.row("python-jose.refusals", "a tampered token, another audience, another issuer")
def jose_refusals(target: Target) -> None:
    from jose import JWTError, jwt

    kit = Kit(target)
    app, tokens = user_tokens(kit)
    jwks = target.jwks(kit.pool_id)
    attempts = {
        "tampered": (tampered(tokens["IdToken"]), app.id, target.issuer(kit.pool_id)),
        "audience": (tokens["IdToken"], "another-client", target.issuer(kit.pool_id)),
        "issuer": (tokens["IdToken"], app.id, f"{target.issuer_base}/us-east-1_Other"),
    }
    for what, (token, audience, issuer) in attempts.items():
        try:
            jwt.decode(token, jwks, algorithms=["RS256"], audience=audience, issuer=issuer)
        except JWTError:
            continue
        raise Mismatch(f"python-jose accepted the {what} case")


@pyjwt_rows.row("PyJWT.jwks_client", "PyJWKClient on the discovery document's jwks_uri")
def pyjwt_jwks_client(target: Target) -> None:
    import jwt

    kit = Kit(target)
    app, tokens = user_tokens(kit)
    configuration = target.get(f"/{kit.pool_id}/.well-known/openid-configuration").json()
    client = jwt.PyJWKClient(configuration["jwks_uri"])
    key = client.get_signing_key_from_jwt(tokens["IdToken"])
    payload = jwt.decode(
        tokens["IdToken"],
        key.key,
        algorithms=["RS256"],
        audience=app.id,
        issuer=configuration["issuer"],
    )
    equal(payload["cognito:username"], claims_username(tokens), "cognito:username")
    try:
        jwt.decode(tampered(tokens["IdToken"]), key.key, algorithms=["RS256"], audience=app.id)
    except jwt.InvalidSignatureError:
        return
    raise Mismatch("PyJWT accepted a tampered ID token")


def claims_username(tokens: dict[str, Any]) -> str:
    import jwt

    return jwt.decode(tokens["AccessToken"], options={"verify_signature": False})["username"]


VERIFY_JS = """
const { CognitoJwtVerifier, validateCognitoJwtFields } = require("aws-jwt-verify/cognito-verifier");
const { JwtRsaVerifier } = require("aws-jwt-verify");
const results = [];
for (const c of INPUT.cases) {
  const fields = { tokenUse: c.tokenUse, clientId: c.clientId, scope: c.scope };
  // Cognito's issuer: its own verifier. Any other issuer: the RSA verifier with Cognito's checks.
  const verifier = INPUT.cognitoIssuer
    ? CognitoJwtVerifier.create({ userPoolId: INPUT.pool, ...fields })
    : JwtRsaVerifier.create({ issuer: INPUT.issuer, audience: null, scope: c.scope,
        customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, fields) });
  verifier.cacheJwks(INPUT.jwks);
  try {
    const payload = await verifier.verify(c.token);
    results.push({ ok: true, sub: payload.sub });
  } catch (error) {
    results.push({ ok: false, error: error.constructor.name });
  }
}
done(results);
"""


def run_verifier(
    pool: str, issuer: str, jwks: dict[str, Any], cases: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each case (`token`, `tokenUse`, `clientId`, `scope`) through aws-jwt-verify with `jwks`
    cached: `{ok, sub}`, or `{ok: false, error: <the verifier's error class>}`."""
    payload = {
        "pool": pool,
        "issuer": issuer,
        "cognitoIssuer": issuer == f"{COGNITO_ISSUER_BASE}/{pool}",
        "jwks": jwks,
        "cases": cases,
    }
    results: list[dict[str, Any]] = run_node(VERIFY_JS, payload, packages=["aws-jwt-verify"])
    return results


def aws_jwt_verify(kit: Kit, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    target = kit.target
    return run_verifier(kit.pool_id, target.issuer(kit.pool_id), target.jwks(kit.pool_id), cases)


@verify_rows.row("aws-jwt-verify.user_tokens", "Cognito's verifier accepts access and ID tokens")
def verify_user_tokens(target: Target) -> None:
    kit = Kit(target)
    app, tokens = user_tokens(kit)
    results = aws_jwt_verify(
        kit,
        [
            {"token": tokens["AccessToken"], "tokenUse": "access", "clientId": app.id},
            {"token": tokens["IdToken"], "tokenUse": "id", "clientId": app.id},
        ],
    )
    check(all(r["ok"] for r in results), f"refused: {results}")


@verify_rows.row("aws-jwt-verify.machine_token", "a client-credentials token with its scope")
def verify_machine(target: Target) -> None:
    kit, app = machine_kit(target)
    answer = target.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(app.id, app.secret or ""),
    )
    check(answer.status_code == 200, f"token endpoint answered {answer.status_code}")
    token = answer.json()["access_token"]
    results = aws_jwt_verify(
        kit, [{"token": token, "tokenUse": "access", "clientId": app.id, "scope": "pdp/decide"}]
    )
    equal([(r["ok"], r.get("sub")) for r in results], [(True, app.id)], "verification")


@verify_rows.row("aws-jwt-verify.refusals", "another client, the wrong token use, a bad signature")
def verify_refusals(target: Target) -> None:
    kit = Kit(target)
    app, tokens = user_tokens(kit)
    results = aws_jwt_verify(
        kit,
        [
            {"token": tokens["AccessToken"], "tokenUse": "access", "clientId": "someone-else"},
            {"token": tokens["IdToken"], "tokenUse": "access", "clientId": app.id},
            {"token": tampered(tokens["AccessToken"]), "tokenUse": "access", "clientId": app.id},
        ],
    )
    equal(
        [r.get("error") for r in results],
        [
            "CognitoJwtInvalidClientIdError",
            "CognitoJwtInvalidTokenUseError",
            "JwtInvalidSignatureError",
        ],
        "refusals",
    )


@discovery_rows.row(
    "discovery.openid_configuration", "authlib's OpenIDProviderMetadata validates it"
)
def openid_configuration(target: Target) -> None:
    from authlib.oidc.discovery import OpenIDProviderMetadata

    kit = Kit(target)
    answer = target.get(f"/{kit.pool_id}/.well-known/openid-configuration")
    equal(answer.status_code, 200, "status")
    metadata = OpenIDProviderMetadata(answer.json())
    try:
        metadata.validate()
    except ValueError as error:
        raise Mismatch(f"OpenIDProviderMetadata.validate: {error}") from None
    equal(metadata["issuer"], target.issuer(kit.pool_id), "issuer")
    check("RS256" in metadata["id_token_signing_alg_values_supported"], "RS256 not advertised")


@discovery_rows.row("discovery.jwks", "the JWKS: RSA signing keys with unique kids")
def jwks(target: Target) -> None:
    kit = Kit(target)
    keys = target.jwks(kit.pool_id)["keys"]
    check(keys, "no keys")
    for key in keys:
        equal((key.get("kty"), key.get("alg"), key.get("use")), ("RSA", "RS256", "sig"), "key type")
        check(
            key.get("n") and key.get("e") and key.get("kid"),
            f"key lacks n, e or kid: {sorted(key)}",
        )
    equal(len({k["kid"] for k in keys}), len(keys), "distinct kids")

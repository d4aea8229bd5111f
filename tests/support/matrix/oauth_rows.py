"""OAuth 2.0 rows: authlib and requests-oauthlib at the token, revocation and userInfo endpoints.

These are the clients a service uses for machine tokens (client_credentials) and a web app for
refreshing and revoking a user's tokens; every token they get is verified as Cognito's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.matrix.core import (
    Mismatch,
    Rows,
    Target,
    check,
    equal,
    verify_token,
)
from tests.support.matrix.kit import App, Kit

authlib_rows = Rows("authlib", needs=("authlib",))
oauthlib_rows = Rows("requests-oauthlib", needs=("requests_oauthlib",))
# Claims of a Cognito client-credentials access token.
MACHINE_CLAIMS = {
    "sub",
    "token_use",
    "scope",
    "auth_time",
    "iss",
    "exp",
    "iat",
    "version",
    "jti",
    "client_id",
}


def token_url(target: Target) -> str:
    return f"{target.url}/oauth2/token"


def machine_kit(target: Target) -> tuple[Kit, App]:
    """A pool with the `pdp` resource server and a client allowed `pdp/decide`."""
    kit = Kit(target)
    kit.resource_server("pdp", ("decide", "admin"))
    return kit, kit.machine(["pdp/decide"])


def verify_machine_token(kit: Kit, app: App, token: dict[str, Any], scope: str) -> None:
    """A client-credentials answer as Cognito's: Bearer, expires_in, the claims, the scope."""
    equal(str(token.get("token_type")).lower(), "bearer", "token_type")
    check(isinstance(token.get("expires_in"), int), f"expires_in {token.get('expires_in')!r}")
    check("refresh_token" not in token, "client_credentials returned a refresh token")
    payload = verify_token(
        kit.target, kit.pool_id, token["access_token"], "access", app.id, MACHINE_CLAIMS
    )
    equal((payload["sub"], payload["scope"]), (app.id, scope), "sub and scope")


def authlib_session(app: App, **settings: Any) -> Any:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(app.id, app.secret, **settings)


def oauth_error(call: Any, code: str) -> None:
    """`call` must fail with the OAuth error `code` (authlib's OAuthError)."""
    from authlib.integrations.base_client import OAuthError

    try:
        call()
    except OAuthError as error:
        equal(error.error, code, "OAuth error")
        return
    raise Mismatch(f"expected OAuth error {code}, but the request succeeded")


@authlib_rows.row("authlib.client_credentials", "client_credentials with HTTP Basic")
def client_credentials(target: Target) -> None:
    kit, app = machine_kit(target)
    session = authlib_session(app, scope="pdp/decide")
    verify_machine_token(
        kit,
        app,
        session.fetch_token(token_url(target), grant_type="client_credentials"),
        "pdp/decide",
    )


@authlib_rows.row("authlib.client_credentials.post", "client_credentials with client_secret_post")
def client_credentials_post(target: Target) -> None:
    kit, app = machine_kit(target)
    session = authlib_session(app, token_endpoint_auth_method="client_secret_post")
    token = session.fetch_token(token_url(target), grant_type="client_credentials")
    verify_machine_token(kit, app, token, "pdp/decide")


@authlib_rows.row("authlib.client_credentials.wrong_secret", "a wrong secret is invalid_client")
def wrong_secret(target: Target) -> None:
    _, app = machine_kit(target)
    session = authlib_session(App(app.id, "not-the-secret"))
    oauth_error(
        lambda: session.fetch_token(token_url(target), grant_type="client_credentials"),
        "invalid_client",
    )


@authlib_rows.row("authlib.client_credentials.invalid_scope", "a scope the client lacks")
def invalid_scope(target: Target) -> None:
    _, app = machine_kit(target)
    session = authlib_session(app, scope="pdp/admin")
    oauth_error(
        lambda: session.fetch_token(token_url(target), grant_type="client_credentials"),
        "invalid_scope",
    )


def user_refresh_token(kit: Kit) -> tuple[App, str]:
    """A public client and a signed-in user's refresh token."""
    app = kit.app()
    return app, kit.sign_in(app, kit.person())["RefreshToken"]


@authlib_rows.row("authlib.refresh_token", "refresh_token grant at /oauth2/token (public client)")
def refresh_token(target: Target) -> None:
    kit = Kit(target)
    app, refresh = user_refresh_token(kit)
    session = authlib_session(app, token_endpoint_auth_method="none")
    token = session.refresh_token(token_url(target), refresh_token=refresh)
    verify_token(target, kit.pool_id, token["access_token"], "access", app.id)
    verify_token(target, kit.pool_id, token["id_token"], "id", app.id)


@authlib_rows.row("authlib.revoke_token", "revoke at /oauth2/revoke; the refresh token stops")
def revoke_token(target: Target) -> None:
    kit = Kit(target)
    app = kit.app(secret=True)
    refresh = kit.sign_in(app, kit.person())["RefreshToken"]
    session = authlib_session(app)
    answer = session.revoke_token(
        f"{target.url}/oauth2/revoke", token=refresh, token_type_hint="refresh_token"
    )
    equal(answer.status_code, 200, "revoke status")
    oauth_error(
        lambda: session.refresh_token(token_url(target), refresh_token=refresh), "invalid_grant"
    )


@authlib_rows.row("authlib.userinfo", "userInfo with the access token (Bearer)")
def userinfo(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    tokens = kit.sign_in(app, person)
    session = authlib_session(
        app, token={"access_token": tokens["AccessToken"], "token_type": "Bearer"}
    )
    answer = session.get(f"{target.url}/oauth2/userInfo")
    equal(answer.status_code, 200, "userInfo status")
    info = answer.json()
    equal(
        (info.get("sub"), info.get("username"), info.get("email")),
        (person.sub, person.username, person.email),
        "userInfo",
    )


@contextmanager
def plain_http_allowed() -> Iterator[None]:
    """oauthlib refuses http:// unless told otherwise, as local development tells it."""
    before = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ["OAUTHLIB_INSECURE_TRANSPORT"]
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = before


def oauthlib_session(app: App, **settings: Any) -> Any:
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    return OAuth2Session(client=BackendApplicationClient(client_id=app.id), **settings)


@oauthlib_rows.row("requests-oauthlib.client_credentials", "BackendApplicationClient fetch_token")
def oauthlib_client_credentials(target: Target) -> None:
    kit, app = machine_kit(target)
    with plain_http_allowed():
        token = oauthlib_session(app, scope=["pdp/decide"]).fetch_token(
            token_url=token_url(target), client_id=app.id, client_secret=app.secret
        )
    verify_machine_token(kit, app, token, "pdp/decide")


@oauthlib_rows.row("requests-oauthlib.wrong_secret", "a wrong secret raises InvalidClientError")
def oauthlib_wrong_secret(target: Target) -> None:
    from oauthlib.oauth2.rfc6749.errors import InvalidClientError

    _, app = machine_kit(target)
    try:
        with plain_http_allowed():
            oauthlib_session(app).fetch_token(
                token_url=token_url(target), client_id=app.id, client_secret="not-the-secret"
            )
    except InvalidClientError:
        return
    raise Mismatch("a wrong client secret got a token")


@oauthlib_rows.row("requests-oauthlib.refresh_token", "OAuth2Session.refresh_token (public client)")
def oauthlib_refresh(target: Target) -> None:
    from requests_oauthlib import OAuth2Session

    kit = Kit(target)
    app, refresh = user_refresh_token(kit)
    session = OAuth2Session(
        app.id, token={"refresh_token": refresh, "token_type": "Bearer", "access_token": "x"}
    )
    with plain_http_allowed():
        token = session.refresh_token(
            token_url(target), refresh_token=refresh, client_id=app.id, include_client_id=True
        )
    verify_token(target, kit.pool_id, token["access_token"], "access", app.id)

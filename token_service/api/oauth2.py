"""OAuth 2.0 endpoints in Cognito's shapes: token, userInfo and revoke (RFC 6749, 6750, 7009)."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from token_service.api.context import request_context
from token_service.errors import (
    InvalidClient,
    InvalidParameter,
    NotAuthorized,
    TokenServiceError,
    UnsupportedGrantType,
)
from token_service.events import CLIENT_CREDENTIALS, REFRESH, SIGN_IN, Subject
from token_service.federation import exchange
from token_service.issue import token_hash
from token_service.refresh import refresh_tokens
from token_service.services import Services
from token_service.tokens import USER_SCOPE

router = APIRouter(prefix="/oauth2")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Cognito's token endpoint answers any origin, so SPAs redeem codes from the browser.
ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}


def oauth_error_response(error: TokenServiceError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.oauth_status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="token-service"'
    body = {"error": error.oauth_error, "error_description": error.message}
    return JSONResponse(body, status_code=error.oauth_status, headers=headers)


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body; a parameter given twice is an error (RFC 6749 section 3.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidParameter("Content-Type must be application/x-www-form-urlencoded.")
    try:
        parsed = parse_qs(
            (await request.body()).decode(), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        raise InvalidParameter("The body is not UTF-8.") from None
    if any(len(values) > 1 for values in parsed.values()):
        raise InvalidParameter("A parameter was given more than once.")
    return {key: values[0] for key, values in parsed.items()}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    """Client id and secret from HTTP Basic or the form, never both (RFC 6749 section 2.3)."""
    header = request.headers.get("authorization", "")
    if header[:6].lower() == "basic ":
        if "client_secret" in form:
            raise InvalidParameter("Use one client authentication method, not two.")
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClient("Malformed Basic credentials.") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise InvalidClient("Malformed Basic credentials.")
        if form.get("client_id") not in (None, unquote_plus(client_id)):
            raise InvalidParameter("client_id differs from the authenticated client.")
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id", ""), form.get("client_secret")


@router.post("/token")
async def token(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        form = await read_form(request)
        client_id, secret = _client_credentials(request, form)
        grant = form.get("grant_type")
        body: dict[str, Any]
        context, subject = request_context(request), Subject(client_id)
        if grant == "client_credentials":
            machine = await run_in_threadpool(
                services.events.observe,
                context,
                subject,
                CLIENT_CREDENTIALS,
                "client_credentials",
                lambda: services.issuer.client_credentials(client_id, secret, form.get("scope")),
                lambda _: (CLIENT_CREDENTIALS, None),
            )
            body = {
                "access_token": machine.access_token,
                "expires_in": machine.expires_in,
                "token_type": "Bearer",
            }
        elif grant == "refresh_token":
            presented = form.get("refresh_token", "")
            tokens = await run_in_threadpool(
                services.events.observe,
                context,
                Subject(client_id, refresh_token_hash=token_hash(presented) if presented else None),
                REFRESH,
                "refresh_token",
                lambda: refresh_tokens(
                    services.issuer, client_id, presented, channel="oauth", client_secret=secret
                ),
                lambda _: None,  # a successful refresh is no event (token_service.events)
            )
            body = {
                "access_token": tokens.access_token,
                "id_token": tokens.id_token,
                "expires_in": tokens.expires_in,
                "token_type": "Bearer",
            }
            # Present only when the client rotates refresh tokens.
            if tokens.refresh_token is not None:
                body["refresh_token"] = tokens.refresh_token
        elif grant == "authorization_code":
            body = await run_in_threadpool(_redeem_code, services, client_id, secret, form)
        elif grant == exchange.GRANT_TYPE:
            exchanged = await run_in_threadpool(
                services.events.observe,
                context,
                subject,
                SIGN_IN,
                exchange.STEP,
                lambda: services.exchange.exchange(client_id, secret, form, context),
                lambda _: None,  # the exchange records its success with the user it signed in
            )
            body = exchange.TokenExchange.response(exchanged)
        elif not grant:
            raise InvalidParameter("grant_type is required.")
        else:
            raise UnsupportedGrantType(f"Unsupported grant_type {grant!r}.")
    except TokenServiceError as error:
        response = oauth_error_response(error)
        response.headers.update(ANY_ORIGIN)
        return response
    return JSONResponse(body, headers={**NO_STORE, **ANY_ORIGIN})


def _redeem_code(
    services: Services, client_id: str, secret: str | None, form: dict[str, str]
) -> dict[str, Any]:
    """The code grant's answer: the ID token only when `openid` was granted, as Cognito."""
    redeemed = services.hosted.codes.redeem(
        client_id,
        secret,
        form.get("code", ""),
        form.get("redirect_uri", ""),
        form.get("code_verifier"),
    )
    tokens = redeemed.tokens
    body: dict[str, Any] = {"access_token": tokens.access_token}
    if "openid" in redeemed.scopes:
        body["id_token"] = tokens.id_token
    body.update(
        {
            "refresh_token": tokens.refresh_token,
            "expires_in": tokens.expires_in,
            "token_type": "Bearer",
        }
    )
    return body


@router.api_route("/userInfo", methods=["GET", "POST"])
async def user_info(request: Request) -> Response:
    """Claims of the user an access token belongs to (RFC 6750 bearer authentication)."""
    services: Services = request.app.state.services
    header = request.headers.get("authorization", "")
    if header[:7].lower() != "bearer " or not header[7:].strip():
        return JSONResponse(
            {"error": "invalid_request", "error_description": "Bearer access token required."},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="token-service"'},
        )
    try:
        # Cognito's userInfo takes tokens with `openid` (OAuth) or the user-pool scope (API).
        user, _ = await run_in_threadpool(
            services.issuer.authenticate, header[7:].strip(), ("openid", USER_SCOPE)
        )
    except NotAuthorized as error:
        challenge = f'Bearer error="invalid_token", error_description="{error.message}"'
        return JSONResponse(
            {"error": "invalid_token", "error_description": error.message},
            status_code=401,
            headers={"WWW-Authenticate": challenge},
        )
    claims: dict[str, Any] = {"sub": user.sub, **user.attributes, "username": user.username}
    return JSONResponse(claims, headers=NO_STORE)


@router.post("/revoke")
async def revoke(request: Request) -> Response:
    """RFC 7009: a valid, unknown or already revoked token all answer 200."""
    services: Services = request.app.state.services
    try:
        form = await read_form(request)
        client_id, secret = _client_credentials(request, form)
        await run_in_threadpool(services.issuer.revoke, form.get("token", ""), client_id, secret)
    except TokenServiceError as error:
        return oauth_error_response(error)
    return Response(status_code=200, headers=NO_STORE)

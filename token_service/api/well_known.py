"""Per-pool discovery: the JWKS and the OpenID configuration, at Cognito's paths."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from token_service.admin import STANDARD_ATTRIBUTES
from token_service.errors import ResourceNotFound
from token_service.federation.exchange import GRANT_TYPE
from token_service.services import Services

router = APIRouter()
# Client authentication at the token and revocation endpoints (HTTP Basic or form fields).
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
# What ID tokens may carry: the standard claims, the user's attributes and Cognito's own.
ID_TOKEN_CLAIMS = sorted(
    {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr", "jti"}
    | {"cognito:username", "cognito:groups", "origin_jti", "event_id", "token_use"}
    | STANDARD_ATTRIBUTES
)


def _not_found(error: ResourceNotFound) -> JSONResponse:
    return JSONResponse({"__type": error.cognito_type, "message": error.message}, status_code=404)


@router.get("/{pool_id}/.well-known/jwks.json")
async def jwks(pool_id: str, request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        keys = await run_in_threadpool(services.issuer.jwks, pool_id)
    except ResourceNotFound as error:
        return _not_found(error)
    # Short caching: a rotated key must reach verifiers long before old tokens expire.
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})


@router.get("/{pool_id}/.well-known/openid-configuration")
async def openid_configuration(pool_id: str, request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        await run_in_threadpool(services.issuer.jwks, pool_id)
    except ResourceNotFound as error:
        return _not_found(error)
    settings = services.settings
    own = settings.service_url
    return JSONResponse(
        {
            "issuer": settings.issuer(pool_id),
            "jwks_uri": f"{own}/{pool_id}/.well-known/jwks.json",
            "authorization_endpoint": f"{own}/oauth2/authorize",
            "token_endpoint": f"{own}/oauth2/token",
            "userinfo_endpoint": f"{own}/oauth2/userInfo",
            "revocation_endpoint": f"{own}/oauth2/revoke",
            "end_session_endpoint": f"{own}/logout",
            "grant_types_supported": [
                "authorization_code",
                "client_credentials",
                "refresh_token",
                GRANT_TYPE,
            ],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "response_modes_supported": ["query"],
            "claims_supported": ID_TOKEN_CLAIMS,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "phone", "profile"],
        }
    )


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}

"""The identity issuer's discovery: the JWKS and OpenID configuration of its OpenID tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from token_service.identity.tokens import ISSUER_PATH, POOL_ARN_CLAIM, TAGS_CLAIM, issuer
from token_service.services import Services

router = APIRouter()
CLAIMS = sorted({"iss", "sub", "aud", "amr", "exp", "iat", POOL_ARN_CLAIM, TAGS_CLAIM})


@router.get(f"/{ISSUER_PATH}/.well-known/jwks.json")
async def jwks(request: Request) -> Response:
    services: Services = request.app.state.services
    keys = await run_in_threadpool(services.identity.identity_jwks)
    # Short caching, as the pools' JWKS: a rotated key must reach verifiers early.
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})


@router.get(f"/{ISSUER_PATH}/.well-known/openid-configuration")
async def openid_configuration(request: Request) -> Response:
    services: Services = request.app.state.services
    own = services.settings.service_url
    return JSONResponse(
        {
            "issuer": issuer(services.settings),
            "jwks_uri": f"{own}/{ISSUER_PATH}/.well-known/jwks.json",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": CLAIMS,
        }
    )

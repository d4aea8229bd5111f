"""The ASGI application: services built once, routers mounted, no secrets in access logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from token_service.api import cognito, federation, hosted, identity, oauth2, saml, well_known
from token_service.api.limits import BodyLimit
from token_service.services import Services, build_services
from token_service.settings import Settings


class StripQueryFilter(logging.Filter):
    """Drop query strings from uvicorn's access log lines, so no parameter is ever logged,
    and the token of a partner sign-in link (`/{pool_id}/auth/jwt/{token}`) from its path."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = args[2].split("?", 1)[0]
            head, marker, _ = path.partition("/auth/jwt/")
            record.args = (*args[:2], f"{head}{marker}-" if marker else path, *args[3:])
        return True


@asynccontextmanager
async def _closing(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, the services the app built let go of their connections."""
    yield
    app.state.services.close()


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The app over `services`, whose owner closes them; else over its own, closed at shutdown."""
    owned = services is None
    services = services or build_services(settings or Settings.from_env())
    app = FastAPI(
        title="token-service", docs_url=None, redoc_url=None, lifespan=_closing if owned else None
    )
    app.state.services = services
    app.add_middleware(BodyLimit, max_bytes=services.settings.max_body_bytes)
    app.include_router(oauth2.router)
    # Before the pools' discovery, whose `/{pool_id}/...` paths would match the issuer's.
    app.include_router(identity.router)
    app.include_router(well_known.router)
    app.include_router(cognito.router)
    app.include_router(hosted.router)
    app.include_router(federation.router)
    app.include_router(saml.router)
    return app

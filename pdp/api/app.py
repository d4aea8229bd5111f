"""The PDP's ASGI application: routers, error handlers, limits and lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from pdp import __version__
from pdp.api import (
    admin_bundles,
    admin_decisions,
    admin_directory,
    admin_explain,
    admin_playground,
    admin_review,
    authzen,
    bundle_service,
    decide,
    health,
    opa_data,
)
from pdp.api.errors import install_error_handlers
from pdp.api.limits import BodySizeLimit, JsonBodyGuard
from pdp.console import install_console
from pdp.services import Services
from pdp.settings import Settings
from pdp.workers import ChangeSignal, SignalAdminWrites


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app; `services` may be passed in (tests), otherwise built from `settings`."""
    settings = settings or (services.settings if services else Settings.from_env())
    owned = services is None
    services = services or Services.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        services.start_background()
        try:
            yield
        finally:
            console.close()
            if owned:
                services.close()

    app = FastAPI(
        title="Policy decision point",
        version=__version__,
        lifespan=lifespan,
        description="Decides whether a subject may perform an action on a resource.",
    )
    app.state.services = services
    install_error_handlers(app)
    routers = (
        decide.router,
        authzen.router,
        opa_data.router,
        health.router,
        admin_directory.router,
        admin_decisions.router,
        admin_explain.router,
        admin_bundles.router,
        admin_review.router,
        admin_playground.router,
        bundle_service.router,
    )
    for router in routers:
        app.include_router(router)
    console = install_console(app, settings)
    json_routes = [
        route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.body_field is not None
    ]
    app.add_middleware(JsonBodyGuard, max_depth=settings.max_json_depth, json_routes=json_routes)
    app.add_middleware(decide.DecideFastPath)
    app.add_middleware(authzen.RequestIdEcho)
    signal = ChangeSignal.from_env()
    if signal is not None:
        services.decisions.follow_changes(signal)
        app.add_middleware(SignalAdminWrites, signal=signal)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        prefix_limits={"/admin/v1/bundles": settings.bundle_max_bytes},
    )
    return app

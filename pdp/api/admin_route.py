"""A route class for admin routers: each endpoint runs on the admin threads (`AdminWork`),
not on the worker threads shared with `/health` and the decision path."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from pdp.api.deps import services_of


def on_admin_threads(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint as a coroutine that waits (bounded) for it on the admin threads; FastAPI
    sees the endpoint's own signature. The endpoint must take the `request`."""

    async def run(**params: Any) -> Any:
        request: Request = params["request"]
        return await services_of(request).admin_work.run(partial(endpoint, **params))

    run.__signature__ = inspect.signature(endpoint)  # type: ignore[attr-defined]
    run.__name__ = endpoint.__name__
    run.__doc__ = endpoint.__doc__
    return run


class AdminRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, on_admin_threads(endpoint), **kwargs)

"""Drain a PDP process on SIGTERM (or SIGINT) so that stopping a replica fails no decision.

On the signal `/health` answers 503 at once, so a load balancer that checks health stops
sending; the process keeps serving for `PDP_DRAIN_SECONDS` (default 0), then uvicorn stops
accepting, finishes the requests in flight, and the app's shutdown flushes the decision log.
A second signal during the delay stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

DRAIN_ENV = "PDP_DRAIN_SECONDS"
_SIGNALS = (signal.SIGTERM, signal.SIGINT)

logger = logging.getLogger("pdp")

SignalHandler = Callable[[int, FrameType | None], Any]


class Draining:
    """ASGI wrapper of the PDP app: takes the stop signals in front of uvicorn's handlers and
    answers `/health` with 503 once one arrived."""

    def __init__(self, app: ASGIApp, delay_seconds: float = 0.0) -> None:
        self.app = app
        self.delay_seconds = delay_seconds
        self.started = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self._take_signals()
        elif self.started.is_set() and scope["type"] == "http" and scope["path"] == "/health":
            await JSONResponse({"status": "draining"}, status_code=503)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _take_signals(self) -> None:
        """Lifespan startup runs on uvicorn's main thread after it installed its handlers."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            server_handler = signal.getsignal(sig)
            if callable(server_handler):
                signal.signal(sig, partial(self._on_signal, server_handler))

    def _on_signal(self, server_handler: SignalHandler, sig: int, frame: FrameType | None) -> None:
        first = not self.started.is_set()
        self.started.set()
        if not first or self.delay_seconds <= 0:
            server_handler(sig, frame)
            return
        logger.info("draining: /health answers 503; stopping in %.1f s", self.delay_seconds)
        timer = threading.Timer(self.delay_seconds, server_handler, (sig, None))
        timer.daemon = True
        timer.start()

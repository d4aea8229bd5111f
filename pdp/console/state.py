"""What the console keeps per process: its sessions and its hosted sign-in client."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from pdp.console.live import LiveMetrics
from pdp.console.oidc import HostedSignIn
from pdp.console.registry import Page, navigation
from pdp.console.sessions import SessionStore
from pdp.metrics import Metrics
from pdp.settings import Settings


@dataclass
class ConsoleState:
    sign_in: HostedSignIn | None
    live: LiveMetrics
    sessions: SessionStore = field(default_factory=SessionStore)
    nav: list[Page] = field(default_factory=navigation)

    @classmethod
    def build(cls, settings: Settings, metrics: Metrics) -> ConsoleState:
        sign_in = None
        if settings.console_issuer and settings.console_client_id:
            sign_in = HostedSignIn(settings.console_issuer, settings.console_client_id)
        return cls(sign_in=sign_in, live=LiveMetrics(metrics))

    def form_origins(self) -> set[str]:
        return self.sign_in.form_origins() if self.sign_in else set()

    def close(self) -> None:
        if self.sign_in is not None:
            self.sign_in.close()


def console_of(request: Request) -> ConsoleState:
    return request.app.state.console

"""The services one PDP process runs, built once at start and shared by every router."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pdp.authn import Authenticator
    from pdp.decision import DecisionService
    from pdp.decision_log import DecisionLog
    from pdp.directory.snapshot import DirectorySnapshot
    from pdp.directory.store import DirectoryStore
    from pdp.metrics import Metrics
    from pdp.policy import PolicyRuntime
    from pdp.settings import Settings


@dataclass
class Services:
    settings: Settings
    directory: DirectoryStore
    snapshot: DirectorySnapshot
    authenticator: Authenticator
    policy: PolicyRuntime
    decisions: DecisionService
    decision_log: DecisionLog
    metrics: Metrics

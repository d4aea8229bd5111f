"""The replay impact of a stored revision: how many recent decisions would it flip?

Before an admin activates (or rolls back to) a revision, the recent decision log is replayed
against it exactly as `pdp replay` does (`pdp.replay`): compiled in a child process like any
bundle this PDP serves, each record re-decided through the endpoint that made it. Nothing is
activated and the serving policy is not touched.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from pdp.bundles.diff import stored_source
from pdp.bundles.store import BundleStore
from pdp.decision_log import DecisionLogStore, DecisionQuery
from pdp.directory.snapshot import DirectorySnapshot
from pdp.engine import CompileError
from pdp.errors import Unprocessable
from pdp.policy import PolicyRuntime
from pdp.replay import DirectoryMode, ReplayReport, replay

DEFAULT_DECISIONS = 1000
MAX_DECISIONS = 10_000
# Each replay compiles the candidate in a child that takes a core: one at a time per process.
_replaying = threading.Lock()


@dataclass(frozen=True)
class ImpactRequest:
    """Which recent decisions to replay: the newest `decisions` since `since`, with the
    directory as recorded or as it is now, and up to `examples` examples of each change."""

    decisions: int = DEFAULT_DECISIONS
    since: datetime | None = None
    directory: DirectoryMode = "recorded"
    examples: int = 5


@dataclass(frozen=True)
class Impact:
    name: str
    revision: str
    active_revision: str | None
    report: ReplayReport

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": self.revision,
            "active_revision": self.active_revision,
            **self.report.to_json(),
        }


def replay_impact(
    store: BundleStore,
    runtime: PolicyRuntime,
    decisions: DecisionLogStore,
    snapshot: DirectorySnapshot,
    name: str,
    revision: str,
    request: ImpactRequest,
    *,
    max_bytes: int,
) -> Impact:
    """Replay the recent decisions of `request` against stored `revision` of `name`."""
    source = stored_source(store, name, revision, max_bytes=max_bytes, include_tests=False)
    with _replaying:
        try:
            policy = runtime.prepare(source)
        except CompileError as exc:
            message = f"revision {revision} cannot serve: {exc}"
            raise Unprocessable(message, field="revision") from None
        recent = decisions.iter_all(DecisionQuery(since=request.since))
        records = (record.to_json() for record in islice(recent, request.decisions))
        report = replay(
            records,
            policy,
            runtime.decision_entrypoint,
            snapshot=snapshot if request.directory == "current" else None,
            example_limit=request.examples,
        )
    active = store.active(name)
    return Impact(name, revision, active.revision if active else None, report)

"""Decision records and a real decision log (store, spool, writer threads) for its tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pdp.decision_log import DecisionLog, DecisionLogStore, DecisionRecord
from pdp.decision_spool import DecisionSpool
from pdp.directory.store import DirectoryStore
from pdp.metrics import Metrics

TENANT = "4f1c2d3e-0000-4000-8000-000000000001"


def record(
    subject: str = "alice",
    *,
    allow: bool = True,
    at: datetime | None = None,
    input: dict[str, Any] | None = None,
) -> DecisionRecord:
    return DecisionRecord(
        decision_id=str(uuid.uuid4()),
        timestamp=at or datetime.now(UTC),
        tenant_id=TENANT,
        pep_client_id="pep",
        subject_id=subject,
        subject_type="user",
        action="document:read",
        resource_type="document",
        resource_id="d1",
        resource_tenant_id=TENANT,
        allow=allow,
        reasons=["role:viewer via user:alice"] if allow else ["no_matching_role"],
        bundle_revision="r1",
        latency_ms=0.4,
        input=input or {"subject": {"id": subject}, "context": {"ip": "10.0.0.1"}},
    )


def nested(levels: int) -> dict[str, Any]:
    """{"a": {"a": ... {}}}, `levels` objects deep."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


def open_log(
    database_url: str, spool: Path, *, max_bytes: int = 1 << 24
) -> tuple[DecisionLog, Metrics]:
    """A decision log writing to `database_url` through a spool in `spool`."""
    metrics = Metrics()
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    log = DecisionLog(
        store, metrics, capacity=10_000, spool=DecisionSpool(spool, max_bytes=max_bytes)
    )
    return log, metrics

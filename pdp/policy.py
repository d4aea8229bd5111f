"""The policy this replica serves: compiled off-process, swapped in atomically.

A new bundle is compiled and smoke-evaluated in a child process (see `pdp.engine`); only a
bundle that survived that is loaded here, next to the one serving, and then swapped in with
one reference assignment; a decision in flight keeps the policy it started with.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pdp.engine import (
    CompiledPolicy,
    CompileError,
    Evaluator,
    PolicySource,
    Problem,
    compile_policy,
    entrypoint_path,
)
from pdp.metrics import Metrics

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Exercises the decision entrypoint with every field a real request has, so a policy that
# crashes the engine on ordinary input is caught before it serves.
SMOKE_INPUT: dict[str, Any] = {
    "subject": {
        "id": "smoke-subject",
        "type": "user",
        "tenant_id": "00000000-0000-4000-8000-000000000000",
        "roles": ["viewer"],
        "groups": [{"id": "smoke-group", "roles": ["editor"]}],
        "company": {"id": "smoke-company", "roles": ["viewer"]},
        "attributes": {"department": "smoke"},
    },
    "action": "document:read",
    "resource": {
        "type": "document",
        "id": "smoke-resource",
        "tenant_id": "00000000-0000-4000-8000-000000000000",
        "attributes": {"owner": "smoke-subject", "department": "smoke"},
    },
    "context": {
        "ip": "10.0.0.1",
        "time": "2026-01-05T10:00:00Z",
        "time_ns": 1767607200000000000,
        "networks": [],
        "tenant_time": {
            "timezone": "UTC",
            "weekday": "Monday",
            "hour": 10,
            "minute": 0,
            "date": "2026-01-05",
        },
    },
}


@dataclass(frozen=True)
class ActivePolicy:
    """One loaded bundle and the facts the PDP derives from its data."""

    compiled: CompiledPolicy
    evaluator: Evaluator
    networks: tuple[tuple[str, IPNetwork], ...]
    loaded_at: datetime

    @property
    def revision(self) -> str:
        return self.compiled.revision

    @property
    def data(self) -> dict[str, Any]:
        return self.compiled.source.data

    def networks_containing(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
        """Names of the bundle's named networks (`data.networks`) that contain `ip`."""
        names: list[str] = []
        for name, network in self.networks:
            if ip.version == network.version and ip in network and name not in names:
                names.append(name)
        return names


def parse_networks(data: Mapping[str, Any]) -> tuple[tuple[str, IPNetwork], ...]:
    """Read `data.networks` ({name: [CIDR, ...]}); a bad entry refuses the bundle."""
    raw = data.get("networks", {})
    if not isinstance(raw, Mapping):
        raise CompileError([Problem(None, None, None, "data.networks must be an object")])
    parsed: list[tuple[str, IPNetwork]] = []
    for name, cidrs in raw.items():
        if not isinstance(cidrs, list):
            raise CompileError(
                [Problem(None, None, None, f"data.networks.{name} must be a list of CIDRs")]
            )
        for cidr in cidrs:
            try:
                parsed.append((name, ipaddress.ip_network(str(cidr), strict=False)))
            except ValueError:
                raise CompileError(
                    [Problem(None, None, None, f"data.networks.{name}: {cidr!r} is not a CIDR")]
                ) from None
    return tuple(parsed)


class PolicyRuntime:
    """Holds the active policy; swapping it is one reference assignment."""

    def __init__(self, decision_entrypoint: str, metrics: Metrics) -> None:
        self.decision_entrypoint = entrypoint_path(decision_entrypoint)
        self._metrics = metrics
        self._active: ActivePolicy | None = None
        self._swap_lock = threading.Lock()

    @property
    def active(self) -> ActivePolicy | None:
        return self._active

    @property
    def revision(self) -> str | None:
        active = self._active
        return active.revision if active else None

    def prepare(self, source: PolicySource) -> ActivePolicy:
        """Compile and smoke-test `source` off-process and load it, without activating it."""
        networks = parse_networks(source.data)
        compiled = compile_policy(
            source, [self.decision_entrypoint], smoke_inputs=[SMOKE_INPUT, {}]
        )
        return ActivePolicy(
            compiled=compiled,
            evaluator=Evaluator(compiled),
            networks=networks,
            loaded_at=datetime.now(UTC),
        )

    def activate(self, policy: ActivePolicy) -> None:
        with self._swap_lock:
            self._active = policy
            self._metrics.set_bundle(policy.revision)

    def load(self, source: PolicySource) -> ActivePolicy:
        """Prepare and activate; on any failure the previous policy keeps serving."""
        policy = self.prepare(source)
        self.activate(policy)
        return policy

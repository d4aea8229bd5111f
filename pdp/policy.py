"""The policy this replica serves: compiled off-process, swapped in atomically.

A new bundle is compiled and smoke-evaluated in a child process (see `pdp.engine`); only a
bundle that survived that is loaded here, next to the one serving, and then swapped in with
one reference assignment; a decision in flight keeps the policy it started with.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pdp.bundles.archive import BundleFormatError, read_archive, source_from_files
from pdp.bundles.signing import SignatureError, require_trusted
from pdp.bundles.store import BundleStore
from pdp.decision_cache import time_granularity
from pdp.engine import (
    CompiledPolicy,
    CompileError,
    Evaluator,
    PolicySource,
    Problem,
    compile_policy,
    entrypoint_path,
)
from pdp.engine.testing import discover_rules, discover_tests
from pdp.metrics import Metrics

logger = logging.getLogger("pdp.policy")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# `::ffff:0:0/96`: where IPv6 embeds an IPv4 address as the same host (RFC 4291, 2.5.5.2).
_IPV4_MAPPED = 0xFFFF << 32

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


_NETWORK_CACHE_SIZE = 65_536


@dataclass(frozen=True)
class ActivePolicy:
    """One loaded bundle and the facts the PDP derives from its data."""

    compiled: CompiledPolicy
    evaluator: Evaluator
    networks: tuple[tuple[str, IPNetwork], ...]
    loaded_at: datetime
    # The clock granularity the manifest declares (pdp.decision_cache); None: not cached.
    time_granularity: int | None = None
    # Client IPs repeat; parsing and matching each one again is measurable per decision.
    _networks_of: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def revision(self) -> str:
        return self.compiled.revision

    @property
    def data(self) -> dict[str, Any]:
        return self.compiled.source.data

    def networks_containing(self, ip: str) -> list[str]:
        """Names of the bundle's named networks (`data.networks`) that contain `ip`, in either
        of its forms (`address_forms`): `::ffff:10.0.0.1` is in `10.0.0.0/8`, as `10.0.0.1` is."""
        cached = self._networks_of.get(ip)
        if cached is None:
            cached = matching_networks(self.networks, ip)
            if len(self._networks_of) >= _NETWORK_CACHE_SIZE:
                self._networks_of.clear()
            self._networks_of[ip] = cached
        return list(cached)


def address_forms(ip: str) -> tuple[IPAddress, ...]:
    """`ip` and, for IPv4 and IPv4-mapped IPv6 (`::ffff:0:0/96`), the other form of the same
    host: a dual-stack socket reports an IPv4 peer as `::ffff:a.b.c.d`, so a network written
    either way must match both. Other embeddings (6to4, NAT64, Teredo, IPv4-compatible) name
    a different host or a translator, and are matched only as the IPv6 addresses they are."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv4Address):
        return address, ipaddress.IPv6Address(_IPV4_MAPPED | int(address))
    mapped = address.ipv4_mapped
    return (address,) if mapped is None else (address, mapped)


def matching_networks(networks: Sequence[tuple[str, IPNetwork]], ip: str) -> list[str]:
    """The names, in bundle order and once each, of `networks` that contain a form of `ip`."""
    forms = address_forms(ip)
    names: list[str] = []
    for name, network in networks:
        if name not in names and any(form in network for form in forms):
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


def network_problems(data: Mapping[str, Any]) -> list[Problem]:
    """What `parse_networks` refuses in `data.networks`, as problems (none when it parses):
    for `pdp check` and the playground, which report rather than refuse."""
    try:
        parse_networks(data)
    except CompileError as exc:
        return list(exc.problems)
    return []


@dataclass(frozen=True)
class LoadFailure:
    """A bundle revision this replica was asked to serve but could not load; `reason` is the
    code publishing would refuse it with (`invalid_bundle`, `bundle_refused`, a signature's)."""

    revision: str
    reason: str
    message: str
    at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "revision": self.revision,
            "reason": self.reason,
            "message": self.message,
            "at": self.at.isoformat().replace("+00:00", "Z"),
        }


def served_entrypoints(decision_entrypoint: str, source: PolicySource) -> list[str]:
    """The decision entrypoint and every rule of `source`, so the OPA Data API can evaluate
    any `data.<path>`; extra entrypoints do not slow the decision (docs/standard-apis.md)."""
    rules = (r.entrypoint for r in discover_rules(source) if not r.name.startswith("test_"))
    return [decision_entrypoint, *rules]


class PolicyRuntime:
    """Holds the active policy; swapping it is one reference assignment."""

    def __init__(self, decision_entrypoint: str, metrics: Metrics) -> None:
        self.decision_entrypoint = entrypoint_path(decision_entrypoint)
        self._metrics = metrics
        self._active: ActivePolicy | None = None
        self._failure: LoadFailure | None = None
        self._swap_lock = threading.Lock()

    @property
    def active(self) -> ActivePolicy | None:
        return self._active

    @property
    def revision(self) -> str | None:
        active = self._active
        return active.revision if active else None

    @property
    def last_failure(self) -> LoadFailure | None:
        """Why the newest bundle this replica tried to load is not the one it serves."""
        return self._failure

    def compile(
        self,
        source: PolicySource,
        *,
        compare_inputs: Sequence[tuple[str, dict[str, Any]]] = (),
        tested: PolicySource | None = None,
    ) -> CompiledPolicy:
        """Validate `source` as this PDP would serve it: named networks, then compile and
        smoke-evaluate every served entrypoint in a child process, which also proves the
        artifact it returns decides like the compiled policy on the smoke inputs and
        `compare_inputs` (`(label, input)`). `tested` (the source with its `*_test.rego`)
        gets its Rego tests the same proof. Every path that serves or judges a bundle
        (serve, publish, replicas, `pdp test`, replay, the Data API) gets its policy here."""
        parse_networks(source.data)
        tests = [t.entrypoint for t in discover_tests(tested)] if tested is not None else []
        return compile_policy(
            source,
            served_entrypoints(self.decision_entrypoint, source),
            smoke_inputs=[SMOKE_INPUT, {}],
            compare_inputs=compare_inputs,
            tests=(tested, tests) if tested is not None and tests else None,
        )

    def prepare(self, source: PolicySource, *, tested: PolicySource | None = None) -> ActivePolicy:
        """Compile and guard `source` off-process and load it, without activating it."""
        compiled = self.compile(source, tested=tested)
        return ActivePolicy(
            compiled=compiled,
            evaluator=Evaluator(compiled),
            networks=parse_networks(source.data),
            loaded_at=datetime.now(UTC),
            time_granularity=time_granularity(source.metadata),
        )

    def activate(self, policy: ActivePolicy) -> None:
        with self._swap_lock:
            self._active = policy
            self._failure = None
            self._metrics.set_bundle(policy.revision)

    def clear_failure(self) -> None:
        self._failure = None

    def record_failure(self, revision: str, reason: str, message: str) -> None:
        """Keep serving what is active, and make the refused revision visible (health, metrics)."""
        self._failure = LoadFailure(revision, reason, message, datetime.now(UTC))
        self._metrics.bundle_load_failures.inc()

    def load(self, source: PolicySource) -> ActivePolicy:
        """Prepare and activate; on any failure the previous policy keeps serving."""
        policy = self.prepare(source)
        self.activate(policy)
        return policy


class BundleFollower:
    """Keeps this replica on the active revision of one published bundle in the shared store.

    `sync` verifies a new revision's signature with this replica's `verification_keys` (the
    store is shared with replicas that may trust other keys, or none), compiles it beside the
    serving one and swaps it in; a revision that fails to load is recorded on the runtime,
    keeps the old one serving, and is retried only after `retry_seconds` (a deterministic
    failure must not respawn a child every poll).
    """

    def __init__(
        self,
        runtime: PolicyRuntime,
        store: BundleStore,
        name: str,
        *,
        max_bytes: int,
        verification_keys: Mapping[str, str] | None = None,
        retry_seconds: float = 30.0,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self._store = store
        self._keys = dict(verification_keys or {})
        self._max_bytes = max_bytes
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._served_digest: str | None = None
        self._failed: tuple[str, float] | None = None

    def sync(self) -> bool:
        """Serve the store's active revision if this replica does not yet; True if it swapped.

        Store errors propagate (the caller polls again); bundle errors are recorded.
        """
        with self._lock:
            target = self._store.active(self.name)
            if target is None:
                return False
            if target.digest == self._served_digest:
                # Back on the served revision (a rollback): an older refusal no longer applies.
                if self._failed is not None:
                    self._failed = None
                    self.runtime.clear_failure()
                return False
            if (
                self._failed is not None
                and self._failed[0] == target.digest
                and time.monotonic() - self._failed[1] < self._retry_seconds
            ):
                return False
            try:
                archive = self._store.archive(self.name, target.revision)
                files = read_archive(archive, max_bytes=self._max_bytes)
                require_trusted(files, self._keys, target.revision)
                source = source_from_files(files, include_tests=False, require_manifest=True)
                policy = self.runtime.prepare(source)
            except (BundleFormatError, CompileError, SignatureError) as exc:
                self._failed = (target.digest, time.monotonic())
                self.runtime.record_failure(target.revision, _load_reason(exc), str(exc))
                logger.error(
                    "bundle %s revision %s refused; still serving %s: %s",
                    self.name,
                    target.revision,
                    self.runtime.revision,
                    exc,
                )
                return False
            self.runtime.activate(policy)
            self._served_digest = target.digest
            self._failed = None
            logger.info("bundle %s revision %s active", self.name, target.revision)
            return True


def _load_reason(exc: BundleFormatError | CompileError | SignatureError) -> str:
    if isinstance(exc, SignatureError):
        return exc.reason
    return "invalid_bundle" if isinstance(exc, BundleFormatError) else "bundle_refused"

"""Prometheus metrics of one PDP process, in a registry of its own (so tests can run many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "pdp_decisions",
            "Decisions made, by result and by the first reason of a deny",
            ["result"],
            registry=self.registry,
        )
        self.decision_errors = Counter(
            "pdp_decision_errors",
            "Decisions denied because something failed (token, subject, engine, timeout)",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pdp_decision_latency_seconds",
            "Time to decide, from a parsed request to a decision",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decision_cache = Counter(
            "pdp_decision_cache",
            "Lookups of cacheable decisions in the decision cache, by hit or miss",
            ["result"],
            registry=self.registry,
        )
        self.bundle = Gauge(
            "pdp_bundle_active",
            "1 for the bundle revision this replica serves",
            ["revision"],
            registry=self.registry,
        )
        self.bundle_load_failures = Counter(
            "pdp_bundle_load_failures",
            "Active bundle revisions this replica failed to load (it kept serving the old one)",
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "pdp_decision_log_dropped",
            "Decision records lost, by cause: queue_full, spool_full, spool_error (the local "
            "spool could not be written), spool_torn (a dead process's last write was cut)",
            ["cause"],
            registry=self.registry,
        )
        self.log_quarantined = Counter(
            "pdp_decision_log_quarantined",
            "Decision records the database refused, kept in decision_log_quarantine instead",
            registry=self.registry,
        )
        self.log_sanitised = Counter(
            "pdp_decision_log_sanitised",
            "Decision records written with NUL characters or NaN/Infinity replaced",
            registry=self.registry,
        )
        self.log_sink_errors = Counter(
            "pdp_decision_log_sink_errors",
            "Attempts to write the decision log while its database was unavailable",
            registry=self.registry,
        )
        self.log_spool_bytes = Gauge(
            "pdp_decision_log_spool_bytes",
            "Bytes of decision records in the local spool not yet in the database",
            registry=self.registry,
        )
        self.log_written = Counter(
            "pdp_decision_log_written",
            "Decision records written to the decision log",
            registry=self.registry,
        )
        self.log_queue = Gauge(
            "pdp_decision_log_queue_depth",
            "Decision records waiting to be written",
            registry=self.registry,
        )

    def set_bundle(self, revision: str | None) -> None:
        self.bundle.clear()
        if revision is not None:
            self.bundle.labels(revision=revision).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)

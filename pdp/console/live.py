"""The live figures of the Decisions page, read from this replica's Prometheus metrics.

Counters only grow, so rates need two readings: every look at the page takes a sample (at
most one per `MIN_INTERVAL_SECONDS`) and the chart shows the rate between consecutive ones.
Latency percentiles are estimated from the histogram buckets as Prometheus'
`histogram_quantile` does, over the sampled window once there is one.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from itertools import pairwise

from pdp.metrics import LATENCY_BUCKETS, Metrics

KEEP_SAMPLES = 60
MIN_INTERVAL_SECONDS = 1.0
QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class Sample:
    at: float
    allow: float
    deny: float
    # Cumulative count of observations at or under each bound of LATENCY_BUCKETS, then +Inf.
    buckets: tuple[float, ...]


@dataclass(frozen=True)
class Rate:
    """Decisions per second between two samples, `seconds_ago` the later one's age."""

    seconds_ago: float
    allow: float
    deny: float


def read(metrics: Metrics, now: float) -> Sample:
    value = metrics.registry.get_sample_value

    def counted(result: str) -> float:
        return value("pdp_decisions_total", {"result": result}) or 0.0

    bounds = [*(str(b) for b in LATENCY_BUCKETS), "+Inf"]
    buckets = tuple(
        value("pdp_decision_latency_seconds_bucket", {"le": bound}) or 0.0 for bound in bounds
    )
    return Sample(now, counted("allow"), counted("deny"), buckets)


def quantile(q: float, buckets: tuple[float, ...]) -> float | None:
    """The q-quantile in seconds from cumulative bucket counts; None without observations.
    Linear within a bucket; a quantile in the +Inf bucket is the highest finite bound."""
    total = buckets[-1] if buckets else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in zip((*LATENCY_BUCKETS, math.inf), buckets, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return LATENCY_BUCKETS[-1]
            inside = count - lower_count
            share = (rank - lower_count) / inside if inside else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return LATENCY_BUCKETS[-1]


class LiveMetrics:
    """Samples of one replica's decision counters, kept for the charts."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._samples: deque[Sample] = deque(maxlen=KEEP_SAMPLES)
        self._lock = threading.Lock()

    def sample(self, now: float | None = None) -> list[Sample]:
        """Take a sample unless the last one is too recent; the samples, oldest first."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self._samples or now - self._samples[-1].at >= MIN_INTERVAL_SECONDS:
                self._samples.append(read(self._metrics, now))
            return list(self._samples)

    @staticmethod
    def rates(samples: list[Sample]) -> list[Rate]:
        latest = samples[-1].at if samples else 0.0
        rates = []
        for before, after in pairwise(samples):
            seconds = after.at - before.at
            rates.append(
                Rate(
                    latest - after.at,
                    max(after.allow - before.allow, 0.0) / seconds,
                    max(after.deny - before.deny, 0.0) / seconds,
                )
            )
        return rates

    @staticmethod
    def percentiles(samples: list[Sample]) -> tuple[str, dict[float, float | None]]:
        """p50/p90/p99 in seconds over the sampled window if it saw decisions, else since
        the replica started; and which of the two it is."""
        window = "since start"
        buckets = samples[-1].buckets if samples else ()
        if len(samples) > 1:
            delta = tuple(
                a - b for a, b in zip(samples[-1].buckets, samples[0].buckets, strict=True)
            )
            if delta[-1] > 0:
                buckets, window = delta, "sampled window"
        return window, {q: quantile(q, buckets) for q in QUANTILES}

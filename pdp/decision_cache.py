"""Decisions remembered by everything that can change them, so a repeat skips the engine.

A bundle opts in by declaring in its manifest metadata how finely its policy reads the clock:
`{"decision_cache": {"time_granularity_seconds": 60}}`. The PDP then gives that policy the
request time rounded down to the granularity, so a decision is a pure function of the bundle
and the input document; the cache key is that input (subject facts, verified claims, action,
resource, PEP context, bucketed time) with the tenant's directory revision, and the cache
belongs to one loaded policy: an activation starts an empty one. Without the declaration
nothing is cached, since the policy may read the exact time.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pdp.metrics import Metrics

CacheKey = tuple[int, str]
CachedAnswer = tuple[bool, tuple[str, ...]]


def time_granularity(metadata: Mapping[str, Any]) -> int | None:
    """The declared `decision_cache.time_granularity_seconds`, or None when the bundle does not
    declare a positive whole number of seconds (then its decisions are not cached)."""
    declared = metadata.get("decision_cache")
    seconds = declared.get("time_granularity_seconds") if isinstance(declared, Mapping) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        return None
    return seconds


def bucket_start(moment: datetime, granularity: int) -> datetime:
    """`moment` rounded down to a multiple of `granularity` seconds since the epoch."""
    seconds = int(moment.timestamp()) // granularity * granularity
    return datetime.fromtimestamp(seconds, UTC)


def cache_key(tenant_revision: int, input_doc: Mapping[str, Any]) -> CacheKey:
    return tenant_revision, json.dumps(input_doc, sort_keys=True, separators=(",", ":"))


class DecisionCache:
    """A bounded LRU of (allow, reasons) for the one policy object it was filled for.

    `owner` is the loaded policy; a lookup or store for another one first empties the cache,
    and a store from a decision that started on a policy no longer served is dropped.
    """

    def __init__(self, max_entries: int, metrics: Metrics) -> None:
        self._max = max_entries
        self._metrics = metrics
        self._lock = threading.Lock()
        self._owner: object | None = None
        self._entries: OrderedDict[CacheKey, CachedAnswer] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._max > 0

    def get(self, owner: object, key: CacheKey) -> CachedAnswer | None:
        with self._lock:
            self._adopt(owner)
            answer = self._entries.get(key)
            if answer is not None:
                self._entries.move_to_end(key)
        self._metrics.decision_cache.labels(result="miss" if answer is None else "hit").inc()
        return answer

    def put(self, owner: object, key: CacheKey, answer: CachedAnswer) -> None:
        with self._lock:
            if owner is not self._owner:
                return
            self._entries[key] = answer
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def _adopt(self, owner: object) -> None:
        if owner is not self._owner:
            self._owner = owner
            self._entries.clear()

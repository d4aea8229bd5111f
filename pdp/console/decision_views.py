"""What the Decisions page shows: the log's filters read from the page's query, and the
live charts (this replica's rates and latency, the log's recent deny reasons)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pdp.console.charts import Chart, horizontal_bars, stacked_columns
from pdp.console.live import LiveMetrics
from pdp.decision_log import DecisionLogStore, DecisionQuery
from pdp.errors import InvalidRequest

PAGE_SIZE = 25
TEXT_FILTERS = (
    "subject_id",
    "tenant_id",
    "resource_type",
    "resource_id",
    "action",
    "reason",
    "bundle_revision",
)
MAX_FILTER_LENGTH = 256
# The deny-reasons chart counts the reasons of this many most recent denies in the log.
RECENT_DENIES = 500
TOP_REASONS = 6


def _moment(name: str, raw: str) -> datetime:
    """A `datetime-local` value (or RFC 3339), read as UTC when it names no zone."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date and time", field=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_filters(params: Mapping[str, str]) -> tuple[DecisionQuery, dict[str, str]]:
    """The log query the page's filters ask for, and the filters to show back in the form.
    Empty fields filter nothing; anything malformed is refused naming the field."""
    shown = {
        name: params.get(name, "").strip() for name in (*TEXT_FILTERS, "allow", "since", "until")
    }
    for name in TEXT_FILTERS:
        if len(shown[name]) > MAX_FILTER_LENGTH:
            raise InvalidRequest(f"{name} is longer than {MAX_FILTER_LENGTH}", field=name)
    allow = {"": None, "allow": True, "deny": False}.get(shown["allow"], "bad")
    if allow == "bad":
        raise InvalidRequest("allow must be allow, deny or empty", field="allow")
    page_token = params.get("page_token") or None
    if page_token is not None and len(page_token) > 2048:
        raise InvalidRequest("page_token is not valid", field="page_token")
    query = DecisionQuery(
        **{name: shown[name] or None for name in TEXT_FILTERS},
        allow=allow,  # type: ignore[arg-type]
        since=_moment("since", shown["since"]) if shown["since"] else None,
        until=_moment("until", shown["until"]) if shown["until"] else None,
        limit=PAGE_SIZE,
        page_token=page_token,
    )
    return query, shown


@dataclass(frozen=True)
class LiveCharts:
    rates: Chart | None
    latency: Chart | None
    latency_window: str
    deny_reasons: Chart | None


def live_charts(live: LiveMetrics, log: DecisionLogStore) -> LiveCharts:
    samples = live.sample()
    rates = live.rates(samples)
    rate_chart = None
    if rates:
        latest = rates[-1]
        rate_chart = stacked_columns(
            [(_ago(r.seconds_ago), r.allow, r.deny) for r in rates],
            "per second",
            f"Latest: {latest.allow:.2f} allows and {latest.deny:.2f} denies per second.",
        )
    window, quantiles = live.percentiles(samples)
    latency_chart = None
    if all(v is not None for v in quantiles.values()):
        rows = [(f"p{q * 100:g}", (v or 0.0) * 1000) for q, v in quantiles.items()]
        latency_chart = horizontal_bars(
            rows, "{:.2f} ms", ", ".join(f"{label} {value:.2f} ms" for label, value in rows)
        )
    return LiveCharts(rate_chart, latency_chart, window, _deny_reasons(log))


def _ago(seconds: float) -> str:
    return "now" if seconds < 1 else f"-{seconds:.0f}s"


def _deny_reasons(log: DecisionLogStore) -> Chart | None:
    denies = log.recent_reasons(allow=False, limit=RECENT_DENIES)
    counted = Counter(reason for reasons in denies for reason in reasons)
    if not counted:
        return None
    rows = [(reason, float(count)) for reason, count in counted.most_common(TOP_REASONS)]
    summary = ", ".join(f"{reason}: {count:g}" for reason, count in rows)
    return horizontal_bars(rows, "{:g}", f"Of the last {len(denies)} denies: {summary}.")


def pretty_json(value: object) -> str | None:
    """A stored input, indented for reading."""
    if value is None:
        return None
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=False, default=str)

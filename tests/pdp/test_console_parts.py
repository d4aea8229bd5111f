"""The console's parts on their own: sessions, latency percentiles, rates, and the colours of
its stylesheet against WCAG AA contrast."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from pdp.console.live import LiveMetrics, quantile, read
from pdp.console.pages.bundles import _diff_defaults
from pdp.console.security import AccessLogQueries, hide_console_queries
from pdp.console.sessions import SessionStore
from pdp.decision_log import DecisionLogStore, DecisionQuery, DecisionRecord
from pdp.metrics import LATENCY_BUCKETS, Metrics

CSS = Path(__file__).resolve().parents[2] / "pdp" / "console" / "static" / "console.css"


def test_started_sign_ins_never_push_out_a_signed_in_session() -> None:
    store = SessionStore(capacity=3)
    pending_id, _ = store.create()
    signed_id, session = store.sign_in(pending_id, "token", expires_at=4e9)
    assert store.get(pending_id) is None  # the id changed at sign-in
    for _ in range(10):
        store.create()
    assert store.get(signed_id) is session


def test_sessions_expire_and_are_dropped() -> None:
    store = SessionStore()
    session_id, _ = store.sign_in(None, "token", expires_at=1.0)  # long past
    assert store.get(session_id) is None
    live_id, _ = store.create()
    store.drop(live_id)
    assert store.get(live_id) is None and store.get(None) is None and store.get("") is None


def test_a_sign_in_never_outlives_the_cap() -> None:
    import time

    store = SessionStore()
    _, session = store.sign_in(None, "token", expires_at=time.time() + 10 * 86400)
    assert session.expires_at <= time.time() + 12 * 3600 + 1


def buckets_of(observations: list[float]) -> tuple[float, ...]:
    metrics = Metrics()
    for seconds in observations:
        metrics.latency.observe(seconds)
    return read(metrics, 0.0).buckets


@given(st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), min_size=1, max_size=50))
def test_percentiles_are_ordered_and_within_the_buckets(observations: list[float]) -> None:
    buckets = buckets_of(observations)
    values = [quantile(q, buckets) for q in (0.5, 0.9, 0.99)]
    assert all(v is not None and 0 <= v <= LATENCY_BUCKETS[-1] for v in values)
    assert values == sorted(values)


def test_percentiles_interpolate_within_a_bucket() -> None:
    assert quantile(0.5, buckets_of([])) is None
    # Four observations in (1 ms, 2.5 ms]: the median is half way through that bucket.
    assert quantile(0.5, buckets_of([0.002] * 4)) == 0.001 + (0.0025 - 0.001) * 0.5


def test_rates_are_per_second_between_samples() -> None:
    metrics = Metrics()
    live = LiveMetrics(metrics)
    live.sample(now=100.0)
    metrics.decisions.labels(result="allow").inc(10)
    metrics.decisions.labels(result="deny").inc(4)
    samples = live.sample(now=102.0)
    assert live.sample(now=102.5) == samples  # too soon for another sample
    [rate] = live.rates(samples)
    assert (rate.allow, rate.deny, rate.seconds_ago) == (5.0, 2.0, 0.0)


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_text_colours_meet_wcag_aa_on_their_backgrounds() -> None:
    colours = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6});", CSS.read_text()))
    pairs = [
        ("ink", "paper"),
        ("ink", "wash"),
        ("muted", "paper"),
        ("muted", "wash"),
        ("accent", "paper"),
        ("accent", "wash"),
        ("allow", "paper"),
        ("deny", "paper"),
        ("paper", "accent"),  # button text
        ("paper", "ink"),  # the top bar
    ]
    for text, background in pairs:
        assert contrast(colours[text], colours[background]) >= 4.5, (text, background)
    assert contrast("#0a3d73", "#d8e8fa") >= 4.5  # the admin badge
    assert contrast("#5c3900", "#fde9c8") >= 4.5  # the auditor badge


def test_the_log_filters_by_reason_text_and_revision_on_both_stores(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    store = DecisionLogStore(engine)
    moment = datetime(2026, 1, 1, tzinfo=UTC)

    def record(n: int, allow: bool, reasons: list[str], revision: str) -> DecisionRecord:
        return DecisionRecord(
            decision_id=f"00000000-0000-4000-8000-{n:012d}",
            timestamp=moment + timedelta(seconds=n),
            tenant_id=None, pep_client_id="pep", subject_id="s", subject_type="user",
            action="document:read", resource_type="document", resource_id="d1",
            resource_tenant_id=None, allow=allow, reasons=reasons, bundle_revision=revision,
            latency_ms=1.0,
        )  # fmt: skip

    store.write([
        record(1, False, ["no_matching_role"], "r1"),
        record(2, False, ["forbidden:100%_off"], "r2"),
        record(3, True, ["role:editor via group:eng"], "r2"),
    ])  # fmt: skip

    def ids(**filters: object) -> list[int]:
        found, _ = store.query(DecisionQuery(**filters))  # type: ignore[arg-type]
        return [int(r.decision_id[-12:]) for r in found]

    assert ids(reason="no_matching") == [1]
    assert ids(reason="via group:eng") == [3]
    # LIKE's wildcards are taken literally: `%` and `_` match only themselves.
    assert ids(reason="100%_") == [2] and ids(reason="%") == [2] and ids(reason="_") == [2, 1]
    assert ids(reason="no%role") == [] and ids(reason="no_matching_rol_") == []
    assert ids(bundle_revision="r2") == [3, 2]
    assert ids(bundle_revision="r2", allow=False) == [2]
    assert store.recent_reasons(allow=False, limit=5) == [
        ["forbidden:100%_off"],
        ["no_matching_role"],
    ]
    assert store.recent_reasons(allow=False, limit=1) == [["forbidden:100%_off"]]
    engine.dispose()


def test_access_log_lines_of_the_console_carry_no_query() -> None:
    logger = logging.getLogger("uvicorn.access")
    hide_console_queries(logger)
    hide_console_queries(logger)
    assert sum(isinstance(f, AccessLogQueries) for f in logger.filters) == 1

    def logged(path: str) -> str:
        record = logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", path, "1.1", 303), None,
        )  # fmt: skip
        assert all(f.filter(record) for f in logger.filters)
        return record.getMessage()

    assert "code=" not in logged("/console/callback?code=secret-code&state=s")
    assert logged("/console/callback?code=c").endswith('"GET /console/callback HTTP/1.1" 303')
    assert "?x=1" in logged("/health?x=1")


@pytest.mark.parametrize(
    ("newest_first", "active", "expected"),
    [
        ([], None, (None, None)),
        (["r1"], "r1", (None, "r1")),
        (["r3", "r2", "r1"], "r3", ("r2", "r3")),
        # A newer revision waits: the diff asks what activating it would change.
        (["r2", "r1"], "r1", ("r1", "r2")),
        (["r3", "r2", "r1"], None, ("r2", "r3")),
    ],
)
def test_the_bundle_diff_form_compares_the_served_revision_with_the_newest(
    newest_first: list[str], active: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert _diff_defaults(newest_first, active) == expected

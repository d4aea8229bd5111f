"""The decision log under faults, on real processes and a PostgreSQL database of their own:
`kill -9` loses at most the last second of records, SIGTERM none, a database outage none,
and poisoned records among concurrent decisions cost no other tenant's record."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.decision_faults import (
    outage_under_load,
    poisoned_burst,
    private_database,
    stop_under_load,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def database() -> Iterator[str]:
    try:
        with private_database() as name:
            yield name
    except psycopg.OperationalError:
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432: skipped")


def test_kill_9_loses_at_most_the_last_second(database, issuer, tmp_path):
    outcome = stop_under_load(database, issuer, tmp_path, signal.SIGKILL)
    assert len(outcome.answered) >= 300
    assert outcome.lost <= outcome.last_second


def test_sigterm_loses_nothing(database, issuer, tmp_path):
    outcome = stop_under_load(database, issuer, tmp_path, signal.SIGTERM)
    assert outcome.answered and outcome.lost == 0


def test_a_database_outage_loses_nothing(database, issuer, tmp_path):
    """300 decisions answered with no database: all of them reach it once it is back."""
    outcome = outage_under_load(
        database, issuer, tmp_path, lambda load: load.wait_for(len(load.answered) + 300)
    )
    assert outcome.during >= 300
    assert outcome.lost == 0
    assert "pdp_decision_log_sink_errors_total 0.0" not in outcome.metrics


def test_poisoned_decisions_cost_no_other_record(database, issuer, tmp_path):
    """400 concurrent decisions, 10 of them with a NUL character or NaN in an attribute (the
    PDP may refuse NaN at the door; every answered decision must be in the log)."""
    outcome = poisoned_burst(database, issuer, tmp_path, total=400, every=40)
    assert len(outcome.answered) == 390 + outcome.during and outcome.lost == 0
    assert outcome.during >= 7  # NUL in values and keys is valid JSON: answered
    assert f"pdp_decision_log_sanitised_total {outcome.during:.1f}" in outcome.metrics
    assert "pdp_decision_log_quarantined_total 0.0" in outcome.metrics

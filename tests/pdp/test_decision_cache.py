"""The decision cache: a repeat is answered from it, and nothing that changes the answer
(bundle activation, directory change, the time bucket) ever lets a stale decision out."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pdp.authn import Principal
from pdp.bundles.loader import load_policy_source
from pdp.decision import DecisionRequest, DecisionService
from pdp.decision_cache import DecisionCache, bucket_start, time_granularity
from pdp.metrics import Metrics
from pdp.services import Services
from tests.pdp.pdp_env import ACME, ALICE, BOB, POLICIES, document_request, running_pdp
from tests.support.issuer import TestIssuer

CALLER = Principal.anonymous()
# Tuesday 2026-12-01 16:59:30 UTC is 17:59:30 in Warsaw, acme's zone: payroll hours end at 18.
LATE_AFTERNOON = datetime(2026, 12, 1, 16, 59, 30, 123456, tzinfo=UTC)


def request(subject: str, action: str = "document:write") -> DecisionRequest:
    body = document_request(
        {"id": subject},
        action,
        type=action.split(":")[0],
        id="d-1",
        attributes={"department": "engineering"},
    )
    return DecisionRequest.model_validate(body)


def lookups(services: Services) -> dict[str, float]:
    """pdp_decision_cache_total by result, as /metrics exposes it."""
    registry = services.metrics.registry
    return {
        r: registry.get_sample_value("pdp_decision_cache_total", {"result": r}) or 0.0
        for r in ("hit", "miss")
    }


def logged_context(services: Services, decision_id: str) -> dict:
    services.decision_log.flush()
    record = services.decision_log.store.get(decision_id)
    assert record is not None and record.input is not None
    return record.input["context"]


@pytest.fixture(scope="module")
def pdp(tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer) -> Iterator[tuple]:
    with running_pdp(tmp_path_factory.mktemp("cache"), issuer, require_pep_auth=False) as pdp:
        yield pdp


def admin_headers(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('admin', scope='pdp/admin')}"}


def test_the_default_bundle_declares_a_minute() -> None:
    assert time_granularity(load_policy_source(POLICIES).metadata) == 60
    assert time_granularity({}) is None
    assert time_granularity({"decision_cache": {"time_granularity_seconds": True}}) is None
    assert time_granularity({"decision_cache": {"time_granularity_seconds": 0}}) is None


def test_the_cache_is_bounded_least_recently_used_first_and_per_policy() -> None:
    cache, first, second = DecisionCache(2, Metrics()), object(), object()
    answer = (True, ("role:viewer via user:u",))
    for key in ((1, "a"), (1, "b")):
        assert cache.get(first, key) is None
        cache.put(first, key, answer)
    assert cache.get(first, (1, "a")) == answer  # now the most recent
    cache.put(first, (1, "c"), answer)
    assert cache.get(first, (1, "b")) is None
    assert cache.get(first, (1, "a")) == cache.get(first, (1, "c")) == answer
    assert cache.get(second, (1, "a")) is None  # another policy starts empty
    cache.put(first, (1, "a"), answer)  # a decision begun on the old policy is dropped
    assert cache.get(second, (1, "a")) is None


def test_a_repeat_is_a_hit_with_its_own_decision_id_and_log_record(
    client: TestClient, services: Services
) -> None:
    body = request(ALICE).model_dump(exclude_none=True)
    before = lookups(services)
    first = client.post("/decide", json=body).json()
    second = client.post("/decide", json=body).json()
    after = lookups(services)
    assert first["allow"] is second["allow"] is True
    assert first["reasons"] == second["reasons"]
    assert first["decision_id"] != second["decision_id"]
    assert after["hit"] - before["hit"] >= 1
    for decision_id in (first["decision_id"], second["decision_id"]):
        assert logged_context(services, decision_id)["ip"] == "10.1.2.3"


def test_the_policy_sees_the_bucket_start(services: Services) -> None:
    decision = services.decisions.decide(request(ALICE), CALLER, now=LATE_AFTERNOON)
    context = logged_context(services, decision.decision_id)
    assert context["time"] == "2026-12-01T16:59:00.000000Z"
    assert context["time_ns"] == int(bucket_start(LATE_AFTERNOON, 60).timestamp()) * 10**9
    assert context["tenant_time"]["minute"] == 59


def test_crossing_a_bucket_misses_and_decides_anew(
    client: TestClient, services: Services, issuer: TestIssuer
) -> None:
    binding = client.post(
        f"/admin/v1/tenants/{ACME}/role-bindings",
        json={"subject_type": "user", "subject_id": BOB, "role": "payroll_clerk"},
        headers=admin_headers(issuer),
    ).json()
    try:
        payroll = request(BOB, "payroll:read")
        decide = services.decisions.decide
        assert decide(payroll, CALLER, now=LATE_AFTERNOON).allow is True
        before = lookups(services)
        assert decide(payroll, CALLER, now=LATE_AFTERNOON + timedelta(seconds=20)).allow is True
        six_pm = decide(payroll, CALLER, now=LATE_AFTERNOON + timedelta(seconds=31))
        after = lookups(services)
        assert (after["hit"] - before["hit"], after["miss"] - before["miss"]) == (1, 1)
        assert (six_pm.allow, six_pm.reasons) == (False, ["outside_business_hours"])
    finally:
        client.delete(
            f"/admin/v1/tenants/{ACME}/role-bindings/{binding['id']}",
            headers=admin_headers(issuer),
        )


def test_a_role_binding_added_or_removed_is_decided_at_once(
    client: TestClient, services: Services, issuer: TestIssuer
) -> None:
    body = request(BOB, "document:comment").model_dump(exclude_none=True)
    assert client.post("/decide", json=body).json()["reasons"] == ["no_matching_role"]
    assert client.post("/decide", json=body).json()["allow"] is False  # now cached
    binding = client.post(
        f"/admin/v1/tenants/{ACME}/role-bindings",
        json={"subject_type": "user", "subject_id": BOB, "role": "commenter"},
        headers=admin_headers(issuer),
    ).json()
    granted = client.post("/decide", json=body).json()
    assert granted["allow"] is True, granted
    assert client.post("/decide", json=body).json()["allow"] is True
    client.delete(
        f"/admin/v1/tenants/{ACME}/role-bindings/{binding['id']}", headers=admin_headers(issuer)
    )
    assert client.post("/decide", json=body).json()["allow"] is False


def test_an_activation_is_decided_by_the_new_bundle(
    client: TestClient, services: Services, tmp_path: Path
) -> None:
    body = request(ALICE).model_dump(exclude_none=True)
    assert client.post("/decide", json=body).json()["allow"] is True
    assert client.post("/decide", json=body).json()["allow"] is True  # cached
    stricter = shutil.copytree(POLICIES, tmp_path / "policies")
    data = json.loads((stricter / "data.json").read_text())
    # The policy reads the precomputed closure; no role grants document:write any more.
    for grants in data["role_grants"].values():
        grants[:] = [g for g in grants if g["action"] != "document:write"]
    (stricter / "data.json").write_text(json.dumps(data))
    original = services.policy.active
    services.policy.load(load_policy_source(stricter, include_tests=False))
    try:
        before = lookups(services)
        denied = client.post("/decide", json=body).json()
        assert (denied["allow"], denied["bundle_revision"]) == (False, services.policy.revision)
        assert lookups(services)["miss"] - before["miss"] == 1
    finally:
        assert original is not None
        services.policy.activate(original)


def test_without_the_declaration_nothing_is_cached(tmp_path: Path, issuer: TestIssuer) -> None:
    undeclared = shutil.copytree(POLICIES, tmp_path / "policies")
    (undeclared / ".manifest").unlink()
    with running_pdp(tmp_path, issuer, bundle=undeclared, require_pep_auth=False) as (_, services):
        for _ in range(3):
            decision = services.decisions.decide(request(ALICE), CALLER, now=LATE_AFTERNOON)
        assert lookups(services) == {"hit": 0, "miss": 0}
        context = logged_context(services, decision.decision_id)
        assert context["time"] == "2026-12-01T16:59:30.123456Z"


SUBJECTS = st.sampled_from([ALICE, BOB])
ACTIONS = st.sampled_from(["document:write", "document:read", "payroll:read", "folder:list"])
ROLES = st.sampled_from(["editor", "viewer", "payroll_clerk", "admin"])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("decide"), SUBJECTS, ACTIONS, st.integers(0, 3)),
        st.tuples(st.just("bind"), SUBJECTS, ROLES),
        st.tuples(st.just("unbind"), st.integers(0, 5)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_cached_and_uncached_answers_are_equal(
    steps: list[tuple], client: TestClient, services: Services, issuer: TestIssuer
) -> None:
    uncached = DecisionService(
        authenticator=services.authenticator,
        snapshot=services.snapshot,
        policy=services.policy,
        decision_log=services.decision_log,
        metrics=Metrics(),
    )
    bindings: list[str] = []
    headers = admin_headers(issuer)
    base = f"/admin/v1/tenants/{ACME}/role-bindings"
    try:
        for step in steps:
            if step[0] == "decide":
                _, subject, action, minutes = step
                moment = LATE_AFTERNOON + timedelta(minutes=minutes)
                cached = services.decisions.decide(request(subject, action), CALLER, now=moment)
                fresh = uncached.decide(request(subject, action), CALLER, now=moment)
                assert (cached.allow, cached.reasons) == (fresh.allow, fresh.reasons), step
            elif step[0] == "bind":
                _, subject, role = step
                payload = {"subject_type": "user", "subject_id": subject, "role": role}
                made = client.post(base, json=payload, headers=headers)
                if made.status_code == 201:
                    bindings.append(made.json()["id"])
            elif bindings:
                gone = bindings.pop(step[1] % len(bindings))
                assert client.delete(f"{base}/{gone}", headers=headers).status_code == 204
    finally:
        for binding in bindings:
            client.delete(f"{base}/{binding}", headers=headers)
        uncached.close()

"""The AuthZEN Todo interop scenario on bundles/examples/todo: every user x action x owner,
on `/access/v1/evaluation` and `/access/v1/evaluations` under the three semantics."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pdp.bundles.loader import load_policy_source
from pdp.engine import run_rego_tests
from tests.pdp.pdp_env import running_pdp
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess

TODO = REPO / "bundles" / "examples" / "todo"
TODO_ID = "7240d0db-8ff0-41ec-98b2-34a096273b9f"

# The scenario's facts, independent of the bundle: name -> (PID, email, roles).
USERS = {
    "rick": (
        "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        "rick@the-citadel.com",
        {"admin", "evil_genius"},
    ),
    "morty": (
        "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        "morty@the-citadel.com",
        {"editor"},
    ),
    "summer": (
        "CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        "summer@the-smiths.com",
        {"editor"},
    ),
    "beth": (
        "CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        "beth@the-smiths.com",
        {"viewer"},
    ),
    "jerry": (
        "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
        "jerry@the-smiths.com",
        {"viewer"},
    ),
}
TODO_ACTIONS = ("can_read_todos", "can_create_todo", "can_update_todo", "can_delete_todo")
OWNERS = [email for _, email, _ in USERS.values()] + ["stranger@elsewhere.example"]


def expected(user: str, action: str, owner: str | None) -> bool:
    _, email, roles = USERS[user]
    own = owner == email
    return {
        "can_read_user": True,
        "can_read_todos": True,
        "can_create_todo": bool(roles & {"admin", "editor"}),
        "can_update_todo": "evil_genius" in roles or ("editor" in roles and own),
        "can_delete_todo": "admin" in roles or ("editor" in roles and own),
    }[action]


def subject(user: str) -> dict[str, Any]:
    return {"type": "identity", "id": USERS[user][0]}


def resource(action: str, target: str) -> dict[str, Any]:
    """`target` is a user's email or PID for can_read_user, a todo's owner email otherwise."""
    if action == "can_read_user":
        return {"type": "user", "id": target}
    return {"type": "todo", "id": TODO_ID, "properties": {"ownerID": target}}


def combinations(user: str) -> list[tuple[str, str]]:
    """Every (action, target) the scenario asks for one subject."""
    readable = [email for _, email, _ in USERS.values()] + [pid for pid, _, _ in USERS.values()]
    return [("can_read_user", t) for t in readable] + [
        (action, owner) for action in TODO_ACTIONS for owner in OWNERS
    ]


ALL_CASES = [(u, a, t) for u in USERS for a, t in combinations(u)]


@pytest.fixture(scope="module")
def pdp(tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer) -> Iterator[TestClient]:
    with running_pdp(
        tmp_path_factory.mktemp("todo"), issuer, bundle=TODO, directory=TODO / "directory.yaml"
    ) as (client, _):
        yield client


@pytest.fixture(scope="module")
def pep(issuer: TestIssuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('todo-pep')}"}


def test_rego_tests_of_the_bundle_pass():
    results = run_rego_tests(load_policy_source(TODO))
    assert len(results) >= 7
    assert [r.name for r in results if not r.passed] == []


@pytest.mark.parametrize("context", ["absent", "empty"])
def test_evaluation_every_combination(pdp, pep, context):
    wrong = []
    for user, action, target in ALL_CASES:
        body: dict[str, Any] = {
            "subject": subject(user),
            "action": {"name": action},
            "resource": resource(action, target),
        }
        if context == "empty":
            body["context"] = {}
        response = pdp.post("/access/v1/evaluation", json=body, headers=pep)
        assert response.status_code == 200, response.text
        if response.json()["decision"] is not expected(user, action, target):
            wrong.append((user, action, target, response.json()))
    assert wrong == []
    assert len(ALL_CASES) == 5 * (10 + 4 * 6)


@pytest.mark.parametrize("context", ["absent", "empty"])
def test_evaluations_execute_all_every_combination(pdp, pep, context):
    items = [
        {"subject": subject(u), "action": {"name": a}, "resource": resource(a, t)}
        for u, a, t in ALL_CASES
    ]
    body: dict[str, Any] = {"evaluations": items}
    if context == "empty":
        body["context"] = {}
    response = pdp.post("/access/v1/evaluations", json=body, headers=pep)
    assert response.status_code == 200, response.text
    decisions = [r["decision"] for r in response.json()["evaluations"]]
    assert decisions == [expected(u, a, t) for u, a, t in ALL_CASES]


@pytest.mark.parametrize("user", list(USERS))
def test_evaluations_with_resource_omitted_at_the_top_level(pdp, pep, user):
    """Subject and context at the top, action and resource in each item."""
    cases = combinations(user)
    body = {
        "subject": subject(user),
        "context": {},
        "evaluations": [{"action": {"name": a}, "resource": resource(a, t)} for a, t in cases],
    }
    response = pdp.post("/access/v1/evaluations", json=body, headers=pep)
    decisions = [r["decision"] for r in response.json()["evaluations"]]
    assert decisions == [expected(user, a, t) for a, t in cases]


@pytest.mark.parametrize("action", ["can_update_todo", "can_delete_todo"])
def test_evaluations_with_subject_and_action_at_the_top_level(pdp, pep, action):
    for user in USERS:
        body = {
            "subject": subject(user),
            "action": {"name": action},
            "evaluations": [{"resource": resource(action, owner)} for owner in OWNERS],
        }
        response = pdp.post("/access/v1/evaluations", json=body, headers=pep)
        decisions = [r["decision"] for r in response.json()["evaluations"]]
        assert decisions == [expected(user, action, owner) for owner in OWNERS], user


def short_circuit(decisions: list[bool], stop_on: bool) -> list[bool]:
    """What the spec's short-circuit semantics answer: up to and including the first stop."""
    answered = []
    for decision in decisions:
        answered.append(decision)
        if decision is stop_on:
            break
    return answered


@pytest.mark.parametrize(
    ("semantic", "stop_on"), [("deny_on_first_deny", False), ("permit_on_first_permit", True)]
)
@pytest.mark.parametrize("user", list(USERS))
def test_short_circuit_semantics(pdp, pep, semantic, stop_on, user):
    # Start with denials for those who have some, so permit_on_first_permit has work to do.
    cases = sorted(combinations(user), key=lambda c: expected(user, *c))
    for order in (cases, list(reversed(cases))):
        body = {
            "subject": subject(user),
            "evaluations": [{"action": {"name": a}, "resource": resource(a, t)} for a, t in order],
            "options": {"evaluations_semantic": semantic},
        }
        response = pdp.post("/access/v1/evaluations", json=body, headers=pep)
        decisions = [r["decision"] for r in response.json()["evaluations"]]
        want = short_circuit([expected(user, a, t) for a, t in order], stop_on)
        assert decisions == want


def test_reasons_and_decision_id_are_in_the_context(pdp, pep):
    body = {
        "subject": subject("morty"),
        "action": {"name": "can_update_todo"},
        "resource": resource("can_update_todo", "rick@the-citadel.com"),
    }
    context = pdp.post("/access/v1/evaluation", json=body, headers=pep).json()["context"]
    assert context["reasons"] == ["not_owner"]
    assert context["reason_admin"] == {"en": "not_owner"}
    assert context["decision_id"]


def test_action_and_resource_search_on_the_scenario(pdp, pep):
    actions = pdp.post(
        "/access/v1/search/action",
        json={"subject": subject("morty"), "resource": resource("x", "morty@the-citadel.com")},
        headers=pep,
    ).json()
    assert [r["name"] for r in actions["results"]] == sorted(TODO_ACTIONS)
    for_beth = pdp.post(
        "/access/v1/search/action",
        json={"subject": subject("beth"), "resource": resource("x", "morty@the-citadel.com")},
        headers=pep,
    ).json()
    assert [r["name"] for r in for_beth["results"]] == ["can_read_todos"]
    subjects = pdp.post(
        "/access/v1/search/subject",
        json={
            "subject": {"type": "user"},
            "action": {"name": "can_delete_todo"},
            "resource": resource("can_delete_todo", "summer@the-smiths.com"),
        },
        headers=pep,
    ).json()
    assert {r["id"] for r in subjects["results"]} == {USERS["rick"][0], USERS["summer"][0]}
    users = pdp.post(
        "/access/v1/search/resource",
        json={
            "subject": subject("jerry"),
            "action": {"name": "can_read_user"},
            "resource": {"type": "user"},
        },
        headers=pep,
    ).json()
    assert {r["id"] for r in users["results"]} == {pid for pid, _, _ in USERS.values()}


def test_readme_commands_serve_the_scenario(tmp_path, issuer):
    """The example's README: `pdp directory import ...` then `pdp serve --bundle ...`."""
    env = {
        **os.environ,
        "PDP_DATABASE_URL": f"sqlite:///{tmp_path / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
    }
    imported = subprocess.run(
        [sys.executable, "-m", "pdp.cli", "directory", "import", str(TODO / "directory.yaml")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stderr
    server = ServerProcess(
        "pdp.cli", ["serve", "--bundle", str(TODO)], env, log_path=tmp_path / "pdp.log"
    )
    try:
        pep = {"Authorization": f"Bearer {issuer.machine_token('todo-gateway')}"}
        config = httpx.get(server.url + "/.well-known/authzen-configuration").json()
        assert config["access_evaluations_endpoint"] == server.url + "/access/v1/evaluations"
        cases = [
            ("morty", "can_update_todo", "morty@the-citadel.com"),
            ("morty", "can_update_todo", "rick@the-citadel.com"),
            ("rick", "can_delete_todo", "jerry@the-smiths.com"),
            ("jerry", "can_create_todo", ""),
        ]
        body = {
            "evaluations": [
                {"subject": subject(u), "action": {"name": a}, "resource": resource(a, t)}
                for u, a, t in cases
            ]
        }
        response = httpx.post(config["access_evaluations_endpoint"], json=body, headers=pep)
        assert [r["decision"] for r in response.json()["evaluations"]] == [True, False, True, False]
    finally:
        server.stop()

"""End to end with two real `pdp serve` replicas on one store: an admin-API change shows in
the very next decision of the replica that took it, and in the other's after its next poll."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from tests.pdp.pdp_env import ACME, BOB, DEMO_DIRECTORY, POLICIES, document_request
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e

POLL_SECONDS = 0.2
# How long the other replica may take: many polls, so a slow machine does not fail the test.
PATIENCE_SECONDS = 20.0
PAYROLL = document_request({"id": BOB}, "payroll:read", type="payroll")


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    tmp: Path = tmp_path_factory.mktemp("replicas")
    database_url = f"sqlite:///{tmp / 'pdp.db'}"
    store = DirectoryStore(database_url)
    import_document(store, load_document(DEMO_DIRECTORY))
    store.close()
    env = {
        "PDP_DATABASE_URL": database_url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(POLICIES),
        "PDP_DIRECTORY_POLL_SECONDS": str(POLL_SECONDS),
    }
    servers = [
        ServerProcess("pdp.cli", ["serve"], env, log_path=tmp / f"replica-{n}.log") for n in (1, 2)
    ]
    yield servers[0], servers[1]
    for server in servers:
        server.stop()


def _allowed(server: ServerProcess, pep: str, body: dict) -> bool:
    response = httpx.post(
        server.url + "/decide", json=body, headers={"Authorization": f"Bearer {pep}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["allow"]


def _eventually(server: ServerProcess, pep: str, body: dict, allow: bool) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while _allowed(server, pep, body) != allow:
        assert time.monotonic() < deadline, f"replica still decides allow={not allow}"
        time.sleep(POLL_SECONDS / 4)


def test_admin_change_reaches_this_replica_at_once_and_the_other_by_polling(
    replicas: tuple[ServerProcess, ServerProcess], issuer: TestIssuer
) -> None:
    first, second = replicas
    pep = issuer.machine_token("pep", scope="pdp/decide")
    admin = {"Authorization": f"Bearer {issuer.machine_token('admin', scope='pdp/admin')}"}
    assert not _allowed(first, pep, PAYROLL) and not _allowed(second, pep, PAYROLL)
    created = httpx.post(
        f"{first.url}/admin/v1/tenants/{ACME}/role-bindings",
        json={"subject_type": "user", "subject_id": BOB, "role": "auditor"},
        headers=admin,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert _allowed(first, pep, PAYROLL)  # the very next decision, no waiting
    _eventually(second, pep, PAYROLL, allow=True)
    # And back, through the other replica.
    removed = httpx.delete(
        f"{second.url}/admin/v1/tenants/{ACME}/role-bindings/{created.json()['id']}",
        headers=admin,
        timeout=10,
    )
    assert removed.status_code == 204, removed.text
    assert not _allowed(second, pep, PAYROLL)
    _eventually(first, pep, PAYROLL, allow=False)

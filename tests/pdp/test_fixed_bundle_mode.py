"""A replica serving a bundle from disk (PDP_BUNDLE, development) says so: in its start-up
line, in `/health`, and in activation answers, which store the revision but do not claim this
replica serves it. A replica following the store says it follows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.pdp.pdp_env import POLICIES
from tests.pdp.test_bundle_cli_e2e import pdp_bundle
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("fixed")
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(POLICIES),
    }
    process = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp / "pdp.log")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "r1.tar.gz"
    built = pdp_bundle("build", str(POLICIES), "-o", str(path), "--revision", "r1", env={})
    assert built.returncode == 0, built.stderr
    return path


def test_fixed_replica_says_so_at_start_and_in_health(fixed: ServerProcess) -> None:
    assert "serving a fixed bundle" in fixed.output()
    assert "does not follow the store's activations" in fixed.output()
    health = httpx.get(f"{fixed.url}/health").json()
    assert health["bundle_mode"] == "fixed"
    assert health["bundle_revision"]


def test_activation_on_a_fixed_replica_is_stored_not_claimed(
    fixed: ServerProcess, bundle: Path, issuer: TestIssuer
) -> None:
    env = {"PDP_URL": fixed.url, "PDP_ADMIN_TOKEN": issuer.machine_token("ops", "pdp/admin")}
    served = httpx.get(f"{fixed.url}/health").json()["bundle_revision"]
    assert pdp_bundle("push", str(bundle), env=env).returncode == 0
    activated = pdp_bundle("activate", "r1", env=env)
    assert activated.returncode == 0, activated.stderr
    assert not activated.stdout.startswith("activated")
    assert activated.stdout.startswith("stored main r1 ")
    assert "warning: stored as the active revision, but this replica serves a fixed bundle" in (
        activated.stdout
    )
    answer = httpx.post(
        f"{fixed.url}/admin/v1/bundles/r1/activate",
        headers={"Authorization": f"Bearer {env['PDP_ADMIN_TOKEN']}"},
    ).json()
    assert answer["active"] is True
    assert (answer["bundle_mode"], answer["served_revision"]) == ("fixed", served)
    assert served in answer["warning"]
    assert httpx.get(f"{fixed.url}/health").json()["bundle_revision"] == served
    rolled = pdp_bundle("rollback", env=env)
    assert rolled.returncode == 1  # nothing was active before r1


def test_following_replica_says_it_follows(
    tmp_path: Path, issuer: TestIssuer, bundle: Path
) -> None:
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp_path / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": "",
    }
    server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "pdp.log")
    try:
        assert "following the store's active bundle main (serving none yet)" in server.output()
        admin = {"PDP_URL": server.url, "PDP_ADMIN_TOKEN": issuer.machine_token("ops", "pdp/admin")}
        assert pdp_bundle("push", str(bundle), env=admin).returncode == 0
        activated = pdp_bundle("activate", "r1", env=admin)
        assert activated.stdout.startswith("activated main r1 ") and "warning" not in (
            activated.stdout
        )
        health = httpx.get(f"{server.url}/health").json()
        assert (health["bundle_mode"], health["bundle_revision"]) == ("store", "r1")
    finally:
        server.stop()

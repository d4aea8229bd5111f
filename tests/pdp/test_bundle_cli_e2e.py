"""`pdp bundle push|list|activate|rollback` against a real `pdp serve`: summaries, --json,
re-publishing, paging, names, and the server's refusals as one line with exit 1.

(The whole lifecycle with decisions and replicas is in test_bundle_replicas.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pdp.bundles import bundle_digest
from tests.pdp.pdp_env import POLICIES
from tests.pdp.test_bundle_publish import new_key_pair
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess

pytestmark = pytest.mark.e2e


def pdp_bundle(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pdp.cli", "bundle", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr.removeprefix("error: ").strip()


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """r1 and r2 signed with key `ci`; `r1-other` has r1's revision but other files (its
    tests); `unsigned`."""
    root = tmp_path_factory.mktemp("bundles")
    private, public = new_key_pair()
    (root / "ci.pem").write_bytes(private)
    (root / "ci.pub").write_text(public)
    paths = {"ci.pub": root / "ci.pub"}
    signed = ["--signing-key", str(root / "ci.pem"), "--key-id", "ci"]
    for name, revision, flags in [
        ("r1", "r1", signed),
        ("r2", "r2", signed),
        ("r1-other", "r1", [*signed, "--include-tests"]),
        ("unsigned", "unsigned", []),
    ]:
        paths[name] = root / f"{name}.tar.gz"
        result = pdp_bundle(
            "build", str(POLICIES), "-o", str(paths[name]), "--revision", revision, *flags, env={}
        )
        assert result.returncode == 0, result.stderr
    return paths


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer, bundles: dict[str, Path]
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("server")
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": "",
        "PDP_BUNDLE_VERIFICATION_KEYS": json.dumps({"ci": bundles["ci.pub"].read_text()}),
    }
    process = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp / "pdp.log")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def admin(server: ServerProcess, issuer: TestIssuer) -> dict[str, str]:
    """The CLI's environment: the server's URL and an admin token."""
    return {"PDP_URL": server.url, "PDP_ADMIN_TOKEN": issuer.machine_token("ops", "pdp/admin")}


def test_push_list_activate_rollback(bundles: dict[str, Path], admin: dict[str, str]) -> None:
    pushed = pdp_bundle("push", str(bundles["r1"]), "--json", env=admin)
    assert pushed.returncode == 0, pushed.stderr
    record = json.loads(pushed.stdout)
    assert record["name"] == "main" and record["revision"] == "r1"
    assert record["digest"] == bundle_digest(bundles["r1"].read_bytes())
    assert record["signature"] == {"status": "verified", "key_id": "ci"}
    assert record["active"] is False and record["stored"] is True

    again = pdp_bundle("push", str(bundles["r1"]), "--json", env=admin)
    assert again.returncode == 0
    assert json.loads(again.stdout) == {**record, "stored": False}, "same bytes: same record"
    repeated = pdp_bundle("push", str(bundles["r1"]), env=admin)
    assert repeated.stdout.startswith("already published as revision r1, nothing stored: main r1 ")

    summary = pdp_bundle("push", str(bundles["r2"]), env=admin)
    assert summary.returncode == 0
    assert summary.stdout.startswith("published main r2 sha256:")
    assert summary.stdout.endswith("[inactive, signature verified by key ci]\n")

    listed = pdp_bundle("list", "--json", env=admin)
    assert [r["revision"] for r in json.loads(listed.stdout)["items"]] == ["r2", "r1"]
    first = pdp_bundle("list", "--limit", "1", env=admin)
    lines = first.stdout.splitlines()
    assert lines[0].startswith("main r2 ") and lines[1].startswith("more: --page-token ")
    token = lines[1].removeprefix("more: --page-token ")
    rest = pdp_bundle("list", "--limit", "1", "--page-token", token, "--json", env=admin)
    assert [r["revision"] for r in json.loads(rest.stdout)["items"]] == ["r1"]

    activated = pdp_bundle("activate", "r1", env=admin)
    assert activated.returncode == 0 and activated.stdout.startswith("activated main r1 ")
    assert "[active," in activated.stdout
    assert json.loads(pdp_bundle("activate", "r2", "--json", env=admin).stdout)["active"] is True
    rolled = pdp_bundle("rollback", env=admin)
    assert rolled.returncode == 0 and rolled.stdout.startswith("rolled back to main r1 ")
    items = json.loads(pdp_bundle("list", "--json", env=admin).stdout)["items"]
    assert {r["revision"]: r["active"] for r in items} == {"r1": True, "r2": False}


def test_refusals_are_one_line(
    bundles: dict[str, Path], admin: dict[str, str], server: ServerProcess
) -> None:
    assert pdp_bundle("push", str(bundles["r1"]), env=admin).returncode == 0  # published or not
    conflict = error_line(pdp_bundle("push", str(bundles["r1-other"]), env=admin))
    assert conflict.startswith("HTTP 409 ")
    unsigned = error_line(pdp_bundle("push", str(bundles["unsigned"]), env=admin))
    assert unsigned.startswith("HTTP 4") and "unsigned" in unsigned
    missing = error_line(pdp_bundle("activate", "no-such-revision", env=admin))
    assert missing.startswith("HTTP 404 ")
    anonymous = error_line(pdp_bundle("list", env={"PDP_URL": server.url, "PDP_ADMIN_TOKEN": ""}))
    assert anonymous.startswith("HTTP 401 ")
    assert "No such file" in error_line(pdp_bundle("push", "missing.tar.gz", env=admin))


def test_names_keep_their_own_history(admin: dict[str, str]) -> None:
    listed = pdp_bundle("list", "--name", "nobody-uses-this", env=admin)
    assert listed.returncode == 0 and listed.stdout == "no bundles named nobody-uses-this\n"
    assert error_line(pdp_bundle("rollback", "--name", "nobody-uses-this", env=admin)).startswith(
        "HTTP 4"
    )

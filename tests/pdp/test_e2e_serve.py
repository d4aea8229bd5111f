"""End to end: a real `pdp serve` process, driven over HTTP, provisioned by the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
import yaml

from tests.pdp.pdp_env import ACME, ALICE, BOB, DEMO_DIRECTORY, POLICIES, document_request
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess

pytestmark = pytest.mark.e2e


def pdp_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "pdp.cli", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory, issuer: TestIssuer) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("e2e")
    return {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(POLICIES),
    }


@pytest.fixture(scope="module")
def server(env, tmp_path_factory) -> Iterator[ServerProcess]:
    imported = pdp_cli("directory", "import", str(DEMO_DIRECTORY), "--json", env=env)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)
    process = ServerProcess(
        "pdp.cli", ["serve"], env, log_path=tmp_path_factory.mktemp("log") / "pdp.log"
    )
    yield process
    process.stop()


def test_decide_over_http(server, issuer):
    pep = {"Authorization": f"Bearer {issuer.machine_token('pep-e2e')}"}
    body = document_request({"token": issuer.user_access_token(ALICE)}, "document:write")
    body["resource"]["attributes"] = {"department": "engineering"}
    response = httpx.post(server.url + "/decide", json=body, headers=pep)
    assert response.status_code == 200
    assert response.json()["allow"] is True
    denied = httpx.post(
        server.url + "/decide", json=document_request({"id": BOB}, "document:write"), headers=pep
    )
    assert denied.json()["allow"] is False


def test_health_and_metrics(server):
    health = httpx.get(server.url + "/health?bundles")
    assert health.status_code == 200
    assert health.json()["bundle_revision"].startswith("dev-")
    assert "pdp_decisions_total" in httpx.get(server.url + "/metrics").text


def test_server_never_logs_tokens(server, issuer):
    token = issuer.user_access_token(ALICE)
    pep_token = issuer.machine_token("pep-e2e")
    httpx.post(
        server.url + "/decide",
        json=document_request({"token": token}),
        headers={"Authorization": f"Bearer {pep_token}"},
    )
    output = server.output()
    assert token not in output and pep_token not in output


def test_directory_export_round_trips(env, tmp_path):
    exported = pdp_cli("directory", "export", "--format", "yaml", env=env)
    assert exported.returncode == 0, exported.stderr
    document = yaml.safe_load(exported.stdout)
    assert {t["id"] for t in document["tenants"]} >= {ACME}
    path = tmp_path / "dir.yaml"
    path.write_text(exported.stdout)
    again = pdp_cli("directory", "import", str(path), "--json", env=env)
    assert again.returncode == 0, again.stderr


def test_import_of_a_bad_file_fails_with_one_line(env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenants:\n  - id: not-a-uuid\n    name: x\n")
    result = pdp_cli("directory", "import", str(bad), env=env)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_refuses_a_crashing_bundle(tmp_path, env):
    policy = tmp_path / "crash"
    policy.mkdir()
    (policy / "authz.rego").write_text(
        "package authz\n\nimport rego.v1\n\n"
        'decision := {"allow": true, "reasons": [x]} if {\n'
        '\t[a, bits] := split("1/2", "/")\n'
        "\tx := bits.lsh(1, 2)\n}\n"
    )
    result = pdp_cli("serve", "--bundle", str(policy), "--port", "0", env=env)
    assert result.returncode != 0
    assert result.stderr.startswith("error: bundle refused")
    assert "Traceback" not in result.stderr


def test_serve_without_a_bundle_denies_everything(tmp_path, env, issuer):
    no_bundle = {**env, "PDP_BUNDLE": ""}
    process = ServerProcess("pdp.cli", ["serve"], no_bundle, log_path=tmp_path / "log")
    try:
        assert httpx.get(process.url + "/health?bundles").status_code == 500
        response = httpx.post(
            process.url + "/decide",
            json=document_request({"id": ALICE}),
            headers={"Authorization": f"Bearer {issuer.machine_token('pep')}"},
        )
        assert response.json()["reasons"] == ["no_bundle"]
        assert response.json()["bundle_revision"] is None
    finally:
        process.stop()


def test_every_command_has_help():
    for args in (["--help"], ["serve", "--help"], ["directory", "import", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "pdp.cli", *args], capture_output=True, text=True, cwd=REPO
        )
        assert result.returncode == 0
        assert "usage:" in result.stdout


def test_json_logs_are_one_object_per_line_and_carry_no_token(env, tmp_path, issuer):
    process = ServerProcess("pdp.cli", ["serve", "--json"], env, log_path=tmp_path / "log")
    pep_token = issuer.machine_token("pep-json")
    try:
        httpx.post(
            process.url + "/decide",
            json=document_request({"token": issuer.user_access_token(ALICE)}),
            headers={"Authorization": f"Bearer {pep_token}"},
        )
    finally:
        process.stop()
    lines = [line for line in process.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert any("Uvicorn running" in r["message"] for r in records)
    assert pep_token not in process.output()

"""docker-compose.yml: valid for docker-compose, and the shape the README promises."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.support.processes import REPO

COMPOSE = REPO / "docker-compose.yml"


def test_compose_file_is_valid_for_docker_compose():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose): skipped")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_postgres_token_service_and_two_pdp_replicas_behind_a_balancer():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    replicas = [name for name, svc in services.items() if svc.get("command", [""])[0] == "pdp"]
    assert len(replicas) >= 2
    for name in replicas:
        env = services[name]["environment"]
        assert env["PDP_DATABASE_URL"].startswith("postgresql")
        assert "token-service" in env["PDP_TRUSTED_ISSUERS"]
    assert "postgres" in services
    # Replicas follow the store's active bundle, which the bootstrap publishes.
    assert all("PDP_BUNDLE" not in services[name]["environment"] for name in replicas)
    assert "--activate if-none" in " ".join(services["pdp-bootstrap"]["command"])
    provision = " ".join(services["token-service-provision"]["command"])
    assert "--id us-east-1_DemoPool1" in provision
    assert all(
        "us-east-1_DemoPool1" in services[name]["environment"]["PDP_TRUSTED_ISSUERS"]
        for name in replicas
    )
    assert "token-service" in str(services["token-service"]["command"])
    balancer = services["load-balancer"]
    assert set(replicas) <= set(balancer["depends_on"])
    assert "127.0.0.1:8181:8181" in balancer["ports"]
    nginx = (REPO / "deploy" / "nginx.conf").read_text()
    assert all(f"{name}:8181" in nginx for name in replicas)

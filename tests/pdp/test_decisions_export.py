"""`pdp decisions export`: JSON lines from the local store and from a running `pdp serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pdp.authn import Principal
from pdp.cli import main
from pdp.decision import DecisionRequest
from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from pdp.replay import fetch_records
from pdp.services import Services
from pdp.settings import Settings
from tests.pdp.pdp_env import ACME, ALICE, BOB, DEMO_DIRECTORY, POLICIES, document_request
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _decide_at(services: Services, subject: str, moment: datetime) -> None:
    request = DecisionRequest.model_validate(document_request({"id": subject}))
    services.decisions.decide(request, Principal.anonymous(), now=moment)


@pytest.fixture(scope="module")
def store_url(tmp_path_factory) -> str:
    """Six decisions an hour apart: Alice at 09:00, 11:00 and 13:00, Bob at 10:00, 12:00 and
    14:00, recorded by the real decision service."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('export') / 'pdp.db'}"
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    services = Services.build(Settings(database_url=database_url, bundle=POLICIES))
    try:
        for hour in range(6):
            _decide_at(services, (ALICE, BOB)[hour % 2], START + timedelta(hours=hour))
        assert services.decision_log.flush()
    finally:
        services.close()
    return database_url


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_everything(store_url, tmp_path, capsys) -> None:
    output = tmp_path / "all.jsonl"
    assert main(["decisions", "export", "--database-url", store_url, "-o", str(output)]) == 0
    assert capsys.readouterr().out == f"exported 6 decisions to {output}\n"
    records = _lines(output)
    assert len(records) == 6
    stamps = [r["timestamp"] for r in records]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    first = records[-1]
    assert first["timestamp"] == "2026-11-23T09:00:00Z" and first["subject_id"] == ALICE
    # The full input as the PDP built it, directory facts included: what replay needs.
    assert first["input"]["subject"]["groups"] == [{"id": "engineering", "roles": ["editor"]}]
    assert first["input"]["resource"]["tenant_id"] == ACME
    assert first["input"]["context"]["time"].startswith("2026-11-23T09:00:00")


def test_export_filters_to_stdout(store_url, capsys) -> None:
    args = ["--since", "2026-11-23T10:00:00Z", "--until", "2026-11-23T14:00:00+00:00"]
    assert main(["decisions", "export", "--database-url", store_url, *args, "--subject", BOB]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["timestamp"] for r in records] == ["2026-11-23T12:00:00Z", "2026-11-23T10:00:00Z"]


def test_bad_time_is_a_usage_error(store_url, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["decisions", "export", "--database-url", store_url, "--since", "yesterday"])
    assert exit_info.value.code == 2
    assert "not an RFC 3339 time" in capsys.readouterr().err


@pytest.mark.e2e
def test_export_from_a_running_pdp_pages_through_the_admin_api(
    tmp_path, issuer: TestIssuer
) -> None:
    database_url = f"sqlite:///{tmp_path / 'pdp.db'}"
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    env = {
        "PDP_DATABASE_URL": database_url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(POLICIES),
    }
    server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "pdp.log")
    try:
        pep = {"Authorization": f"Bearer {issuer.machine_token('pep-export')}"}
        for subject in (ALICE, BOB, "nobody") * 3:
            response = httpx.post(
                server.url + "/decide", json=document_request({"id": subject}), headers=pep
            )
            assert response.status_code == 200
        admin = issuer.machine_token("admin-export", scope="pdp/admin")
        # The decision log writes asynchronously: page through it (3 pages of 4) until all 9
        # decisions are there.
        for _ in range(100):
            paged = list(fetch_records(server.url, admin, page_size=4))
            if len(paged) == 9:
                break
            time.sleep(0.1)
        assert len({r["decision_id"] for r in paged}) == 9
        output = tmp_path / "served.jsonl"
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pdp.cli",
                "decisions",
                "export",
                "--url",
                server.url,
                "--subject",
                BOB,
                "-o",
                str(output),
            ],
            cwd=REPO,
            env={**os.environ, "PDP_ADMIN_TOKEN": admin},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
        records = _lines(output)
        assert [r["subject_id"] for r in records] == [BOB] * 3
        assert {r["pep_client_id"] for r in records} == {"pep-export"}
        assert records[0]["input"]["subject"]["company"] == {"id": "acme-corp", "roles": ["viewer"]}
        unknown = [r for r in paged if r["subject_id"] == "nobody"]
        assert len(unknown) == 3 and all(r["input"] is None for r in unknown)
        # A token without the admin scope is refused, in one line.
        refused = subprocess.run(
            [
                sys.executable,
                "-m",
                "pdp.cli",
                "decisions",
                "export",
                "--url",
                server.url,
                "--token",
                issuer.machine_token("pep-export"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2
        assert refused.stderr.startswith("error: ") and "403" in refused.stderr
        assert refused.stderr.count("\n") == 1
    finally:
        server.stop()

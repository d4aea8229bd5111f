"""Reading the decision log never fails on a stored record: the admin API, its default page,
one record by id and `pdp decisions export` (from the store and through a running PDP) answer
whatever the JSON columns hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from pdp.decision_codec import READ_MAX_DEPTH, UNREADABLE
from pdp.decision_log import DecisionLogStore, DecisionQuery
from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from tests.pdp.decision_log_env import nested, open_log, record
from tests.pdp.pdp_env import DEMO_DIRECTORY, POLICIES, running_pdp
from tests.support.issuer import TestIssuer
from tests.support.processes import REPO, ServerProcess


def _store_raw(database_url: str, decision_id: str, text: str) -> None:
    """Put `text` in a record's input column as it is, past every writer."""
    engine = DirectoryStore(database_url).engine
    value = "CAST(:text AS JSON)" if engine.dialect.name == "postgresql" else ":text"
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE decision_log SET input = {value} WHERE decision_id = :id"),
            {"text": text, "id": decision_id},
        )


def _log_deep_records(database_url: str, spool: Path) -> dict[str, object]:
    """Through the real log writer: a record 300 deep, and two whose stored input is then made
    deeper than readers return and (SQLite only, as older releases wrote) not JSON at all."""
    deep, deeper, broken = (record(input={"attributes": nested(300)}) for _ in range(3))
    log, _ = open_log(database_url, spool)
    for item in (deep, deeper, broken):
        log.record(item)
    assert log.flush(timeout=30)
    log.close()
    too_deep = "[" * (READ_MAX_DEPTH + 500) + "]" * (READ_MAX_DEPTH + 500)
    _store_raw(database_url, deeper.decision_id, too_deep)
    if database_url.startswith("sqlite"):
        _store_raw(database_url, broken.decision_id, '{"score": NaN}')
    return {"deep": deep, "deeper": deeper, "broken": broken, "too_deep": too_deep}


def test_the_store_returns_every_record_with_unreadable_fields_marked(database_url, tmp_path):
    logged = _log_deep_records(database_url, tmp_path / "spool")
    store = DecisionLogStore(DirectoryStore(database_url).engine)
    listed, _ = store.query(DecisionQuery())
    assert len(listed) == 3
    assert store.get(logged["deep"].decision_id).input == logged["deep"].input
    marked = store.get(logged["deeper"].decision_id).input
    assert marked == {UNREADABLE: "nested_too_deep", "raw": logged["too_deep"]}
    if database_url.startswith("sqlite"):
        not_json = store.get(logged["broken"].decision_id).input
        assert not_json == {UNREADABLE: "not_json", "raw": '{"score": NaN}'}


def test_export_from_the_store_writes_every_stored_record(database_url, tmp_path):
    from pdp.cli import main

    logged = _log_deep_records(database_url, tmp_path / "spool")
    output = tmp_path / "all.jsonl"
    assert main(["decisions", "export", "--database-url", database_url, "-o", str(output)]) == 0
    exported = {r["decision_id"]: r for r in map(json.loads, output.read_text().splitlines())}
    assert exported[logged["deep"].decision_id]["input"] == logged["deep"].input
    assert exported[logged["deeper"].decision_id]["input"][UNREADABLE] == "nested_too_deep"


def test_the_admin_api_answers_every_stored_record(tmp_path, issuer: TestIssuer):
    with running_pdp(tmp_path, issuer) as (client, services):
        database_url = services.settings.database_url
        logged = _log_deep_records(database_url, tmp_path / "spool")
        admin = {"Authorization": f"Bearer {issuer.machine_token('admin', scope='pdp/admin')}"}
        page = client.get("/admin/v1/decisions", headers=admin)
        assert page.status_code == 200
        assert len(page.json()["items"]) == 3
        for name in ("deep", "deeper", "broken"):
            one = client.get(f"/admin/v1/decisions/{logged[name].decision_id}", headers=admin)
            assert one.status_code == 200
        assert one.json()["input"][UNREADABLE] == "not_json"
        assert client.get(
            f"/admin/v1/decisions/{logged['deep'].decision_id}", headers=admin
        ).json()["input"] == json.loads(json.dumps(logged["deep"].input))


@pytest.mark.e2e
def test_export_through_a_running_pdp_survives_a_deep_record(tmp_path, issuer: TestIssuer):
    database_url = f"sqlite:///{tmp_path / 'pdp.db'}"
    import_document(DirectoryStore(database_url), load_document(DEMO_DIRECTORY))
    logged = _log_deep_records(database_url, tmp_path / "spool")
    env = {
        "PDP_DATABASE_URL": database_url,
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(POLICIES),
        "PDP_DECISION_LOG_SPOOL_DIR": str(tmp_path / "server-spool"),
    }
    server = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp_path / "pdp.log")
    try:
        admin = issuer.machine_token("admin-export", scope="pdp/admin")
        headers = {"Authorization": f"Bearer {admin}"}
        assert httpx.get(server.url + "/admin/v1/decisions", headers=headers).status_code == 200
        deep = httpx.get(
            f"{server.url}/admin/v1/decisions/{logged['deep'].decision_id}", headers=headers
        )
        assert deep.status_code == 200 and deep.json()["input"] == logged["deep"].input
        output = tmp_path / "served.jsonl"
        export = ["decisions", "export", "--url", server.url, "-o", str(output)]
        completed = subprocess.run(
            [sys.executable, "-m", "pdp.cli", *export],
            cwd=REPO,
            env={**os.environ, "PDP_ADMIN_TOKEN": admin},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stderr
        exported = {r["decision_id"]: r for r in map(json.loads, output.read_text().splitlines())}
        assert set(exported) == {logged[n].decision_id for n in ("deep", "deeper", "broken")}
        assert exported[logged["deeper"].decision_id]["input"][UNREADABLE] == "nested_too_deep"
    finally:
        server.stop()

"""The pieces of bench/cerbos_bench.py: its load script, its Cerbos requests, and that the
Cerbos policy decides like the default policy (against the real Cerbos binary when it is
installed). No figures are asserted here; the script measures them."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench import load
from bench.cerbos_bench import median_round, refuse_if_apart, scenario_bodies
from bench.cerbos_cases import (
    ALICE,
    CASES,
    cerbos_answers,
    cerbos_check,
    directory_subjects,
    pdp_answers,
)
from bench.cerbos_server import DEFAULT_CACHE, PACKAGE, VERSION, binary_path, cerbos_server
from bench.decide_bench import DECIDE_BODY
from bench.pdp_server import import_demo_directory, pdp_server


@pytest.fixture(scope="module")
def subjects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return directory_subjects(import_demo_directory(tmp_path_factory.mktemp("directory")))


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """A keep-alive HTTP server that records the resource id of every body it receives."""
    ids: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ids.append(json.loads(body)["resource"]["id"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            """wrk resets its connections when it stops; that is not an error here."""

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", ids
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_uncached_scenario_sends_a_new_resource_id_on_every_request(
    recorder: tuple[str, list[str]],
) -> None:
    url, ids = recorder
    bodies = scenario_bodies(DECIDE_BODY)
    figures = load.run_wrk(url, "POST", bodies["uncached"], load.JSON_HEADERS, 4, 1, threads=2)
    assert figures["requests"] > 10
    assert len(ids) >= figures["requests"]
    assert len(set(ids)) == len(ids)
    assert {re.fullmatch(r"d-(\d+)-\d+", i).group(1) for i in ids} == {"1", "2"}

    ids.clear()
    load.run_wrk(url, "POST", bodies["repeated"], load.JSON_HEADERS, 4, 1, threads=2)
    assert set(ids) == {"d-1"}


def test_cerbos_request_carries_the_directory_facts(subjects: dict[str, Any]) -> None:
    check = cerbos_check(DECIDE_BODY, subjects[ALICE])
    # Alice's roles come from her group (editor) and her company (viewer), none of her own.
    assert check["principal"] == {
        "id": ALICE,
        "roles": ["editor", "viewer"],
        "attr": {
            "department": "engineering",
            "country": "PL",
            "tenant_id": DECIDE_BODY["resource"]["tenant_id"],
            "ip": "10.1.2.3",
        },
    }
    assert check["resources"] == [
        {
            "actions": ["document:write"],
            "resource": {
                "kind": "document",
                "id": "d-1",
                "attr": {
                    "department": "engineering",
                    "owner": "someone-else",
                    "tenant_id": DECIDE_BODY["resource"]["tenant_id"],
                },
            },
        }
    ]


def test_run_is_refused_when_the_two_decide_apart() -> None:
    ours = dict.fromkeys(CASES, True)
    theirs = {**ours, "department differs": False}
    with pytest.raises(
        SystemExit, match="department differs: /decide allow=True, Cerbos allow=False"
    ):
        refuse_if_apart(ours, theirs)
    refuse_if_apart(ours, dict(ours))


def test_median_round_keeps_the_figures_of_the_median_round_per_scenario() -> None:
    def figures(throughput: float) -> dict[str, Any]:
        return {"throughput": throughput, "p99_ms": 1000 / throughput}

    rounds = [
        {"uncached": figures(300), "repeated": figures(900)},
        {"uncached": figures(100), "repeated": figures(800)},
        {"uncached": figures(200), "repeated": figures(700)},
    ]
    assert median_round(rounds) == {"uncached": figures(200), "repeated": figures(800)}
    assert median_round(rounds[:2])["uncached"] == figures(100)
    assert median_round(rounds[:1]) == rounds[0]


@pytest.mark.e2e
def test_cerbos_policy_decides_like_the_default_policy(
    subjects: dict[str, Any], tmp_path: Path
) -> None:
    binary = binary_path(DEFAULT_CACHE)
    if not binary.exists():
        pytest.skip(
            f"Cerbos is not installed in {DEFAULT_CACHE}: bench/cerbos_bench.py installs it, "
            f"or `npm install --prefix {DEFAULT_CACHE} {PACKAGE}@{VERSION}`"
        )
    with cerbos_server(binary, tmp_path / "cerbos.log") as url:
        theirs = cerbos_answers(url, subjects)
    database_url = import_demo_directory(tmp_path)
    with pdp_server(database_url, tmp_path / "pdp.log") as server:
        ours = pdp_answers(server.url, server.headers)
    assert ours == theirs
    assert set(ours.values()) == {True, False}

"""Hostile bodies at every door of the PDP: each is a documented 4xx in the PDP's error shape
(`{"error", "message", "field"}`), never a 500, a framework's `{"detail": ...}` or the
engine's own error text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from pdp.api.json_body import parse_json
from pdp.decision_log import DecisionQuery
from pdp.directory.document import import_document, load_document
from pdp.directory.store import DirectoryStore
from pdp.services import Services
from tests.pdp.pdp_env import ALICE, DEMO_DIRECTORY, POLICIES, document_request, running_pdp
from tests.support.issuer import TestIssuer
from tests.support.processes import ServerProcess

DECISION_PATHS = (
    "/decide",
    "/decide/batch",
    "/access/v1/evaluation",
    "/access/v1/evaluations",
    "/v1/data/authz/decision",
)
# A policy whose evaluation fails in the engine: two values for one complete rule.
CLASH_REGO = """package clash

import rego.v1

value := input.a

value := input.b
"""


def deep_text(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bundle")
    (root / "authz").mkdir()
    for rego in (POLICIES / "authz").glob("*.rego"):
        (root / "authz" / rego.name).write_text(rego.read_text())
    (root / "data.json").write_text((POLICIES / "data.json").read_text())
    (root / "clash").mkdir()
    (root / "clash" / "clash.rego").write_text(CLASH_REGO)
    return root


@pytest.fixture(scope="module")
def pdp(tmp_path_factory, issuer, bundle) -> Iterator[tuple[TestClient, Services]]:
    with running_pdp(tmp_path_factory.mktemp("door"), issuer, bundle=bundle) as running:
        yield running


@pytest.fixture(scope="module")
def client(pdp) -> TestClient:
    return pdp[0]


@pytest.fixture(scope="module")
def pep(issuer) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.machine_token('pep')}"}


def nested(depth: int, leaf: object = 1) -> object:
    """An object `depth` levels deep: {"a": {"a": ... leaf}}."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def valid_body(path: str, **attributes: object) -> dict:
    """A well-formed request for `path` whose resource carries `attributes`."""
    decision = document_request({"id": ALICE}, attributes=attributes)
    evaluation = {
        "subject": {"type": "user", "id": ALICE},
        "action": {"name": "document:read"},
        "resource": {"type": "document", "id": "d1", "properties": attributes},
    }
    return {
        "/decide": decision,
        "/decide/batch": {"requests": [decision]},
        "/access/v1/evaluation": evaluation,
        "/access/v1/evaluations": {"evaluations": [evaluation]},
        "/v1/data/authz/decision": {"input": decision},
    }[path]


def post_raw(client: TestClient, path: str, body: bytes, pep: dict[str, str]) -> httpx.Response:
    return client.post(path, content=body, headers={**pep, "Content-Type": "application/json"})


def assert_pdp_error(response: httpx.Response, status: int, field: str | None = None) -> dict:
    """The documented error shape (the Data API adds OPA's `code` beside it)."""
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) - {"code", "errors"} <= {"error", "message", "field"}, error
    assert isinstance(error["error"], str) and isinstance(error["message"], str)
    assert "detail" not in error
    if field is not None:
        assert error["field"] == field, error
    return error


@pytest.mark.parametrize("path", DECISION_PATHS)
def test_invalid_utf8_is_400_naming_the_body(client, pep, path):
    text = json.dumps(valid_body(path, note="caf\u00e9"), ensure_ascii=False)
    body = text.encode().replace(b"\xc3\xa9", b"\xe9")
    assert_pdp_error(post_raw(client, path, body, pep), 400, "body")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400", "-1E+400"])
@pytest.mark.parametrize("path", DECISION_PATHS)
def test_nan_and_infinity_are_400(client, pep, path, constant):
    body = json.dumps(valid_body(path, score=0)).replace('"score": 0', f'"score": {constant}')
    error = assert_pdp_error(post_raw(client, path, body.encode(), pep), 400, "body")
    assert constant in error["message"]


@pytest.mark.parametrize(
    ("value", "field"), [("-Infinity", "input"), (deep_text(800), "input.a"), ("[1,", "input")]
)
def test_a_bad_data_api_query_parameter_is_400(client, pep, value, field):
    response = client.get("/v1/data/authz/decision", params={"input": value}, headers=pep)
    error = assert_pdp_error(response, 400, field)
    assert error["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/decide", "action"),
        ("/decide/batch", "requests.0.action"),
        ("/access/v1/evaluation", "action"),
        ("/access/v1/evaluations", "evaluations.0.action"),
        ("/v1/data/authz/decision", "input.action"),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key(client, pep, path, field, services_log):
    """`"action": "read"` then `"action": "delete"` was decided as delete."""
    text = json.dumps(valid_body(path))
    doubled = text.replace('"action": ', '"action": "document:delete", "action": ', 1)
    assert doubled != text
    error = assert_pdp_error(post_raw(client, path, doubled.encode(), pep), 400, field)
    assert '"action"' in error["message"]
    assert services_log() == []


def test_a_duplicate_key_deep_in_attributes_is_named(client, pep):
    text = json.dumps(valid_body("/decide", labels={"x": {"y": 1}}))
    doubled = text.replace('"y": 1', '"y": 1, "y": 2')
    response = post_raw(client, "/decide", doubled.encode(), pep)
    assert_pdp_error(response, 400, "resource.attributes.labels.x.y")


@pytest.fixture
def services_log(pdp):
    """The decisions logged since the test began (a refused request logs none)."""
    _, services = pdp

    def ids() -> set[str]:
        services.decision_log.flush()
        return {r.decision_id for r in services.decision_log.store.iter_all(DecisionQuery())}

    before = ids()
    return lambda: sorted(ids() - before)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/decide", "resource.attributes"),
        ("/decide/batch", "requests.0"),
        ("/access/v1/evaluation", "resource.properties"),
        ("/access/v1/evaluations", "evaluations.0"),
        ("/v1/data/authz/decision", "input.resource"),
    ],
)
@pytest.mark.parametrize("depth", [300, 800, 5000])
def test_too_deep_is_400_naming_the_field(client, pep, path, field, depth, services_log):
    # Written out, not dumped: past about a thousand levels json.dumps cannot either.
    text = json.dumps(valid_body(path, deep="DEEP")).replace('"DEEP"', deep_text(depth))
    body = text.encode()
    error = assert_pdp_error(post_raw(client, path, body, pep), 400)
    # Past the parser's own recursion limit the path is not known, only that it is the body.
    assert error["field"] == (field if depth < 900 else "body")
    assert "64" in error["message"]
    assert services_log() == []


def test_the_depth_limit_is_exact(client, pep):
    """The body's outermost object is level 1, and no object or array may be past 64."""
    # body (1) -> resource (2) -> attributes (3) -> the chain under `deep`, from level 4.
    fits = valid_body("/decide", deep=nested(61))
    assert client.post("/decide", json=fits, headers=pep).status_code == 200
    over = valid_body("/decide", deep=nested(62))
    assert_pdp_error(client.post("/decide", json=over, headers=pep), 400, "resource.attributes")


def test_the_depth_limit_is_a_setting(tmp_path, issuer):
    with running_pdp(tmp_path, issuer, max_json_depth=4) as (client, _):
        token = {"Authorization": f"Bearer {issuer.machine_token('pep')}"}
        fits = client.post("/decide", json=valid_body("/decide", deep=nested(1)), headers=token)
        assert fits.status_code == 200, fits.text
        over = client.post("/decide", json=valid_body("/decide", deep=nested(2)), headers=token)
        assert_pdp_error(over, 400, "resource.attributes")


def test_engine_error_text_never_reaches_the_client(client, pep, caplog):
    caplog.set_level(logging.DEBUG, logger="pdp.data_api")
    conflicting = {"input": {"a": "secret-value-1", "b": "secret-value-2"}}
    response = client.post("/v1/data/clash/value", json=conflicting, headers=pep)
    logged = [r.getMessage() for r in caplog.records if r.name == "pdp.data_api"]
    assert any(m.startswith("evaluation of data.clash.value failed: ") for m in logged)
    assert "secret-value" not in " ".join(logged)
    assert response.status_code == 500
    assert response.json() == {
        "code": "internal_error",
        "message": "1 error occurred: evaluation failed (engine_error)",
        "errors": [{"code": "eval_error", "message": "engine_error"}],
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no/such/route", 404, "not_found"),
        ("GET", "/decide", 405, "method_not_allowed"),
        ("PUT", "/access/v1/evaluation", 405, "method_not_allowed"),
    ],
)
def test_framework_refusals_have_the_pdp_shape(client, pep, method, path, status, code):
    error = assert_pdp_error(client.request(method, path, headers=pep), status)
    assert error["error"] == code


def test_a_json_body_on_a_route_without_one_is_not_parsed(client, issuer):
    """Bundle activation takes no body: the scope check answers, not the JSON guard."""
    token = {"Authorization": f"Bearer {issuer.machine_token('pep')}"}
    response = client.post("/admin/v1/bundles/rollback", content=b"\xff{", headers=token)
    assert response.status_code == 403


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_the_strict_parser_reads_any_strict_document_as_json_loads_does(value):
    text = json.dumps(value, ensure_ascii=False)
    assert parse_json(text.encode(), max_depth=64) == json.loads(text)


def hostile_bodies() -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, and JSON documents with random bytes spliced in."""
    documents = st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode())
    spliced = st.tuples(documents, st.integers(0, 64), st.binary(max_size=4)).map(
        lambda parts: parts[0][: parts[1]] + parts[2] + parts[0][parts[1] :]
    )
    return st.binary(max_size=256) | documents | spliced


SEARCH_PATHS = tuple(f"/access/v1/search/{kind}" for kind in ("subject", "resource", "action"))


@settings(max_examples=80, deadline=None)
@given(path=st.sampled_from(DECISION_PATHS + SEARCH_PATHS), body=hostile_bodies())
def test_any_body_is_never_a_5xx_and_always_the_documented_shape(client, pep, path, body):
    response = post_raw(client, path, body, pep)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_pdp_error(response, response.status_code)


NUMBER_TOKENS = st.from_regex(r"\A-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?\Z")


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from(DECISION_PATHS),
    value=JSON_VALUES.map(json.dumps) | NUMBER_TOKENS,
)
def test_any_attribute_value_is_decided_or_refused_never_a_5xx(client, pep, path, value):
    """Well-formed requests carrying any JSON value (any number as written) in attributes."""
    text = json.dumps(valid_body(path, value="VALUE")).replace('"VALUE"', value)
    response = post_raw(client, path, text.encode(), pep)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert_pdp_error(response, 400, "body")


# --- with a real server: chunked bodies, whose length is unknown until they end -------------


@pytest.fixture(scope="module")
def server(tmp_path_factory, issuer: TestIssuer, bundle) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("served")
    env = {
        "PDP_DATABASE_URL": f"sqlite:///{tmp / 'pdp.db'}",
        "PDP_TRUSTED_ISSUERS": issuer.trusted_issuers_json(),
        "PDP_BUNDLE": str(bundle),
        "PDP_MAX_BODY_BYTES": "4096",
        "PDP_BUNDLE_MAX_BYTES": "8192",
    }
    store = DirectoryStore(env["PDP_DATABASE_URL"])
    import_document(store, load_document(DEMO_DIRECTORY))
    store.close()
    process = ServerProcess("pdp.cli", ["serve"], env, log_path=tmp / "pdp.log")
    yield process
    process.stop()


def chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize(
    ("path", "scope"),
    [(path, "pdp/decide") for path in DECISION_PATHS] + [("/admin/v1/tenants", "pdp/admin")],
)
def test_chunked_body_over_the_limit_is_413(server, issuer, path, scope):
    filler = "x" * 10_000
    request = {"name": filler} if scope == "pdp/admin" else valid_body(path, filler=filler)
    body = json.dumps(request).encode()
    headers = {
        "Authorization": f"Bearer {issuer.machine_token('pep', scope=scope)}",
        "Content-Type": "application/json",
    }
    response = httpx.post(server.url + path, content=chunks(body), headers=headers, timeout=10)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_pdp_error(response, 413, "body")


def test_chunked_bundle_upload_over_its_limit_is_413(server, issuer):
    headers = {"Authorization": f"Bearer {issuer.machine_token('ops', scope='pdp/admin')}"}
    archive = bytes(range(256)) * 100
    response = httpx.post(
        server.url + "/admin/v1/bundles", content=chunks(archive), headers=headers, timeout=10
    )
    assert_pdp_error(response, 413, "body")


def test_chunked_body_under_the_limit_is_decided(server, pep):
    body = json.dumps(valid_body("/decide/batch")).encode()
    headers = {**pep, "Content-Type": "application/json"}
    response = httpx.post(
        server.url + "/decide/batch", content=chunks(body, 50), headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 1

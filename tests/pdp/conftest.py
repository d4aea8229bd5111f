"""Fixtures for the PDP tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from pdp.directory.store import DirectoryStore
from pdp.services import Services
from tests.pdp.console_browser import console  # noqa: F401 (the console browser tests' fixture)
from tests.pdp.pdp_env import running_pdp
from tests.support.browser import playwright  # noqa: F401 (the browser tests' fixture)
from tests.support.issuer import TestIssuer

# --- database_url: every directory test runs on SQLite and on PostgreSQL ---------------------

POSTGRES_URL = os.environ.get(
    "PDP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A store URL on an empty database: a SQLite file, or a fresh PostgreSQL schema (dropped
    afterwards) selected through `search_path`, so every store opened on the URL shares it."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/pdp.db"
        return
    import psycopg

    conninfo = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        admin = psycopg.connect(conninfo, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: skipped")
    schema = f"t_{secrets.token_hex(6)}"
    admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture
def store(database_url: str) -> Iterator[DirectoryStore]:
    directory = DirectoryStore(database_url)
    yield directory
    directory.close()


# --- end of database_url ----------------------------------------------------------------------


# --- pdp, client, services: the app in process, one per module ----------------------------


@pytest.fixture(scope="module")
def pdp(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, issuer: TestIssuer
) -> Iterator[tuple[TestClient, Services]]:
    """The PDP on the demo directory and the default policies; a module that needs other
    settings defines its own `pdp`."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    with running_pdp(tmp_path_factory.mktemp(name), issuer) as running:
        yield running


@pytest.fixture(scope="module")
def pep(issuer: TestIssuer) -> dict[str, str]:
    """The demo PEP's Authorization header (scope pdp/decide)."""
    return {"Authorization": f"Bearer {issuer.machine_token('pep-documents')}"}


@pytest.fixture(scope="module")
def admin(issuer: TestIssuer) -> dict[str, str]:
    """An operator's Authorization header (scope pdp/admin)."""
    return {"Authorization": f"Bearer {issuer.machine_token('ops', scope='pdp/admin')}"}


@pytest.fixture(scope="module")
def client(pdp: tuple[TestClient, Services]) -> TestClient:
    return pdp[0]


@pytest.fixture(scope="module")
def services(pdp: tuple[TestClient, Services]) -> Services:
    return pdp[1]

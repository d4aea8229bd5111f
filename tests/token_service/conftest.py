"""Fixtures: a real `token-service serve` process on a free port, and boto3/httpx clients for it."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.support.entra_issuer import EntraIssuer
from tests.support.processes import ServerProcess

ACCESS_KEY_ID = "AKIATESTADMIN0000001"
SECRET_ACCESS_KEY = "test-admin-secret-access-key/0000000000"
PASSWORD = "Corr3ct-Horse!"
# Cheap argon2 for tests only; the default is a memory-hard 64 MiB setting.
FAST_ARGON2 = {
    "TOKEN_SERVICE_ARGON2_TIME_COST": "1",
    "TOKEN_SERVICE_ARGON2_MEMORY_KIB": "64",
    "TOKEN_SERVICE_ARGON2_PARALLELISM": "1",
}


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("token-service")
    if script.exists():
        return [str(script)]
    found = shutil.which("token-service")
    return [found] if found else [sys.executable, "-m", "token_service.cli"]


@dataclass
class Server:
    """A running `token-service serve` and the environment its CLI shares with it."""

    env: dict[str, str]
    process: ServerProcess

    @property
    def url(self) -> str:
        return self.process.url

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the CLI against the server's store, as an operator would."""
        return subprocess.run(
            [*cli_command(), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def log(self) -> str:
        return self.process.output()


def server_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKEN_SERVICE_")}
    env.update(
        {
            "TOKEN_SERVICE_DATABASE_URL": f"sqlite:///{tmp / 'token-service.db'}",
            "TOKEN_SERVICE_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "TOKEN_SERVICE_ADMIN_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "TOKEN_SERVICE_ADMIN_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "TOKEN_SERVICE_LOCKOUT_THRESHOLD": "3",
            "TOKEN_SERVICE_LOCKOUT_SECONDS": "2",
            **FAST_ARGON2,
            **extra,
        }
    )
    return env


def start_server(tmp: Path, **extra: str) -> Server:
    env = server_env(tmp, **extra)
    return Server(
        env, ServerProcess("token_service.cli", ["serve"], env, log_path=tmp / "server.log")
    )


def stop_server(server: Server) -> None:
    server.process.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("token-service"))
    yield running
    stop_server(running)


def cognito_client(
    url: str,
    key_id: str = ACCESS_KEY_ID,
    secret: str = SECRET_ACCESS_KEY,
    service: str = "cognito-idp",
    **config: Any,
) -> Any:
    """A boto3 client of the server: Cognito user pools, or `cognito-identity`."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(**{"retries": {"max_attempts": 1}, **config}),
    )


def signed_headers(
    url: str,
    target: str,
    data: bytes,
    service: str = "cognito-idp",
    secret: str = SECRET_ACCESS_KEY,
) -> dict[str, str]:
    """The headers of a raw JSON call to `target` (X-Amz-Target) signed as botocore signs one,
    for bodies and scopes boto3 would never send."""
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    request = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY_ID, secret), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


@pytest.fixture(scope="session")
def cognito(server: Server) -> Any:
    return cognito_client(server.url)


@pytest.fixture(scope="session")
def unsigned_cognito(server: Server) -> Any:
    return cognito_client(server.url, signature_version=UNSIGNED)


@pytest.fixture(scope="session")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@dataclass
class Pool:
    """A pool provisioned through boto3, with the clients and users most tests need."""

    id: str
    issuer: str
    public_client: str
    confidential_client: str
    confidential_secret: str
    machine_client: str
    machine_secret: str
    admin_machine_client: str
    admin_machine_secret: str


def machine_client(
    cognito: Any, pool_id: str, name: str = "pep", scopes: list[str] | None = None
) -> dict[str, Any]:
    """A client_credentials client with a secret: by default a PEP, scope pdp/decide."""
    return cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=name,
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=scopes or ["pdp/decide"],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]


def make_pool(cognito: Any, server: Server, name: str) -> Pool:
    pool = cognito.create_user_pool(
        PoolName=name,
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    pool_id = pool["Id"]
    cognito.create_resource_server(
        UserPoolId=pool_id,
        Identifier="pdp",
        Name="PDP",
        Scopes=[
            {"ScopeName": "decide", "ScopeDescription": "ask for decisions"},
            {"ScopeName": "admin", "ScopeDescription": "administer the PDP"},
        ],
    )
    public = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    confidential = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="backend",
        GenerateSecret=True,
        ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
        AccessTokenValidity=60,
        IdTokenValidity=30,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes"},
    )["UserPoolClient"]
    machine = machine_client(cognito, pool_id)
    admin_machine = machine_client(cognito, pool_id, "pdp-admin", ["pdp/admin", "pdp/decide"])
    return Pool(
        id=pool_id,
        issuer=f"{server.url}/{pool_id}",
        public_client=public["ClientId"],
        confidential_client=confidential["ClientId"],
        confidential_secret=confidential["ClientSecret"],
        machine_client=machine["ClientId"],
        machine_secret=machine["ClientSecret"],
        admin_machine_client=admin_machine["ClientId"],
        admin_machine_secret=admin_machine["ClientSecret"],
    )


@pytest.fixture(scope="session")
def pool(cognito: Any, server: Server) -> Pool:
    return make_pool(cognito, server, "tests")


def create_user(
    cognito: Any,
    pool_id: str,
    username: str,
    *,
    tenant: str = "7d1c1d3e-0000-4000-8000-000000000001",
    groups: tuple[str, ...] = (),
) -> str:
    """A confirmed user with PASSWORD; returns its sub."""
    user = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": f"{username}@example.com"},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:tenant_id", "Value": tenant},
        ],
        MessageAction="SUPPRESS",
    )["User"]
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh database on the server of PDP_TEST_POSTGRES_URL (the suite's default), dropped after."""
    base = os.environ.get(
        "PDP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    import psycopg

    name = f"token_service_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(
            base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        )
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL at PDP_TEST_POSTGRES_URL is unreachable: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield base.rsplit("/", 1)[0] + "/" + name
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_server(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A second `token-service serve` for the module, on a fresh PostgreSQL database."""
    running = start_server(
        tmp_path_factory.mktemp("postgres-server"), TOKEN_SERVICE_DATABASE_URL=postgres_url
    )
    yield running
    stop_server(running)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ts.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="module")
def entra() -> Iterator[EntraIssuer]:
    """An Entra ID-shaped partner issuer on its own port (tests.support.entra_issuer)."""
    issuer = EntraIssuer()
    yield issuer
    issuer.close()

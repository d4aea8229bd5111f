"""The CLI as an operator (and the demo script) uses it, against the running server's store."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.support.processes import REPO
from tests.token_service.conftest import PASSWORD, Server, cli_command
from token_service.cli import main

COMMANDS = [
    ["serve"],
    ["pool", "create"], ["pool", "list"], ["pool", "show"],
    ["resource-server", "create"], ["resource-server", "list"],
    ["client", "create"], ["client", "list"], ["client", "show"],
    ["user", "create"], ["user", "set-password"], ["user", "show"], ["user", "list"],
    ["user", "disable"], ["user", "enable"], ["user", "delete"],
    ["group", "create"], ["group", "list"], ["group", "add-user"], ["group", "remove-user"],
    ["keys", "rotate"], ["keys", "list"],
]  # fmt: skip


def run_json(server: Server, *args: str, stdin: str | None = None) -> Any:
    result = server.cli(*args, "--json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(server: Server) -> dict[str, Any]:
    """What the demo script provisions: a pool, the pdp resource server, two machine clients, users."""
    pool = run_json(server, "pool", "create", "--name", "demo", "--custom-attribute", "tenant_id")
    pool_id = pool["id"]
    server_info = run_json(
        server, "resource-server", "create", "--pool", pool_id, "--identifier", "pdp",
        "--scope", "decide=ask for decisions", "--scope", "admin",
    )  # fmt: skip
    pep = run_json(
        server, "client", "create", "--pool", pool_id, "--name", "pep", "--secret",
        "--flow", "client_credentials", "--scope", "pdp/decide",
    )  # fmt: skip
    admin = run_json(
        server, "client", "create", "--pool", pool_id, "--name", "admin", "--secret",
        "--flow", "client_credentials", "--scope", "pdp/admin",
    )  # fmt: skip
    web = run_json(
        server,
        "client",
        "create",
        "--pool",
        pool_id,
        "--name",
        "web",
        "--access-token-minutes",
        "60",
    )
    sub = str(uuid.uuid4())
    user = run_json(
        server, "user", "create", "--pool", pool_id, "--username", "alice", "--email", "alice@example.com",
        "--email-verified", "--attribute", f"custom:tenant_id={sub}", "--sub", sub, "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    return {
        "pool": pool,
        "server": server_info,
        "pep": pep,
        "admin": admin,
        "web": web,
        "user": user,
        "sub": sub,
    }


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert f"usage: token-service {' '.join(command)}" in capsys.readouterr().out


def test_help_runs_as_a_program(server: Server) -> None:
    result = server.cli("--help")
    assert result.returncode == 0
    assert "serve" in result.stdout


def test_commands_load_pysaml2_only_when_a_saml_flow_runs(tmp_path: Path) -> None:
    """pysaml2 takes over a second to import: commands that never touch SAML skip it."""
    program = (
        "import sys\n"
        "from tests.token_service.inprocess import fast_settings\n"
        "from token_service import cli\n"
        "from token_service.services import build_services\n"
        f"build_services(fast_settings('sqlite:///{tmp_path / 'ts.db'}')).close()\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'saml2'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_provisioning_output(demo: dict[str, Any]) -> None:
    assert demo["server"]["scopes"] == ["pdp/decide", "pdp/admin"]
    assert demo["pep"]["scopes"] == ["pdp/decide"]
    assert len(demo["pep"]["client_secret"]) == 51
    assert "client_secret" not in demo["web"]
    # The CLI's default flows: password, SRP and refresh.
    assert demo["web"]["explicit_auth_flows"] == [
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    ]
    assert demo["user"]["sub"] == demo["sub"]
    assert demo["user"]["status"] == "CONFIRMED"
    assert demo["user"]["attributes"]["custom:tenant_id"] == demo["sub"]


def test_secret_is_shown_once(server: Server, demo: dict[str, Any]) -> None:
    pool_id = demo["pool"]["id"]
    shown = run_json(
        server, "client", "show", "--pool", pool_id, "--client-id", demo["pep"]["client_id"]
    )
    assert "client_secret" not in shown
    assert shown["confidential"] is True
    listed = server.cli("client", "list", "--pool", pool_id, "--json")
    assert demo["pep"]["client_secret"] not in listed.stdout


def test_cli_provisioned_clients_get_tokens_from_the_server(
    server: Server, demo: dict[str, Any]
) -> None:
    pool_id = demo["pool"]["id"]
    for client, scope in ((demo["pep"], "pdp/decide"), (demo["admin"], "pdp/admin")):
        response = httpx.post(
            f"{server.url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert response.status_code == 200, response.text
        claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
        assert claims["scope"] == scope
        assert claims["iss"] == f"{server.url}/{pool_id}"


def test_user_commands(server: Server, demo: dict[str, Any]) -> None:
    pool_id = demo["pool"]["id"]
    run_json(server, "group", "create", "--pool", pool_id, "--name", "staff", "--precedence", "3")
    run_json(
        server, "group", "add-user", "--pool", pool_id, "--group", "staff", "--username", "alice"
    )
    shown = run_json(server, "user", "show", "--pool", pool_id, "--username", "alice")
    assert shown["groups"] == ["staff"]
    listed = run_json(
        server, "user", "list", "--pool", pool_id, "--filter", 'email = "alice@example.com"'
    )
    assert [u["sub"] for u in listed] == [demo["sub"]]
    run_json(server, "user", "disable", "--pool", pool_id, "--username", "alice")
    assert (
        run_json(server, "user", "show", "--pool", pool_id, "--username", "alice")["enabled"]
        is False
    )
    run_json(server, "user", "enable", "--pool", pool_id, "--username", "alice")
    run_json(
        server, "group", "remove-user", "--pool", pool_id, "--group", "staff", "--username", "alice"
    )
    assert (
        run_json(server, "user", "show", "--pool", pool_id, "--username", "alice")["groups"] == []
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["pool", "show", "us-east-1_missing00"], "does not exist"),
        (["user", "show", "--pool", "us-east-1_missing00", "--username", "x"], "does not exist"),
        (["client", "create", "--pool", "us-east-1_missing00", "--name", "x"], "does not exist"),
        (
            [
                "user",
                "create",
                "--pool",
                "us-east-1_missing00",
                "--username",
                "x",
                "--sub",
                "not-a-uuid",
            ],
            "UUID",
        ),
        (["pool", "create", "--name", "x", "--password-policy", "{nope"], "invalid JSON"),
        (["pool", "create", "--name", "x", "--id", "us-east-1_short"], "9 letters or digits"),
        (["pool", "create", "--name", "x", "--id", "eu-west-1_AbCdEfGh1"], "us-east-1_"),
    ],
)
def test_failures_are_one_line(server: Server, args: list[str], reason: str) -> None:
    result = server.cli(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert reason in lines[0]
    assert "Traceback" not in result.stderr


def test_a_hosted_login_client_from_the_command_line(server: Server, demo: dict[str, Any]) -> None:
    pool_id = demo["pool"]["id"]
    browser = run_json(
        server, "client", "create", "--pool", pool_id, "--name", "console", "--flow", "code",
        "--scope", "openid", "--callback-url", "http://127.0.0.1:8181/console/callback",
        "--logout-url", "http://127.0.0.1:8181/console/signin",
    )  # fmt: skip
    assert browser["oauth_flows"] == ["code"] and "client_secret" not in browser
    assert browser["callback_urls"] == ["http://127.0.0.1:8181/console/callback"]
    assert browser["supported_identity_providers"] == ["COGNITO"]
    authorize = httpx.get(
        f"{server.url}/oauth2/authorize",
        params={
            "client_id": browser["client_id"],
            "response_type": "code",
            "redirect_uri": browser["callback_urls"][0],
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert authorize.status_code == 303 and authorize.headers["location"].startswith("/login?")
    missing = server.cli("client", "create", "--pool", pool_id, "--name", "x", "--flow", "code")
    assert missing.returncode == 1 and "CallbackURLs are required" in missing.stderr


def test_pinned_pool_id_serves_its_jwks_and_cannot_be_taken_twice(server: Server) -> None:
    pool_id = "us-east-1_Pinned" + uuid.uuid4().hex[:3]
    assert run_json(server, "pool", "create", "--name", "pinned", "--id", pool_id)["id"] == pool_id
    jwks = httpx.get(f"{server.url}/{pool_id}/.well-known/jwks.json").json()
    assert len(jwks["keys"]) == 1
    again = server.cli("pool", "create", "--name", "pinned", "--id", pool_id)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_unusable_store_is_one_line(server: Server, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    env = {
        **server.env,
        "TOKEN_SERVICE_KEY_FILE": str(blocked / "key"),
        "TOKEN_SERVICE_ENCRYPTION_KEY": "",
    }
    result = subprocess.run(
        [*cli_command(), "pool", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    result = server.cli("pool", "list", "--database-url", f"sqlite:///{blocked}/db.sqlite")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1


def test_weak_password_leaves_no_user(server: Server, demo: dict[str, Any]) -> None:
    pool_id = demo["pool"]["id"]
    result = server.cli(
        "user", "set-password", "--pool", pool_id, "--username", "alice", "--password", "weak"
    )
    assert result.returncode == 1
    assert "Password did not conform" in result.stderr
    result = server.cli(
        "user", "create", "--pool", pool_id, "--username", "weakling", "--password", "weak"
    )
    assert result.returncode == 1
    assert "Password did not conform" in result.stderr
    missing = server.cli("user", "show", "--pool", pool_id, "--username", "weakling")
    assert missing.returncode == 1
    assert "User does not exist." in missing.stderr


def test_keys_rotate_keeps_old_tokens_verifiable(server: Server, demo: dict[str, Any]) -> None:
    pool_id = demo["pool"]["id"]
    jwks_url = f"{server.url}/{pool_id}/.well-known/jwks.json"
    pep = demo["pep"]

    def token() -> str:
        response = httpx.post(
            f"{server.url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(pep["client_id"], pep["client_secret"]),
        )
        return str(response.json()["access_token"])

    old = token()
    keys = run_json(server, "keys", "rotate", "--pool", pool_id)
    retired = [k for k in keys if not k["active"]]
    assert len([k for k in keys if k["active"]]) == 1
    # The longest validity of the pool's clients is 8 hours (the default).
    assert all(
        k["retire_after"] == pytest.approx(keys[-1]["created_at"] + 8 * 3600, abs=1)
        for k in retired
    )
    new = token()
    old_kid, new_kid = (jwt.get_unverified_header(t)["kid"] for t in (old, new))
    assert old_kid != new_kid
    published = {k["kid"] for k in httpx.get(jwks_url).json()["keys"]}
    assert {old_kid, new_kid} <= published
    client = jwt.PyJWKClient(jwks_url, cache_keys=False)
    for t in (old, new):
        key = client.get_signing_key_from_jwt(t)
        assert (
            jwt.decode(t, key.key, algorithms=["RS256"], issuer=f"{server.url}/{pool_id}")["sub"]
            == pep["client_id"]
        )


def test_nothing_secret_reaches_the_server_log(server: Server, demo: dict[str, Any]) -> None:
    pep = demo["pep"]
    httpx.post(
        f"{server.url}/oauth2/token?client_secret={pep['client_secret']}",
        data={"grant_type": "client_credentials"},
        auth=(pep["client_id"], pep["client_secret"]),
    )
    log = server.log()
    assert "POST /oauth2/token" in log
    assert pep["client_secret"] not in log
    assert PASSWORD not in log
    assert base64.b64encode(PASSWORD.encode()).decode() not in log


def test_serve_logs_json_lines_with_json(tmp_path: Path) -> None:
    from tests.support.processes import ServerProcess

    env = {
        "TOKEN_SERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'ts.db'}",
        "TOKEN_SERVICE_KEY_FILE": str(tmp_path / "key"),
    }
    process = ServerProcess(
        "token_service.cli", ["serve", "--json"], env, log_path=tmp_path / "log"
    )
    process.stop()
    records = [json.loads(line) for line in process.output().splitlines() if line.strip()]
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert any("Uvicorn running" in r["message"] for r in records)

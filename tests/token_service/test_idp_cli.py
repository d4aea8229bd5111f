"""`token-service idp ...` and `user link|disable-provider` against the running server's store."""

from __future__ import annotations

import io
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.token_service.conftest import Server
from tests.token_service.idp_world import saml_metadata
from token_service.cli import main

SECRET = "cli-secret-0123456789abcdef"
ENDPOINTS = [
    f"--detail={key}=https://idp.partner.example/{key}"
    for key in ("authorize_url", "token_url", "attributes_url", "jwks_uri")
]


@pytest.fixture
def cli(
    server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """The CLI's `main` in this process, on the running server's store (one interpreter
    start for the whole module instead of one per command)."""
    for name, value in server.env.items():
        if name.startswith("TOKEN_SERVICE_"):
            monkeypatch.setenv(name, value)

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def run_json(cli: Callable[..., tuple[int, str, str]], *args: str, stdin: str = "") -> Any:
    code, out, err = cli(*args, "--json", stdin=stdin)
    assert code == 0, err
    assert SECRET not in out
    return json.loads(out)


def fails(cli: Callable[..., tuple[int, str, str]], *args: str) -> str:
    code, out, err = cli(*args)
    assert code != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("token-service: error: "), err
    return lines[0]


@pytest.fixture
def pool_id(cli: Callable[..., tuple[int, str, str]]) -> str:
    created = run_json(cli, "pool", "create", "--name", f"idp-cli-{uuid.uuid4().hex[:6]}")
    return str(created["id"])


@pytest.mark.parametrize(
    "command",
    [["idp", a] for a in ("create", "update", "list", "describe", "delete")]
    + [["user", "link"], ["user", "disable-provider"]],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0 and "usage:" in capsys.readouterr().out


def test_the_console_script_reads_the_secret_from_stdin(server: Server) -> None:
    """The installed command, as an operator pipes a secret into it."""
    pool = json.loads(server.cli("pool", "create", "--name", "idp-script", "--json").stdout)
    result = server.cli(
        "idp", "create", "--pool", pool["id"], "--name", "Partner", "--type", "OIDC",
        "--detail", "client_id=ours", "--detail", "authorize_scopes=openid",
        "--detail", "oidc_issuer=https://idp.partner.example",
        "--detail", "attributes_request_method=POST", *ENDPOINTS,
        "--client-secret-stdin", "--json",
        stdin=SECRET + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert json.loads(result.stdout)["details"]["attributes_request_method"] == "POST"


def test_providers_from_the_command_line(
    cli: Callable[..., tuple[int, str, str]], pool_id: str, tmp_path: Path
) -> None:
    metadata = tmp_path / "idp.xml"
    metadata.write_text(saml_metadata())
    saml = run_json(
        cli, "idp", "create", "--pool", pool_id, "--name", "PartnerSAML", "--type", "SAML",
        "--metadata-file", str(metadata), "--mapping", "email=mail",
        "--identifier", "saml.example",
    )  # fmt: skip
    assert saml["details"]["SSORedirectBindingURI"] == "https://idp.partner.example/sso"
    assert "metadata_document" not in saml["details"]
    oidc = run_json(
        cli, "idp", "create", "--pool", pool_id, "--name", "Partner", "--type", "OIDC",
        "--detail", "client_id=ours", "--detail", "authorize_scopes=openid email",
        "--detail", "oidc_issuer=https://idp.partner.example",
        "--detail", "attributes_request_method=GET", *ENDPOINTS,
        "--client-secret-stdin", "--mapping", "username=oid", "--identifier", "partner.example",
        stdin=SECRET + "\n",
    )  # fmt: skip
    assert oidc["attribute_mapping"] == {"username": "oid"}
    assert [p["name"] for p in run_json(cli, "idp", "list", "--pool", pool_id)] == [
        "PartnerSAML",
        "Partner",
    ]
    found = run_json(cli, "idp", "describe", "--pool", pool_id, "--identifier", "PARTNER.example")
    assert found == oidc
    updated = run_json(
        cli, "idp", "update", "--pool", pool_id, "--name", "Partner", "--mapping",
        "username=sub", "--no-identifiers",
    )  # fmt: skip
    assert updated["attribute_mapping"] == {"username": "sub"} and updated["identifiers"] == []
    assert updated["details"] == oidc["details"]
    run_json(cli, "user", "create", "--pool", pool_id, "--username", "alice")
    linked = run_json(
        cli, "user", "link", "--pool", pool_id, "--username", "alice",
        "--provider", "Partner", "--subject", "sub-1",
    )  # fmt: skip
    assert linked["result"] == "linked"
    shown = run_json(cli, "user", "show", "--pool", pool_id, "--username", "alice")
    assert json.loads(shown["attributes"]["identities"])[0]["userId"] == "sub-1"
    run_json(
        cli, "user", "disable-provider", "--pool", pool_id, "--provider", "Partner",
        "--subject", "sub-1",
    )  # fmt: skip
    shown = run_json(cli, "user", "show", "--pool", pool_id, "--username", "alice")
    assert "identities" not in shown["attributes"]
    run_json(cli, "idp", "delete", "--pool", pool_id, "--name", "PartnerSAML")
    assert "does not exist" in fails(
        cli, "idp", "describe", "--pool", pool_id, "--name", "PartnerSAML"
    )


def test_command_line_refusals_are_one_line(
    cli: Callable[..., tuple[int, str, str]], pool_id: str
) -> None:
    base = ["idp", "create", "--pool", pool_id, "--type", "OIDC"]
    assert "--client-secret-stdin" in fails(
        cli, *base, "--name", "Leaky", "--detail", f"client_secret={SECRET}"
    )
    assert "client_id is required" in fails(cli, *base, "--name", "Partial")
    assert "reserved" in fails(cli, *base, "--name", "Cognito")
    assert "NAME=VALUE" in fails(cli, *base, "--name", "Odd", "--detail", "novalue")
    assert "--name or --identifier" in fails(cli, "idp", "describe", "--pool", pool_id)
    assert "does not exist" in fails(
        cli, "user", "link", "--pool", pool_id, "--username", "nobody",
        "--provider", "Nowhere", "--subject", "s",
    )  # fmt: skip

"""The README's run command: the demo stack comes up, its printed walk-through works as
printed (run by bash), and the Todo example's README commands work beside it."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest

from tests.support.processes import REPO, free_port

pytestmark = pytest.mark.e2e

ALICE = "6f0b2c1e-0000-4000-8000-00000000a11c"
ACME = "4f1c2d3e-0000-4000-8000-000000000001"
BIN = os.path.dirname(sys.executable)
DEMO_PASSWORD = "Demo-passw0rd!"
TODO_README = REPO / "bundles" / "examples" / "todo" / "README.md"


@dataclass
class Stack:
    ts: str
    pdp: str
    var: Path
    log: Path

    @property
    def state(self) -> dict:
        return json.loads((self.var / "demo.json").read_text())

    def output(self) -> str:
        return self.log.read_text()

    def bearer(self, client: dict, scope: str) -> dict[str, str]:
        """The Authorization header of a client_credentials token for the demo's `client`."""
        token = httpx.post(
            f"{self.ts}/oauth2/token",
            auth=(client["client_id"], client["client_secret"]),
            data={"grant_type": "client_credentials", "scope": scope},
        ).json()["access_token"]
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("quick-start")
    ts_port, pdp_port = free_port(), free_port()
    log_path = tmp / "stack.log"
    log = open(log_path, "w+")  # noqa: SIM115 - read back by the tests
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "scripts" / "demo_stack.py"),
            "--var",
            str(tmp / "var"),
            "--token-service-port",
            str(ts_port),
            "--pdp-port",
            str(pdp_port),
        ],
        cwd=REPO,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while "Stop with Ctrl-C." not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the demo stack did not come up"
            time.sleep(0.5)
        yield Stack(
            f"http://127.0.0.1:{ts_port}", f"http://127.0.0.1:{pdp_port}", tmp / "var", log_path
        )
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def bash(script: str, **env: str) -> str:
    """Run `script` as a user would paste it, with the venv's commands on PATH."""
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=REPO,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{script}\n--- stderr:\n{result.stderr}"
    return result.stdout


def step(output: str, number: int) -> str:
    """The commands of step `number` of the printed walk-through (its indented lines)."""
    lines = output.split(f"\n{number}. ", 1)[1].splitlines()[1:]
    commands = []
    for line in lines:
        if not line.startswith("   ") or line.startswith("   then "):
            break
        commands.append(line[3:])
    return "\n".join(commands)


def test_walk_through_by_hand(stack: Stack) -> None:
    state = stack.state
    pep = state["pep"]
    headers = stack.bearer(pep, "pdp/decide")
    body = {
        "subject": {"id": ALICE},
        "action": "document:write",
        "resource": {
            "type": "document",
            "id": "d1",
            "tenant_id": ACME,
            "attributes": {"department": "engineering"},
        },
        "context": {"ip": "10.1.2.3"},
    }
    decision = httpx.post(f"{stack.pdp}/decide", json=body, headers=headers).json()
    assert decision["allow"] is True, decision

    # Step 3: alice signs in; her access token is the subject.
    signed_in = httpx.post(
        f"{stack.ts}/",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        },
        content=json.dumps(
            {
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": state["app_client_id"],
                "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Demo-passw0rd!"},
            }
        ),
    ).json()
    body["subject"] = {"token": signed_in["AuthenticationResult"]["AccessToken"]}
    assert httpx.post(f"{stack.pdp}/decide", json=body, headers=headers).json()["allow"] is True

    # The reporting service is a machine subject under its real client id.
    body["subject"] = {"id": state["reporting"]["client_id"]}
    body["action"] = "report:read"
    assert httpx.post(f"{stack.pdp}/decide", json=body, headers=headers).json()["allow"] is True


def test_the_pdp_follows_its_store_from_the_first_bundle(stack: Stack) -> None:
    health = httpx.get(f"{stack.pdp}/health").json()
    assert health["bundle_mode"] == "store"
    assert health["bundle_revision"] == stack.state["first_bundle"]
    assert "following the store's active bundle main" in stack.output()


def test_printed_commands_work_as_printed(stack: Stack) -> None:
    output = stack.output()
    assert "source .venv/bin/activate" in output and ".venv/bin/pdp" in output
    state = stack.state
    for client in ("pep", "admin", "bundle_reader", "reporting"):
        assert state[client]["client_secret"] not in output, f"{client} secret printed"

    decided = bash(step(output, 1) + "\n" + step(output, 2))
    assert json.loads(decided)["allow"] is True

    listed = bash(step(output, 4))
    assert listed.startswith(f"main {state['first_bundle']} sha256:") and "[active," in listed

    changed = bash(step(output, 4) + "\n" + step(output, 5))
    revision = re.search(r"^activated main (\S+) ", changed, re.MULTILINE)
    assert revision, changed
    assert httpx.get(f"{stack.pdp}/health").json()["bundle_revision"] == revision[1]

    bash(step(output, 6))
    assert (stack.var / "main.tar.gz").read_bytes()[:2] == b"\x1f\x8b"


def readme_blocks(path: Path, ports: dict[str, str], var: Path) -> list[str]:
    """The `sh` blocks of a README, pointed at this test's ports and state directory."""
    blocks = re.findall(r"```sh\n(.*?)```", path.read_text(), re.DOTALL)
    for documented, actual in ports.items():
        blocks = [block.replace(documented, actual) for block in blocks]
    blocks = [block.replace("sqlite:///./var/", f"sqlite:///{var}/") for block in blocks]
    return [re.sub(r"(?<![\w/])var/", f"{var}/", block) for block in blocks]


def test_todo_example_beside_the_quick_start(stack: Stack, tmp_path: Path) -> None:
    todo_port = str(free_port())
    ts_port = stack.ts.rsplit(":", 1)[1]
    setup, serve, ask = readme_blocks(TODO_README, {"9229": ts_port, "8182": todo_port}, stack.var)
    admin = bash(step(stack.output(), 4) + '\necho "$PDP_ADMIN_TOKEN"').splitlines()[-1]
    tenants = httpx.get(
        f"{stack.pdp}/admin/v1/tenants", headers={"Authorization": f"Bearer {admin}"}
    ).json()["items"]

    bash(setup)
    log = open(tmp_path / "todo.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        ["bash", "-c", serve],
        cwd=REPO,
        env={
            **os.environ,
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "PDP_DECISION_LOG_SPOOL_DIR": str(stack.var / "decision-spool"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "todo.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{todo_port}/health?bundles").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "todo.log").read_text()
            time.sleep(0.2)
        pep_token = bash(step(stack.output(), 1) + '\necho "$PEP_TOKEN"').strip()
        answer = json.loads(bash(ask, PEP_TOKEN=pep_token))
        assert answer["decision"] is True, answer
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()

    # The quick start's directory is untouched: the same tenants, alice still allowed.
    assert (stack.var / "todo.db").exists()
    after = httpx.get(f"{stack.pdp}/admin/v1/tenants", headers={"Authorization": f"Bearer {admin}"})
    assert after.json()["items"] == tenants
    decided = bash(step(stack.output(), 1) + "\n" + step(stack.output(), 2))
    assert json.loads(decided)["allow"] is True


def test_the_console_signs_in_through_the_hosted_login(stack: Stack) -> None:
    """Step 7: the printed console address and operator sign in through the operators' pool,
    form by form as a browser would post them; a demo user's pool is not the console's."""
    printed = stack.output().split("\n7. ", 1)[1]
    console = re.search(r"(http://\S+/console)\n", printed).group(1)
    operator = re.search(r"hosted login as (\S+) ", printed).group(1)
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        signin = browser.get(f"{console}/signin")
        start = re.search(r'href="([^"]+)"[^>]*>\s*Sign in with the token service', signin.text)
        assert start is not None, signin.text
        login = browser.get(signin.url.join(unescape(start.group(1))))
        assert str(login.url).startswith(f"{stack.ts}/login?")
        form = re.search(r'<form[^>]+action="([^"]*)"[^>]*>(.*?)</form>', login.text, re.S)
        assert form is not None
        hidden = re.findall(r'type="hidden"[^>]+name="([^"]+)"[^>]+value="([^"]*)"', form.group(2))

        def submit(username: str) -> httpx.Response:
            fields = {**dict(hidden), "username": username, "password": DEMO_PASSWORD}
            return browser.post(login.url.join(unescape(form.group(1))), data=fields)

        assert "Incorrect username or password" in submit("alice").text
        signed_in = submit(operator)
    assert str(signed_in.url) == f"{console}/decisions"
    assert operator in signed_in.text and "Sign out" in signed_in.text


def test_an_older_state_directory_catches_up(stack: Stack) -> None:
    """A state directory from before the bundle reader and the first bundle gets both at the
    next start; what it had is kept."""
    spec = importlib.util.spec_from_file_location("demo_stack", REPO / "scripts" / "demo_stack.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    before = stack.state
    older = {k: v for k, v in before.items() if k not in ("bundle_reader", "first_bundle")}
    caught_up = demo.catch_up(stack.var, older, stack.pdp)
    assert caught_up == json.loads((stack.var / "demo.json").read_text())
    assert caught_up["pep"] == before["pep"]
    reader = caught_up["bundle_reader"]
    assert reader["client_id"] != before["bundle_reader"]["client_id"]
    bundle = httpx.get(f"{stack.pdp}/bundles/main", headers=stack.bearer(reader, "pdp/bundles"))
    assert bundle.status_code == 200
    # The policy is published (a new revision when the source moved on since).
    admin = caught_up["admin"]
    listed = httpx.get(
        f"{stack.pdp}/admin/v1/bundles", headers=stack.bearer(admin, "pdp/admin")
    ).json()["items"]
    assert caught_up["first_bundle"] in [b["revision"] for b in listed]

"""The README's run command: the demo stack comes up and its printed walk-through works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.processes import REPO, free_port

pytestmark = pytest.mark.e2e

ALICE = "6f0b2c1e-0000-4000-8000-00000000a11c"
ACME = "4f1c2d3e-0000-4000-8000-000000000001"


def test_demo_stack_serves_the_walk_through(tmp_path):
    ts_port, pdp_port = free_port(), free_port()
    log = open(tmp_path / "stack.log", "w+")  # noqa: SIM115 - read back below
    stack = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "scripts" / "demo_stack.py"),
            "--var",
            str(tmp_path / "var"),
            "--token-service-port",
            str(ts_port),
            "--pdp-port",
            str(pdp_port),
        ],
        cwd=REPO,
        env={**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "The stack is up." not in (tmp_path / "stack.log").read_text():
            assert stack.poll() is None, (tmp_path / "stack.log").read_text()
            assert time.monotonic() < deadline, "the demo stack did not come up"
            time.sleep(0.5)
        state = json.loads((tmp_path / "var" / "demo.json").read_text())
        ts, pdp = f"http://127.0.0.1:{ts_port}", f"http://127.0.0.1:{pdp_port}"

        # Step 1: a machine token for the PEP.
        pep = state["pep"]
        token = httpx.post(
            f"{ts}/oauth2/token",
            auth=(pep["client_id"], pep["client_secret"]),
            data={"grant_type": "client_credentials", "scope": "pdp/decide"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        # Step 2: alice may edit an engineering document.
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
        decision = httpx.post(f"{pdp}/decide", json=body, headers=headers).json()
        assert decision["allow"] is True, decision

        # Step 3: alice signs in; her access token is the subject.
        signed_in = httpx.post(
            f"{ts}/",
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
        assert httpx.post(f"{pdp}/decide", json=body, headers=headers).json()["allow"] is True

        # The reporting service is a machine subject under its real client id.
        body["subject"] = {"id": state["reporting"]["client_id"]}
        body["action"] = "report:read"
        assert httpx.post(f"{pdp}/decide", json=body, headers=headers).json()["allow"] is True
    finally:
        stack.terminate()
        stack.wait(30)
        log.close()

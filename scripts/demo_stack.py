"""Run the demo stack: token service on :9229 and PDP on :8181, provisioned on first start.

First start: creates a user pool, the `pdp` resource server (scopes decide, admin), a
machine client for a demo resource server (pdp/decide), an admin client (pdp/admin), a
reporting service client, a public app client for people, and the users of the demo
directory (policies/examples/directory.yaml) with the same `sub`s; imports that directory
into the PDP. What it made is kept in <var>/demo.json (default var/), so later starts reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
DIRECTORY = REPO / "policies" / "examples" / "directory.yaml"
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "Demo-passw0rd!"


def run(command: str, env: dict[str, str]) -> dict:
    """Run one of our CLIs (`command` is split as a shell would) and return its --json output."""
    args = shlex.split(command)
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:], "--json"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"error: {' '.join(args[:3])}: {result.stderr.strip()}")
    return json.loads(result.stdout) if result.stdout.strip() else {}


def database_urls(var: Path) -> tuple[str, str]:
    """The token service's and the PDP's stores: separate services, separate databases."""
    return f"sqlite:///{var / 'token-service.db'}", f"sqlite:///{var / 'pdp.db'}"


def provision(var: Path) -> dict:
    """Create the demo identities in the token service and the directory in the PDP."""
    token_db, pdp_db = database_urls(var)
    ts = {"TOKEN_SERVICE_DATABASE_URL": token_db}
    pool = run("token-service pool create --name demo --custom-attribute tenant_id", ts)["id"]
    run(
        f"token-service resource-server create --pool {pool} --identifier pdp"
        " --scope 'decide=ask the PDP for decisions' --scope 'admin=manage the PDP'"
        " --scope 'bundles=download policy bundles (OPA agents)'",
        ts,
    )

    def machine_client(name: str, scope: str) -> dict:
        made = run(
            f"token-service client create --pool {pool} --name {name} --secret"
            f" --flow client_credentials --scope {scope}",
            ts,
        )
        return {"client_id": made["client_id"], "client_secret": made["client_secret"]}

    app = run(
        f"token-service client create --pool {pool} --name demo-web-app"
        " --flow password --flow refresh",
        ts,
    )
    state = {
        "pool_id": pool,
        "pep": machine_client("demo-resource-server", "pdp/decide"),
        "admin": machine_client("demo-admin", "pdp/admin"),
        "reporting": machine_client("demo-reporting-service", "pdp/decide"),
        "app_client_id": app["client_id"],
        "users": [],
    }
    document = yaml.safe_load(DIRECTORY.read_text())
    for tenant in document["tenants"]:
        for user in tenant["users"]:
            username = user["email"].split("@")[0]
            run(
                f"token-service user create --pool {pool} --username {username}"
                f" --password {shlex.quote(DEMO_PASSWORD)} --email {user['email']}"
                f" --email-verified --attribute custom:tenant_id={tenant['id']}"
                f" --sub {user['id']}",
                ts,
            )
            state["users"].append(username)
        for client in tenant["clients"]:
            if client["id"] == "demo-reporting-service":
                # The machine subject in the directory is the real client id.
                client["id"] = state["reporting"]["client_id"]
    provisioned = var / "demo-directory.yaml"
    provisioned.write_text(yaml.safe_dump(document, sort_keys=False))
    run(f"pdp directory import {provisioned}", {"PDP_DATABASE_URL": pdp_db})
    state_file = var / "demo.json"
    state_file.write_text(json.dumps(state, indent=2))
    state_file.chmod(0o600)
    return state


def wait_ready(url: str, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"error: {name} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"error: {name} did not become ready at {url}")


def next_steps(state: dict, ts_url: str, pdp_url: str, var: Path) -> str:
    pep = state["pep"]
    return f"""
The stack is up.
  token service  {ts_url}   (pool {state["pool_id"]})
  PDP            {pdp_url}   (policy: policies/, directory: policies/examples/directory.yaml)

1. A machine token for the demo resource server (the PEP):
   PEP_TOKEN=$(curl -s -u '{pep["client_id"]}:{pep["client_secret"]}' \\
     -d grant_type=client_credentials -d scope=pdp/decide {ts_url}/oauth2/token \\
     | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

2. Ask the PDP whether alice (engineering, editor through her group) may edit a document:
   curl -s {pdp_url}/decide -H "Authorization: Bearer $PEP_TOKEN" -H 'Content-Type: application/json' -d '{{
     "subject": {{"id": "6f0b2c1e-0000-4000-8000-00000000a11c"}},
     "action": "document:write",
     "resource": {{"type": "document", "id": "d1", "tenant_id": "4f1c2d3e-0000-4000-8000-000000000001",
                  "attributes": {{"department": "engineering"}}}},
     "context": {{"ip": "10.1.2.3"}}}}'

3. Sign alice in as a person (Cognito InitiateAuth; boto3 and the AWS CLI work the same way)
   and pass her access token as the subject instead of her id:
   curl -s {ts_url}/ -H 'Content-Type: application/x-amz-json-1.1' \\
     -H 'X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth' \\
     -d '{{"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "{state["app_client_id"]}",
          "AuthParameters": {{"USERNAME": "alice", "PASSWORD": "{DEMO_PASSWORD}"}}}}'
   then use "subject": {{"token": "<AccessToken>"}} in step 2.

Demo users ({", ".join(state["users"])}) all have the password {DEMO_PASSWORD}.
Admin client for /admin/v1 (scope pdp/admin): {state["admin"]["client_id"]} (secret in {var / "demo.json"}).
Stop with Ctrl-C.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token-service-port", type=int, default=9229)
    parser.add_argument("--pdp-port", type=int, default=8181)
    parser.add_argument("--var", type=Path, default=REPO / "var", help="state directory")
    args = parser.parse_args()
    var = args.var.resolve()
    var.mkdir(parents=True, exist_ok=True)
    state_file = var / "demo.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else provision(var)
    token_db, pdp_db = database_urls(var)
    ts_url = f"http://127.0.0.1:{args.token_service_port}"
    pdp_url = f"http://127.0.0.1:{args.pdp_port}"
    pool = state["pool_id"]
    token_service = subprocess.Popen(
        [str(BIN / "token-service"), "serve", "--port", str(args.token_service_port)],
        cwd=REPO,
        env={**os.environ, "TOKEN_SERVICE_DATABASE_URL": token_db},
    )
    wait_ready(f"{ts_url}/{pool}/.well-known/jwks.json", token_service, "token service")
    pdp = subprocess.Popen(
        [str(BIN / "pdp"), "serve", "--port", str(args.pdp_port)],
        cwd=REPO,
        env={
            **os.environ,
            "PDP_DATABASE_URL": pdp_db,
            "PDP_BUNDLE": str(REPO / "policies"),
            "PDP_TRUSTED_ISSUERS": json.dumps(
                [
                    {
                        "issuer": f"{ts_url}/{pool}",
                        "jwks_uri": f"{ts_url}/{pool}/.well-known/jwks.json",
                    }
                ]
            ),
        },
    )
    wait_ready(f"{pdp_url}/health?bundles", pdp, "PDP")
    print(next_steps(state, ts_url, pdp_url, var), flush=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"] and token_service.poll() is None and pdp.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for process in (pdp, token_service):
        if process.poll() is None:
            process.terminate()
            process.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

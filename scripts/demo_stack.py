"""Run the demo stack: token service on :9229 and PDP on :8181, provisioned on first start.

First start: creates a user pool, the `pdp` resource server (scopes decide, admin, bundles),
a machine client for a demo resource server (pdp/decide), an admin client (pdp/admin), a
bundle reader for an OPA agent (pdp/bundles), a reporting service client, a public app
client for people, and the users of the demo directory (policies/examples/directory.yaml)
with the same `sub`s; imports that directory into the PDP, and builds, publishes and
activates `policies/` as the PDP's first bundle. The PDP follows its store's active bundle,
as in production. What it made is kept in <var>/demo.json (default var/), so later starts
reuse it.
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
# The console's administrator, in the operators' pool.
CONSOLE_ADMIN = "operator"


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


def token_service_env(var: Path) -> dict[str, str]:
    """The token service's store and key file, both under `var`."""
    return {
        "TOKEN_SERVICE_DATABASE_URL": f"sqlite:///{var / 'token-service.db'}",
        "TOKEN_SERVICE_KEY_FILE": str(var / "token-service.key"),
    }


def pdp_env(var: Path) -> dict[str, str]:
    """The PDP's store and decision-log spool under `var`: a separate service, its own database."""
    return {
        "PDP_DATABASE_URL": f"sqlite:///{var / 'pdp.db'}",
        "PDP_DECISION_LOG_SPOOL_DIR": str(var / "decision-spool"),
    }


def machine_client(var: Path, pool: str, name: str, scope: str) -> dict:
    """A confidential client with `client_credentials` for `scope`."""
    made = run(
        f"token-service client create --pool {pool} --name {name} --secret"
        f" --flow client_credentials --scope {scope}",
        token_service_env(var),
    )
    return {"client_id": made["client_id"], "client_secret": made["client_secret"]}


def publish_policies(var: Path) -> str:
    """Build `policies/` into a bundle and publish it into the PDP's store, activated when
    nothing is active yet: the PDP serves what its store says, never a directory on disk."""
    archive = var / "policies.tar.gz"
    built = run(f"pdp bundle build {REPO / 'policies'} -o {archive}", {})
    run(f"pdp bundle publish {archive} --activate if-none", pdp_env(var))
    return built["revision"]


def console_client(var: Path, pdp_url: str) -> dict:
    """The operators' pool and the console's app client in it: whoever signs in to the console
    holds the scopes of its client (Cognito's scopes belong to clients), so the pool holds
    the PDP's operators only, apart from the demo's users."""
    ts = token_service_env(var)
    pool = run("token-service pool create --name operators", ts)["id"]
    run(
        f"token-service resource-server create --pool {pool} --identifier pdp"
        " --scope 'admin=manage the PDP' --scope 'audit=read the PDP, change nothing'",
        ts,
    )
    client = run(
        f"token-service client create --pool {pool} --name pdp-console --flow code"
        f" --scope openid --scope pdp/admin --callback-url {pdp_url}/console/callback"
        f" --logout-url {pdp_url}/console/signin",
        ts,
    )
    run(
        f"token-service user create --pool {pool} --username {CONSOLE_ADMIN}"
        f" --password {shlex.quote(DEMO_PASSWORD)}",
        ts,
    )
    return {"pool_id": pool, "client_id": client["client_id"], "pdp_url": pdp_url}


def save(var: Path, state: dict) -> None:
    state_file = var / "demo.json"
    state_file.write_text(json.dumps(state, indent=2))
    state_file.chmod(0o600)


def provision(var: Path, pdp_url: str) -> dict:
    """Create the demo identities in the token service and the directory in the PDP."""
    ts = token_service_env(var)
    pool = run("token-service pool create --name demo --custom-attribute tenant_id", ts)["id"]
    run(
        f"token-service resource-server create --pool {pool} --identifier pdp"
        " --scope 'decide=ask the PDP for decisions' --scope 'admin=manage the PDP'"
        " --scope 'bundles=download policy bundles (OPA agents)'",
        ts,
    )

    app = run(
        f"token-service client create --pool {pool} --name demo-web-app"
        " --flow password --flow refresh",
        ts,
    )
    state = {
        "pool_id": pool,
        "pep": machine_client(var, pool, "demo-resource-server", "pdp/decide"),
        "admin": machine_client(var, pool, "demo-admin", "pdp/admin"),
        "bundle_reader": machine_client(var, pool, "demo-opa-agent", "pdp/bundles"),
        "reporting": machine_client(var, pool, "demo-reporting-service", "pdp/decide"),
        "app_client_id": app["client_id"],
        "console": console_client(var, pdp_url),
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
    run(f"pdp directory import {provisioned}", pdp_env(var))
    state["first_bundle"] = publish_policies(var)
    save(var, state)
    return state


def catch_up(var: Path, state: dict, pdp_url: str) -> dict:
    """State directories made before the demo had a bundle reader, a published first bundle
    and a console get them on their next start (a console for another PDP address too)."""
    if "bundle_reader" not in state:
        state["bundle_reader"] = machine_client(
            var, state["pool_id"], "demo-opa-agent", "pdp/bundles"
        )
    if "first_bundle" not in state:
        state["first_bundle"] = publish_policies(var)
    if state.get("console", {}).get("pdp_url") != pdp_url:
        state["console"] = console_client(var, pdp_url)
    save(var, state)
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


def shown(path: Path) -> str:
    """`path` as the printed commands use it: relative to the repository when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def token_command(variable: str, client: str, scope: str, state_file: str, ts_url: str) -> str:
    """A command that exports a token of one of the demo's clients: the secret is read from
    the state file as it runs and handed to curl on stdin (`-K -`), so it appears neither in
    the terminal nor in a process list."""
    credentials = (
        "python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))[sys.argv[2]];"
        ' print("user = " + json.dumps(c["client_id"] + ":" + c["client_secret"]))\''
        f" {state_file} {client}"
    )
    return (
        f"   export {variable}=$({credentials} \\\n"
        f"     | curl -s -K - -d grant_type=client_credentials -d scope={scope}"
        f" {ts_url}/oauth2/token \\\n"
        "     | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )


def next_steps(state: dict, ts_url: str, pdp_url: str, var: Path, serving: str) -> str:
    state_file = shown(var / "demo.json")
    return f"""
The stack is up.
  token service  {ts_url}   (pool {state["pool_id"]})
  PDP            {pdp_url}   (follows its store, active bundle {serving}; the first was
                 built from policies/; directory: policies/examples/directory.yaml)

The command lines are in .venv/bin: run `source .venv/bin/activate` (then `pdp --help`,
`token-service --help`), or call .venv/bin/pdp. Paste the commands below in {REPO};
they read the clients' secrets from {state_file} as they run.

1. A machine token for the demo resource server (the PEP, scope pdp/decide):
{token_command("PEP_TOKEN", "pep", "pdp/decide", state_file, ts_url)}

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

4. An admin token (scope pdp/admin) for /admin/v1, `pdp bundle ...` and `pdp decisions ...`:
   export PDP_URL={pdp_url}
{token_command("PDP_ADMIN_TOKEN", "admin", "pdp/admin", state_file, ts_url)}
   .venv/bin/pdp bundle list

5. After editing policies/, build, push and activate a new revision (a restart changes nothing):
   REVISION=$(date -u +%Y%m%dT%H%M%SZ)
   .venv/bin/pdp bundle build policies -o {shown(var)}/policies-$REVISION.tar.gz --revision $REVISION
   .venv/bin/pdp bundle push {shown(var)}/policies-$REVISION.tar.gz
   .venv/bin/pdp bundle activate $REVISION

6. A bundle-reader token (scope pdp/bundles) for an OPA agent, and the active bundle:
{token_command("BUNDLES_TOKEN", "bundle_reader", "pdp/bundles", state_file, ts_url)}
   curl -s -H "Authorization: Bearer $BUNDLES_TOKEN" {pdp_url}/bundles/main \\
     -o {shown(var)}/main.tar.gz

7. The console, in a browser: {pdp_url}/console
   Sign in at the hosted login as {CONSOLE_ADMIN} (operators' pool {state["console"]["pool_id"]}).

Demo users ({", ".join(state["users"])}) and {CONSOLE_ADMIN} all have the password {DEMO_PASSWORD}.
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
    ts_url = f"http://127.0.0.1:{args.token_service_port}"
    pdp_url = f"http://127.0.0.1:{args.pdp_port}"
    if state_file.exists():
        state = catch_up(var, json.loads(state_file.read_text()), pdp_url)
    else:
        state = provision(var, pdp_url)
    pool, console = state["pool_id"], state["console"]
    token_service = subprocess.Popen(
        [str(BIN / "token-service"), "serve", "--port", str(args.token_service_port)],
        cwd=REPO,
        env={**os.environ, **token_service_env(var)},
    )
    wait_ready(f"{ts_url}/{pool}/.well-known/jwks.json", token_service, "token service")
    pdp = subprocess.Popen(
        [str(BIN / "pdp"), "serve", "--port", str(args.pdp_port)],
        cwd=REPO,
        env={
            **os.environ,
            **pdp_env(var),
            # Empty: follow the store's active bundle (published above), not a directory.
            "PDP_BUNDLE": "",
            "PDP_TRUSTED_ISSUERS": json.dumps(
                [
                    {
                        "issuer": f"{ts_url}/{trusted}",
                        "jwks_uri": f"{ts_url}/{trusted}/.well-known/jwks.json",
                    }
                    for trusted in (pool, console["pool_id"])
                ]
            ),
            # The console signs in through the operators' pool's hosted login.
            "PDP_CONSOLE_ISSUER": f"{ts_url}/{console['pool_id']}",
            "PDP_CONSOLE_CLIENT_ID": console["client_id"],
        },
    )
    wait_ready(f"{pdp_url}/health?bundles", pdp, "PDP")
    serving = httpx.get(f"{pdp_url}/health").json()["bundle_revision"]
    print(next_steps(state, ts_url, pdp_url, var, serving), flush=True)
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

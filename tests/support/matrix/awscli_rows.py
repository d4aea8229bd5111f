"""AWS CLI v1 rows: `aws cognito-idp ... --endpoint-url`, as operators and scripts run it.

The CLI lives in its own virtual environment (`.venv/awscli`, its botocore pin differs from
boto3's); its own entry point runs each command, in one process kept for all rows. Output is JSON the rows parse; a Cognito error must reach stderr with its code and
the CLI must exit 254 or 255, so scripts that test `$?` see it.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import threading
from dataclasses import dataclass
from typing import Any

from tests.support.matrix.core import (
    AWS_CLI,
    PASSWORD,
    REGION,
    Mismatch,
    Rows,
    Target,
    attribute,
    check,
    equal,
    unique,
    verify_sign_in,
)
from tests.support.matrix.kit import PASSWORD_FLOWS, Kit

rows = Rows("aws-cli", needs=("awscli",))


# The CLI's own driver (what `bin/aws` runs), kept in one long-lived process with one driver
# per environment: the CLI takes a second or more to import and load Cognito's model, and
# the suite runs dozens of commands. Each command line is parsed and run as `aws` would.
DRIVER = r"""
import contextlib, io, json, os, sys
import awscli.clidriver
own = {"AWS_DATA_PATH": os.environ["AWS_DATA_PATH"]}  # set by the CLI's import
drivers = {}
for line in sys.stdin:
    request = json.loads(line)
    os.environ.clear()
    os.environ.update({**own, **request["env"]})
    key = json.dumps(request["env"], sort_keys=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            driver = drivers.get(key) or drivers.setdefault(key, awscli.clidriver.create_clidriver())
            rc = driver.main(request["args"])
        except SystemExit as exit:
            rc = exit.code if isinstance(exit.code, int) else 255
    answer = {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}
    sys.__stdout__.write(json.dumps(answer) + "\n")
    sys.__stdout__.flush()
"""


@dataclass
class Answer:
    returncode: int
    stdout: str
    stderr: str


class _Driver:
    """One CLI process that runs commands sent to it, one JSON line each way."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def run(self, args: list[str], env: dict[str, str]) -> Answer:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                python = AWS_CLI.with_name("python")
                self._process = subprocess.Popen(
                    [str(python), "-c", DRIVER],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=env,
                )
                atexit.register(self._process.kill)
            assert self._process.stdin and self._process.stdout
            self._process.stdin.write(json.dumps({"args": args, "env": env}) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                raise Mismatch(f"the AWS CLI process ended running {args[:2]}")
            answer = json.loads(line)
            return Answer(answer["rc"], answer["stdout"], answer["stderr"])


_DRIVER = _Driver()


def aws(target: Target, operation: str, *args: str) -> Answer:
    """Run `aws cognito-idp <operation> <args>` against the target with its admin credentials."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": target.access_key,
        "AWS_SECRET_ACCESS_KEY": target.secret_key,
        "AWS_DEFAULT_REGION": REGION,
        # No profile, credentials or config of the machine may change what the row sends.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    command = ["cognito-idp", operation, *args, "--endpoint-url", target.url, "--output", "json"]
    return _DRIVER.run(command, environment)


def ok(target: Target, operation: str, *args: str) -> dict[str, Any]:
    done = aws(target, operation, *args)
    if done.returncode != 0:
        raise Mismatch(f"aws {operation} exited {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout) if done.stdout.strip() else {}


def fails(target: Target, code: str, operation: str, *args: str) -> None:
    done = aws(target, operation, *args)
    check(done.returncode in (254, 255), f"aws {operation} exited {done.returncode}, not 254/255")
    check(
        f"({code})" in done.stderr, f"aws {operation} stderr lacks ({code}): {done.stderr.strip()}"
    )


def pool_args(kit: Kit) -> tuple[str, str]:
    return ("--user-pool-id", kit.pool_id)


@rows.row("aws-cli.create_user_pool", "create-user-pool, then describe-user-pool")
def create_user_pool(target: Target) -> None:
    name = unique("cli-")
    created = ok(target, "create-user-pool", "--pool-name", name)["UserPool"]
    described = ok(target, "describe-user-pool", "--user-pool-id", created["Id"])["UserPool"]
    equal((described["Id"], described["Name"]), (created["Id"], name), "pool")


@rows.row("aws-cli.create_user_pool_client", "create-user-pool-client --generate-secret")
def create_client(target: Target) -> None:
    kit = Kit(target)
    client = ok(
        target,
        "create-user-pool-client",
        *pool_args(kit),
        "--client-name",
        "cli",
        "--generate-secret",
        "--explicit-auth-flows",
        *PASSWORD_FLOWS,
    )["UserPoolClient"]
    check(client.get("ClientSecret"), "no ClientSecret")
    equal(sorted(client["ExplicitAuthFlows"]), sorted(PASSWORD_FLOWS), "ExplicitAuthFlows")


@rows.row("aws-cli.admin_create_user", "admin-create-user --user-attributes --message-action")
def admin_create_user(target: Target) -> None:
    kit = Kit(target)
    username = unique("cli-")
    user = ok(
        target,
        "admin-create-user",
        *pool_args(kit),
        "--username",
        username,
        "--user-attributes",
        f"Name=email,Value={username}@example.com",
        "Name=email_verified,Value=true",
        "--message-action",
        "SUPPRESS",
    )["User"]
    equal(user["UserStatus"], "FORCE_CHANGE_PASSWORD", "UserStatus")
    equal(attribute(user["Attributes"], "email"), f"{username}@example.com", "email")


@rows.row("aws-cli.admin_initiate_auth", "admin-set-user-password --permanent, admin-initiate-auth")
def admin_initiate_auth(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person(password=None)
    ok(
        target,
        "admin-set-user-password",
        *pool_args(kit),
        "--username",
        person.username,
        "--password",
        PASSWORD,
        "--permanent",
    )
    result = ok(
        target,
        "admin-initiate-auth",
        *pool_args(kit),
        "--client-id",
        app.id,
        "--auth-flow",
        "ADMIN_USER_PASSWORD_AUTH",
        "--auth-parameters",
        f"USERNAME={person.username},PASSWORD={PASSWORD}",
    )["AuthenticationResult"]
    verify_sign_in(target, kit.pool_id, result, app.id, person.username)


@rows.row("aws-cli.admin_initiate_auth.wrong_password", "a wrong password: exit 254/255, code")
def admin_initiate_wrong(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    fails(
        target,
        "NotAuthorizedException",
        "admin-initiate-auth",
        *pool_args(kit),
        "--client-id",
        app.id,
        "--auth-flow",
        "ADMIN_USER_PASSWORD_AUTH",
        "--auth-parameters",
        f"USERNAME={person.username},PASSWORD=Wr0ng-Password!",
    )


@rows.row("aws-cli.list_users.filter", "list-users --filter 'email = \"...\"'")
def list_users_filter(target: Target) -> None:
    kit = Kit(target)
    alice, _ = kit.person(), kit.person()
    users = ok(target, "list-users", *pool_args(kit), "--filter", f'email = "{alice.email}"')
    equal([u["Username"] for u in users["Users"]], [alice.username], "filtered users")


@rows.row("aws-cli.list_users.pages", "list-users --page-size 2 walks every page")
def list_users_pages(target: Target) -> None:
    kit = Kit(target)
    made = {kit.person(password=None).username for _ in range(5)}
    users = ok(target, "list-users", *pool_args(kit), "--page-size", "2")
    equal(sorted(u["Username"] for u in users["Users"]), sorted(made), "users over pages")


@rows.row("aws-cli.list_groups", "list-groups --page-size 1 walks every page")
def list_groups(target: Target) -> None:
    kit = Kit(target)
    made = {kit.group() for _ in range(3)}
    groups = ok(target, "list-groups", *pool_args(kit), "--page-size", "1")
    equal({g["GroupName"] for g in groups["Groups"]}, made, "groups")


@rows.row("aws-cli.admin_get_user", "admin-get-user")
def admin_get_user(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    user = ok(target, "admin-get-user", *pool_args(kit), "--username", person.username)
    equal((user["Username"], user["UserStatus"]), (person.username, "CONFIRMED"), "user")
    equal(attribute(user["UserAttributes"], "sub"), person.sub, "sub")


@rows.row("aws-cli.describe_user_pool_client", "describe-user-pool-client")
def describe_client(target: Target) -> None:
    kit = Kit(target)
    app = kit.app(secret=True)
    client = ok(target, "describe-user-pool-client", *pool_args(kit), "--client-id", app.id)
    equal(client["UserPoolClient"].get("ClientSecret"), app.secret, "ClientSecret")


@rows.row("aws-cli.update_user_pool_client", "update-user-pool-client --explicit-auth-flows")
def update_client(target: Target) -> None:
    kit = Kit(target)
    app = kit.app()
    flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    ok(
        target,
        "update-user-pool-client",
        *pool_args(kit),
        "--client-id",
        app.id,
        "--client-name",
        "renamed",
        "--explicit-auth-flows",
        *flows,
    )
    client = kit.admin.describe_user_pool_client(UserPoolId=kit.pool_id, ClientId=app.id)
    equal(client["UserPoolClient"]["ClientName"], "renamed", "ClientName")
    equal(sorted(client["UserPoolClient"]["ExplicitAuthFlows"]), sorted(flows), "flows")


@rows.row("aws-cli.admin_delete_user", "admin-delete-user; admin-get-user then fails")
def admin_delete_user(target: Target) -> None:
    kit = Kit(target)
    person = kit.person()
    ok(target, "admin-delete-user", *pool_args(kit), "--username", person.username)
    fails(
        target,
        "UserNotFoundException",
        "admin-get-user",
        *pool_args(kit),
        "--username",
        person.username,
    )


@rows.row("aws-cli.describe_user_pool.unknown", "an unknown pool: ResourceNotFoundException")
def unknown_pool(target: Target) -> None:
    fails(
        target,
        "ResourceNotFoundException",
        "describe-user-pool",
        "--user-pool-id",
        "us-east-1_NoSuchPool",
    )


@rows.row("aws-cli.list_user_pools", "list-user-pools --max-results, walked with --next-token")
def list_user_pools(target: Target) -> None:
    kits = [Kit(target) for _ in range(2)]
    # --max-results is required, and a paging argument turns the CLI's own paging off.
    ids: list[str] = []
    token: list[str] = []
    while True:
        page = ok(target, "list-user-pools", "--max-results", "60", *token)
        ids += [p["Id"] for p in page["UserPools"]]
        if not page.get("NextToken"):
            break
        token = ["--next-token", page["NextToken"]]
    check({k.pool_id for k in kits} <= set(ids), "a pool is missing from the pages")
    equal(len(ids), len(set(ids)), "pools listed twice")


@rows.row("aws-cli.admin_user_global_sign_out", "admin-user-global-sign-out revokes the tokens")
def admin_user_global_sign_out(target: Target) -> None:
    kit = Kit(target)
    app, person = kit.app(), kit.person()
    tokens = kit.sign_in(app, person)
    ok(target, "admin-user-global-sign-out", *pool_args(kit), "--username", person.username)
    kit.signed_out(app, tokens, person)

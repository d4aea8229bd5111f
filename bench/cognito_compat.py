"""The client-compatibility matrix against our server and against moto's Cognito, side by side.

Runs every row of `tests/support/cognito_matrix.py` (real clients: boto3, pycognito, the AWS
CLI, amazon-cognito-identity-js, aws-amplify, authlib, requests-oauthlib, python-jose, PyJWT,
aws-jwt-verify, OIDC discovery) against a fresh `token-service serve` (mail to an SMTP server
in this process) and against moto 5's `moto_server`, the usual Cognito test double, installed
into its own venv `.venv/moto` on first use and started on a free port. moto sends no mail
and takes any code without its own prefix, so its rows get a fixed code.

Prints one line per row (id, ours, moto), the failures with their errors, and the totals;
`--json FILE` writes all of it with the date and the version of every client.

    .venv/bin/python bench/cognito_compat.py [--json FILE] [--rows SUBSTRING] [--no-moto] [--markdown]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.cognito_js import NODE_MODULES  # noqa: E402
from tests.support.cognito_matrix import (  # noqa: E402
    ROWS,
    Outcome,
    Row,
    Target,
    moto_target,
    ours_target,
    run_row,
)
from tests.support.matrix.core import AWS_CLI  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.token_service.conftest import start_server, stop_server  # noqa: E402
from tests.token_service.mailbox import SmtpServer  # noqa: E402

MOTO_VENV = REPO / ".venv" / "moto"
MOTO_REQUIREMENT = "moto[server]>=5,<6"
PYTHON_CLIENTS = [
    "boto3",
    "botocore",
    "pycognito",
    "Authlib",
    "requests-oauthlib",
    "python-jose",
    "PyJWT",
]
NODE_CLIENTS = ["amazon-cognito-identity-js", "aws-amplify", "aws-jwt-verify"]


def moto_python() -> Path:
    """moto's venv interpreter, creating the venv and installing moto[server] the first time."""
    python = MOTO_VENV / "bin" / "python"
    if not (MOTO_VENV / "bin" / "moto_server").exists():
        print(f"installing {MOTO_REQUIREMENT} into {MOTO_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(MOTO_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", MOTO_REQUIREMENT], check=True
        )
    return python


@contextlib.contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """`moto_server` on a free loopback port; its URL once it answers."""
    moto_python()
    port = free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [str(MOTO_VENV / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"moto_server exited: {log.read_text(errors='replace')}")
                with contextlib.suppress(httpx.HTTPError):
                    httpx.get(url + "/moto-api/", timeout=1)
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not answer within 60 s")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def command_version(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def versions() -> dict[str, str | None]:
    """The version of every client the rows use (None: not installed here)."""
    found: dict[str, str | None] = {}
    for name in PYTHON_CLIENTS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    for name in NODE_CLIENTS:
        manifest = NODE_MODULES / name / "package.json"
        found[name] = json.loads(manifest.read_text())["version"] if manifest.exists() else None
    found["node"] = command_version(["node", "--version"])
    found["aws-cli"] = command_version(
        [str(AWS_CLI.with_name("python")), "-c", "import awscli; print(awscli.__version__)"]
    )
    found["moto"] = command_version(
        [str(MOTO_VENV / "bin" / "python"), "-c", "import moto; print(moto.__version__)"]
    )
    found["python"] = platform.python_version()
    return found


def run_all(rows: list[Row], target: Target) -> list[Outcome]:
    outcomes = []
    for row in rows:
        outcome = run_row(row, target)
        print(f"  {target.name:4} {outcome.status:4} {row.id}", file=sys.stderr, flush=True)
        outcomes.append(outcome)
    return outcomes


def totals(outcomes: list[Outcome]) -> dict[str, int]:
    counted = Counter(o.status for o in outcomes)
    return {"pass": counted["pass"], "fail": counted["fail"], "skip": counted["skip"]}


def report(rows: list[Row], results: dict[str, list[Outcome]]) -> None:
    names = list(results)
    width = max(len(row.id) for row in rows)
    print(f"{'row':{width}}  " + "  ".join(f"{n:5}" for n in names))
    for index, row in enumerate(rows):
        print(f"{row.id:{width}}  " + "  ".join(f"{results[n][index].status:5}" for n in names))
    for name in names:
        failed = [o for o in results[name] if o.status != "pass"]
        if failed:
            print(f"\n{name}: not passed")
            for outcome in failed:
                print(f"  {outcome.row.id}: {outcome.status}: {outcome.detail}")
    print()
    for name in names:
        counted = totals(results[name])
        clients = Counter(o.row.client for o in results[name] if o.status == "pass")
        print(
            f"{name}: {counted['pass']}/{len(rows)} rows pass "
            f"({counted['fail']} fail, {counted['skip']} skipped); by client: "
            + ", ".join(f"{c} {clients[c]}" for c in dict.fromkeys(r.client for r in rows))
        )


# The version key of each row's client in `versions()`.
CLIENT_VERSION = {
    "boto3": "boto3",
    "pycognito": "pycognito",
    "aws-cli": "aws-cli",
    "amazon-cognito-identity-js": "amazon-cognito-identity-js",
    "aws-amplify": "aws-amplify",
    "authlib": "Authlib",
    "requests-oauthlib": "requests-oauthlib",
    "python-jose": "python-jose",
    "PyJWT": "PyJWT",
    "aws-jwt-verify": "aws-jwt-verify",
    "discovery": "Authlib",
}


def markdown(rows: list[Row], results: dict[str, list[Outcome]]) -> str:
    """The per-client table of docs/token-service.md: version, rows, passes per endpoint."""
    found = versions()
    names = list(results)
    lines = [
        "| client | version | rows | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for client in dict.fromkeys(row.client for row in rows):
        picked = [i for i, row in enumerate(rows) if row.client == client]
        passed = [sum(results[n][i].status == "pass" for i in picked) for n in names]
        version = found.get(CLIENT_VERSION.get(client, client)) or "not installed"
        cells = [client, version, str(len(picked)), *map(str, passed)]
        lines.append("| " + " | ".join(cells) + " |")
    totals_row = [str(sum(o.status == "pass" for o in results[n])) for n in names]
    lines.append("| all | | " + str(len(rows)) + " | " + " | ".join(totals_row) + " |")
    return "\n".join(lines)


def document(
    rows: list[Row], results: dict[str, list[Outcome]], seconds: dict[str, float]
) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "totals": {
            name: {**totals(o), "rows": len(rows), "seconds": round(seconds[name], 1)}
            for name, o in results.items()
        },
        "rows": [
            {
                "id": row.id,
                "client": row.client,
                "description": row.description,
                **{
                    name: {"status": results[name][i].status, "detail": results[name][i].detail}
                    for name in results
                },
            }
            for i, row in enumerate(rows)
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--rows", default="", help="only rows whose id contains this")
    parser.add_argument("--no-moto", action="store_true", help="run against our server only")
    parser.add_argument(
        "--markdown", action="store_true", help="also print the per-client table for the docs"
    )
    args = parser.parse_args()
    rows = [row for row in ROWS if args.rows in row.id]
    results: dict[str, list[Outcome]] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        smtp = SmtpServer()
        server = start_server(
            Path(tmp), TOKEN_SERVICE_SMTP_URL=smtp.url, TOKEN_SERVICE_LOCKOUT_SECONDS="300"
        )
        try:
            started = time.monotonic()
            results["ours"] = run_all(rows, ours_target(server.url, server.env, smtp.mailbox))
            seconds["ours"] = time.monotonic() - started
        finally:
            stop_server(server)
            smtp.stop()
        if not args.no_moto:
            with moto_server(Path(tmp) / "moto.log") as url:
                started = time.monotonic()
                results["moto"] = run_all(rows, moto_target(url))
                seconds["moto"] = time.monotonic() - started
    report(rows, results)
    if args.markdown:
        print("\n" + markdown(rows, results))
    if args.json:
        args.json.write_text(json.dumps(document(rows, results, seconds), indent=2) + "\n")
        print(f"\nwritten to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

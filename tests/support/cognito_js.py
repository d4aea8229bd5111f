"""Run JavaScript clients of Cognito (amazon-cognito-identity-js, aws-amplify, ...) under Node.

`scripts/test` installs the npm packages under `.venv/node`; `run_node` runs a snippet with
`NODE_PATH` pointing there. The snippet is the body of an async function: it reads `INPUT`
(the JSON payload given) and ends with `done(value)`, whose value comes back decoded. An
exception or rejection the snippet does not catch fails the test with Node's message.
Without Node or a package the snippet needs, the test is skipped, saying which is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest

from tests.support.processes import REPO

NODE_MODULES = REPO / ".venv" / "node" / "node_modules"
# Libraries may print to stdout; the result is the one line that starts with this.
_MARKER = "__cognito_js_result__"
_PRELUDE = f"""
const INPUT = JSON.parse(require("fs").readFileSync(0, "utf8") || "null");
const done = (value) => {{
  process.stdout.write("\\n{_MARKER}" + JSON.stringify(value === undefined ? null : value) + "\\n");
  process.exit(0);
}};
const fail = (error) => {{
  process.stderr.write(String((error && error.stack) || error) + "\\n");
  process.exit(1);
}};
process.on("unhandledRejection", fail);
"""


def missing_requirements(packages: Sequence[str]) -> str | None:
    """Why snippets needing `packages` cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "Node.js is not installed"
    absent = [name for name in packages if not (NODE_MODULES / name).is_dir()]
    if absent:
        return f"npm package(s) {', '.join(absent)} missing under .venv/node (scripts/test installs them)"
    return None


def require_packages(*packages: str) -> None:
    """Skip the calling test (or fixture) unless Node and `packages` are installed."""
    reason = missing_requirements(packages)
    if reason is not None:
        pytest.skip(f"{reason}: skipped")


def run_node(
    script: str, payload: Any = None, *, packages: Sequence[str] = (), timeout: float = 120
) -> Any:
    """Run `script` (an async function body that calls `done(value)`) and return the value."""
    require_packages(*packages)
    program = f"{_PRELUDE}\n(async () => {{\n{script}\n}})().catch(fail);\n"
    environment = {
        "NODE_PATH": str(NODE_MODULES),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin:/usr/local/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    completed = subprocess.run(
        ["node", "-e", program],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
    )
    results = [line for line in completed.stdout.splitlines() if line.startswith(_MARKER)]
    if completed.returncode != 0 or not results:
        raise AssertionError(
            f"node exited {completed.returncode}: {completed.stderr.strip() or completed.stdout}"
        )
    return json.loads(results[-1][len(_MARKER) :])

"""Two revisions of the default policy for review tests: r1 as shipped, r2 with viewers no
longer reading documents (every editor's read flips) and a comment added to the decision."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pdp.bundles.build import build_bundle
from tests.pdp.pdp_env import POLICIES

R2_COMMENT = "# r2: reads are reviewed again"


def review_bundles(tmp: Path) -> tuple[bytes, bytes]:
    """(r1, r2) archives; r2 leaves its Rego tests out, which the change breaks on purpose."""
    first = build_bundle(POLICIES, revision="r1", include_tests=True)
    changed = tmp / "r2"
    shutil.copytree(POLICIES, changed, ignore=shutil.ignore_patterns("examples"))
    data = json.loads((changed / "data.json").read_text())
    data["roles"]["viewer"]["permissions"].remove("document:read")
    # `role_grants` is the roles' closure, kept in step with them (policies/README.md).
    for role in ("viewer", "commenter", "editor"):
        grants = data["role_grants"][role]
        grants.remove({"action": "document:read", "conditions": {}})
    data["roles"]["reviewer"] = {"description": "Added in r2.", "permissions": ["document:read"]}
    (changed / "data.json").write_text(json.dumps(data, indent=2))
    decision = changed / "authz" / "decision.rego"
    decision.write_text(decision.read_text() + f"\n{R2_COMMENT}\n")
    return first, build_bundle(changed, revision="r2", include_tests=False)

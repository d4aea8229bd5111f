"""Replay recorded decisions against a candidate bundle: which real decisions would it flip?

Each decision-log record keeps the policy input that was evaluated, the document path
evaluated (`path`) and where the input came from (`input_source`). Replay compiles the
candidate once (in the child process, as the PDP does) and evaluates every record the way the
endpoint that made it did:
- `/decide`, `/decide/batch` and AuthZEN records: the recorded entrypoint, with the output
  checks and tenant guard `/decide` applies;
- Data API records (`v1/data/...`): the same document path on the same input, allow counted
  as the Data API counts it (`true`, or an object with `allow: true`).
Records written before `path` was kept are replayed at the decision entrypoint, as `/decide`.

For an input the PDP built (`input_source` "pip"), the directory state is either the
recorded one (the input as logged) or the current one (the subject's facts looked up again
in the directory store, the rest of the input as logged), and `context.networks` is
recomputed from the candidate's `data.networks`, since named networks are bundle data. An
input the caller gave the Data API is evaluated as logged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from pdp.data_api import document, logged_outcome, split_path
from pdp.decision import PolicyFailure, evaluate_decision
from pdp.decision_codec import UNREADABLE
from pdp.decision_log import DecisionLogStore, DecisionQuery
from pdp.directory.snapshot import DirectorySnapshot
from pdp.engine import EvaluationError
from pdp.policy import ActivePolicy

DirectoryMode = Literal["recorded", "current"]
PAGE_SIZE = 1000


class ReplaySourceError(Exception):
    """Recorded decisions could not be read (file or PDP); the message says why."""


@dataclass(frozen=True)
class Change:
    """One recorded decision the candidate decides differently."""

    decision_id: str | None
    timestamp: str | None
    endpoint: str | None
    subject: str | None
    action: str | None
    resource: dict[str, Any]
    old_allow: bool
    new_allow: bool
    old_reasons: list[str]
    new_reasons: list[str]

    @property
    def kind(self) -> str:
        if self.old_allow == self.new_allow:
            return "reasons_changed"
        return "allow_to_deny" if self.old_allow else "deny_to_allow"

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "timestamp": self.timestamp,
            "endpoint": self.endpoint,
            "subject": self.subject,
            "action": self.action,
            "resource": self.resource,
            "old": {"allow": self.old_allow, "reasons": self.old_reasons},
            "new": {"allow": self.new_allow, "reasons": self.new_reasons},
        }


@dataclass
class ReplayReport:
    """Counts of a replay, and up to `example_limit` examples of each kind of change."""

    candidate_revision: str
    directory: DirectoryMode
    example_limit: int = 5
    replayed: int = 0
    unchanged: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[Change]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        """Decisions whose allow/deny flips (a change of reasons alone is counted apart)."""
        return self.counts["allow_to_deny"] + self.counts["deny_to_allow"]

    def add(self, change: Change | None) -> None:
        self.replayed += 1
        if change is None:
            self.unchanged += 1
            return
        self.counts[change.kind] += 1
        kept = self.examples.setdefault(change.kind, [])
        if len(kept) < self.example_limit:
            kept.append(change)

    def exit_code(self, fail_on: str | None) -> int:
        """1 when the CI gate trips: any flip (`change`) or any new allow (`grant`)."""
        if fail_on == "change" and self.changed:
            return 1
        if fail_on == "grant" and self.counts["deny_to_allow"]:
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "candidate_revision": self.candidate_revision,
            "directory": self.directory,
            "replayed": self.replayed,
            "unchanged": self.unchanged,
            "changed": self.changed,
            "allow_to_deny": self.counts["allow_to_deny"],
            "deny_to_allow": self.counts["deny_to_allow"],
            "reasons_changed": self.counts["reasons_changed"],
            "skipped": sum(self.skipped.values()),
            "skipped_reasons": dict(sorted(self.skipped.items())),
            "examples": {
                kind: [c.to_json() for c in changes]
                for kind, changes in sorted(self.examples.items())
            },
        }

    def text(self) -> str:
        lines = [
            f"replayed {self.replayed} decisions against {self.candidate_revision}"
            f" (directory: {self.directory})",
            f"changed: {self.changed} (allow->deny: {self.counts['allow_to_deny']},"
            f" deny->allow: {self.counts['deny_to_allow']});"
            f" reasons only: {self.counts['reasons_changed']}; unchanged: {self.unchanged}",
        ]
        if self.skipped:
            detail = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items()))
            lines.append(f"skipped: {sum(self.skipped.values())} ({detail})")
        for kind, title in (
            ("allow_to_deny", "allow->deny"),
            ("deny_to_allow", "deny->allow"),
            ("reasons_changed", "reasons only"),
        ):
            for change in self.examples.get(kind, []):
                resource = change.resource
                lines.append(
                    f"  {title}: {_shown(change.subject)} {_shown(change.action)}"
                    f" {_shown(resource.get('type'))}/{_shown(resource.get('id'))}"
                    f" @{_shown(resource.get('tenant_id'))} ({change.endpoint}):"
                    f" {json.dumps(change.old_reasons)} -> {json.dumps(change.new_reasons)}"
                )
        return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    """A field of a change as the text report prints it; `-` where the record has none (a
    Data API input need not name a subject, an action or a resource)."""
    return "-" if value is None else str(value)


def decide_input(
    policy: ActivePolicy, entrypoint: str, input_doc: dict[str, Any]
) -> tuple[bool, list[str]]:
    """What `/decide` concludes from this input; any failure is a deny with its reason code."""
    try:
        return evaluate_decision(policy, entrypoint, input_doc)
    except PolicyFailure as failure:
        return False, [failure.reason]


def query_document(policy: ActivePolicy, path: str, input_doc: Any) -> tuple[bool, list[str]]:
    """What the Data API logs for `data.<path>` on this input; an evaluation error (a 500
    there) is a deny with its reason code."""
    try:
        return logged_outcome(document(policy, split_path(path), input_doc))
    except EvaluationError as exc:
        return False, [exc.reason]


def _is_data_api(record: dict[str, Any]) -> bool:
    """A Data API record that says which document it evaluated."""
    endpoint = record.get("endpoint")
    return isinstance(record.get("path"), str) and str(endpoint).startswith("v1/data")


def _replay_input(
    record: dict[str, Any], policy: ActivePolicy, snapshot: DirectorySnapshot | None
) -> dict[str, Any] | str | None:
    """The input to evaluate for `record` (None: the query had none), or why it cannot be
    replayed."""
    recorded = record.get("input")
    source = record.get("input_source")
    if source == "none":
        return None
    if not isinstance(recorded, dict):
        return "no input recorded (" + ", ".join(record.get("reasons") or ["unknown"]) + ")"
    if source == "caller":
        return recorded
    subject = recorded.get("subject")
    if not isinstance(subject, dict) or not isinstance(recorded.get("context", {}), dict):
        return "malformed input"
    if snapshot is not None:
        facts = snapshot.subject(str(subject.get("id")))
        if facts is None:
            return "subject no longer in the directory"
        current = facts.to_input()
        if "claims" in subject:
            current["claims"] = subject["claims"]
        subject = current
    context = dict(recorded.get("context") or {})
    ip = context.get("ip")
    if isinstance(ip, str):
        try:
            context["networks"] = policy.networks_containing(str(ip))
        except ValueError:
            return "malformed context.ip"
    return {**recorded, "subject": subject, "context": context}


def replay_record(
    record: dict[str, Any],
    policy: ActivePolicy,
    entrypoint: str,
    snapshot: DirectorySnapshot | None = None,
) -> tuple[bool, list[str], Any] | str:
    """(allow, reasons, input evaluated) for `record` re-decided by `policy` through the
    endpoint and path that made it, or why it cannot be replayed. `entrypoint` is for
    records that do not name theirs."""
    input_doc = _replay_input(record, policy, snapshot)
    if isinstance(input_doc, str):
        return input_doc
    if _is_data_api(record):
        return (*query_document(policy, record["path"], input_doc), input_doc)
    if input_doc is None:
        return "malformed input"
    path = record.get("path")
    return (
        *decide_input(policy, path if isinstance(path, str) else entrypoint, input_doc),
        input_doc,
    )


def replay(
    records: Iterable[dict[str, Any]],
    policy: ActivePolicy,
    entrypoint: str,
    *,
    snapshot: DirectorySnapshot | None = None,
    example_limit: int = 5,
) -> ReplayReport:
    """Re-decide every record with `policy`; `snapshot` given means the current directory."""
    report = ReplayReport(
        candidate_revision=policy.revision,
        directory="current" if snapshot is not None else "recorded",
        example_limit=example_limit,
    )
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("allow"), bool):
            report.skipped["malformed record"] += 1
            continue
        if any(isinstance(v, dict) and UNREADABLE in v for v in record.values()):
            report.skipped["unreadable record"] += 1
            continue
        if record.get("sanitised"):
            # The log repaired what the database could not store (a NUL, a NaN): the input
            # it holds is not the one that was decided, so replaying it would prove nothing.
            report.skipped["repaired record"] += 1
            continue
        replayed = replay_record(record, policy, entrypoint, snapshot)
        if isinstance(replayed, str):
            report.skipped[replayed] += 1
            continue
        allow, reasons, input_doc = replayed
        old_reasons = [str(r) for r in record.get("reasons") or []]
        if allow == record["allow"] and sorted(reasons) == sorted(old_reasons):
            report.add(None)
            continue
        resource = input_doc.get("resource") if isinstance(input_doc, dict) else None
        report.add(
            Change(
                decision_id=record.get("decision_id"),
                timestamp=record.get("timestamp"),
                endpoint=record.get("endpoint"),
                subject=record.get("subject_id"),
                action=record.get("action"),
                resource=resource if isinstance(resource, dict) else {},
                old_allow=record["allow"],
                new_allow=allow,
                old_reasons=old_reasons,
                new_reasons=reasons,
            )
        )
    return report


# --- where recorded decisions come from ---------------------------------------------------------


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a `pdp decisions export` file; a line that is not a JSON object yields {}."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ReplaySourceError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = {}
            yield record if isinstance(record, dict) else {}


def store_records(store: DecisionLogStore, query: DecisionQuery) -> Iterator[dict[str, Any]]:
    for record in store.iter_all(query):
        yield record.to_json()


def fetch_records(
    url: str,
    token: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: str | None = None,
    page_size: int = PAGE_SIZE,
    client: httpx.Client | None = None,
) -> Iterator[dict[str, Any]]:
    """Every record a running PDP's `GET /admin/v1/decisions` returns, page by page."""
    params: dict[str, Any] = {"limit": page_size}
    if since is not None:
        params["since"] = since.isoformat()
    if until is not None:
        params["until"] = until.isoformat()
    if subject is not None:
        params["subject_id"] = subject
    http = client or httpx.Client(timeout=30.0)
    endpoint = url.rstrip("/") + "/admin/v1/decisions"
    try:
        while True:
            try:
                response = http.get(
                    endpoint, params=params, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                raise ReplaySourceError(f"cannot reach {url}: {exc}") from None
            if response.status_code != 200:
                raise ReplaySourceError(
                    f"{endpoint} answered {response.status_code}: {_message(response)}"
                )
            page = response.json()
            yield from page.get("items", [])
            next_token = page.get("next_page_token")
            if not next_token:
                return
            params["page_token"] = next_token
    finally:
        if client is None:
            http.close()


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:200]

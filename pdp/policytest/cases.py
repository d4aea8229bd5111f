"""Decision tables: `*.cases.yaml|json` files run through the decision service `/decide` uses.

A case file holds requests in the `/decide` shape and the decision each must get. Every file
gets its own temporary store: its `directory:` file is imported there (or, without one, a
directory is made from the subjects the cases spell out), and each request goes through
`DecisionService.decide` with that store's PIP, so what passes here is what the PDP decides.
The policy is the served artifact itself; the inputs the cases built are then handed to the
engine's guard, which refuses the file when the artifact answers any of them otherwise than
the in-memory build (an engine defect no expectation should be written around).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pdp.authn import Principal
from pdp.decision import DecisionRequest, SubjectUnresolved
from pdp.directory.document import import_document, load_document
from pdp.directory.schemas import Attributes, Identifier, Roles, TenantId
from pdp.engine import CompileError
from pdp.errors import PDPError
from pdp.policy import ActivePolicy
from pdp.policytest.results import Outcome
from pdp.services import Services
from pdp.settings import Settings

CASE_SUFFIXES = (".cases.yaml", ".cases.yml", ".cases.json")
# Deny reasons that mean the policy produced no decision at all: a case errors on them unless
# it expects that very reason.
NO_DECISION = frozenset({"engine_error", "policy_undefined", "invalid_policy_output", "no_bundle"})


class CaseFileError(Exception):
    """A case file (or one case in it) cannot be run; the message names the place."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expectation(_Model):
    allow: bool
    # Each listed reason must be among the decision's reasons; others may be there too.
    reasons: list[str] | None = None


class Case(_Model):
    name: str = Field(min_length=1, max_length=500)
    request: dict[str, Any]
    expect: Expectation


class CaseFile(_Model):
    directory: str | None = None
    cases: list[Case] = Field(min_length=1)


class _Roles(_Model):
    id: Identifier
    roles: Roles = Field(default_factory=list)


class InlineSubject(_Model):
    """The subject of a case file without `directory:`: the policy input's subject shape."""

    id: Identifier
    type: Literal["user", "client"] = "user"
    tenant_id: TenantId
    roles: Roles = Field(default_factory=list)
    groups: list[_Roles] = Field(default_factory=list)
    company: _Roles | None = None
    attributes: Attributes = Field(default_factory=dict)

    @field_validator("groups")
    @classmethod
    def _groups_by_id(cls, groups: list[_Roles]) -> list[_Roles]:
        return sorted(groups, key=lambda g: g.id)


@dataclass(frozen=True)
class PreparedCase:
    """A case ready to decide: the parsed request and the time it is decided at."""

    name: str
    request: DecisionRequest
    moment: datetime | None
    expect: Expectation


def _where(exc: ValidationError, prefix: str) -> str:
    """The first validation error as `cases[0].request.resource.tenant_id: message`."""
    first = exc.errors()[0]
    location = prefix + "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
    )
    message = first["msg"].removeprefix("Value error, ")
    return f"{location.lstrip('.')}: {message}"


def _syntax(exc: Exception, kind: str) -> str:
    """A one-line parse error with its position."""
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
    return f"not valid {kind}: {getattr(exc, 'problem', None) or 'syntax error'}{where}"


def read_case_file(path: Path) -> CaseFile:
    """Parse and validate the file's outer shape (cases are validated one by one later)."""
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(f"cannot read the file: {exc}") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise CaseFileError(_syntax(exc, path.suffix[1:].upper())) from None
    # The cases are checked one at a time, so a bad case errors alone; only the outer shape here.
    try:
        return CaseFile.model_validate(raw)
    except ValidationError as exc:
        raise CaseFileError(_where(exc, "")) from None


def _time_of(context: dict[str, Any], where: str) -> datetime | None:
    raw = context.pop("time", None)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise CaseFileError(
            f"{where}.request.context.time: not an RFC 3339 time: {raw!r}"
        ) from None
    if moment.tzinfo is None:
        raise CaseFileError(f"{where}.request.context.time: needs a zone (e.g. Z): {raw!r}")
    return moment


def prepare_case(
    case: Case, index: int, *, inline: bool
) -> tuple[PreparedCase, InlineSubject | None]:
    """Validate one case's request; with `inline`, its subject is the input's subject shape."""
    where = f"cases[{index}]"
    body = dict(case.request)
    if not isinstance(body.get("context", {}), dict):
        raise CaseFileError(f"{where}.request.context: must be an object")
    context = dict(body.get("context") or {})
    moment = _time_of(context, where)
    body["context"] = context
    subject: InlineSubject | None = None
    if inline:
        try:
            subject = InlineSubject.model_validate(body.get("subject"))
        except ValidationError as exc:
            raise CaseFileError(_where(exc, f"{where}.request.subject")) from None
        body["subject"] = {"id": subject.id, "tenant_id": subject.tenant_id}
    elif isinstance(body.get("subject"), dict) and "token" in body["subject"]:
        raise CaseFileError(
            f"{where}.request.subject: a case asserts the subject by id; tokens cannot be verified here"
        )
    try:
        request = DecisionRequest.model_validate(body)
    except ValidationError as exc:
        raise CaseFileError(_where(exc, f"{where}.request")) from None
    return PreparedCase(case.name, request, moment, case.expect), subject


class _InlineDirectory:
    """The directory document the inline subjects of one case file describe.

    The cases of a file share one store, so a subject id (and a group or company id in a
    tenant) must mean the same thing in every case that names it.
    """

    def __init__(self) -> None:
        self._tenants: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self._first: dict[tuple[str, str, str], tuple[dict[str, Any], str]] = {}

    def _define(self, kind: str, tenant_id: str, spec: dict[str, Any], case: str) -> None:
        """Remember `spec` as the definition of `kind` `spec["id"]`; refuse a different one."""
        key = (kind, tenant_id if kind != "subject" else "", spec["id"])
        first = self._first.setdefault(key, (spec, case))
        if first[0] != spec:
            raise CaseFileError(
                f"{kind} {spec['id']!r} differs from its definition in case {first[1]!r};"
                " the cases of one file share one directory, so give it another id"
            )

    def add(self, subject: InlineSubject, case: str) -> None:
        tid = subject.tenant_id
        self._define("subject", tid, subject.model_dump(), case)
        tenant = self._tenants.setdefault(
            tid, {"companies": {}, "groups": {}, "users": {}, "clients": {}}
        )
        entry: dict[str, Any] = {
            "id": subject.id,
            "roles": subject.roles,
            "attributes": subject.attributes,
        }
        if subject.company is not None:
            if subject.type == "client":
                raise CaseFileError(f"client {subject.id!r}: clients belong to no company")
            company = subject.company.model_dump()
            self._define("company", tid, company, case)
            tenant["companies"][company["id"]] = company
            entry["company"] = company["id"]
        tenant["users" if subject.type == "user" else "clients"][subject.id] = entry
        for group in subject.groups:
            self._define("group", tid, group.model_dump(), case)
            spec = tenant["groups"].setdefault(group.id, {**group.model_dump(), "members": []})
            if subject.id not in spec["members"]:
                spec["members"].append(subject.id)

    def document(self) -> dict[str, Any]:
        return {
            "tenants": [
                {
                    "id": tid,
                    "name": f"tenant {tid}",
                    **{name: list(section.values()) for name, section in sections.items()},
                }
                for tid, sections in self._tenants.items()
            ]
        }


@contextmanager
def decision_services(
    entrypoint: str, policy: ActivePolicy | None, directory: dict[str, Any]
) -> Iterator[Services]:
    """A PDP's services on a throwaway SQLite store holding `directory`, serving `policy`
    (None: only the PIP is used)."""
    with tempfile.TemporaryDirectory(prefix="pdp-cases-") as workdir:
        settings = Settings(
            database_url=f"sqlite:///{Path(workdir, 'cases.db')}",
            require_pep_auth=False,
            decision_entrypoint=entrypoint,
        )
        services = Services.build(settings)
        try:
            import_document(services.directory, directory)
            services.snapshot.invalidate()
            if policy is not None:
                services.policy.activate(policy)
            yield services
        finally:
            services.close()
            services.directory.close()


def verdict(case: PreparedCase, allow: bool, reasons: Sequence[str]) -> tuple[str, str | None]:
    """`passed`, `failed` or `errored` (no decision at all), and what differed."""
    expected = case.expect
    wanted = expected.reasons or []
    got = f"got allow={json.dumps(allow)}, reasons {json.dumps(list(reasons))}"
    broken = [r for r in reasons if r in NO_DECISION and r not in wanted]
    if broken:
        return "errored", f"the policy produced no decision ({', '.join(broken)}); {got}"
    missing = [r for r in wanted if r not in reasons]
    if allow == expected.allow and not missing:
        return "passed", None
    want = f"expected allow={json.dumps(expected.allow)}"
    if wanted:
        want += f", reasons including {json.dumps(wanted)}"
    return "failed", f"{want}; {got}"


def _policy_input(
    services: Services, policy: ActivePolicy | None, case: PreparedCase, moment: datetime
) -> dict[str, Any] | None:
    """The input `/decide` builds for `case` at `moment`; None when its subject does not resolve."""
    try:
        facts, claims = services.decisions.resolve_subject(case.request.subject)
    except SubjectUnresolved:
        return None
    return services.decisions.build_input(facts, claims, case.request, moment, policy)


def inline_case_input(case: Case, entrypoint: str) -> tuple[PreparedCase, dict[str, Any]]:
    """A case whose request spells out its subject, and the input `/decide` builds for it
    through the PIP, without a policy (so without named networks, which are bundle data)."""
    ready, subject = prepare_case(case, 0, inline=True)
    directory = _InlineDirectory()
    directory.add(subject, case.name)  # type: ignore[arg-type]
    with decision_services(entrypoint, None, directory.document()) as services:
        built = _policy_input(services, None, ready, ready.moment or datetime.now(UTC))
    assert built is not None, "an inline subject is always in its own directory"
    return ready, built


def _guard(
    services: Services, policy: ActivePolicy, inputs: Sequence[tuple[str, dict[str, Any]]]
) -> str | None:
    """Why the served artifact is refused on the cases' own inputs, if it is."""
    try:
        services.policy.compile(policy.compiled.source, compare_inputs=inputs)
    except CompileError as exc:
        return f"the policy set was refused: {exc}"
    return None


def run_case_file(
    path: Path,
    display: str,
    policy: ActivePolicy,
    entrypoint: str,
    selected: Callable[[str], bool],
) -> list[Outcome]:
    """Every selected case of one file; a file that cannot run is one errored outcome.

    `selected(outcome_id)` says whether `--run` picked a case.
    """

    def file_error(message: str) -> list[Outcome]:
        return [Outcome("file", display, display, "load", "errored", message=message)]

    try:
        case_file = read_case_file(path)
    except CaseFileError as exc:
        return file_error(str(exc))
    inline = case_file.directory is None
    prepared: list[tuple[int, PreparedCase | None, str | None]] = []
    inline_directory = _InlineDirectory()
    for index, case in enumerate(case_file.cases):
        if not selected(f"{display}::{case.name}"):
            continue
        try:
            ready, subject = prepare_case(case, index, inline=inline)
            if subject is not None:
                inline_directory.add(subject, case.name)
            prepared.append((index, ready, None))
        except CaseFileError as exc:
            prepared.append((index, None, str(exc)))
    if not prepared:
        return []
    try:
        if inline:
            directory = inline_directory.document()
        else:
            directory = load_document(path.parent / str(case_file.directory))
    except PDPError as exc:
        return file_error(f"directory: {exc.message}")
    outcomes: list[Outcome] = []
    inputs: list[tuple[str, dict[str, Any]]] = []
    try:
        with decision_services(entrypoint, policy, directory) as services:
            for index, ready, problem in prepared:
                name = ready.name if ready else case_file.cases[index].name
                if ready is None:
                    outcomes.append(
                        Outcome("case", display, display, name, "errored", message=problem)
                    )
                    continue
                started = time.perf_counter()
                moment = ready.moment or datetime.now(UTC)
                decision = services.decisions.decide(
                    ready.request, Principal.anonymous(), endpoint="test", now=moment
                )
                status, message = verdict(ready, decision.allow, decision.reasons)
                elapsed = time.perf_counter() - started
                outcomes.append(Outcome("case", display, display, name, status, elapsed, message))  # type: ignore[arg-type]
                policy_input = _policy_input(services, policy, ready, moment)
                if policy_input is not None:
                    inputs.append((f"the input of case {name!r}", policy_input))
            refusal = _guard(services, policy, inputs) if inputs else None
            if refusal is not None:
                outcomes.extend(file_error(refusal))
    except PDPError as exc:
        where = f" at {exc.field}" if exc.field else ""
        return file_error(f"directory{where}: {exc.message}")
    return outcomes

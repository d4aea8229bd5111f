"""`pdp eval`: evaluate a policy locally, as `opa eval` does, or a `/decide` request."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pdp.cli.common import CommandError, emit

FORMATS = ("json", "pretty", "raw")
# A plain reference into `data`: `.name`, `["key"]` or `[index]` segments.
_SEGMENT = re.compile(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\]|\[(\d+)\]')


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a document of a policy (as opa eval) or decide a /decide request",
        description="Evaluate QUERY, a reference into data such as data.authz.decision, "
        "data.roles.viewer or data.authz, on the policy of every -d PATH and the --input "
        "document, as `opa eval` does. With --request, decide a /decide body through the "
        "PDP's own decision path (PIP included) against --directory.",
    )
    parser.add_argument(
        "query", nargs="?", help="reference to evaluate (default: the decision entrypoint)"
    )
    parser.add_argument(
        "-d",
        "--data",
        "-b",
        "--bundle",
        dest="sources",
        action="append",
        type=Path,
        metavar="PATH",
        help="policy directory, bundle .tar.gz, .rego or JSON/YAML data file; repeatable "
        "(default: policies)",
    )
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "-i", "--input", help="policy input document, JSON or YAML file ('-' = stdin)"
    )
    given.add_argument("--request", help="a /decide request body, JSON or YAML ('-' = stdin)")
    parser.add_argument("--directory", type=Path, help="directory file for --request")
    parser.add_argument(
        "--time", help="decision time for --request (RFC 3339; default now), as a test would set it"
    )
    parser.add_argument(
        "-f",
        "--format",
        choices=FORMATS,
        help="json: OPA's result set (default); pretty: the value, indented; raw: the value "
        "alone (a string unquoted), nothing when undefined",
    )
    parser.add_argument("--json", action="store_true", help="same as --format json")
    gate = parser.add_mutually_exclusive_group()
    gate.add_argument("--fail", action="store_true", help="exit 1 when the result is undefined")
    gate.add_argument(
        "--fail-defined", action="store_true", help="exit 1 when the result is defined"
    )
    parser.set_defaults(handler=run)


def _document(name: str) -> Any:
    import yaml

    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except OSError as exc:
        raise CommandError(f"{name}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CommandError(f"{name}: not valid JSON or YAML: {exc}".splitlines()[0]) from None


def run(args: argparse.Namespace) -> int:
    from pdp.bundles.loader import BundleFormatError, load_policy_sources
    from pdp.engine import UNDEFINED, CompileError
    from pdp.metrics import Metrics
    from pdp.policy import PolicyRuntime
    from pdp.settings import Settings

    output = "json" if args.json else args.format or "json"
    runtime = PolicyRuntime(Settings.from_env().decision_entrypoint, Metrics())
    if args.request is not None:
        if args.query:
            raise CommandError(
                "a query goes with --input; --request decides the decision entrypoint"
            )
        if output != "json":
            raise CommandError("--request prints the decision as JSON; --format is for a query")
    query = args.query or "data." + runtime.decision_entrypoint.replace("/", ".")
    path = reference(query)
    input_doc = _document(args.input) if args.input is not None else None
    try:
        source = load_policy_sources(args.sources or [Path("policies")], include_tests=False)
        policy = runtime.prepare(source)
    except (BundleFormatError, CompileError) as exc:
        raise CommandError(f"policy refused: {exc}") from None
    if args.request is not None:
        emit(_decide(runtime.decision_entrypoint, policy, args), as_json=True)
        return 0
    value = _evaluate(policy, path, input_doc)
    _print(query, value, output)
    defined = value is not UNDEFINED
    return 1 if (args.fail and not defined) or (args.fail_defined and defined) else 0


def reference(query: str) -> tuple[str, ...]:
    """The path of a plain reference into data (`data.roles["viewer"]` -> ("roles", "viewer")).

    regopy evaluates the rules compiled into a bundle, not ad-hoc queries, so any other query
    (comparisons, calls, several expressions, `input`) is refused."""
    text = query.strip()
    if text.startswith("data"):
        rest = text[len("data") :]
        segments = list(_SEGMENT.finditer(rest))
        if "".join(m.group(0) for m in segments) == rest:
            return tuple(
                m.group(1) or (json.loads(m.group(2)) if m.group(2) else m.group(3))
                for m in segments
            )
    raise CommandError(
        f"{query!r} is not a reference such as data.authz.decision or data.roles.viewer;"
        " only references into data are evaluated here (opa eval takes any query)"
    )


def _evaluate(policy: Any, path: tuple[str, ...], input_doc: Any) -> Any:
    """The document at `path` for `input_doc`, as the Data API answers it (UNDEFINED or a
    value)."""
    from pdp.data_api import document
    from pdp.engine import EvaluationError

    try:
        return document(policy, path, input_doc)
    except EvaluationError as exc:
        raise CommandError(f"evaluation failed ({exc.reason}): {exc}".replace("\n", " ")) from None


def _print(query: str, value: Any, output: str) -> None:
    """OPA's output shapes: a result set for json, `{}` when undefined."""
    from pdp.engine import UNDEFINED

    if output == "json":
        expression = {"value": value, "text": query, "location": {"row": 1, "col": 1}}
        emit(
            {} if value is UNDEFINED else {"result": [{"expressions": [expression]}]}, as_json=True
        )
    elif value is UNDEFINED:
        if output == "pretty":
            print("undefined")
    elif output == "raw" and isinstance(value, str):
        print(value)
    else:
        indent = 2 if output == "pretty" else None
        separators = None if indent else (",", ":")
        print(json.dumps(value, indent=indent, separators=separators, sort_keys=True))


def _decide(entrypoint: str, policy: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The decision and the input the PDP built for it."""
    from datetime import datetime

    from pydantic import ValidationError

    from pdp.authn import Principal
    from pdp.decision import DecisionRequest
    from pdp.directory.document import load_document
    from pdp.policytest.cases import decision_services

    try:
        request = DecisionRequest.model_validate(_document(args.request))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        raise CommandError(f"--request {where}: {first['msg']}") from None
    if request.subject.token is not None:
        raise CommandError("--request must name the subject by id; tokens are not verified here")
    try:
        moment = datetime.fromisoformat(args.time) if args.time else None
    except ValueError:
        raise CommandError(f"--time is not an RFC 3339 time: {args.time!r}") from None
    if moment is not None and moment.tzinfo is None:
        raise CommandError(f"--time needs a zone (e.g. Z): {args.time!r}")
    directory = load_document(args.directory) if args.directory else {"tenants": []}
    with decision_services(entrypoint, policy, directory) as services:
        decision = services.decisions.decide(request, Principal.anonymous(), now=moment)
        services.decision_log.flush()
        record = services.decision_log.store.get(decision.decision_id)
    return {**decision.to_json(), "input": record.input if record else None}

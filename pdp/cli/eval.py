"""`pdp eval`: evaluate a policy locally, on a raw input or on a `/decide` request."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pdp.cli.common import CommandError, emit


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a policy on an input document or a /decide request",
        description="With --input, evaluate QUERY (a rule path such as data.authz.decision) on "
        "that policy input, as `opa eval` does. With --request, decide a /decide body through "
        "the PDP's own decision path (PIP included) against --directory.",
    )
    parser.add_argument(
        "query", nargs="?", help="rule to evaluate (default: the decision entrypoint)"
    )
    parser.add_argument(
        "--bundle", type=Path, default=Path("policies"), help="policy directory or .tar.gz"
    )
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--input", help="policy input document, JSON or YAML file ('-' = stdin)")
    given.add_argument("--request", help="a /decide request body, JSON or YAML ('-' = stdin)")
    parser.add_argument("--directory", type=Path, help="directory file for --request")
    parser.add_argument(
        "--time", help="decision time for --request (RFC 3339; default now), as a test would set it"
    )
    parser.add_argument("--json", action="store_true", help="print JSON (the default output)")
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
    from pdp.bundles.loader import load_policy_source
    from pdp.metrics import Metrics
    from pdp.policy import PolicyRuntime
    from pdp.settings import Settings

    entrypoint = Settings.from_env().decision_entrypoint
    runtime = PolicyRuntime(entrypoint, Metrics())
    policy = runtime.prepare(load_policy_source(args.bundle, include_tests=False))
    if args.input is not None:
        emit(_evaluate(policy, args.query or entrypoint, _document(args.input)), as_json=True)
        return 0
    if args.query:
        raise CommandError("a query goes with --input; --request decides the decision entrypoint")
    emit(_decide(runtime.decision_entrypoint, policy, args), as_json=True)
    return 0


def _evaluate(policy: Any, query: str, document: Any) -> dict[str, Any]:
    """OPA's shape: `{"result": value}`, or `{}` when the document is undefined."""
    from pdp.engine import UNDEFINED, EvaluationError, entrypoint_path

    if not isinstance(document, dict):
        raise CommandError("--input must hold a JSON/YAML object")
    try:
        path = entrypoint_path(query)
    except ValueError:
        raise CommandError(f"{query!r} is not a rule path like data.authz.decision") from None
    try:
        value = policy.evaluator.evaluate(path, document)
    except EvaluationError as exc:
        raise CommandError(f"evaluation failed ({exc.reason}): {exc}") from None
    return {} if value is UNDEFINED else {"result": value}


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

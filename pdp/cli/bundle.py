"""`pdp bundle build|verify|inspect` (files) and `push|list|activate|rollback` (a PDP's admin API)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pdp.cli.common import CommandError, emit

DEFAULT_URL = "http://127.0.0.1:8181"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bundle", help="build, sign, inspect and publish bundles")
    commands = parser.add_subparsers(dest="bundle_command", required=True)

    build = commands.add_parser("build", help="pack a policy directory into an OPA bundle")
    build.add_argument("directory", type=Path, help="policy directory (.rego, data.json/yaml)")
    build.add_argument("-o", "--output", type=Path, required=True, help="bundle file to write")
    build.add_argument("--revision", help="manifest revision (default: git commit, else time)")
    build.add_argument(
        "--root",
        action="append",
        dest="roots",
        help="manifest root, repeatable (default: the top-level packages and data keys)",
    )
    build.add_argument("--include-tests", action="store_true", help="also pack *_test.rego")
    build.add_argument("--signing-key", type=Path, help="PEM private key to sign the bundle with")
    build.add_argument("--key-id", help="key id verifiers know the key by (with --signing-key)")
    build.add_argument("--signing-alg", choices=["RS256", "ES256"], default="RS256")
    build.add_argument("--json", action="store_true", help="print the bundle's description")
    build.set_defaults(handler=run_build)

    verify = commands.add_parser("verify", help="check a bundle's signature with a public key")
    verify.add_argument("file", type=Path, help="bundle .tar.gz")
    verify.add_argument("--public-key", type=Path, required=True, help="PEM public key")
    verify.add_argument("--key-id", help="the key's id (default: the id the signature names)")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=run_verify)

    inspect = commands.add_parser("inspect", help="show a bundle's manifest, files, entrypoints")
    inspect.add_argument("file", type=Path, help="bundle .tar.gz")
    inspect.add_argument("--json", action="store_true", help="print the description as JSON")
    inspect.set_defaults(handler=run_inspect)

    push = _remote(commands, "push", "publish a bundle file to a PDP")
    push.add_argument("file", type=Path, help="bundle .tar.gz")
    push.set_defaults(handler=run_push)

    listing = _remote(commands, "list", "list the published bundles, newest first")
    listing.add_argument("--limit", type=int, help="at most this many (server default 100)")
    listing.add_argument("--page-token", help="continue a previous listing")
    listing.set_defaults(handler=run_list)

    activate = _remote(commands, "activate", "make a published revision the active one")
    activate.add_argument("revision", help="the revision to serve")
    activate.set_defaults(handler=run_activate)

    rollback = _remote(commands, "rollback", "activate the revision active before this one")
    rollback.set_defaults(handler=run_rollback)

    publish = commands.add_parser(
        "publish",
        help="validate and store a bundle straight into a PDP store (no server needed)",
        description="Validate a bundle exactly as POST /admin/v1/bundles does and store it in "
        "the database every replica follows; for bootstrapping a deployment.",
    )
    publish.add_argument("file", type=Path, help="the bundle .tar.gz")
    publish.add_argument("--name", default="main", help="bundle name (default main)")
    publish.add_argument(
        "--activate",
        choices=["always", "if-none", "never"],
        default="never",
        help="activate it: always, only when the name has no active revision yet, or never",
    )
    publish.add_argument("--database-url", help="store URL (env PDP_DATABASE_URL)")
    publish.add_argument("--json", action="store_true", help="print the bundle record as JSON")
    publish.set_defaults(handler=run_publish)


def _remote(commands: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=text, description=text)
    parser.add_argument(
        "--url",
        default=os.environ.get("PDP_URL", DEFAULT_URL),
        help=f"the PDP's base URL (env PDP_URL, default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("PDP_ADMIN_TOKEN"),
        help="bearer token with scope pdp/admin (env PDP_ADMIN_TOKEN)",
    )
    parser.add_argument("--name", default="main", help="bundle name (default main)")
    parser.add_argument("--json", action="store_true", help="print the server's JSON")
    return parser


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror or exc}") from None


# --- files ------------------------------------------------------------------------------------


def run_build(args: argparse.Namespace) -> int:
    from pdp.bundles import BundleFormatError
    from pdp.bundles.build import SigningKey, build_bundle
    from pdp.bundles.inspect import inspect_bundle

    if (args.signing_key is None) != (args.key_id is None):
        raise CommandError("--signing-key and --key-id go together")
    signing = None
    if args.signing_key is not None:
        signing = SigningKey(_read(args.signing_key), args.key_id, args.signing_alg)
    try:
        data = build_bundle(
            args.directory,
            revision=args.revision,
            roots=tuple(args.roots) if args.roots else None,
            include_tests=args.include_tests,
            signing=signing,
        )
    except BundleFormatError as exc:
        raise CommandError(f"{args.directory}: {exc}") from None
    except ValueError as exc:  # the signing key does not fit
        raise CommandError(f"{args.signing_key}: {exc}") from None
    try:
        args.output.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"{args.output}: {exc.strerror or exc}") from None
    report = inspect_bundle(data)
    signed = f", signed by {args.key_id} ({args.signing_alg})" if signing else ""
    human = (
        f"built {args.output}: revision {report['revision']}, {len(report['files'])} files, "
        f"roots {report['roots']}{signed}, {report['digest']}"
    )
    emit(report, as_json=args.json, human=human)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from pdp.bundles import BundleFormatError, SignatureError, read_archive, verify_files
    from pdp.bundles.signing import load_public_key

    pem = _read(args.public_key)
    try:
        load_public_key(pem)
    except ValueError as exc:
        raise CommandError(f"{args.public_key}: {exc}") from None
    try:
        files = read_archive(_read(args.file))
        key_id = args.key_id or verify_files(files, {}).key_id or ""
        status = verify_files(files, {key_id: pem.decode()})
    except BundleFormatError as exc:
        raise CommandError(f"{args.file.name}: {exc}") from None
    except SignatureError as exc:
        raise CommandError(f"{args.file.name}: {exc.reason}: {exc}") from None
    count = sum(1 for name in files if name != ".signatures.json")
    result = {**status.to_dict(), "files": count}
    emit(result, as_json=args.json, human=f"verified {args.file}: {count} files, key {key_id}")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    from pdp.bundles import BundleFormatError
    from pdp.bundles.inspect import inspect_bundle

    try:
        report = inspect_bundle(_read(args.file))
    except BundleFormatError as exc:
        raise CommandError(f"{args.file.name}: {exc}") from None
    emit(report, as_json=args.json, human=_describe(report))
    return 0


def _describe(report: dict[str, Any]) -> str:
    signature = report["signature"]
    key = f" (key {signature['key_id']})" if signature["key_id"] else ""
    lines = [
        f"revision:    {report['revision']}",
        f"digest:      {report['digest']} ({report['size']} bytes)",
        f"roots:       {', '.join(repr(r) for r in report['roots'])}",
        f"signature:   {signature['status']}{key}",
        f"metadata:    {(report['manifest'] or {}).get('metadata') or {}}",
        "files:",
        *(f"  {f['hash'][:16]}  {f['size']:>9}  {f['name']}" for f in report["files"]),
        "entrypoints:",
        *(f"  {entrypoint}" for entrypoint in report["entrypoints"]),
    ]
    return "\n".join(lines)


# --- the PDP's admin API ----------------------------------------------------------------------


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """One admin API request; any failure is a CommandError with the server's message."""
    import httpx

    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    params = {"name": args.name, **kwargs.pop("params", {})}
    try:
        response = httpx.request(
            method,
            args.url.rstrip("/") + path,
            params=params,
            headers={**headers, **kwargs.pop("headers", {})},
            timeout=120.0,
            **kwargs,
        )
    except httpx.HTTPError as exc:
        raise CommandError(f"cannot reach {args.url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        error = body if isinstance(body, dict) else {}
        message = error.get("message") or response.text.strip()[:200] or response.reason_phrase
        field = f" (field {error['field']})" if error.get("field") else ""
        code = error.get("error") or response.reason_phrase
        raise CommandError(f"HTTP {response.status_code} {code}: {message}{field}")
    if body is None:
        raise CommandError(f"{args.url} answered {response.status_code} without JSON")
    return body


def _summary(record: dict[str, Any]) -> str:
    signature = record.get("signature") or {}
    key = f" by key {signature['key_id']}" if signature.get("key_id") else ""
    state = "active" if record.get("active") else "inactive"
    return (
        f"{record.get('name')} {record.get('revision')} {record.get('digest')} "
        f"[{state}, signature {signature.get('status')}{key}]"
    )


def run_push(args: argparse.Namespace) -> int:
    record = _call(
        args,
        "POST",
        "/admin/v1/bundles",
        content=_read(args.file),
        headers={"Content-Type": "application/gzip"},
    )
    emit(record, as_json=args.json, human=_published(record))
    return 0


def _published(record: dict[str, Any]) -> str:
    """Say whether a push stored anything: the same bytes again store nothing."""
    if record.get("stored") is False:
        return f"already published as revision {record.get('revision')}, nothing stored: " + (
            _summary(record)
        )
    return f"published {_summary(record)}"


def _activated(verb: str, record: dict[str, Any]) -> str:
    """`verb` only when this replica serves the revision now; else what happened instead."""
    if record.get("warning"):
        return f"stored {_summary(record)}\nwarning: {record['warning']}"
    return f"{verb} {_summary(record)}"


def run_list(args: argparse.Namespace) -> int:
    params = {"limit": args.limit, "page_token": args.page_token}
    page = _call(
        args,
        "GET",
        "/admin/v1/bundles",
        params={k: v for k, v in params.items() if v is not None},
    )
    lines = [_summary(record) for record in page.get("items", [])]
    if page.get("next_page_token"):
        lines.append(f"more: --page-token {page['next_page_token']}")
    emit(page, as_json=args.json, human="\n".join(lines) or f"no bundles named {args.name}")
    return 0


def run_activate(args: argparse.Namespace) -> int:
    path = f"/admin/v1/bundles/{quote(args.revision, safe='')}/activate"
    record = _call(args, "POST", path)
    emit(record, as_json=args.json, human=_activated("activated", record))
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    record = _call(args, "POST", "/admin/v1/bundles/rollback")
    emit(record, as_json=args.json, human=_activated("rolled back to", record))
    return 0


# --- local store --------------------------------------------------------------------------------


def run_publish(args: argparse.Namespace) -> int:
    from pdp.bundles.publish import BundleService
    from pdp.bundles.store import BundleStore
    from pdp.directory.store import DirectoryStore
    from pdp.metrics import Metrics
    from pdp.policy import PolicyRuntime
    from pdp.settings import Settings

    settings = Settings.from_env()
    store = BundleStore(DirectoryStore(args.database_url or settings.database_url).engine)
    service = BundleService(
        store,
        PolicyRuntime(settings.decision_entrypoint, Metrics()),
        verification_keys=settings.bundle_verification_keys,
        max_bytes=settings.bundle_max_bytes,
    )
    published = service.publish(args.name, _read(args.file), published_by="cli")
    record = published.record
    if args.activate == "always" or (
        args.activate == "if-none" and service.active(args.name) is None
    ):
        record = service.activate(args.name, record.revision, "cli")
    body = {**record.to_json(), "stored": published.created}
    emit(body, as_json=args.json, human=_published(body))
    return 0

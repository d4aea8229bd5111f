"""Running a JavaScript client's snippet for a row, through the shared Node harness.

A snippet runs inside `try { ... } catch (error) { done(failure(error)) }`, so a Cognito
error comes back as `{"error": code, "message": ...}` for the row to judge, never as a crash.
"""

from __future__ import annotations

from typing import Any

from tests.support.cognito_js import run_node
from tests.support.matrix.core import Mismatch, verify_pair
from tests.support.matrix.kit import App, Kit, Person

_FAILURE = """
const failure = (error) => ({ error: (error && (error.code || error.name)) || String(error),
                              message: error && error.message });
"""


def run_js(
    prelude: str, body: str, packages: list[str], kit: Kit, app: App, person: Person, **extra: Any
) -> dict[str, Any]:
    """Run `prelude` + `body` with INPUT = the pool, client, endpoint and person (+ extra)."""
    script = f"{_FAILURE}\n{prelude}\ntry {{\n{body}\n}} catch (error) {{ done(failure(error)); }}"
    payload = {
        "pool": kit.pool_id,
        "client": app.id,
        "endpoint": kit.target.url,
        "username": person.username,
        "password": person.password,
        "email": person.email,
        **extra,
    }
    result: dict[str, Any] = run_node(script, payload, packages=packages)
    return result


def succeeded(result: dict[str, Any], what: str) -> dict[str, Any]:
    """The snippet's result, or a Mismatch naming the Cognito error it got."""
    if "error" in result:
        raise Mismatch(f"{what}: {result['error']}: {result.get('message')}")
    return result


def refused(result: dict[str, Any], code: str, what: str) -> None:
    if result.get("error") != code:
        raise Mismatch(f"{what}: expected {code}, got {result}")


def tokens_verify(kit: Kit, app: App, person: Person, result: dict[str, Any]) -> dict[str, Any]:
    """The snippet's tokens (`access`, `id`) verify as Cognito's for this user; the access claims."""
    return verify_pair(
        kit.target, kit.pool_id, result["access"], result["id"], app.id, person.username
    )

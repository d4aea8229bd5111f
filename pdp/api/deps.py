"""FastAPI dependencies shared by every router: the services container and caller auth."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from pdp.authn import Principal
from pdp.errors import Forbidden, Unauthenticated
from pdp.services import Services

DECIDE_SCOPE = "pdp/decide"
ADMIN_SCOPE = "pdp/admin"
# Read-only access to the bundle service (`GET /bundles/{name}`), for OPA agents.
BUNDLES_SCOPE = "pdp/bundles"
# Read-only access to the admin API and the console, for auditors: no write accepts it.
AUDIT_SCOPE = "pdp/audit"
READ_METHODS = frozenset({"GET", "HEAD"})


def services_of(request: Request) -> Services:
    return request.app.state.services


async def get_services(request: Request) -> Services:
    """The dependency form: async, so FastAPI does not hop to a worker thread to read it."""
    return services_of(request)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return value.strip()


def api_key_caller(api_keys: Sequence[tuple[str, str]], presented: str) -> Principal | None:
    """The PEP whose configured API key is `presented`, allowed to decide only; else None.

    Every configured digest is compared, in constant time, so timing reveals nothing.
    """
    digest = hashlib.sha256(presented.encode()).hexdigest()
    matched = None
    for key_id, expected in api_keys:
        if hmac.compare_digest(digest, expected):
            matched = key_id
    if matched is None:
        return None
    return Principal(client_id=matched, subject=None, scopes=frozenset({DECIDE_SCOPE}), issuer=None)


async def authorize(services: Services, token: str | None, scopes: Sequence[str]) -> Principal:
    """The caller that presented `token` (an API key or an access token), if it holds one of
    `scopes`; the one check behind every authenticated endpoint, the console's included."""
    if token is None:
        if not services.settings.require_pep_auth:
            return Principal.anonymous()
        raise Unauthenticated("a bearer token is required")
    principal = api_key_caller(services.settings.api_keys, token)
    if principal is None:
        authenticator = services.authenticator
        claims = authenticator.verify_cached(token)
        if claims is None:
            # A first sight may fetch the issuer's JWKS: keep that off the event loop.
            claims = await run_in_threadpool(authenticator.verify, token)
        principal = authenticator.caller_from_claims(claims)
    if principal.scopes.isdisjoint(scopes):
        raise Forbidden(f"the token lacks scope {' or '.join(scopes)}")
    return principal


def require_scope(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that authenticates the caller (the PEP or admin) and checks that it holds
    one of `scopes`."""

    async def dependency(request: Request) -> Principal:
        principal = await authorize(services_of(request), _bearer(request), scopes)
        request.state.principal = principal
        return principal

    return dependency


require_decide = require_scope(DECIDE_SCOPE)
require_bundle_reader = require_scope(BUNDLES_SCOPE, ADMIN_SCOPE)
# Reading the admin API (decisions, directory, bundles, explanations): admins and auditors.
require_admin_reader = require_scope(ADMIN_SCOPE, AUDIT_SCOPE)
_require_admin_writer = require_scope(ADMIN_SCOPE)


async def require_admin(request: Request) -> Principal:
    """The admin API's check: reads (GET, HEAD) for admins and auditors, every other method
    for admins only, so `pdp/audit` can never change anything."""
    if request.method in READ_METHODS:
        return await require_admin_reader(request)
    return await _require_admin_writer(request)

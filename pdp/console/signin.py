"""Starting and finishing a console sign-in: the hosted login's code flow, or a pasted
access token where no console client is configured. Either way the token must verify as an
access token of a trusted issuer before a session holds it."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool

from pdp.console.oidc import SignInFailed
from pdp.console.sessions import Session
from pdp.console.state import ConsoleState
from pdp.errors import TokenError
from pdp.services import Services


def start(console: ConsoleState, redirect_uri: str) -> tuple[str, str]:
    """A pending session for a hosted sign-in: its id and the authorize URL to go to."""
    if console.sign_in is None:
        raise SignInFailed("no console client is configured: paste an access token instead")
    authorization = console.sign_in.start(redirect_uri)
    session_id, session = console.sessions.create()
    session.verifier, session.state = authorization.verifier, authorization.state
    return session_id, authorization.url


async def finish(
    console: ConsoleState,
    services: Services,
    session_id: str | None,
    session: Session | None,
    code: str,
    state: str,
    redirect_uri: str,
) -> str:
    """Redeem the callback's code for the session that started the sign-in; the new id."""
    if console.sign_in is None:
        raise SignInFailed("no console client is configured")
    if (
        session is None
        or session.state is None
        or session.verifier is None
        or not hmac.compare_digest(session.state.encode(), state.encode())
    ):
        raise SignInFailed("this sign-in was not started here or has expired; sign in again")
    verifier = session.verifier
    session.state = session.verifier = None  # one use only
    token = await run_in_threadpool(console.sign_in.redeem, code, verifier, redirect_uri)
    return await adopt(console, services, session_id, token)


async def adopt(
    console: ConsoleState, services: Services, session_id: str | None, token: str
) -> str:
    """Sign the session in with `token` once it verifies as an access token; the new id."""
    try:
        claims = await run_in_threadpool(services.authenticator.verify, token)
        services.authenticator.caller_from_claims(claims)
    except TokenError as exc:
        raise SignInFailed(f"the token was refused: {exc.message}") from None
    name = claims.get("username") or claims.get("client_id")
    new_id, _ = console.sessions.sign_in(
        session_id, token, float(claims["exp"]), str(name) if name else None
    )
    return new_id

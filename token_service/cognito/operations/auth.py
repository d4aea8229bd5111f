"""Sign-in and the signed-in user's own operations: InitiateAuth and its challenges.

`AUTH_FLOWS` and `CHALLENGES` map Cognito's AuthFlow and ChallengeName values to their
handlers; other modules add theirs, and the package joins them into the four sign-in
operations (`InitiateAuth`, `AdminInitiateAuth` and both RespondToAuthChallenge), which
record every flow's and every answer's event (`SignInEvents.observe`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from token_service import events
from token_service.admin import user_attributes
from token_service.cognito.operations.base import (
    FlowHandler,
    Operation,
    Params,
    Result,
    dict_param,
    opt_str,
    req_str,
)
from token_service.cognito.operations.shapes import auth_shape, user_mfa_shape
from token_service.errors import InvalidParameter
from token_service.events import RequestContext, Subject
from token_service.issue import token_hash
from token_service.refresh import refresh_tokens
from token_service.services import Services


def _password(services: Services, params: Params, pool_id: str | None) -> Result:
    auth = dict_param(params, "AuthParameters")
    result = services.issuer.password_auth(
        req_str(params, "ClientId"),
        str(auth.get("USERNAME", "")),
        str(auth.get("PASSWORD", "")),
        secret_hash_value=auth.get("SECRET_HASH"),
        pool_id=pool_id,
        admin=pool_id is not None,
    )
    return auth_shape(result)


def _refresh(services: Services, params: Params, pool_id: str | None) -> Result:
    auth = dict_param(params, "AuthParameters")
    tokens = refresh_tokens(
        services.issuer,
        req_str(params, "ClientId"),
        str(auth.get("REFRESH_TOKEN", "")),
        channel="initiate_auth",
        secret_hash_value=auth.get("SECRET_HASH"),
        username=auth.get("USERNAME"),
        pool_id=pool_id,
    )
    return auth_shape(tokens)


def _new_password(services: Services, params: Params, pool_id: str | None) -> Result:
    responses = dict_param(params, "ChallengeResponses")
    tokens = services.issuer.respond_new_password(
        req_str(params, "ClientId"),
        req_str(params, "Session"),
        str(responses.get("USERNAME", "")),
        str(responses.get("NEW_PASSWORD", "")),
        secret_hash_value=responses.get("SECRET_HASH"),
    )
    return auth_shape(tokens)


# Flows of InitiateAuth (user) and AdminInitiateAuth (admin): name -> (handler, user, admin).
AUTH_FLOWS: dict[str, tuple[FlowHandler, bool, bool]] = {
    "USER_PASSWORD_AUTH": (_password, True, False),
    "ADMIN_USER_PASSWORD_AUTH": (_password, False, True),
    "ADMIN_NO_SRP_AUTH": (_password, False, True),
    "REFRESH_TOKEN_AUTH": (_refresh, True, True),
    "REFRESH_TOKEN": (_refresh, True, True),
}
CHALLENGES: dict[str, FlowHandler] = {"NEW_PASSWORD_REQUIRED": _new_password}


def _subject(params: Params, values_name: str, pool_id: str | None) -> Subject:
    """Who a sign-in step names: ClientId, the pool, USERNAME and a presented REFRESH_TOKEN."""
    values = params.get(values_name)
    values = values if isinstance(values, dict) else {}
    client_id, username = params.get("ClientId"), values.get("USERNAME")
    refresh_token = values.get("REFRESH_TOKEN")
    return Subject(
        client_id=client_id if isinstance(client_id, str) else None,
        pool_id=pool_id,
        username=username if isinstance(username, str) else None,
        refresh_token_hash=token_hash(refresh_token) if isinstance(refresh_token, str) else None,
    )


def _observed(
    services: Services,
    context: RequestContext,
    params: Params,
    step: str,
    subject: Subject,
    run: FlowHandler,
) -> Result:
    """Run a flow's or a challenge's handler, recording the event of its outcome."""
    return services.events.observe(
        context,
        subject,
        events.step_kind(step),
        step,
        lambda: run(services, params, subject.pool_id),
        lambda result: events.step_outcome(step, result.get("ChallengeName")),
    )


def sign_in_operations(
    flows: Mapping[str, tuple[FlowHandler, bool, bool]], challenges: Mapping[str, FlowHandler]
) -> dict[str, Operation]:
    """The four sign-in operations, dispatching on AuthFlow and ChallengeName."""

    def initiate(admin: bool) -> Operation:
        def handler(services: Services, params: Params, context: RequestContext) -> Result:
            pool_id = req_str(params, "UserPoolId") if admin else None
            flow = req_str(params, "AuthFlow")
            entry = flows.get(flow)
            if entry is None or not entry[2 if admin else 1]:
                supported = [name for name, e in flows.items() if e[2 if admin else 1]]
                raise InvalidParameter(
                    f"Unsupported AuthFlow {flow} (supported: {', '.join(supported)})."
                )
            subject = _subject(params, "AuthParameters", pool_id)
            return _observed(services, context, params, flow, subject, entry[0])

        return Operation(handler, admin=admin, contextual=True)

    def respond(admin: bool) -> Operation:
        def handler(services: Services, params: Params, context: RequestContext) -> Result:
            pool_id = req_str(params, "UserPoolId") if admin else None
            name = req_str(params, "ChallengeName")
            challenge = challenges.get(name)
            if challenge is None:
                raise InvalidParameter(f"Unsupported ChallengeName {name}.")
            subject = _subject(params, "ChallengeResponses", pool_id)
            return _observed(services, context, params, name, subject, challenge)

        return Operation(handler, admin=admin, contextual=True)

    return {
        "InitiateAuth": initiate(admin=False),
        "AdminInitiateAuth": initiate(admin=True),
        "RespondToAuthChallenge": respond(admin=False),
        "AdminRespondToAuthChallenge": respond(admin=True),
    }


def get_user(services: Services, params: Params) -> dict[str, Any]:
    user, _ = services.issuer.authenticate(req_str(params, "AccessToken"))
    return {
        "Username": user.username,
        "UserAttributes": user_attributes(user),
        **user_mfa_shape(user),
    }


def global_sign_out(services: Services, params: Params, context: RequestContext) -> dict[str, Any]:
    services.issuer.global_sign_out(req_str(params, "AccessToken"), context)
    return {}


def revoke_token(services: Services, params: Params) -> dict[str, Any]:
    services.issuer.revoke(
        req_str(params, "Token"), req_str(params, "ClientId"), opt_str(params, "ClientSecret")
    )
    return {}


OPERATIONS: dict[str, Operation] = {
    "GetUser": Operation(get_user, admin=False),
    "GlobalSignOut": Operation(global_sign_out, admin=False, contextual=True),
    "RevokeToken": Operation(revoke_token, admin=False),
}

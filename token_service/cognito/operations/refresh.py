"""GetTokensFromRefreshToken: refresh outside InitiateAuth, the way rotation needs (public)."""

from __future__ import annotations

from typing import Any

from token_service.cognito.operations.base import Operation, Params, dict_param, opt_str, req_str
from token_service.cognito.operations.shapes import auth_shape
from token_service.errors import InvalidParameter
from token_service.events import REFRESH, RequestContext, Subject
from token_service.issue import token_hash
from token_service.refresh import refresh_tokens
from token_service.services import Services


def get_tokens_from_refresh_token(
    services: Services, params: Params, context: RequestContext
) -> dict[str, Any]:
    # DeviceKey names a remembered device, which this service does not track; ClientMetadata
    # is for Lambda triggers, which it does not run. Both are checked for type and unused.
    opt_str(params, "DeviceKey")
    metadata = dict_param(params, "ClientMetadata")
    if not all(isinstance(v, str) for v in metadata.values()):
        raise InvalidParameter("ClientMetadata values must be strings.")
    client_id, refresh_token = req_str(params, "ClientId"), req_str(params, "RefreshToken")
    tokens = services.events.observe(
        context,
        Subject(client_id, refresh_token_hash=token_hash(refresh_token)),
        REFRESH,
        "GetTokensFromRefreshToken",
        lambda: refresh_tokens(
            services.issuer,
            client_id,
            refresh_token,
            channel="get_tokens",
            client_secret=opt_str(params, "ClientSecret"),
        ),
        lambda _: None,  # a successful refresh is no event (token_service.events)
    )
    return {"AuthenticationResult": auth_shape(tokens)["AuthenticationResult"]}


OPERATIONS: dict[str, Operation] = {
    "GetTokensFromRefreshToken": Operation(
        get_tokens_from_refresh_token, admin=False, contextual=True
    ),
}

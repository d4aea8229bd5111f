"""What every operation module shares: the handler type and typed parameter readers.

Readers raise Cognito's InvalidParameterException naming the parameter, so a malformed
request never reaches a service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from token_service.errors import InvalidParameter
from token_service.events import RequestContext
from token_service.services import Services

Params = dict[str, Any]
Result = dict[str, Any]
Handler = Callable[[Services, Params], Result]
# Handlers whose events name the caller also get the request's address and user agent.
ContextHandler = Callable[[Services, Params, RequestContext], Result]
# AuthFlow and ChallengeName handlers also get the pool id (set for the Admin* variants).
FlowHandler = Callable[[Services, Params, str | None], Result]


@dataclass(frozen=True)
class Operation:
    handler: Handler | ContextHandler
    # Admin operations need a valid SigV4 signature by the configured admin credentials.
    admin: bool
    # The handler is a ContextHandler.
    contextual: bool = False

    def run(self, services: Services, params: Params, context: RequestContext) -> Result:
        if self.contextual:
            return self.handler(services, params, context)
        return self.handler(services, params)


def req_str(params: Params, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidParameter(
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null"
        )
    return value


def entry_str(values: Params, name: str) -> str:
    """A required entry of a map parameter (AuthParameters, ChallengeResponses), as Cognito checks it."""
    value = values.get(name)
    if value is None or value == "":
        raise InvalidParameter(f"Missing required parameter {name}")
    if not isinstance(value, str):
        raise InvalidParameter(f"{name} must be a string.")
    return value


def opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidParameter(f"{name} must be a string.")
    return value


def opt_int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise InvalidParameter(f"{name} must be an integer.")
    return value


def list_param(params: Params, name: str) -> list[Any]:
    value = params.get(name, [])
    if not isinstance(value, list):
        raise InvalidParameter(f"{name} must be a list.")
    return value


def dict_param(params: Params, name: str) -> dict[str, Any]:
    value = params.get(name, {})
    if not isinstance(value, dict):
        raise InvalidParameter(f"{name} must be a map.")
    return value


def attributes_param(params: Params, name: str) -> dict[str, str]:
    result = {}
    for item in list_param(params, name):
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise InvalidParameter(f"{name} entries need a Name.")
        value = item.get("Value", "")
        if not isinstance(value, str):
            raise InvalidParameter(f"{name}.{item['Name']} must be a string.")
        if item["Name"] == "sub":
            raise InvalidParameter("Attribute sub cannot be set: it is chosen by the service.")
        result[item["Name"]] = value
    return result


def opt_bool(params: Params, name: str) -> bool | None:
    value = params.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidParameter(f"{name} must be a boolean.")
    return value


def str_list(params: Params, name: str) -> list[str]:
    values = list_param(params, name)
    if not all(isinstance(v, str) for v in values):
        raise InvalidParameter(f"{name} must be a list of strings.")
    return values

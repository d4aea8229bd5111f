"""Cognito's operations, one function each: request dict in, response dict out (Cognito's shapes).

Each module holds one area and exports `OPERATIONS`; sign-in modules also export
`AUTH_FLOWS` and `CHALLENGES`, which `auth.sign_in_operations` dispatches on. Admin
operations are only reached after SigV4 verification (see `api.cognito`).
"""

from __future__ import annotations

from token_service.cognito.operations import (
    accounts,
    auth,
    clients,
    events,
    groups,
    identity_providers,
    mfa,
    pools,
    refresh,
    srp,
    users,
)
from token_service.cognito.operations.base import Operation

# Every AuthFlow and ChallengeName the sign-in operations answer (the docs list the same).
AUTH_FLOWS = {**auth.AUTH_FLOWS, **srp.AUTH_FLOWS}
CHALLENGES = {**auth.CHALLENGES, **srp.CHALLENGES, **mfa.CHALLENGES}

OPERATIONS: dict[str, Operation] = {
    **auth.OPERATIONS,
    **pools.OPERATIONS,
    **clients.OPERATIONS,
    **groups.OPERATIONS,
    **refresh.OPERATIONS,
    **users.OPERATIONS,
    **accounts.OPERATIONS,
    **mfa.OPERATIONS,
    **events.OPERATIONS,
    **identity_providers.OPERATIONS,
    **auth.sign_in_operations(AUTH_FLOWS, CHALLENGES),
}

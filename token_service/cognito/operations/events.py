"""AdminListUserAuthEvents: a user's sign-in events (API and hosted login), in Cognito's shape."""

from __future__ import annotations

from typing import Any

from token_service import events
from token_service.admin.paging import check_limit
from token_service.cognito.operations.base import Operation, Params, opt_int, opt_str, req_str
from token_service.cognito.operations.shapes import page_shape
from token_service.services import Services
from token_service.store.models import SignInEvent


def _challenges(event: SignInEvent) -> list[dict[str, str]]:
    """Cognito's ChallengeResponses: which factor passed or failed."""
    if event.kind == events.MFA:
        return [
            {"ChallengeName": "Password", "ChallengeResponse": "Success"},
            {"ChallengeName": "Mfa", "ChallengeResponse": "Failure"},
        ]
    if event.kind == events.CHALLENGE:
        # A step that passed with a challenge to follow; starting SRP checks no factor.
        if event.step == events.SRP_START:
            return []
        return [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    if event.kind != events.SIGN_IN or event.reason in ("session", "partner"):
        return []
    if event.result == events.FAIL:
        return [{"ChallengeName": "Password", "ChallengeResponse": "Failure"}]
    factors = [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    if "mfa" in (event.reason or "").split():
        factors.append({"ChallengeName": "Mfa", "ChallengeResponse": "Success"})
    return factors


def _response(event: SignInEvent) -> str:
    """Pass or Fail; InProgress for a sign-in that is waiting for a challenge's answer."""
    if event.result == events.FAIL:
        return "Fail"
    return "InProgress" if event.kind == events.CHALLENGE else "Pass"


def auth_event_shape(event: SignInEvent) -> dict[str, Any]:
    return {
        "EventId": str(event.id),
        "EventType": "SignIn",
        "CreationDate": event.created_at,
        "EventResponse": _response(event),
        "ChallengeResponses": _challenges(event),
        "EventContextData": {"IpAddress": event.ip, "DeviceName": event.user_agent},
    }


def admin_list_user_auth_events(services: Services, params: Params) -> dict[str, Any]:
    pool_id = req_str(params, "UserPoolId")
    user = services.admin.get_user(pool_id, req_str(params, "Username"))
    limit = check_limit("maxResults", opt_int(params, "MaxResults"), 60, minimum=0)
    page, token = services.events.page(
        pool_id,
        user_sub=user.sub,
        limit=limit,
        token=opt_str(params, "NextToken"),
        sign_ins_only=True,
    )
    return page_shape("AuthEvents", [auth_event_shape(e) for e in page], token)


OPERATIONS: dict[str, Operation] = {
    "AdminListUserAuthEvents": Operation(admin_list_user_auth_events, admin=True),
}

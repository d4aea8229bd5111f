"""The OpenID tokens of the identity issuer, shaped as Cognito Identity shapes them.

`sub` is the identity id, `aud` the identity pool id, `amr` is `["authenticated", <provider>,
<reference>, ...]` for each login of the request (`["unauthenticated"]` for a guest), signed
RS256 with the identity issuer's key; there is no `token_use`, as in Cognito's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from token_service.identity.logins import Login
from token_service.settings import Settings

# The issuer is `<issuer base>/identity`; its JWKS and discovery document are under it.
ISSUER_PATH = "identity"
POOL_ARN_CLAIM = "https://cognito-identity.amazonaws.com/identity-pool-arn"
TAGS_CLAIM = "https://aws.amazon.com/tags"


def issuer(settings: Settings) -> str:
    return settings.issuer(ISSUER_PATH)


def openid_claims(
    settings: Settings,
    *,
    identity_id: str,
    identity_pool_id: str,
    logins: Sequence[Login],
    principal_tags: dict[str, str],
    now: int,
    ttl: int,
) -> dict[str, Any]:
    amr = ["authenticated"] if logins else ["unauthenticated"]
    for login in logins:
        amr += [login.provider, login.reference]
    region = identity_pool_id.split(":", 1)[0]
    claims: dict[str, Any] = {
        "sub": identity_id,
        "aud": identity_pool_id,
        "amr": amr,
        "iss": issuer(settings),
        POOL_ARN_CLAIM: f"arn:aws:cognito-identity:{region}:000000000000:identitypool/{identity_pool_id}",
        "exp": now + ttl,
        "iat": now,
    }
    if principal_tags:
        claims[TAGS_CLAIM] = {"principal_tags": {k: [v] for k, v in principal_tags.items()}}
    return claims

"""Partner users the directory does not list: the identity provider they came from names their company.

A user who signed in at the token service through a partner's identity provider (or whose
partner token was exchanged for ours) has a `sub` the directory has never seen. A company that
declares that provider (`identity_providers: [{issuer, provider}]`) takes such users in from
their first decision: for a verified ID token of `issuer` whose `identities` claim names
`provider`, the subject is a user of the company's tenant with the company's roles (no direct
roles, no groups, no attributes of its own; the policy sees the token's claims). A user
whose providers lead to two different companies is none of them (`unknown_subject`).

Only ID tokens say where a user came from: access tokens carry no `identities` (as in
Cognito), so an unknown `sub` in one stays `unknown_subject`. A username prefix such as
`Entra_...` proves nothing (native users may pick such names) and is never read. A subject
the directory lists is always its own entry, whatever its token says.
"""

from __future__ import annotations

import json
from typing import Any

# Cognito's ID tokens carry `identities` as a JSON array; its user attribute is that array as text.
IDENTITIES_CLAIM = "identities"


def _entries(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return value if isinstance(value, list) else []


def providers_named(claims: dict[str, Any]) -> list[str]:
    """The ProviderNames of a verified ID token's `identities`; none for any other token."""
    if claims.get("token_use") != "id":
        return []
    entries = _entries(claims.get(IDENTITIES_CLAIM))
    names = [entry.get("providerName") for entry in entries if isinstance(entry, dict)]
    return list(dict.fromkeys(name for name in names if isinstance(name, str) and name))

"""The client-compatibility matrix: every row, and the endpoints rows run against.

Rows live in `tests/support/matrix/`, one module per client family. The suite runs each row
against a real `token-service serve` (tests/token_service/test_client_matrix.py); the
benchmark `bench/cognito_compat.py` runs the same rows against moto's `moto_server` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tests.support.matrix import (
    awscli_rows,
    boto3_accounts,
    boto3_auth,
    boto3_groups,
    boto3_mfa,
    boto3_pools,
    boto3_users,
    js_amplify,
    js_identity,
    jwt_rows,
    oauth_rows,
    oidc_rows,
    pycognito_rows,
)
from tests.support.matrix.core import COGNITO_ISSUER_BASE, Mismatch, Row, Target, missing
from tests.token_service.mailbox import Mailbox

__all__ = [
    "ROWS",
    "Mismatch",
    "Outcome",
    "Row",
    "Target",
    "missing",
    "moto_target",
    "ours_target",
    "run_row",
]

ROWS: list[Row] = [
    *boto3_pools.rows.all,
    *boto3_users.rows.all,
    *boto3_groups.rows.all,
    *boto3_auth.rows.all,
    *boto3_accounts.rows.all,
    *boto3_mfa.rows.all,
    *pycognito_rows.rows.all,
    *awscli_rows.rows.all,
    *js_identity.rows.all,
    *js_amplify.rows.all,
    *oauth_rows.authlib_rows.all,
    *oidc_rows.rows.all,
    *oauth_rows.oauthlib_rows.all,
    *jwt_rows.jose_rows.all,
    *jwt_rows.pyjwt_rows.all,
    *jwt_rows.verify_rows.all,
    *jwt_rows.discovery_rows.all,
]
_ids = [row.id for row in ROWS]
assert len(_ids) == len(set(_ids)), "row ids must be unique"

# moto sends nothing and accepts every code that lacks its own "moto-confirmation-code" prefix.
MOTO_ANY_CODE = "123456"


def moto_target(url: str) -> Target:
    """moto's server: any credentials, Cognito's issuer, no messages to read codes from."""
    return Target(
        name="moto",
        url=url,
        access_key="AKIAMOTOTESTING00000",
        secret_key="moto-testing-secret",
        issuer_base=COGNITO_ISSUER_BASE,
        read_code=lambda pool_id, destination: MOTO_ANY_CODE,
    )


def ours_target(url: str, env: Mapping[str, str], mailbox: Mailbox) -> Target:
    """Our server at `url`, started with `env` (its admin credentials) and sending its mail by
    SMTP to `mailbox`, where rows read the codes a person would read in their mail."""
    return Target(
        name="ours",
        url=url,
        access_key=env["TOKEN_SERVICE_ADMIN_ACCESS_KEY_ID"],
        secret_key=env["TOKEN_SERVICE_ADMIN_SECRET_ACCESS_KEY"],
        issuer_base=env.get("TOKEN_SERVICE_ISSUER_BASE", url),
        read_code=lambda pool_id, destination: mailbox.last_code(destination),
    )


@dataclass(frozen=True)
class Outcome:
    """One row's result on one endpoint: passed, failed (with the error), or skipped (why)."""

    row: Row
    status: str
    detail: str = ""


def run_row(row: Row, target: Target) -> Outcome:
    """Run a row; never raises, so a benchmark can go on after a failure."""
    reason = missing(row)
    if reason:
        return Outcome(row, "skip", reason)
    try:
        row.run(target)
    except Exception as error:  # a row's failure is its result, whatever the client raised
        detail = f"{type(error).__name__}: {error}"
        return Outcome(row, "fail", detail.splitlines()[0][:400] if detail else "")
    return Outcome(row, "pass")

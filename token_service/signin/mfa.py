"""Second factors: which challenge, if any, follows a correct first factor.

The only factor offered is an authenticator app (Cognito's SOFTWARE_TOKEN_MFA). A user's
factor is *active* when its secret was verified with a code and the user (or an
administrator) turned it on. The pool decides what follows a correct password:

- `OFF`: nothing; tokens are issued.
- `OPTIONAL`: the SOFTWARE_TOKEN_MFA challenge for users with an active factor.
- `ON`: the SOFTWARE_TOKEN_MFA challenge for users with an active factor, and the
  MFA_SETUP challenge (enrol an authenticator now) for every other user.
"""

from __future__ import annotations

import json

from token_service.core import Core
from token_service.signin.challenges import Challenge, seal_session
from token_service.store.models import Client, Pool, TotpFactor, User
from token_service.store.repositories import Repository

SOFTWARE_TOKEN_MFA = "SOFTWARE_TOKEN_MFA"
MFA_SETUP = "MFA_SETUP"
# The session VerifySoftwareToken hands back during MFA_SETUP: only it answers MFA_SETUP.
MFA_SETUP_VERIFIED = "MFA_SETUP_VERIFIED"
MFA_TYPES = (SOFTWARE_TOKEN_MFA,)
_SECRET_PURPOSE = "totp-secret"


def pool_mfa(pool: Pool) -> str:
    """The pool's MfaConfiguration: OFF (the default of a new pool), OPTIONAL or ON."""
    return pool.mfa_configuration or "OFF"


def factor(repo: Repository, user: User) -> TotpFactor | None:
    """The user's authenticator factor, row-locked so two uses of one code run one by one."""
    return repo.session.get(TotpFactor, user.sub, with_for_update=True, populate_existing=True)


def enabled_types(user: User) -> list[str]:
    return list(user.mfa_enabled or [])


def is_active(user: User, totp: TotpFactor | None) -> bool:
    return totp is not None and totp.verified and SOFTWARE_TOKEN_MFA in enabled_types(user)


def seal_secret(core: Core, user: User, secret: str) -> bytes:
    """Seal a TOTP secret for the store, bound to its user so rows cannot be swapped."""
    return core.sealer.seal(secret.encode(), f"{_SECRET_PURPOSE}:{user.sub}")


def open_secret(core: Core, user: User, totp: TotpFactor) -> str:
    return core.sealer.unseal(totp.secret_sealed, f"{_SECRET_PURPOSE}:{user.sub}").decode()


def second_factor(
    core: Core, repo: Repository, client: Client, user: User, now: float, amr: list[str]
) -> Challenge | None:
    """The MFA challenge the pool and user call for after the first factor, or None."""
    pool = repo.pool(client.pool_id)
    mode = pool_mfa(pool) if pool is not None else "OFF"
    if mode == "OFF":
        return None
    if is_active(user, factor(repo, user)):
        session = seal_session(core.sealer, client, user, SOFTWARE_TOKEN_MFA, now, amr)
        return Challenge(SOFTWARE_TOKEN_MFA, {"USER_ID_FOR_SRP": user.username}, session)
    if mode == "ON":
        session = seal_session(core.sealer, client, user, MFA_SETUP, now, amr)
        parameters = {
            "MFAS_CAN_SETUP": json.dumps(list(MFA_TYPES)),
            "USER_ID_FOR_SRP": user.username,
        }
        return Challenge(MFA_SETUP, parameters, session)
    return None

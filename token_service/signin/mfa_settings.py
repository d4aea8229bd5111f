"""MFA settings: the pool's (SetUserPoolMfaConfig) and each user's (SetUserMFAPreference).

Only authenticator apps are offered. SMS and email codes need a delivery role or an SES
sender this service does not have, so configurations that turn them on are refused with
the errors Cognito gives a pool that lacks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from token_service.admin.base import AdminBase
from token_service.admin.pools import NO_SMS_FACTOR, check_mfa_value, mfa_configuration
from token_service.errors import InvalidParameter, InvalidSmsRoleTrustRelationship
from token_service.issue import Issuer, token_user
from token_service.signin.mfa import SOFTWARE_TOKEN_MFA, enabled_types, factor, pool_mfa
from token_service.store.models import User
from token_service.store.repositories import Repository


@dataclass(frozen=True)
class FactorSetting:
    """One factor's `{Enabled, PreferredMfa}` of SetUserMFAPreference; None = not given."""

    enabled: bool | None = None
    preferred: bool | None = None


class MfaSettings:
    def __init__(self, issuer: Issuer) -> None:
        self.issuer = issuer
        self.core = issuer.core

    # the pool
    def pool_config(self, pool_id: str) -> str:
        with self.core.store.transaction() as repo:
            return pool_mfa(AdminBase.require_pool(repo, pool_id))

    def set_pool_config(
        self,
        pool_id: str,
        mode: str | None,
        software_token: bool,
        sms: dict[str, Any] | None,
        email: dict[str, Any] | None,
    ) -> str:
        """Set MfaConfiguration; omitted factors count as turned off, as in Cognito.

        `mode` None keeps the pool's mode. Returns the mode now in force.
        """
        check_mfa_value(mode)
        with self.core.store.transaction() as repo:
            pool = AdminBase.require_pool(repo, pool_id)
            configured = software_token or sms is not None or email is not None
            new_mode = mfa_configuration(mode or pool_mfa(pool), pool.mfa_configuration, configured)
            if sms is not None:
                _refuse_sms(sms)
            if email is not None:
                raise InvalidParameter(
                    "EmailMfaConfiguration needs an EmailConfiguration with EmailSendingAccount "
                    "DEVELOPER; email MFA is not available in this user pool."
                )
            pool.mfa_configuration = new_mode
            pool.updated_at = self.core.clock()
            return new_mode

    # a user
    def set_user_preference(
        self, access_token: str, software_token: FactorSetting, others: dict[str, FactorSetting]
    ) -> None:
        """SetUserMFAPreference: the access token's user sets their own factors.

        `others` holds the settings of factors not offered here (SMS_MFA, EMAIL_OTP).
        """
        signed_in, _ = self.issuer.authenticate(access_token)
        with self.core.store.transaction() as repo:
            user = token_user(repo, signed_in.sub)
            self._apply(repo, user, software_token, others)

    def admin_set_user_preference(
        self,
        pool_id: str,
        username: str,
        software_token: FactorSetting,
        others: dict[str, FactorSetting],
    ) -> None:
        with self.core.store.transaction() as repo:
            user = AdminBase.require_user(repo, pool_id, username)
            self._apply(repo, user, software_token, others)

    def _apply(
        self,
        repo: Repository,
        user: User,
        setting: FactorSetting,
        others: dict[str, FactorSetting],
    ) -> None:
        for name, other in others.items():
            if other.enabled or other.preferred:
                raise InvalidParameter(f"User does not have delivery config set to turn on {name}")
        enabled = set(enabled_types(user))
        if setting.enabled is True:
            totp = factor(repo, user)
            if totp is None or not totp.verified:
                raise InvalidParameter(
                    "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA"
                )
            enabled.add(SOFTWARE_TOKEN_MFA)
        elif setting.enabled is False:
            enabled.discard(SOFTWARE_TOKEN_MFA)
        if setting.preferred and SOFTWARE_TOKEN_MFA not in enabled:
            raise InvalidParameter(
                "SoftwareTokenMfaSettings.PreferredMfa needs SoftwareTokenMfaSettings.Enabled."
            )
        if setting.preferred:
            user.mfa_preferred = SOFTWARE_TOKEN_MFA
        elif user.mfa_preferred == SOFTWARE_TOKEN_MFA and (
            setting.preferred is False or SOFTWARE_TOKEN_MFA not in enabled
        ):
            user.mfa_preferred = None
        user.mfa_enabled = sorted(enabled)
        user.updated_at = self.core.clock()


def _refuse_sms(sms: dict[str, Any]) -> None:
    configuration = sms.get("SmsConfiguration")
    if isinstance(configuration, dict) and configuration.get("SnsCallerArn"):
        raise InvalidSmsRoleTrustRelationship(
            "Role does not have a trust relationship allowing Cognito to assume the role."
        )
    raise InvalidParameter(NO_SMS_FACTOR)

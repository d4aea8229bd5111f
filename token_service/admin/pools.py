"""User pools: creation with their first signing key, settings, description, listing, deletion.

CreateUserPool and UpdateUserPool take the same `PoolSettings` through the same `_validate`.
An update replaces every setting (what it omits returns to Cognito's default); what only
CreateUserPool sets (custom attributes, username attributes) stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from token_service.admin.base import ALNUM, AdminBase, random_string
from token_service.admin.paging import paginate
from token_service.errors import InvalidParameter
from token_service.passwords import DEFAULT_POLICY
from token_service.store.models import Pool

_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_]{1,20}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
MFA_CONFIGURATIONS = ("OFF", "ON", "OPTIONAL")
# Settings kept in Pool.extra as given, each a JSON object, a string or a map of strings,
# and returned by DescribeUserPool. An update replaces all of them.
EXTRA_SETTINGS = {
    "VerificationMessageTemplate": dict,
    "AccountRecoverySetting": dict,
    "UserPoolTags": dict,
    "EmailConfiguration": dict,
    "SmsConfiguration": dict,
    "DeviceConfiguration": dict,
    "UserAttributeUpdateSettings": dict,
    "UserPoolAddOns": dict,
    "SignInPolicy": dict,
    "AdminCreateUserConfig": dict,
    "EmailVerificationMessage": str,
    "EmailVerificationSubject": str,
    "SmsVerificationMessage": str,
    "SmsAuthenticationMessage": str,
    "UserPoolTier": str,
}
# What DescribeUserPool shows for a setting never given, as Cognito does for a new pool.
EXTRA_DEFAULTS: dict[str, Any] = {
    "VerificationMessageTemplate": {"DefaultEmailOption": "CONFIRM_WITH_CODE"},
    "EmailConfiguration": {"EmailSendingAccount": "COGNITO_DEFAULT"},
    "AdminCreateUserConfig": {"UnusedAccountValidityDays": 7},
    "UserPoolTier": "ESSENTIALS",
}
_RECOVERY_NAMES = ("verified_email", "verified_phone_number", "admin_only")


# Cognito's refusals of an MfaConfiguration that cannot work.
NO_SMS_FACTOR = (
    "SMS configuration and Auto verification for phone_number are required when MFA is "
    "required/optional"
)
NO_FACTOR = (
    "Invalid MFA configuration given, can't disable all MFAs with a required or optional "
    "configuration."
)
OFF_WITH_FACTOR = (
    "Invalid MFA configuration given, can't turn off MFA and configure an MFA together."
)


def check_mfa_value(value: str | None) -> None:
    """Refuse an MfaConfiguration outside Cognito's enum, with its validation message."""
    if value is not None and value not in MFA_CONFIGURATIONS:
        raise InvalidParameter(
            f"1 validation error detected: Value '{value}' at 'mfaConfiguration' failed to "
            f"satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(MFA_CONFIGURATIONS)}]"
        )


def mfa_configuration(mode: str, current: str | None, factor: bool | None = None) -> str:
    """The pool's MfaConfiguration after a call asking for `mode`: the one rule for
    CreateUserPool, UpdateUserPool and SetUserPoolMfaConfig.

    ON and OPTIONAL need a factor turned on, OFF goes without one. SetUserPoolMfaConfig
    names its factors (`factor`: whether it configures any). CreateUserPool and
    UpdateUserPool cannot name the authenticator app (None): it stays on while the pool's
    `current` mode is not OFF (None, a new pool's, is OFF), and a pool without it gets
    Cognito's demand for SMS, the factor those operations configure.
    """
    check_mfa_value(mode)
    if mode == "OFF":
        if factor:
            raise InvalidParameter(OFF_WITH_FACTOR)
        return mode
    if factor is None and (current or "OFF") == "OFF":
        raise InvalidParameter(NO_SMS_FACTOR)
    if factor is False:
        raise InvalidParameter(NO_FACTOR)
    return mode


@dataclass(frozen=True)
class PoolSettings:
    """The settings of a pool that CreateUserPool and UpdateUserPool both take."""

    password_policy: dict[str, Any] | None = None
    mfa_configuration: str | None = None
    auto_verified_attributes: Sequence[str] = ()
    admin_create_only: bool = False
    deletion_protection: str = "INACTIVE"
    # EXTRA_SETTINGS by name, as given.
    extra: dict[str, Any] = field(default_factory=dict)


def _validate(settings: PoolSettings) -> dict[str, Any]:
    """The password policy with defaults; raises Cognito's error for any malformed setting."""
    for attr in settings.auto_verified_attributes:
        if attr not in ("email", "phone_number"):
            raise InvalidParameter(f"AutoVerifiedAttributes: invalid value {attr!r}.")
    if settings.deletion_protection not in ("ACTIVE", "INACTIVE"):
        raise InvalidParameter("DeletionProtection must be ACTIVE or INACTIVE.")
    check_mfa_value(settings.mfa_configuration)
    for name, value in settings.extra.items():
        kind = EXTRA_SETTINGS.get(name)
        if kind is None:
            raise InvalidParameter(f"{name} is not a user pool setting.")
        if not isinstance(value, kind):
            raise InvalidParameter(f"{name} must be a {'map' if kind is dict else 'string'}.")
    tags = settings.extra.get("UserPoolTags", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidParameter("UserPoolTags must map strings to strings.")
    recovery = settings.extra.get("AccountRecoverySetting", {}).get("RecoveryMechanisms", [])
    if not isinstance(recovery, list) or not all(
        isinstance(m, dict)
        and m.get("Name") in _RECOVERY_NAMES
        and type(m.get("Priority")) is int
        and 1 <= m["Priority"] <= 2
        for m in recovery
    ):
        raise InvalidParameter(
            "AccountRecoverySetting.RecoveryMechanisms entries need a Name "
            f"({', '.join(_RECOVERY_NAMES)}) and a Priority of 1 or 2."
        )
    return _password_policy(settings.password_policy or {})


def _apply(pool: Pool, settings: PoolSettings, policy: dict[str, Any], now: float) -> None:
    pool.password_policy = policy
    pool.mfa_configuration = mfa_configuration(
        settings.mfa_configuration or "OFF", pool.mfa_configuration
    )
    pool.auto_verified_attributes = sorted(set(settings.auto_verified_attributes))
    pool.admin_create_only = settings.admin_create_only
    pool.deletion_protection = settings.deletion_protection
    # Keys other services keep in `extra` (not EXTRA_SETTINGS) survive an update.
    kept = {k: v for k, v in (pool.extra or {}).items() if k not in EXTRA_SETTINGS}
    pool.extra = {**kept, **settings.extra}
    pool.updated_at = now


class PoolAdmin(AdminBase):
    def create_pool(
        self,
        name: str,
        *,
        region: str | None = None,
        custom_attributes: Sequence[str] = (),
        pool_id: str | None = None,
        username_attributes: Sequence[str] = (),
        settings: PoolSettings | None = None,
        **fields: Any,
    ) -> Pool:
        """A pool with `settings` (or `PoolSettings(**fields)`) and its first signing key.

        Custom attribute names are given without `custom:`. `pool_id` pins the id (Cognito
        always picks it) so that a deployment can name its issuer before the pool exists,
        as docker-compose does.
        """
        chosen = settings if settings is not None else PoolSettings(**fields)
        region = region or self.core.settings.region
        if not name or len(name) > 128:
            raise InvalidParameter("PoolName must be 1 to 128 characters.")
        if not _REGION.match(region):
            raise InvalidParameter(f"Invalid region {region!r}.")
        for attr in custom_attributes:
            if not _CUSTOM_NAME.match(attr):
                raise InvalidParameter(f"Invalid custom attribute name {attr!r}.")
        if pool_id is not None and not re.fullmatch(
            rf"{re.escape(region)}_[A-Za-z0-9]{{9}}", pool_id
        ):
            raise InvalidParameter(f"Pool id must be {region}_ followed by 9 letters or digits.")
        for attr in username_attributes:
            if attr != "email":
                raise InvalidParameter(
                    f"UsernameAttributes: {attr!r} is not supported (only email)."
                )
        policy = _validate(chosen)
        now = self.core.clock()
        pool = Pool(
            id=pool_id or f"{region}_{random_string(ALNUM, 9)}",
            name=name,
            region=region,
            custom_attributes=sorted({f"custom:{a}" for a in custom_attributes}),
            created_at=now,
            username_attributes=sorted(set(username_attributes)),
        )
        _apply(pool, chosen, policy, now)
        with self.core.store.transaction() as repo:
            if pool_id is not None and repo.pool(pool_id) is not None:
                raise InvalidParameter(f"User pool {pool_id} already exists.")
            repo.add(pool)
            self.core.keys.create(repo, pool.id, now)
        return pool

    def update_pool(self, pool_id: str, name: str | None, settings: PoolSettings) -> None:
        """Replace every setting, as Cognito's UpdateUserPool does."""
        if name is not None and not 1 <= len(name) <= 128:
            raise InvalidParameter("PoolName must be 1 to 128 characters.")
        policy = _validate(settings)
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            if name is not None:
                pool.name = name
            _apply(pool, settings, policy, self.core.clock())

    def delete_pool(self, pool_id: str) -> None:
        """The pool and all it holds, in one transaction; refused while protected."""
        with self.core.store.transaction() as repo:
            pool = self.require_pool(repo, pool_id)
            if pool.deletion_protection == "ACTIVE":
                raise InvalidParameter(
                    "The user pool cannot be deleted because deletion protection is activated."
                )
            repo.delete_pool(pool)

    def describe_pool(self, pool_id: str) -> tuple[Pool, int]:
        """The pool and its number of users."""
        with self.core.store.transaction() as repo:
            return self.require_pool(repo, pool_id), repo.count_users(pool_id)

    def list_pools(self) -> list[Pool]:
        with self.core.store.transaction() as repo:
            return list(repo.pools())

    def pool_page(self, limit: int, token: str | None) -> tuple[list[Pool], str | None]:
        return paginate(self.list_pools(), limit, token)


def _password_policy(given: dict[str, Any]) -> dict[str, Any]:
    """Cognito's PasswordPolicy with defaults filled in, each value of the right type."""
    policy = dict(DEFAULT_POLICY)
    for key, value in given.items():
        if key not in DEFAULT_POLICY:
            raise InvalidParameter(f"Unknown PasswordPolicy field {key}.")
        if type(value) is not type(DEFAULT_POLICY[key]):
            raise InvalidParameter(
                f"PasswordPolicy.{key} must be a {type(DEFAULT_POLICY[key]).__name__}."
            )
        policy[key] = value
    if not 6 <= policy["MinimumLength"] <= 99:
        raise InvalidParameter("MinimumLength must be between 6 and 99.")
    if not 0 <= policy["TemporaryPasswordValidityDays"] <= 365:
        raise InvalidParameter("TemporaryPasswordValidityDays must be between 0 and 365.")
    return policy

"""Cognito's rules for an identity provider's settings, checked before anything is fetched or stored.

Pure checks of ProviderName, ProviderType, ProviderDetails keys and values, AttributeMapping
and IdpIdentifiers; each failure is InvalidParameterException naming the setting. The
details that are fetched (OIDC discovery, SAML metadata) are checked in `provider_metadata`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import regex

from token_service.errors import InvalidParameter
from token_service.federation.providers import FIRST_SIGN_IN_POLICIES, TENANT_PLACEHOLDERS

OIDC, SAML = "OIDC", "SAML"
SOCIAL_TYPES = ("Facebook", "Google", "LoginWithAmazon", "SignInWithApple")
# The pool's own directory: the name SupportedIdentityProviders and links use for it.
COGNITO_NAMES = ("COGNITO", "Cognito")
# Cognito's ProviderName pattern, in `regex` for its Unicode categories (`re` has none).
NAME_PATTERN = regex.compile(r"[^_\p{Z}][\p{L}\p{M}\p{S}\p{N}\p{P}][^_\p{Z}]+")
MAX_VALUE = 131072
MAX_IDENTIFIERS = 50
_IDENTIFIER = re.compile(r"[\w\s+=.@-]{1,40}")
_TENANT = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Entra ID's issuers that stand for many tenants and never appear in a token's `iss`.
ENTRA_SHARED_ISSUERS = re.compile(
    r"^https://login\.microsoftonline\.com/(common|organizations|consumers)(/v2\.0)?/?$"
)

# Keys of ours, valid for both types unless said otherwise (docs/federation.md).
OUR_KEYS = ("first_sign_in", "enabled", "allowed_tenants", "token_exchange")
OIDC_INPUT_KEYS = frozenset(
    {
        "client_id",
        "client_secret",
        "authorize_scopes",
        "oidc_issuer",
        "attributes_request_method",
        "authorize_url",
        "token_url",
        "attributes_url",
        "jwks_uri",
        # Filled by DescribeIdentityProvider; accepted back so a described provider updates.
        "attributes_url_add_attributes",
        *OUR_KEYS,
    }
)
OIDC_ENDPOINT_KEYS = ("authorize_url", "token_url", "attributes_url", "jwks_uri")
SAML_INPUT_KEYS = frozenset(
    {
        "MetadataURL",
        "MetadataFile",
        "IDPSignout",
        "IDPInit",
        "EncryptedResponses",
        "RequestSigningAlgorithm",
        # Filled by DescribeIdentityProvider from the metadata; recomputed on update.
        "SSORedirectBindingURI",
        "SLORedirectBindingURI",
        "first_sign_in",
        "enabled",
    }
)
SAML_COMPUTED_KEYS = ("SSORedirectBindingURI", "SLORedirectBindingURI")
_BOOLEAN_KEYS = ("enabled", "token_exchange", "IDPSignout", "IDPInit", "EncryptedResponses")


def check_name(name: str, provider_type: str) -> None:
    """ProviderName as Cognito's pattern (1 to 32 characters), its reserved names, and the
    social names tied to their type."""
    if not 1 <= len(name) <= 32 or not NAME_PATTERN.fullmatch(name):
        raise InvalidParameter(
            f"1 validation error detected: Value '{name}' at 'providerName' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {NAME_PATTERN.pattern}"
        )
    if name.upper() == "COGNITO":
        raise InvalidParameter(f"Provider name {name} is reserved for the user pool's directory.")
    social = next((s for s in SOCIAL_TYPES if s.lower() == name.lower()), None)
    if social is not None and provider_type != social:
        raise InvalidParameter(f"Provider {name} cannot be of type {provider_type}.")


def check_type(provider_type: str) -> None:
    if provider_type in SOCIAL_TYPES:
        raise InvalidParameter(
            f"ProviderType {provider_type} is not supported here: register it as OIDC."
        )
    if provider_type not in (OIDC, SAML):
        raise InvalidParameter(
            f"1 validation error detected: Value '{provider_type}' at 'providerType' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            "[SAML, Facebook, Google, LoginWithAmazon, SignInWithApple, OIDC]"
        )


def string_map(value: Any, name: str, *, max_key: int = MAX_VALUE) -> dict[str, str]:
    """A map parameter of strings, as boto3 sends ProviderDetails and AttributeMapping."""
    if not isinstance(value, dict):
        raise InvalidParameter(f"{name} must be a map of strings.")
    for key, item in value.items():
        if not isinstance(item, str) or not 1 <= len(key) <= max_key:
            raise InvalidParameter(f"{name}.{key} must be a string.")
        if len(item) > MAX_VALUE:
            raise InvalidParameter(f"{name}.{key} must be at most {MAX_VALUE} characters.")
        if "\x00" in key or "\x00" in item:
            raise InvalidParameter(f"{name}.{key} must not contain NUL characters.")
    return dict(value)


def check_details(provider_type: str, details: Mapping[str, str]) -> None:
    """The keys each type takes, the required ones, and the values of the enumerated ones."""
    allowed = OIDC_INPUT_KEYS if provider_type == OIDC else SAML_INPUT_KEYS
    if unknown := sorted(set(details) - allowed):
        raise InvalidParameter(
            f"ProviderDetails: {', '.join(unknown)} are not {provider_type} provider details."
        )
    for key in _BOOLEAN_KEYS:
        if key in details and details[key] not in ("true", "false"):
            raise InvalidParameter(f"ProviderDetails.{key} must be 'true' or 'false'.")
    policy = details.get("first_sign_in")
    if policy is not None and policy not in FIRST_SIGN_IN_POLICIES:
        raise InvalidParameter(
            f"ProviderDetails.first_sign_in must be one of {', '.join(FIRST_SIGN_IN_POLICIES)}."
        )
    if provider_type == OIDC:
        _check_oidc(details)
    else:
        _check_saml(details)


def _check_oidc(details: Mapping[str, str]) -> None:
    for key in ("client_id", "authorize_scopes", "oidc_issuer"):
        if not details.get(key):
            raise InvalidParameter(f"ProviderDetails.{key} is required for OIDC providers.")
    if "openid" not in details["authorize_scopes"].split():
        raise InvalidParameter("ProviderDetails.authorize_scopes must include openid.")
    method = details.get("attributes_request_method")
    if method not in ("GET", "POST"):
        raise InvalidParameter("ProviderDetails.attributes_request_method must be GET or POST.")
    issuer = details["oidc_issuer"]
    if ENTRA_SHARED_ISSUERS.match(issuer):
        raise InvalidParameter(
            "ProviderDetails.oidc_issuer: tokens never carry a shared Entra ID issuer; register "
            "https://login.microsoftonline.com/{tenantid}/v2.0 with allowed_tenants."
        )
    tenants = tenant_list(details.get("allowed_tenants", ""))
    if any(p in issuer for p in TENANT_PLACEHOLDERS) and not tenants:
        raise InvalidParameter(
            "ProviderDetails.allowed_tenants is required when oidc_issuer holds a tenant "
            "placeholder: name the tenants (tid values) to accept."
        )


def tenant_list(raw: str) -> list[str]:
    """allowed_tenants: tenant ids separated by spaces or commas."""
    tenants = [t for t in re.split(r"[\s,]+", raw) if t]
    for tenant in tenants:
        if not _TENANT.fullmatch(tenant):
            raise InvalidParameter(
                f"ProviderDetails.allowed_tenants: {tenant!r} is not a tenant id "
                "(letters, digits, '.', '_' or '-', separated by spaces or commas)."
            )
    return tenants


def _check_saml(details: Mapping[str, str]) -> None:
    given = [key for key in ("MetadataURL", "MetadataFile") if details.get(key)]
    if len(given) != 1:
        raise InvalidParameter(
            "ProviderDetails needs exactly one of MetadataURL and MetadataFile for SAML providers."
        )
    algorithm = details.get("RequestSigningAlgorithm")
    if algorithm is not None and algorithm != "rsa-sha256":
        raise InvalidParameter("ProviderDetails.RequestSigningAlgorithm must be rsa-sha256.")


def check_mapping(mapping: Mapping[str, str], pool_attributes: Iterable[str]) -> None:
    """AttributeMapping keys are the pool's attributes (or `username`); values are claim names."""
    known = {*pool_attributes, "username"}
    for attribute, claim in mapping.items():
        if attribute not in known:
            raise InvalidParameter(
                f"AttributeMapping: {attribute} is not an attribute of the user pool."
            )
        if not claim:
            raise InvalidParameter(f"AttributeMapping.{attribute} must name an IdP attribute.")


def check_identifiers(identifiers: Any) -> list[str]:
    """IdpIdentifiers: at most 50, each 1 to 40 of `[\\w\\s+=.@-]`, none twice (ignoring case)."""
    if not isinstance(identifiers, list) or not all(isinstance(i, str) for i in identifiers):
        raise InvalidParameter("IdpIdentifiers must be a list of strings.")
    if len(identifiers) > MAX_IDENTIFIERS:
        raise InvalidParameter(f"IdpIdentifiers takes at most {MAX_IDENTIFIERS} identifiers.")
    for identifier in identifiers:
        if not _IDENTIFIER.fullmatch(identifier):
            raise InvalidParameter(
                f"IdpIdentifiers: {identifier!r} must be 1 to 40 letters, digits, spaces or "
                "any of _+=.@-"
            )
    lowered = [i.lower() for i in identifiers]
    if len(set(lowered)) != len(lowered):
        raise InvalidParameter("IdpIdentifiers: an identifier is given twice.")
    return list(identifiers)

"""What an identity provider publishes about itself, fetched when it is registered or updated.

OIDC: the issuer's discovery document fills Cognito's computed keys (`authorize_url`,
`token_url`, `attributes_url`, `jwks_uri`) unless all four are given. SAML: the metadata
document (given, or fetched from `MetadataURL`) must describe one IdP that signs, and it is
kept under `metadata_document` for the sign-in side. Every failure is
InvalidParameterException saying what is wrong with which setting; nothing is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from token_service.admin.clients import check_url
from token_service.admin.provider_rules import OIDC_ENDPOINT_KEYS, tenant_list
from token_service.errors import InvalidParameter
from token_service.federation.providers import TENANT_PLACEHOLDERS

# pysaml2's bindings (its module takes most of a second to import: it is imported when
# SAML metadata is checked, not by every command).
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 1024 * 1024
# Where the SAML metadata document the sign-in side verifies against is kept (ours).
METADATA_DOCUMENT = "metadata_document"
_DISCOVERED = {
    "authorize_url": "authorization_endpoint",
    "token_url": "token_endpoint",
    "attributes_url": "userinfo_endpoint",
    "jwks_uri": "jwks_uri",
}


def _fetch(setting: str, url: str) -> httpx.Response:
    """GET `url` (no redirects, bounded time and size) or say why not, naming `setting`."""
    try:
        with httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = client.get(url, headers={"Accept": "application/json, application/xml"})
    except httpx.HTTPError as error:
        raise InvalidParameter(
            f"ProviderDetails.{setting}: {url} could not be fetched ({type(error).__name__})."
        ) from None
    if response.status_code != 200:
        raise InvalidParameter(
            f"ProviderDetails.{setting}: {url} answered HTTP {response.status_code}."
        )
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise InvalidParameter(f"ProviderDetails.{setting}: {url} answered over 1 MiB.")
    return response


def oidc_endpoints(details: Mapping[str, str]) -> dict[str, str]:
    """Cognito's computed OIDC keys: given ones as given, the rest from discovery."""
    issuer = details["oidc_issuer"]
    check_url("ProviderDetails.oidc_issuer", issuer)
    given = {key: details[key] for key in OIDC_ENDPOINT_KEYS if details.get(key)}
    for key, url in given.items():
        check_url(f"ProviderDetails.{key}", url)
    endpoints = dict(given)
    if len(given) < len(OIDC_ENDPOINT_KEYS):
        endpoints = {**_discover(issuer, details.get("allowed_tenants", "")), **given}
    for key in ("authorize_url", "token_url", "jwks_uri"):
        if not endpoints.get(key):
            raise InvalidParameter(
                f"ProviderDetails.{key} is required: the issuer's discovery does not name it."
            )
    return {**endpoints, "attributes_url_add_attributes": "false"}


def _discover(issuer: str, allowed_tenants: str) -> dict[str, str]:
    """The endpoints of `issuer`'s discovery document; an Entra ID issuer with a tenant
    placeholder is discovered through its first allowed tenant."""
    placeholder = next((p for p in TENANT_PLACEHOLDERS if p in issuer), None)
    concrete = issuer
    if placeholder is not None:
        concrete = issuer.replace(placeholder, tenant_list(allowed_tenants)[0])
    url = concrete.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document: Any = _fetch("oidc_issuer", url).json()
    except ValueError:
        raise InvalidParameter(f"ProviderDetails.oidc_issuer: {url} is not JSON.") from None
    if not isinstance(document, dict):
        raise InvalidParameter(f"ProviderDetails.oidc_issuer: {url} is not a JSON object.")
    if document.get("issuer") not in (issuer, concrete):
        raise InvalidParameter(
            f"ProviderDetails.oidc_issuer: the discovery document's issuer "
            f"{document.get('issuer')!r} is not {issuer!r}."
        )
    found = {}
    for key, name in _DISCOVERED.items():
        value = document.get(name)
        if isinstance(value, str) and value:
            check_url(f"ProviderDetails.{key} (discovered {name})", value)
            found[key] = value
    return found


def saml_metadata(details: Mapping[str, str]) -> dict[str, str]:
    """The metadata document and Cognito's computed SAML keys, from a checked document."""
    url = details.get("MetadataURL")
    if url:
        check_url("ProviderDetails.MetadataURL", url)
        document = _fetch("MetadataURL", url).text
    else:
        document = details["MetadataFile"]
    setting = "MetadataURL" if url else "MetadataFile"
    idp = _idp_descriptor(setting, document)
    computed = {METADATA_DOCUMENT: document}
    sso = _location(idp.get("single_sign_on_service", []), BINDING_HTTP_REDIRECT)
    if sso is None:
        sso = _location(idp.get("single_sign_on_service", []), BINDING_HTTP_POST)
    if sso is None:
        raise InvalidParameter(
            f"ProviderDetails.{setting}: the IdP has no SingleSignOnService with the "
            "HTTP-Redirect or HTTP-POST binding."
        )
    computed["SSORedirectBindingURI"] = sso
    slo = _location(idp.get("single_logout_service", []), BINDING_HTTP_REDIRECT)
    if slo is not None:
        computed["SLORedirectBindingURI"] = slo
    elif details.get("IDPSignout") == "true":
        raise InvalidParameter(
            f"ProviderDetails.IDPSignout: the IdP's metadata ({setting}) has no "
            "SingleLogoutService with the HTTP-Redirect binding."
        )
    return computed


def _idp_descriptor(setting: str, document: str) -> dict[str, Any]:
    """The one IDPSSODescriptor of the document, which must carry a signing certificate."""
    from saml2.mdstore import InMemoryMetaData

    metadata = InMemoryMetaData(None, document)
    try:
        metadata.load()
    except Exception as error:  # pysaml2 raises many kinds for a malformed document
        raise InvalidParameter(
            f"ProviderDetails.{setting}: not SAML 2.0 metadata ({type(error).__name__})."
        ) from None
    idps = [
        descriptor
        for entity in metadata.values()
        for descriptor in entity.get("idpsso_descriptor", [])
    ]
    if len(idps) != 1:
        raise InvalidParameter(
            f"ProviderDetails.{setting}: the metadata must describe exactly one SAML IdP "
            f"(IDPSSODescriptor), not {len(idps)}."
        )
    idp: dict[str, Any] = idps[0]
    signing = [
        key
        for key in idp.get("key_descriptor", [])
        if key.get("use") in (None, "signing") and key.get("key_info")
    ]
    if not signing:
        raise InvalidParameter(
            f"ProviderDetails.{setting}: the IdP's metadata has no signing certificate."
        )
    return idp


def public_details(details: Mapping[str, str]) -> dict[str, str]:
    """ProviderDetails as the operations and commands show them: without the kept document."""
    return {k: v for k, v in details.items() if k != METADATA_DOCUMENT}


def _location(services: list[dict[str, Any]], binding: str) -> str | None:
    return next((s["location"] for s in services if s.get("binding") == binding), None)

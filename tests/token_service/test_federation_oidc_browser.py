"""OIDC browser federation in a real browser, through two independent partner IdPs.

Partners: the Node `oidc-provider` package (a certified OpenID provider; its development login
form takes any password, the login names the account) and a second `token-service serve` as
a partner's Cognito (its pool is the issuer, its hosted login the partner's login page).
Debian's Chromium, driven by Playwright, starts at our hosted login and ends at the app's
callback with our code, which the test redeems and reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import oidc_provider
from tests.support.browser import playwright, screenshot
from tests.support.oidc_provider import OidcProvider
from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
    create_user,
    start_server,
    stop_server,
)
from tests.token_service.test_authorize import claims, pkce, query_of, redeem
from tests.token_service.test_hosted_login import (
    Callback,
    authorize_url,
    browser,
    callback,
    fill_login,
)

# Fixtures: Chromium's, and the hosted-login browser tests' page and app callback.
__all__ = ["browser", "callback", "playwright"]

ACME, PARTNER_CO = "Acme", "PartnerCo"
ACME_SECRET = "acme-client-secret-for-our-pool"
ACCOUNTS = {
    "alice": {"email": "alice@acme.example", "email_verified": True, "name": "Alice Acme"},
    # Both assert the address of our user `victim`: only the one whose IdP verified it links.
    "vic": {"email": "victim@example.com", "email_verified": True, "name": "Vic"},
    "mallory": {"email": "victim@example.com", "email_verified": False, "name": "Mallory"},
}

# create_user gives users a tenant attribute.
TENANT_SCHEMA = [{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}]

if reason := oidc_provider.missing():
    pytest.skip(f"{reason}: OIDC federation browser tests skipped", allow_module_level=True)


@dataclass
class Partners:
    acme: OidcProvider
    cognito: Server
    pool: str
    bob_sub: str


@dataclass
class Ours:
    pool: str
    spa: str
    redirect_uri: str
    victim_sub: str


@pytest.fixture(scope="module")
def partners(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partners]:
    idp_response = f"{server.url}/oauth2/idpresponse"
    acme = OidcProvider(
        tmp_path_factory.mktemp("acme"),
        clients=[
            {
                "client_id": "our-pool",
                "client_secret": ACME_SECRET,
                "redirect_uris": [idp_response],
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
            }
        ],
        accounts=dict(ACCOUNTS),
    )
    partner = start_server(tmp_path_factory.mktemp("partner-cognito"))
    admin = cognito_client(partner.url)
    pool = admin.create_user_pool(PoolName="PartnerCo Staff", Schema=TENANT_SCHEMA)["UserPool"][
        "Id"
    ]
    bob_sub = create_user(admin, pool, "bob")
    yield Partners(acme, partner, pool, bob_sub)
    acme.stop()
    stop_server(partner)


@pytest.fixture(scope="module")
def ours(cognito: Any, partners: Partners, server: Server, callback: Callback) -> Ours:
    pool = cognito.create_user_pool(PoolName="Our Portal", Schema=TENANT_SCHEMA)["UserPool"]["Id"]
    cognito.create_identity_provider(
        UserPoolId=pool,
        ProviderName=ACME,
        ProviderType="OIDC",
        ProviderDetails={
            "client_id": "our-pool",
            "client_secret": ACME_SECRET,
            "authorize_scopes": "openid email profile",
            "oidc_issuer": partners.acme.url,
            "attributes_request_method": "GET",
            "first_sign_in": "link_verified_email",
        },
        AttributeMapping={"username": "sub", "email": "email", "name": "name"},
    )
    partner_admin = cognito_client(partners.cognito.url)
    app = partner_admin.create_user_pool_client(
        UserPoolId=partners.pool,
        ClientName="our-portal",
        GenerateSecret=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=[f"{server.url}/oauth2/idpresponse"],
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    cognito.create_identity_provider(
        UserPoolId=pool,
        ProviderName=PARTNER_CO,
        ProviderType="OIDC",
        ProviderDetails={
            "client_id": app["ClientId"],
            "client_secret": app["ClientSecret"],
            "authorize_scopes": "openid email",
            "oidc_issuer": f"{partners.cognito.url}/{partners.pool}",
            "attributes_request_method": "GET",
        },
        AttributeMapping={"username": "sub", "email": "email"},
        IdpIdentifiers=["partnerco.example"],
    )
    redirect_uri = f"{callback.url}/callback"
    spa = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="portal",
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email", "profile"],
        CallbackURLs=[redirect_uri],
        SupportedIdentityProviders=["COGNITO", ACME, PARTNER_CO],
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool, GroupName="partners")
    return Ours(pool, spa, redirect_uri, create_user(cognito, pool, "victim"))


def start(page: Any, server: Server, ours: Ours, **extra: str) -> str:
    """Open our authorize endpoint; the PKCE verifier of the app's request."""
    verifier, challenge = pkce()
    # authorize_url reads only the redirect_uri of the apps it is given.
    page.goto(authorize_url(server, ours, ours.spa, challenge, **extra))  # type: ignore[arg-type]
    return verifier


def acme_login(page: Any, login: str) -> None:
    """oidc-provider's development form: the login names the account, any password."""
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    page.click("button[type=submit]")


def back_in_app(page: Any, http: httpx.Client, ours: Ours, verifier: str) -> dict[str, Any]:
    """The app's callback: its code redeemed, the ID token's claims."""
    page.wait_for_url(f"{ours.redirect_uri}?**")
    answer = query_of(page.url)
    assert answer["state"] == "browser-state", page.url
    tokens = redeem(http, ours.spa, answer["code"], verifier, redirect_uri=ours.redirect_uri)
    assert tokens.status_code == 200, tokens.text
    return claims(tokens.json()["id_token"])


def test_login_page_button_to_oidc_provider_then_attributes_and_groups_follow(
    browser: Any, server: Server, http: httpx.Client, cognito: Any, ours: Ours, partners: Partners
) -> None:
    verifier = start(browser, server, ours)
    assert urlsplit(browser.url).path == "/login"
    screenshot(browser, "hosted-login-federation", full_page=False)
    browser.get_by_role("link", name=f"Sign in with {ACME}").click()
    browser.wait_for_url(f"{partners.acme.url}/**")
    acme_login(browser, "alice")
    identity = back_in_app(browser, http, ours, verifier)
    assert identity["cognito:username"] == f"{ACME}_alice"
    assert identity["email"] == "alice@acme.example" and identity["name"] == "Alice Acme"
    assert [i["providerName"] for i in identity["identities"]] == [ACME]
    assert identity["nonce"] == "browser-nonce" and identity["aud"] == ours.spa
    user = cognito.admin_get_user(UserPoolId=ours.pool, Username=f"{ACME}_alice")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    # The partner renames her; we add her to a group: the next sign-in shows both.
    partners.acme.set_account("alice", {**ACCOUNTS["alice"], "name": "Alice Renamed"})
    cognito.admin_add_user_to_group(
        UserPoolId=ours.pool, Username=f"{ACME}_alice", GroupName="partners"
    )
    verifier = start(browser, server, ours, identity_provider=ACME)
    again = back_in_app(browser, http, ours, verifier)  # the IdP's session: no form this time
    assert again["sub"] == identity["sub"] and again["name"] == "Alice Renamed"
    assert again["cognito:groups"] == ["partners"]


def test_a_verified_email_links_to_our_user_and_an_unverified_one_does_not(
    browser: Any, server: Server, http: httpx.Client, cognito: Any, ours: Ours
) -> None:
    verifier = start(browser, server, ours, identity_provider=ACME)
    acme_login(browser, "mallory")
    mallory = back_in_app(browser, http, ours, verifier)
    assert mallory["cognito:username"] == f"{ACME}_mallory"
    assert mallory["sub"] != ours.victim_sub
    verifier = start(browser, server, ours, identity_provider=ACME, prompt="login")
    acme_login(browser, "vic")
    vic = back_in_app(browser, http, ours, verifier)
    assert vic["sub"] == ours.victim_sub and vic["cognito:username"] == "victim"
    assert [i["userId"] for i in vic["identities"]] == ["vic"]


def test_email_routing_to_a_partner_cognito_and_its_hosted_login(
    browser: Any, server: Server, http: httpx.Client, ours: Ours, partners: Partners
) -> None:
    verifier = start(browser, server, ours)
    browser.get_by_label("Work email").fill("bob@partnerco.example")
    browser.get_by_role("button", name="Continue").click()
    browser.wait_for_url(f"{partners.cognito.url}/login?**")
    # The address typed at our page arrives as login_hint: the partner's form has it.
    assert browser.get_by_label("Username or email").input_value() == "bob@partnerco.example"
    fill_login(browser, "bob", PASSWORD)
    identity = back_in_app(browser, http, ours, verifier)
    assert identity["cognito:username"] == f"{PARTNER_CO}_{partners.bob_sub}"
    assert identity["email"] == "bob@example.com"
    assert identity["identities"][0]["providerName"] == PARTNER_CO

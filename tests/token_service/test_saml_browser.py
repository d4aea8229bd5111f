"""SAML sign-in in a real browser: Debian's Chromium, our hosted login, the pysaml2 partner IdP.

The browser goes to the IdP with our signed AuthnRequest, fills the IdP's own login form,
and its auto-submitting form posts the assertion back to our ACS; the app's callback (a
server of the test) receives our code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from saml2 import BINDING_HTTP_POST

from tests.support.saml_idp import SamlIdp, running_idp
from tests.token_service import test_hosted_login
from tests.token_service.conftest import Server
from tests.token_service.saml_world import PARTNER_PASSWORD, SamlWorld, make_world, partner_user
from tests.token_service.test_authorize import claims, pkce, query_of, redeem
from tests.token_service.test_hosted_login import Callback

# The hosted-login browser tests' fixtures: Chromium, a fresh profile, the app's callback.
playwright = test_hosted_login.playwright
browser = test_hosted_login.browser
callback = test_hosted_login.callback


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    users = {
        "bob": partner_user("bob-123", "bob@partner.example"),
        "carol": partner_user("carol-456", "carol@partner.example"),
    }
    yield from running_idp(tmp_path_factory.mktemp("saml-browser-idp"), users)


@pytest.fixture(scope="module")
def world(cognito: Any, server: Server, idp: SamlIdp, callback: Callback) -> SamlWorld:
    made = make_world(
        cognito, server.url, idp, "Browser SAML", redirect_uri=f"{callback.url}/callback"
    )
    cognito.update_identity_provider(
        UserPoolId=made.pool, ProviderName=made.provider, IdpIdentifiers=["partner.example"]
    )
    return made


def authorize_url(world: SamlWorld, callback: Callback, challenge: str) -> str:
    params = {
        "response_type": "code",
        "client_id": world.client,
        "redirect_uri": f"{callback.url}/callback",
        "scope": "openid email profile",
        "state": "saml-state",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{world.server_url}/oauth2/authorize?{urlencode(params)}"


def partner_login(page: Any, world: SamlWorld, username: str, at: str = "") -> None:
    """The IdP's own form (at `at`: its SSO URL with our query, by default), then its post
    back to us, then the app."""
    page.wait_for_url(at or f"{world.idp.url}/sso?**")
    page.get_by_label("Partner username").fill(username)
    page.get_by_label("Partner password").fill(PARTNER_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/callback?**")


def test_the_provider_button_signs_in_through_the_saml_idp(
    browser: Any, world: SamlWorld, callback: Callback, http: httpx.Client
) -> None:
    verifier, challenge = pkce()
    browser.goto(authorize_url(world, callback, challenge))
    assert urlsplit(browser.url).path == "/login"
    browser.get_by_role("link", name="Sign in with Partner").click()
    partner_login(browser, world, "bob")
    answer = query_of(browser.url)
    assert answer["state"] == "saml-state"
    tokens = redeem(
        http, world.client, answer["code"], verifier, redirect_uri=f"{callback.url}/callback"
    ).json()
    identity = claims(tokens["id_token"])
    assert identity["cognito:username"] == "Partner_bob-123"
    assert identity["email"] == "bob@partner.example" and identity["name"] == "Bob-123"
    assert [i["providerType"] for i in identity["identities"]] == ["SAML"]
    # Our session started: the next authorize answers at once, without the IdP.
    browser.goto(authorize_url(world, callback, pkce()[1]))
    browser.wait_for_url("**/callback?**")


def test_a_work_email_routes_to_the_saml_idp(
    browser: Any, world: SamlWorld, callback: Callback, http: httpx.Client
) -> None:
    verifier, challenge = pkce()
    browser.goto(authorize_url(world, callback, challenge))
    browser.get_by_label("Work email").fill("carol@partner.example")
    browser.get_by_role("button", name="Continue").click()
    partner_login(browser, world, "carol")
    code = query_of(browser.url)["code"]
    tokens = redeem(http, world.client, code, verifier, redirect_uri=f"{callback.url}/callback")
    assert claims(tokens.json()["id_token"])["cognito:username"] == "Partner_carol-456"


@pytest.fixture(scope="module")
def post_world(
    cognito: Any, server: Server, callback: Callback, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SamlWorld]:
    """A pool whose SAML IdP takes AuthnRequests by HTTP-POST only."""
    users = {"dan": partner_user("dan-789", "dan@partner.example")}
    directory = tmp_path_factory.mktemp("saml-post-browser-idp")
    for idp in running_idp(directory, users, BINDING_HTTP_POST):
        redirect_uri = f"{callback.url}/callback"
        yield make_world(cognito, server.url, idp, "POST SAML", redirect_uri=redirect_uri)


def test_our_page_posts_the_request_to_an_http_post_only_idp(
    browser: Any, post_world: SamlWorld, callback: Callback, http: httpx.Client
) -> None:
    verifier, challenge = pkce()
    browser.goto(authorize_url(post_world, callback, challenge))
    browser.get_by_role("link", name="Sign in with Partner").click()
    partner_login(browser, post_world, "dan", f"{post_world.idp.url}/sso")
    code = query_of(browser.url)["code"]
    tokens = redeem(
        http, post_world.client, code, verifier, redirect_uri=f"{callback.url}/callback"
    )
    assert claims(tokens.json()["id_token"])["cognito:username"] == "Partner_dan-789"

"""IdP-initiated SAML sign-in (IDPInit) against a real `token-service serve`: an unsolicited
Response whose RelayState is the app's authorize query, and Cognito's refusals around it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.token_service import saml_world
from tests.token_service.conftest import Server
from tests.token_service.oidc_world import onward
from tests.token_service.saml_world import (
    SamlWorld,
    make_world,
    partner_user,
    post_back,
    refused,
    start,
    user_exists,
)
from tests.token_service.test_authorize import CALLBACK, claims, pkce, query_of, redeem

# The partner IdP, its pool and the httpx browser, shared with the other SAML test modules.
idp = saml_world.idp
world = saml_world.world
browser = saml_world.browser


@pytest.fixture(scope="module")
def portal(cognito: Any, server: Server, idp: Any) -> SamlWorld:
    """A pool whose client takes only the SAML provider `Portal`, which allows IDPInit."""
    return make_world(
        cognito, server.url, idp, "IdP portal", "Portal", supported=["Portal"], IDPInit="true"
    )


def relay_state(world: SamlWorld, challenge: str, **extra: str) -> str:
    """The app's authorize query, as the IdP is configured to send it."""
    query = {
        "response_type": "code",
        "client_id": world.client,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "identity_provider": world.provider,
        "state": "from-the-portal",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return urlencode(query)


def test_an_unsolicited_response_signs_in_once(
    browser: httpx.Client, http: httpx.Client, portal: SamlWorld
) -> None:
    verifier, challenge = pkce()
    user = partner_user("dashboard", "dash@partner.example")
    xml = portal.idp.response(None, portal.acs, portal.entity_id, user)
    state = relay_state(portal, challenge)
    back = query_of(onward(post_back(browser, xml, state)))
    assert back["state"] == "from-the-portal"
    identity = claims(redeem(http, portal.client, back["code"], verifier).json()["id_token"])
    assert identity["cognito:username"] == "Portal_dashboard"
    assert "used before" in refused(post_back(browser, xml, state))


def refused_unsolicited(
    cognito: Any,
    browser: httpx.Client,
    world: SamlWorld,
    name_id: str,
    request_id: str | None = None,
    **relay: str,
) -> str:
    """The reason an unsolicited Response for `name_id` is refused; no user is made."""
    user = partner_user(name_id, f"{name_id}@partner.example")
    xml = world.idp.response(request_id, world.acs, world.entity_id, user)
    reason = refused(post_back(browser, xml, relay_state(world, pkce()[1], **relay)))
    assert not user_exists(cognito, world.pool, f"{world.provider}_{name_id}")
    return reason


def test_an_unsolicited_response_must_answer_no_request(
    cognito: Any, browser: httpx.Client, portal: SamlWorld
) -> None:
    reason = refused_unsolicited(cognito, browser, portal, "answering", "_some-request")
    assert "must not answer a request" in reason


def test_a_provider_without_idpinit_takes_no_unsolicited_response(
    cognito: Any, browser: httpx.Client, world: SamlWorld
) -> None:
    reason = refused_unsolicited(cognito, browser, world, "uninvited")
    assert "does not allow IdP-initiated sign-in" in reason


def test_a_client_with_other_ways_in_takes_no_unsolicited_response(
    cognito: Any, browser: httpx.Client, portal: SamlWorld
) -> None:
    mixed = cognito.create_user_pool_client(
        UserPoolId=portal.pool,
        ClientName="mixed",
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO", portal.provider],
    )["UserPoolClient"]["ClientId"]
    reason = refused_unsolicited(cognito, browser, portal, "mixed", client_id=mixed)
    assert "all SAML" in reason


def test_a_relay_state_naming_no_app_shows_the_error_page(
    browser: httpx.Client, portal: SamlWorld
) -> None:
    user = partner_user("lost", "l@partner.example")
    xml = portal.idp.response(None, portal.acs, portal.entity_id, user)
    answer = post_back(browser, xml, "client_id=nobody&redirect_uri=https://evil.example/")
    assert answer.status_code == 400 and "evil.example" not in answer.text
    # An SP-initiated Response never passes as IdP-initiated, nor the reverse.
    seen, _ = start(browser, portal, pkce()[1])
    assert seen.relay_state and "=" not in seen.relay_state

"""SAML federation against a real `token-service serve` and a real pysaml2 partner IdP: the
SP metadata, the AuthnRequest (HTTP-Redirect and HTTP-POST), sign-in, attributes, linking,
disabled providers, single logout.

The browser is an httpx client here (its cookie jar carries the trip's cookie); the IdP's
login form is skipped by asking it for the Response directly. The hostile Responses are in
test_saml_refusals.py, the browser tests in test_saml_browser.py.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from saml2 import BINDING_HTTP_POST, md
from saml2.response import IncorrectlySigned
from saml2.samlp import STATUS_NO_PASSIVE

from tests.support.saml_idp import IdpUser, SamlIdp, running_idp
from tests.token_service import saml_world
from tests.token_service.conftest import Server, create_user
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
from tests.token_service.test_authorize import (
    CALLBACK,
    SIGNED_OUT,
    authorize_params,
    claims,
    pkce,
    query_of,
    redeem,
)

# The partner IdP, its pool and the httpx browser, shared with the other SAML test module.
idp = saml_world.idp
world = saml_world.world
browser = saml_world.browser


def test_sp_metadata_names_the_pool_its_acs_and_its_signing_certificate(
    http: httpx.Client, world: SamlWorld
) -> None:
    response = http.get(f"/{world.pool}/saml2/metadata")
    assert response.headers["content-type"].startswith("application/samlmetadata+xml")
    entity = md.entity_descriptor_from_string(response.text)
    assert entity.entity_id == world.entity_id
    sp = entity.spsso_descriptor[0]
    assert sp.authn_requests_signed == "true"
    assert [(a.location, a.binding) for a in sp.assertion_consumer_service] == [
        (world.acs, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    ]
    assert [k.use for k in sp.key_descriptor] == ["signing"]
    # The same key pair every time: IdPs import the document once.
    assert http.get(f"/{world.pool}/saml2/metadata").text == response.text
    missing = http.get("/us-east-1_nopool/saml2/metadata")
    assert missing.status_code == 404 and missing.json()["__type"] == "ResourceNotFoundException"


def test_parallel_first_metadata_requests_make_one_key_pair(cognito: Any, server: Server) -> None:
    pool = cognito.create_user_pool(PoolName="SAML race")["UserPool"]["Id"]
    url = f"{server.url}/{pool}/saml2/metadata"
    with ThreadPoolExecutor(8) as workers:
        answers = list(workers.map(lambda _: httpx.get(url, timeout=30), range(8)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1


def test_authorize_sends_a_signed_authn_request_with_the_apps_prompt(
    browser: httpx.Client, world: SamlWorld
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    assert seen.acs == world.acs and seen.sp == world.entity_id
    assert seen.id.startswith("_") and not seen.force_authn and not seen.is_passive
    assert len(seen.relay_state) <= 80
    assert "cognito-federation" in browser.cookies
    again, _ = start(browser, world, pkce()[1], prompt="login")
    assert again.force_authn and not again.is_passive and again.id != seen.id
    quiet, _ = start(browser, world, pkce()[1], prompt="none")
    assert quiet.is_passive and not quiet.force_authn
    # The IdP has no session for the user: the app hears login_required.
    answer = post_back(
        browser, world.idp.refusal(quiet.id, quiet.acs, STATUS_NO_PASSIVE), quiet.relay_state
    )
    back = query_of(onward(answer))
    assert back["error"] == "login_required" and "code" not in back


def test_the_redirect_signature_covers_the_request_and_the_relay_state(
    browser: httpx.Client, world: SamlWorld
) -> None:
    params = authorize_params(world.client, pkce()[1], identity_provider=world.provider)
    query = query_of(browser.get("/oauth2/authorize", params=params).headers["location"])
    assert query["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    with pytest.raises(IncorrectlySigned):
        world.idp.accept_request({**query, "RelayState": "another-state"})
    assert world.idp.accept_request(query).relay_state == query["RelayState"]


def test_an_idp_we_cannot_answer_is_refused_before_the_browser_leaves(
    cognito: Any, server: Server, browser: httpx.Client, idp: SamlIdp
) -> None:
    odd = make_world(
        cognito, server.url, idp, "Encrypting", "Encrypting", EncryptedResponses="true"
    )
    params = authorize_params(odd.client, pkce()[1], identity_provider=odd.provider)
    assert "EncryptedResponses" in refused(browser.get("/oauth2/authorize", params=params))


@pytest.fixture(scope="module")
def post_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    """A partner IdP whose single sign-on service takes the HTTP-POST binding only."""
    yield from running_idp(tmp_path_factory.mktemp("saml-post-idp"), {}, BINDING_HTTP_POST)


def test_an_http_post_only_idp_gets_an_xml_signed_request_posted_from_our_page(
    cognito: Any, server: Server, browser: httpx.Client, http: httpx.Client, post_idp: SamlIdp
) -> None:
    world = make_world(cognito, server.url, post_idp, "POST binding", "Posted")
    verifier, challenge = pkce()
    params = authorize_params(world.client, challenge, identity_provider=world.provider)
    departed = browser.get("/oauth2/authorize", params=params)
    assert departed.status_code == 303, departed.text
    assert departed.headers["location"].startswith(f"{server.url}/saml2/post?request=")
    page = browser.get(departed.headers["location"])
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert f"form-action 'self' {post_idp.url}" in policy and "script-src 'nonce-" in policy
    action = re.search(r'<form id="saml-post" method="post" action="([^"]+)"', page.text)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    assert action is not None and action[1] == f"{post_idp.url}/sso"
    # The IdP checks the XML signature: a request changed on the way is refused.
    request_xml = base64.b64decode(fields["SAMLRequest"]).decode()
    tampered = request_xml.replace(world.acs, "https://evil.example/saml2/idpresponse")
    with pytest.raises(IncorrectlySigned):
        post_idp.accept_request(
            {**fields, "SAMLRequest": base64.b64encode(tampered.encode()).decode()},
            BINDING_HTTP_POST,
        )
    seen = post_idp.accept_request(fields, BINDING_HTTP_POST)
    assert seen.acs == world.acs and seen.sp == world.entity_id and seen.id.startswith("_")
    xml = post_idp.response(seen.id, seen.acs, seen.sp, partner_user("poster", "p@p.example"))
    back = query_of(onward(post_back(browser, xml, seen.relay_state)))
    identity = claims(redeem(http, world.client, back["code"], verifier).json()["id_token"])
    assert identity["cognito:username"] == "Posted_poster"
    token = query_of(departed.headers["location"])["request"]
    forged = browser.get("/saml2/post", params={"request": token[:-4] + "AAAA"})
    assert forged.status_code == 400 and "not one of ours" in forged.text


@pytest.mark.parametrize("signed", ["assertion", "response"])
def test_a_signed_response_signs_the_user_in_with_mapped_attributes(
    cognito: Any, browser: httpx.Client, http: httpx.Client, world: SamlWorld, signed: str
) -> None:
    verifier, challenge = pkce()
    seen, params = start(browser, world, challenge)
    user = partner_user(f"bob-{signed}", f"bob-{signed}@partner.example")
    xml = world.idp.response(
        seen.id,
        seen.acs,
        seen.sp,
        user,
        sign_assertion=signed == "assertion",
        sign_response=signed == "response",
    )
    back = query_of(onward(post_back(browser, xml, seen.relay_state)))
    assert back["state"] == params["state"] and "code" in back
    tokens = redeem(http, world.client, back["code"], verifier).json()
    identity = claims(tokens["id_token"])
    assert identity["cognito:username"] == f"Partner_bob-{signed}"
    assert identity["email"] == f"bob-{signed}@partner.example"
    assert identity["nonce"] == params["nonce"] and identity["amr"] == ["pwd"]
    [linked] = identity["identities"]
    assert linked["providerType"] == "SAML" and linked["providerName"] == "Partner"
    assert linked["userId"] == f"bob-{signed}"
    described = cognito.admin_get_user(UserPoolId=world.pool, Username=f"Partner_bob-{signed}")
    assert described["UserStatus"] == "EXTERNAL_PROVIDER"
    attributes = {a["Name"]: a["Value"] for a in described["UserAttributes"]}
    assert attributes["name"] == f"Bob-{signed.title()}"


@pytest.mark.parametrize(
    ("authn_class", "amr"),
    [
        ("http://schemas.microsoft.com/claims/multipleauthn", ["mfa"]),
        ("urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified", ["ext"]),
    ],
)
def test_the_authentication_context_gives_amr_and_auth_time(
    browser: httpx.Client, http: httpx.Client, world: SamlWorld, authn_class: str, amr: list[str]
) -> None:
    verifier, challenge = pkce()
    seen, _ = start(browser, world, challenge)
    user = partner_user(f"ctx-{amr[0]}", f"ctx-{amr[0]}@partner.example")
    before = int(time.time())
    xml = world.idp.response(seen.id, seen.acs, seen.sp, user, authn_class=authn_class)
    back = query_of(onward(post_back(browser, xml, seen.relay_state)))
    identity = claims(redeem(http, world.client, back["code"], verifier).json()["id_token"])
    assert identity["amr"] == amr
    # The AuthnInstant, to the second (pysaml2 writes whole seconds).
    assert before - 1 <= identity["auth_time"] <= int(time.time())


@pytest.fixture(scope="module")
def linking(cognito: Any, server: Server, idp: SamlIdp) -> SamlWorld:
    return make_world(
        cognito, server.url, idp, "SAML linking", "Linked", first_sign_in="link_verified_email"
    )


def signed_in(
    browser: httpx.Client, http: httpx.Client, world: SamlWorld, user: IdpUser
) -> dict[str, Any]:
    """The ID token's claims after `user` signs in through the IdP."""
    verifier, challenge = pkce()
    seen, _ = start(browser, world, challenge)
    xml = world.idp.response(seen.id, seen.acs, seen.sp, user)
    back = query_of(onward(post_back(browser, xml, seen.relay_state)))
    return claims(redeem(http, world.client, back["code"], verifier).json()["id_token"])


def test_only_an_email_the_idp_asserts_verified_links_an_existing_user(
    cognito: Any, browser: httpx.Client, http: httpx.Client, linking: SamlWorld
) -> None:
    dave = create_user(cognito, linking.pool, "dave")
    frank = create_user(cognito, linking.pool, "frank")
    identity = signed_in(browser, http, linking, partner_user("dave-at-idp", "dave@example.com"))
    assert identity["sub"] == dave and identity["cognito:username"] == "dave"
    unverified = partner_user("frank-at-idp", "frank@example.com", verified=False)
    identity = signed_in(browser, http, linking, unverified)
    assert identity["sub"] != frank and identity["cognito:username"] == "Linked_frank-at-idp"
    frank_now = cognito.admin_get_user(UserPoolId=linking.pool, Username="frank")
    assert frank_now["UserStatus"] == "CONFIRMED"


def set_enabled(cognito: Any, world: SamlWorld, enabled: bool) -> None:
    details = {"MetadataFile": world.idp.metadata(), "first_sign_in": "link_verified_email"}
    if not enabled:
        details["enabled"] = "false"
    cognito.update_identity_provider(
        UserPoolId=world.pool, ProviderName=world.provider, ProviderDetails=details
    )


def test_a_provider_disabled_during_the_trip_signs_no_one_in(
    cognito: Any, browser: httpx.Client, linking: SamlWorld
) -> None:
    seen, _ = start(browser, linking, pkce()[1])
    set_enabled(cognito, linking, False)
    try:
        user = partner_user("late", "late@partner.example")
        xml = linking.idp.response(seen.id, seen.acs, seen.sp, user)
        answer = query_of(onward(post_back(browser, xml, seen.relay_state)))
        assert answer["error"] == "invalid_request" and "disabled" in answer["error_description"]
        assert not user_exists(cognito, linking.pool, "Linked_late")
        params = authorize_params(linking.client, pkce()[1], identity_provider=linking.provider)
        again = browser.get("/oauth2/authorize", params=params)
        assert again.status_code == 303 and again.headers["location"].startswith(CALLBACK)
        assert "error=" in again.headers["location"]
    finally:
        set_enabled(cognito, linking, True)


@pytest.fixture(scope="module")
def signing_out(cognito: Any, server: Server, idp: SamlIdp) -> SamlWorld:
    return make_world(cognito, server.url, idp, "SAML sign-out", "Signout", IDPSignout="true")


def log_out(browser: httpx.Client, world: SamlWorld) -> httpx.Response:
    query = {"client_id": world.client, "logout_uri": SIGNED_OUT}
    return browser.get("/logout", params=query)


def test_logout_of_an_idp_signout_session_logs_out_at_the_idp_too(
    browser: httpx.Client, http: httpx.Client, signing_out: SamlWorld
) -> None:
    identity = signed_in(browser, http, signing_out, partner_user("leaver", "l@partner.example"))
    assert identity["cognito:username"] == "Signout_leaver"
    left = log_out(browser, signing_out)
    assert left.status_code == 303 and "cognito" not in browser.cookies
    assert left.headers["location"].startswith(f"{signing_out.idp.url}/slo?")
    back = signing_out.idp.logout(query_of(left.headers["location"]))
    name_id, session_indexes = signing_out.idp.logouts[-1]
    assert name_id == "leaver" and len(session_indexes) == 1 and session_indexes[0]
    assert back.startswith(f"{signing_out.server_url}/saml2/logout?")
    done = browser.get(back)
    assert done.status_code == 303 and done.headers["location"] == SIGNED_OUT
    again = browser.get(back)
    assert again.status_code == 400 and "answers no logout request" in again.text
    # Our session is over: the next authorize shows the login page.
    params = authorize_params(signing_out.client, pkce()[1])
    assert browser.get("/oauth2/authorize", params=params).headers["location"].startswith("/login?")


def test_a_forged_logout_response_is_refused(
    browser: httpx.Client, http: httpx.Client, signing_out: SamlWorld
) -> None:
    signed_in(browser, http, signing_out, partner_user("forger", "f@partner.example"))
    left = log_out(browser, signing_out)
    back = signing_out.idp.logout(query_of(left.headers["location"]))
    head, _, signature = back.partition("&Signature=")
    forged = browser.get(f"{head}&Signature={'A' * 8}{signature[8:]}")
    assert forged.status_code == 400 and "not signed by the identity provider" in forged.text
    unsigned = browser.get(head)
    assert unsigned.status_code == 400
    assert browser.get("/saml2/logout?SAMLResponse=garbage").status_code == 400


def test_logout_without_idp_signout_goes_straight_to_the_app(
    browser: httpx.Client, http: httpx.Client, world: SamlWorld
) -> None:
    signed_in(browser, http, world, partner_user("stayer", "s@partner.example"))
    left = log_out(browser, world)
    assert left.status_code == 303 and left.headers["location"] == SIGNED_OUT

"""SAML federation against a real `token-service serve` and a real pysaml2 partner IdP.

The browser is an httpx client here (its cookie jar carries the trip's cookie); the IdP's
login form is skipped by asking it for the Response directly, so each hostile Response is
crafted against a real AuthnRequest of a real trip. The browser test is test_saml_browser.py.
"""

from __future__ import annotations

import base64
import json
import re
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from saml2 import BINDING_HTTP_POST, md
from saml2.saml import NAMEID_FORMAT_TRANSIENT
from saml2.samlp import STATUS_NO_PASSIVE

from tests.support.saml_idp import IdpUser, SamlIdp, running_idp
from tests.token_service.conftest import Server, create_user
from tests.token_service.oidc_world import onward
from tests.token_service.saml_world import (
    SamlWorld,
    make_world,
    partner_user,
    post_back,
    start,
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
from token_service.federation.saml_keys import self_signed


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamlIdp]:
    yield from running_idp(tmp_path_factory.mktemp("saml-idp"), {})


@pytest.fixture(scope="module")
def world(cognito: Any, server: Server, idp: SamlIdp) -> SamlWorld:
    return make_world(cognito, server.url, idp, "SAML partners")


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def refused(response: httpx.Response) -> str:
    """The error_description of an access_denied sent to the app: by a redirect from
    /oauth2/authorize, by the page that moves the browser on from the ACS."""
    if response.status_code == 200:
        location = onward(response)
    else:
        assert response.status_code == 303, response.text
        location = response.headers["location"]
    assert location.startswith(CALLBACK), location
    answer = query_of(location)
    assert answer["error"] == "access_denied" and "code" not in answer, answer
    return answer["error_description"]


def user_exists(cognito: Any, pool: str, username: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=pool, Username=username)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "UserNotFoundException"
        return False
    return True


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


def _without_signature(assertion: str) -> str:
    return re.sub(r"<ds:Signature.*?</ds:Signature>", "", assertion, flags=re.S)


def _wrapped(xml: str, where: str) -> str:
    """XML signature wrapping: an unsigned assertion for another user next to the signed
    one, or in its place with the signed one moved into the Response's Extensions (with
    another ID; with the signed one's own ID, so that a lookup by ID finds the signed one
    while the Response's assertion is the forged one; or that and its signature copied)."""
    start_at = xml.index("<ns1:Assertion")
    end_at = xml.index("</ns1:Assertion>") + len("</ns1:Assertion>")
    signed = xml[start_at:end_at]
    evil = signed if where == "copied signature" else _without_signature(signed)
    evil = evil.replace(">mallory-wrap-", ">admin-wrap-")
    if where not in ("same ID", "copied signature"):
        evil = re.sub(r'ID="[^"]+"', 'ID="_evil"', evil, count=1)
    if where == "sibling":
        return xml[:start_at] + evil + signed + xml[end_at:]
    issuer_end = xml.index("</ns1:Issuer>") + len("</ns1:Issuer>")
    extensions = f"<ns0:Extensions>{signed}</ns0:Extensions>"
    head, tail = xml[:issuer_end], xml[issuer_end:start_at]
    return head + extensions + tail + evil + xml[end_at:]


def _response_wrapped(xml: str) -> str:
    """Wrapping of a signed Response: a new unsigned Response (another ID) whose Extensions
    hold the signed one and whose own assertion names another user."""
    xml = re.sub(r"^<\?xml[^>]*\?>", "", xml.strip())
    root_end = xml.index(">") + 1
    outer = re.sub(r'ID="[^"]+"', 'ID="_evil-response"', xml[:root_end], count=1)
    issuer = xml[xml.index("<ns1:Issuer") : xml.index("</ns1:Issuer>") + len("</ns1:Issuer>")]
    status = xml[xml.index("<ns0:Status>") : xml.index("</ns0:Status>") + len("</ns0:Status>")]
    assertion = xml[xml.index("<ns1:Assertion") : xml.index("</ns1:Assertion>") + 16]
    evil = assertion.replace(">mallory-wrap-", ">admin-wrap-")
    extensions = f"<ns0:Extensions>{xml}</ns0:Extensions>"
    return f"{outer}{issuer}{extensions}{status}{evil}</ns0:Response>"


HOSTILE = {
    "unsigned": ({"sign_assertion": False}, "not signed"),
    "another key": ({"keys": self_signed("impostor")}, "not signed"),
    "sha1": ({"sha1": True}, "SHA-1"),
    "expired": ({"lifetime_minutes": -10}, "expired"),
    "wrong audience": ({"audience": "urn:amazon:cognito:sp:us-east-1_other"}, "audience"),
    "wrong recipient": ({"acs": "https://evil.example/saml2/idpresponse"}, "not addressed"),
    "wrong InResponseTo": ({"request_id": "_another-request"}, "answers no request"),
    "transient NameID": ({"name_id_format": NAMEID_FORMAT_TRANSIENT}, "transient NameID"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_responses_go_back_to_the_app_refused_and_create_no_one(
    cognito: Any, browser: httpx.Client, world: SamlWorld, case: str
) -> None:
    changes, reason = HOSTILE[case]
    seen, _ = start(browser, world, pkce()[1])
    name_id = f"mallory-{case.replace(' ', '-')}"
    arguments = {"request_id": seen.id, "acs": seen.acs, "audience": seen.sp}
    options = {k: v for k, v in changes.items() if k not in arguments}
    arguments.update({k: v for k, v in changes.items() if k in arguments})
    xml = world.idp.response(
        arguments["request_id"],
        arguments["acs"],
        arguments["audience"],
        partner_user(name_id, f"{name_id}@partner.example"),
        **options,
    )
    assert reason in refused(post_back(browser, xml, seen.relay_state))
    assert not user_exists(cognito, world.pool, f"Partner_{name_id}")


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("sibling", "exactly one"),
        ("extensions", "not signed"),
        ("same ID", "not signed"),
        ("copied signature", "not signed"),
        ("response", "not signed"),
    ],
)
def test_signature_wrapping_is_refused(
    cognito: Any, browser: httpx.Client, world: SamlWorld, where: str, reason: str
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    where_id = where.replace(" ", "-")
    user = partner_user(f"mallory-wrap-{where_id}", "mallory@partner.example")
    if where == "response":
        signed = world.idp.response(
            seen.id, seen.acs, seen.sp, user, sign_assertion=False, sign_response=True
        )
        xml = _response_wrapped(signed)
    else:
        xml = _wrapped(world.idp.response(seen.id, seen.acs, seen.sp, user), where)
    assert reason in refused(post_back(browser, xml, seen.relay_state))
    assert not user_exists(cognito, world.pool, f"Partner_admin-wrap-{where_id}")
    assert not user_exists(cognito, world.pool, f"Partner_mallory-wrap-{where_id}")


def test_an_idp_refusal_reaches_the_app_and_the_events(
    server: Server, browser: httpx.Client, world: SamlWorld
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    answer = post_back(browser, world.idp.refusal(seen.id, seen.acs), seen.relay_state)
    assert "did not sign the user in" in refused(answer)
    listed = server.cli("events", "--pool", world.pool, "--json", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    reasons = [event.get("reason") for event in json.loads(listed.stdout)["events"]]
    assert "Partner: The identity provider did not sign the user in." in reasons


def test_an_assertion_of_another_issuer_signed_with_the_idps_key_is_refused(
    cognito: Any, browser: httpx.Client, world: SamlWorld, tmp_path: Path
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    with contextmanager(running_idp)(tmp_path, {}) as other:
        other.keys = world.idp.keys
        other.trust(httpx.get(f"{world.server_url}/{world.pool}/saml2/metadata").text)
        xml = other.response(seen.id, seen.acs, seen.sp, partner_user("elsewhere", "e@x.example"))
    assert other.entity_id != world.idp.entity_id
    assert "not signed" in refused(post_back(browser, xml, seen.relay_state))
    assert not user_exists(cognito, world.pool, "Partner_elsewhere")


def test_a_response_is_used_once_and_only_for_its_own_request(
    browser: httpx.Client, world: SamlWorld
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    xml = world.idp.response(seen.id, seen.acs, seen.sp, partner_user("replayed", "r@p.example"))
    assert "code" in query_of(onward(post_back(browser, xml, seen.relay_state)))
    again = post_back(browser, xml, seen.relay_state)
    assert again.status_code == 400 and "already used" in again.text
    other, _ = start(browser, world, pkce()[1])
    assert "answers no request" in refused(post_back(browser, xml, other.relay_state))


def test_a_response_posted_into_another_browser_is_refused(
    cognito: Any, server: Server, browser: httpx.Client, world: SamlWorld
) -> None:
    """Login CSRF: the attacker's own trip and assertion, posted from the victim's browser."""
    seen, _ = start(browser, world, pkce()[1])
    xml = world.idp.response(seen.id, seen.acs, seen.sp, partner_user("attacker", "a@p.example"))
    with httpx.Client(base_url=server.url, timeout=10) as victim:
        answer = post_back(victim, xml, seen.relay_state)
    assert answer.status_code == 400 and "did not start in this browser" in answer.text
    assert "cognito" not in victim.cookies
    assert not user_exists(cognito, world.pool, "Partner_attacker")


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(garbage=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_any_garbage_as_saml_response_is_refused_cleanly(
    browser: httpx.Client, world: SamlWorld, garbage: str | bytes
) -> None:
    seen, _ = start(browser, world, pkce()[1])
    if isinstance(garbage, bytes):
        value = base64.b64encode(zlib.compress(garbage)).decode()
    else:
        value = garbage
    answer = browser.post(
        "/saml2/idpresponse", data={"SAMLResponse": value, "RelayState": seen.relay_state}
    )
    refused(answer)


def test_xml_entities_in_a_response_are_refused(browser: httpx.Client, world: SamlWorld) -> None:
    """Entity expansion ("billion laughs") and external entities never reach the parser's
    expansion: the document is refused as a whole."""
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    for doctype, where, entity in (
        (f'<!DOCTYPE r [<!ENTITY l0 "lol">{laughs}]>', ">lol<", ">&l9;<"),
        ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', ">l@p.example<", ">&x;<"),
    ):
        seen, _ = start(browser, world, pkce()[1])
        xml = world.idp.response(seen.id, seen.acs, seen.sp, partner_user("lol", "l@p.example"))
        body = re.sub(r"^<\?xml[^>]*\?>", "", xml.strip())
        hostile = doctype + body.replace(where, entity)
        refused(post_back(browser, hostile, seen.relay_state))


def test_acs_refuses_what_is_not_a_form_post(browser: httpx.Client) -> None:
    assert browser.get("/saml2/idpresponse").status_code == 405
    posted = browser.post("/saml2/idpresponse", content=b"{}", headers={"content-type": "json"})
    assert posted.status_code == 400
    unknown = browser.post("/saml2/idpresponse", data={"SAMLResponse": "x", "RelayState": "y"})
    assert unknown.status_code == 400 and "unknown, expired or already used" in unknown.text


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

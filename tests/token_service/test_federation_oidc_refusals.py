"""OIDC browser federation against a partner the tests control: every bad answer is refused.

A real `token-service serve` and the hostile IdP (tests/support/hostile_idp.py) on free ports;
httpx plays the browser (its cookies kept, each redirect followed by hand). The IdP's
`/authorize` comes straight back with a code, and `/token` answers with the ID token the test
crafts: forged, expired, for another audience or nonce, unsigned, HS256 with the public key.
Each must land on the app's callback as an OAuth error with the state, record a failed
sign-in event, and create no user; good tokens (RS256, ES256, PS256) sign the user in.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hostile_idp import CLIENT_ID, CLIENT_SECRET, TENANT, HostileIdp
from tests.token_service.conftest import PASSWORD, Server
from tests.token_service.test_authorize import (
    CALLBACK,
    authorize_params,
    claims,
    csrf_of,
    pkce,
    query_of,
    redeem,
)

PROVIDER = "Hostile"
DOMAIN = "hostile.example"


@dataclass
class World:
    pool: str
    client: str
    idp: HostileIdp


def provider_details(idp: HostileIdp, **extra: str) -> dict[str, str]:
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "authorize_scopes": "openid email",
        "oidc_issuer": idp.tenant_issuer,
        "attributes_request_method": "GET",
        **extra,
    }


def make_pool(cognito: Any, idp: HostileIdp, name: str, **details: str) -> World:
    pool = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
    cognito.create_identity_provider(
        UserPoolId=pool,
        ProviderName=PROVIDER,
        ProviderType="OIDC",
        ProviderDetails=provider_details(idp, **details),
        AttributeMapping={"username": "oid", "email": "email", "name": "name"},
        IdpIdentifiers=[DOMAIN],
    )
    client = cognito.create_user_pool_client(
        UserPoolId=pool,
        ClientName="spa",
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO", PROVIDER],
    )["UserPoolClient"]["ClientId"]
    return World(pool, client, idp)


@pytest.fixture(scope="module")
def idp() -> Iterator[HostileIdp]:
    running = HostileIdp()
    yield running
    running.close()


@pytest.fixture(scope="module")
def world(cognito: Any, idp: HostileIdp) -> World:
    return make_pool(cognito, idp, "hostile-partner")


@pytest.fixture
def browser(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(autouse=True)
def good_idp(idp: HostileIdp) -> Iterator[None]:
    """Each test starts with an IdP that answers well."""
    idp.error, idp.token_status, idp.response_issuer, idp.userinfo = None, 200, None, {}
    idp.mint = lambda nonce: idp.id_token(nonce)
    yield


def to_idp(browser: httpx.Client, world: World, **extra: str) -> tuple[httpx.Response, str]:
    """Our authorize redirect to the IdP, and the PKCE verifier of the app's request."""
    verifier, challenge = pkce()
    params = authorize_params(world.client, challenge, identity_provider=PROVIDER, **extra)
    return browser.get("/oauth2/authorize", params=params), verifier


def round_trip(browser: httpx.Client, world: World, **extra: str) -> tuple[str, str]:
    """Out to the IdP and back: the URL the IdP sends the browser back to, and the verifier."""
    leaving, verifier = to_idp(browser, world, **extra)
    assert leaving.status_code == 303, leaving.text
    back = httpx.get(leaving.headers["location"])
    assert back.status_code == 302
    return back.headers["location"], verifier


def finish(browser: httpx.Client, back: str) -> httpx.Response:
    return browser.get(back.removeprefix(str(browser.base_url).rstrip("/")))


def onward(answer: httpx.Response) -> str:
    """Where the idpresponse page moves the browser on to (its meta refresh and link)."""
    assert answer.status_code == 200, answer.text
    refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', answer.text)
    link = re.search(r'id="continue" href="([^"]+)"', answer.text)
    assert refresh and link and refresh.group(1) == link.group(1), answer.text
    return html.unescape(link.group(1))


def code_of(answer: httpx.Response) -> str:
    return query_of(onward(answer))["code"]


def refused_at_app(answer: httpx.Response) -> dict[str, str]:
    location = onward(answer) if answer.status_code == 200 else answer.headers["location"]
    assert location.startswith(CALLBACK + "?"), location
    query = query_of(location)
    assert "code" not in query and query["state"].startswith("st-")
    return query


def no_user(cognito: Any, world: World, oid: str) -> bool:
    try:
        cognito.admin_get_user(UserPoolId=world.pool, Username=f"{PROVIDER}_{oid}")
    except ClientError as error:
        return error.response["Error"]["Code"] == "UserNotFoundException"
    return False


def test_a_good_id_token_signs_the_partner_user_in_with_pkce_and_client_authentication(
    browser: httpx.Client, http: httpx.Client, server: Server, world: World, idp: HostileIdp
) -> None:
    leaving, verifier = to_idp(browser, world)
    location = leaving.headers["location"]
    request = query_of(location)
    assert location.startswith(f"{idp.base_url}/{TENANT}/oauth2/v2.0/authorize?")
    assert request["redirect_uri"] == f"{server.url}/oauth2/idpresponse"
    assert request["client_id"] == CLIENT_ID and request["code_challenge_method"] == "S256"
    assert set(request["scope"].split()) == {"openid", "email"}
    assert request["state"] != query_of(str(leaving.request.url))["state"]
    cookie = leaving.cookies.get("cognito-federation")
    assert cookie and "httponly" in leaving.headers["set-cookie"].lower()
    back = httpx.get(location).headers["location"]
    answer = finish(browser, back)
    code = code_of(answer)
    assert "cognito=" in answer.headers["set-cookie"]
    sent = idp.token_requests[-1]
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert sent["authorization"] == f"Basic {expected}"
    challenge = hashlib.sha256(sent["form"]["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(challenge).rstrip(b"=").decode() == request["code_challenge"]
    assert sent["form"]["redirect_uri"] == request["redirect_uri"]
    tokens = redeem(http, world.client, code, verifier).json()
    identity = claims(tokens["id_token"])
    assert identity["cognito:username"] == f"{PROVIDER}_partner-user-1"
    assert identity["email"] == "partner-user-1@hostile.example"
    assert identity["identities"][0]["providerName"] == PROVIDER


@pytest.mark.parametrize("alg", ["ES256", "PS256"])
def test_ec_and_pss_signatures_are_accepted(
    browser: httpx.Client, world: World, idp: HostileIdp, alg: str
) -> None:
    idp.mint = lambda nonce: idp.id_token(nonce, oid=f"user-{alg}", alg=alg)
    back, _ = round_trip(browser, world)
    answer = finish(browser, back)
    assert code_of(answer)


def _now() -> int:
    return int(time.time())


def _without_oid(idp: HostileIdp, nonce: str, oid: str) -> str:
    claims_ = {k: v for k, v in idp.claims(TENANT, CLIENT_ID, oid, nonce=nonce).items()}
    del claims_["oid"]
    return jwt.encode(claims_, idp.rsa_key, algorithm="RS256", headers={"kid": idp.kid})


# Ways an ID token must not be: name -> (idp, nonce, oid) -> token.
FORGERIES: dict[str, Callable[[HostileIdp, str, str], str]] = {
    "expired": lambda idp, n, o: idp.id_token(n, o, exp=_now() - 3600, iat=_now() - 7200),
    "future_iat": lambda idp, n, o: idp.id_token(n, o, iat=_now() + 3600),
    "wrong_audience": lambda idp, n, o: idp.token(TENANT, "someone-else", o, nonce=n),
    "several_audiences_no_azp": lambda idp, n, o: idp.token(
        TENANT,
        [CLIENT_ID, "other"],  # type: ignore[arg-type]
        o,
        nonce=n,
    ),
    "wrong_nonce": lambda idp, n, o: idp.id_token("another-sign-in", o),
    "no_nonce": lambda idp, n, o: idp.id_token(None, o),  # type: ignore[arg-type]
    "wrong_issuer": lambda idp, n, o: idp.id_token(n, o, iss=idp.issuer("other-tenant")),
    "unsigned": lambda idp, n, o: idp.unsigned_token(TENANT, CLIENT_ID, o, nonce=n),
    "hs256_public_key": lambda idp, n, o: idp.hs256_with_public_key(TENANT, CLIENT_ID, o, nonce=n),
    "foreign_key": lambda idp, n, o: idp.foreign_token(TENANT, CLIENT_ID, o, nonce=n),
    "unknown_kid": lambda idp, n, o: idp.id_token(n, o, kid="not-published"),
    "no_subject": _without_oid,
    "not_a_jwt": lambda idp, n, o: "definitely.not.a-jwt",
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_bad_id_tokens_are_refused_recorded_and_create_no_one(
    browser: httpx.Client,
    cognito: Any,
    server: Server,
    world: World,
    idp: HostileIdp,
    forgery: str,
) -> None:
    oid = f"forged-{forgery}"
    idp.mint = lambda nonce: FORGERIES[forgery](idp, nonce, oid)
    back, _ = round_trip(browser, world)
    query = refused_at_app(finish(browser, back))
    assert query["error"] == "invalid_request" and query["error_description"]
    assert no_user(cognito, world, oid)


def test_refusals_are_sign_in_events_with_their_reasons(
    browser: httpx.Client, server: Server, world: World, idp: HostileIdp
) -> None:
    for forgery in ("expired", "wrong_nonce"):
        idp.mint = lambda nonce, forgery=forgery: FORGERIES[forgery](idp, nonce, "oid-events")
        back, _ = round_trip(browser, world)
        refused_at_app(finish(browser, back))
    idp.mint = lambda nonce: idp.id_token(nonce, oid="oid-events", amr=["pwd", "mfa", "x"])
    back, _ = round_trip(browser, world)
    assert code_of(finish(browser, back))
    listed = server.cli("events", "--pool", world.pool, "--limit", "5", "--json")
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout)["events"]
    assert [(e["kind"], e["result"], e["reason"]) for e in events] == [
        ("session_start", "pass", None),
        ("sign_in", "pass", f"{PROVIDER}: pwd mfa"),
        ("mfa", "pass", None),
        ("sign_in", "fail", f"{PROVIDER}: wrong_nonce"),
        ("sign_in", "fail", f"{PROVIDER}: token_expired"),
    ]
    assert all(e["client_id"] == world.client for e in events)
    assert events[0]["user_sub"] == events[1]["user_sub"] is not None


def test_the_idps_error_goes_back_to_the_app(
    browser: httpx.Client, server: Server, world: World, idp: HostileIdp
) -> None:
    idp.error = "access_denied"
    back, _ = round_trip(browser, world)
    query = refused_at_app(finish(browser, back))
    assert query["error"] == "access_denied"
    assert query["error_description"] == "The user said no."


def test_a_code_the_idp_refuses_goes_back_to_the_app(
    browser: httpx.Client, world: World, idp: HostileIdp
) -> None:
    idp.token_status = 400
    back, _ = round_trip(browser, world)
    assert refused_at_app(finish(browser, back))["error"] == "invalid_request"


def test_state_is_single_use_and_bound_to_the_browser(
    browser: httpx.Client, server: Server, world: World
) -> None:
    back, _ = round_trip(browser, world)
    assert code_of(finish(browser, back))
    replayed = finish(browser, back)
    assert replayed.status_code == 400 and "location" not in replayed.headers
    assert "already used" in replayed.text
    # A trip started in this browser, finished in another (a login CSRF), is refused.
    back, _ = round_trip(browser, world)
    with httpx.Client(base_url=server.url, timeout=10) as other:
        answer = finish(other, back)
    assert answer.status_code == 400 and "did not start in this browser" in answer.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["state", "code", "error", "error_description", "iss", "x"]),
        st.text(max_size=80),
        max_size=4,
    ),
    post=st.booleans(),
)
def test_any_answer_without_a_trip_gets_the_error_page(
    browser: httpx.Client, params: dict[str, str], post: bool
) -> None:
    if post:
        answer = browser.post("/oauth2/idpresponse", data=params)
    else:
        answer = browser.get("/oauth2/idpresponse", params=params)
    assert answer.status_code == 400, answer.text
    assert "location" not in answer.headers


def test_provider_not_supported_by_the_client_goes_back_as_invalid_request(
    browser: httpx.Client, cognito: Any, world: World
) -> None:
    other = cognito.create_user_pool_client(
        UserPoolId=world.pool,
        ClientName="password-only",
        AllowedOAuthFlows=["code"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["openid", "email"],
        CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]["ClientId"]
    answer = browser.get(
        "/oauth2/authorize",
        params=authorize_params(other, pkce()[1], identity_provider=PROVIDER),
    )
    assert refused_at_app(answer)["error"] == "invalid_request"


def test_idp_identifier_routes_to_the_provider(browser: httpx.Client, world: World) -> None:
    params = authorize_params(world.client, pkce()[1], idp_identifier=DOMAIN.upper())
    answer = browser.get("/oauth2/authorize", params=params)
    assert answer.status_code == 303 and "/oauth2/v2.0/authorize?" in answer.headers["location"]


def test_login_page_offers_the_provider_and_routes_by_email_domain(
    browser: httpx.Client, world: World, idp: HostileIdp
) -> None:
    params = authorize_params(world.client, pkce()[1])
    started = browser.get("/oauth2/authorize", params=params)
    page = browser.get(started.headers["location"])
    assert f"Sign in with {PROVIDER}" in page.text and 'name="email"' in page.text
    assert 'name="username"' in page.text and 'name="password"' in page.text
    token = csrf_of(page)
    action = f"/login/federated?{urlsplit(started.headers['location']).query}"
    routed = browser.post(action, data={"_csrf": token, "email": f"Pat@{DOMAIN}"})
    assert routed.status_code == 303
    assert routed.headers["location"].startswith(f"{idp.base_url}/{TENANT}/oauth2/v2.0/authorize?")
    assert query_of(routed.headers["location"])["login_hint"] == f"Pat@{DOMAIN}"
    elsewhere = browser.post(action, data={"_csrf": token, "email": "pat@elsewhere.example"})
    assert elsewhere.status_code == 200 and "No company sign-in" in elsewhere.text
    assert 'value="pat@elsewhere.example"' in elsewhere.text
    forged = browser.post(action, data={"email": f"pat@{DOMAIN}"})
    assert forged.status_code == 403


def test_disabled_and_deleted_providers_sign_no_one_in(
    browser: httpx.Client, cognito: Any, idp: HostileIdp
) -> None:
    world = make_pool(cognito, idp, "hostile-lifecycle")
    idp.mint = lambda nonce: idp.id_token(nonce, oid="came-before")
    back, _ = round_trip(browser, world)
    assert code_of(finish(browser, back))
    idp.mint = lambda nonce: idp.id_token(nonce)
    back, _ = round_trip(browser, world)
    cognito.update_identity_provider(
        UserPoolId=world.pool,
        ProviderName=PROVIDER,
        ProviderDetails=provider_details(idp, enabled="false"),
    )
    # A trip started before the provider was disabled does not complete.
    assert refused_at_app(finish(browser, back))["error"] == "invalid_request"
    leaving, _ = to_idp(browser, world)
    assert "disabled" in refused_at_app(leaving)["error_description"]
    cognito.update_identity_provider(
        UserPoolId=world.pool, ProviderName=PROVIDER, ProviderDetails=provider_details(idp)
    )
    back, _ = round_trip(browser, world)
    cognito.delete_identity_provider(UserPoolId=world.pool, ProviderName=PROVIDER)
    assert refused_at_app(finish(browser, back))["error"] == "invalid_request"
    assert no_user(cognito, world, "partner-user-1")
    # The user it made stays, with no way in through it.
    kept = cognito.admin_get_user(UserPoolId=world.pool, Username=f"{PROVIDER}_came-before")
    assert kept["UserStatus"] == "EXTERNAL_PROVIDER"
    leaving, _ = to_idp(browser, world)
    assert refused_at_app(leaving)["error"] == "invalid_request"


def test_first_sign_in_refuse_admits_only_linked_identities(
    browser: httpx.Client, cognito: Any, http: httpx.Client, idp: HostileIdp
) -> None:
    world = make_pool(cognito, idp, "hostile-refuse", first_sign_in="refuse")
    back, _ = round_trip(browser, world)
    query = refused_at_app(finish(browser, back))
    assert query["error"] == "access_denied"
    assert no_user(cognito, world, "partner-user-1")
    cognito.admin_create_user(UserPoolId=world.pool, Username="pat", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=world.pool, Username="pat", Password=PASSWORD, Permanent=True
    )
    cognito.admin_link_provider_for_user(
        UserPoolId=world.pool,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "pat"},
        SourceUser={
            "ProviderName": PROVIDER,
            "ProviderAttributeName": "Cognito_Subject",
            "ProviderAttributeValue": "partner-user-1",
        },
    )
    back, verifier = round_trip(browser, world)
    code = code_of(finish(browser, back))
    tokens = redeem(http, world.client, code, verifier).json()
    assert claims(tokens["id_token"])["cognito:username"] == "pat"


def test_userinfo_adds_claims_and_must_describe_the_same_user(
    browser: httpx.Client, http: httpx.Client, cognito: Any, world: World, idp: HostileIdp
) -> None:
    idp.mint = lambda nonce: idp.id_token(nonce, oid="user-info")
    idp.userinfo = {"name": "Named By UserInfo"}
    back, verifier = round_trip(browser, world)
    tokens = redeem(http, world.client, code_of(finish(browser, back)), verifier).json()
    assert claims(tokens["id_token"])["name"] == "Named By UserInfo"
    idp.mint = lambda nonce: idp.id_token(nonce, oid="user-info-mismatch")
    idp.userinfo = {"sub": "somebody-else", "name": "Impostor"}
    back, _ = round_trip(browser, world)
    assert "another user" in refused_at_app(finish(browser, back))["error_description"]
    assert no_user(cognito, world, "user-info-mismatch")


def test_the_authorization_responses_iss_must_be_the_providers(
    browser: httpx.Client, cognito: Any, world: World, idp: HostileIdp
) -> None:
    idp.response_issuer = idp.tenant_issuer
    back, _ = round_trip(browser, world)
    assert code_of(finish(browser, back))
    idp.mint = lambda nonce: idp.id_token(nonce, oid="mixed-up")
    idp.response_issuer = "https://another-idp.example"
    back, _ = round_trip(browser, world)
    assert "another issuer" in refused_at_app(finish(browser, back))["error_description"]
    assert no_user(cognito, world, "mixed-up")


def test_client_secret_post_when_the_idp_takes_only_that(
    browser: httpx.Client, cognito: Any
) -> None:
    post_only = HostileIdp(auth_methods=("client_secret_post",))
    try:
        world = make_pool(cognito, post_only, "hostile-post")
        back, _ = round_trip(browser, world)
        assert code_of(finish(browser, back))
        sent = post_only.token_requests[-1]
        assert sent["authorization"] is None
        assert sent["form"]["client_id"] == CLIENT_ID
        assert sent["form"]["client_secret"] == CLIENT_SECRET
    finally:
        post_only.close()


def test_an_idp_that_stops_answering_is_temporarily_unavailable(
    browser: httpx.Client, cognito: Any
) -> None:
    gone = HostileIdp()
    world = make_pool(cognito, gone, "hostile-gone")
    back, _ = round_trip(browser, world)
    gone.close()
    query = refused_at_app(finish(browser, back))
    assert query["error"] == "temporarily_unavailable"


def test_prompt_none_is_passed_on_and_the_idps_login_required_comes_back(
    browser: httpx.Client, world: World, idp: HostileIdp
) -> None:
    idp.error = "login_required"
    leaving, _ = to_idp(browser, world, prompt="none")
    assert query_of(leaving.headers["location"])["prompt"] == "none"
    back = httpx.get(leaving.headers["location"]).headers["location"]
    assert refused_at_app(finish(browser, back))["error"] == "login_required"


def test_a_multi_tenant_issuer_admits_only_its_allowed_tenants(
    browser: httpx.Client, cognito: Any, idp: HostileIdp
) -> None:
    world = make_pool(
        cognito,
        idp,
        "hostile-multi-tenant",
        oidc_issuer=idp.template_issuer,
        allowed_tenants=TENANT,
        authorize_url=f"{idp.base_url}/{TENANT}/oauth2/v2.0/authorize",
        token_url=f"{idp.base_url}/{TENANT}/oauth2/v2.0/token",
        jwks_uri=idp.jwks_uri,
    )
    back, _ = round_trip(browser, world)
    assert code_of(finish(browser, back))
    stranger = "0e9d8c7b-0000-4000-8000-00000000beef"
    idp.mint = lambda nonce: idp.token(stranger, CLIENT_ID, "from-elsewhere", nonce=nonce)
    back, _ = round_trip(browser, world)
    assert "tenant" in refused_at_app(finish(browser, back))["error_description"]
    assert no_user(cognito, world, "from-elsewhere")

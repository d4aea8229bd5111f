"""OIDC browser federation: which provider a sign-in goes to, and how the provider's settings
and the partner's behaviour change the outcome.

Against the hostile IdP of oidc_world.py: providers a client does not support, `idp_identifier`
and the login page's email routing, disabled and deleted providers and their users,
`first_sign_in=refuse`, userInfo, the RFC 9207 `iss` parameter, `client_secret_post`, an IdP
that stops answering, `prompt=none`, and a multi-tenant (Entra-style) issuer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.hostile_idp import CLIENT_ID, CLIENT_SECRET, TENANT, HostileIdp
from tests.token_service.conftest import (
    PASSWORD,
    Server,
    cognito_client,
)
from tests.token_service.oidc_world import (
    DOMAIN,
    PROVIDER,
    World,
    browser,
    code_of,
    finish,
    good_idp,
    idp,
    make_pool,
    no_user,
    provider_details,
    refused_at_app,
    round_trip,
    to_idp,
    world,
)
from tests.token_service.test_authorize import (
    CALLBACK,
    authorize_params,
    claims,
    csrf_of,
    pkce,
    query_of,
    redeem,
)

__all__ = ["browser", "good_idp", "idp", "world"]  # fixtures of oidc_world


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_server(request: pytest.FixtureRequest) -> tuple[Server, Any]:
    if request.param == "sqlite":
        return request.getfixturevalue("server"), request.getfixturevalue("cognito")
    running = request.getfixturevalue("postgres_server")
    return running, cognito_client(running.url)


def test_tabs_finishing_a_new_identitys_first_sign_in_at_once_make_one_user(
    any_server: tuple[Server, Any], idp: HostileIdp
) -> None:
    """Eight browsers back from the IdP with one new identity at once: each gets its code,
    all for one user (a loser of the race retries by itself and finds the winner's)."""
    server, cognito = any_server
    world = make_pool(cognito, idp, "hostile-race")
    idp.mint = lambda nonce: idp.id_token(nonce, oid="racing-user")
    browsers = [httpx.Client(base_url=server.url, timeout=30) for _ in range(8)]
    try:
        returns = [round_trip(one, world)[0] for one in browsers]
        with ThreadPoolExecutor(len(browsers)) as pool:
            answers = list(pool.map(finish, browsers, returns))
    finally:
        for one in browsers:
            one.close()
    assert all(code_of(answer) for answer in answers)
    users = cognito.list_users(UserPoolId=world.pool)["Users"]
    assert [user["Username"] for user in users] == [f"{PROVIDER}_racing-user"]

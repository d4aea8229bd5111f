"""OIDC browser federation against a partner the tests control: every bad answer is refused.

A real `token-service serve` and the hostile IdP (tests/support/hostile_idp.py, see
oidc_world.py) on free ports; httpx plays the browser. Forged, expired, wrong-audience,
wrong-nonce, unsigned and HS256-with-the-public-key ID tokens must land on the app's callback
as an OAuth error with the state, record a failed sign-in event, and create no user; good
tokens (RS256, ES256, PS256) sign the user in. The state is single-use and bound to the
browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hostile_idp import CLIENT_ID, CLIENT_SECRET, TENANT, HostileIdp
from tests.token_service.conftest import Server
from tests.token_service.oidc_world import (
    PROVIDER,
    World,
    browser,
    code_of,
    finish,
    good_idp,
    idp,
    no_user,
    refused_at_app,
    round_trip,
    to_idp,
    world,
)
from tests.token_service.test_authorize import (
    claims,
    query_of,
    redeem,
)

__all__ = ["browser", "good_idp", "idp", "world"]  # fixtures of oidc_world


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

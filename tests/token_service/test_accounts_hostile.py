"""Hostile input to the self-service operations: whatever a request holds, the answer is a
200 or one of the errors Cognito documents for that operation, never a 500."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.token_service.conftest import PASSWORD, Server, cognito_client, start_server, stop_server
from tests.token_service.mailbox import SmtpServer
from tests.token_service.test_accounts import make_mail_pool

pytestmark = pytest.mark.e2e

MODEL = Path(botocore.__file__).parent / "data/cognito-idp/2016-04-18/service-2.json.gz"
PUBLIC = [
    "SignUp",
    "ConfirmSignUp",
    "ResendConfirmationCode",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "ChangePassword",
    "UpdateUserAttributes",
    "GetUserAttributeVerificationCode",
    "VerifyUserAttribute",
    "DeleteUser",
]


def _documented() -> dict[str, tuple[list[str], set[str], set[str]]]:
    """Each operation's input members, required members and documented error codes."""
    model = json.loads(gzip.decompress(MODEL.read_bytes()))
    result = {}
    for name in PUBLIC:
        operation = model["operations"][name]
        shape = model["shapes"][operation["input"]["shape"]]
        errors = {e["shape"] for e in operation.get("errors", [])}
        result[name] = (list(shape["members"]), set(shape.get("required", [])), errors)
    return result


DOCUMENTED = _documented()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict]]:
    smtp = SmtpServer()
    server = start_server(tmp_path_factory.mktemp("hostile"), TOKEN_SERVICE_SMTP_URL=smtp.url)
    pool = make_mail_pool(cognito_client(server.url))
    cognito = cognito_client(server.url)
    cognito.sign_up(
        ClientId=pool.client,
        Username="target",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "target@example.com"}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=pool.id, Username="target")
    signed_in = cognito.initiate_auth(
        ClientId=pool.client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "target", "PASSWORD": PASSWORD},
    )
    real = {
        "ClientId": pool.client,
        "Username": "target",
        "Password": PASSWORD,
        "PreviousPassword": PASSWORD,
        "ConfirmationCode": "123456",
        "Code": "123456",
        "AccessToken": signed_in["AuthenticationResult"]["AccessToken"],
        "AttributeName": "email",
    }
    yield server, real
    stop_server(server)
    smtp.stop()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
attribute_lists = st.lists(
    st.fixed_dictionaries(
        {
            "Name": st.sampled_from(
                ["email", "phone_number", "sub", "custom:x", "name", "email_verified"]
            )
            | json_values
        },
        optional={"Value": st.text(max_size=30) | json_values},
    ),
    max_size=3,
)


@st.composite
def requests(draw: st.DrawFn, real: dict[str, str]) -> tuple[str, dict[str, Any]]:
    operation = draw(st.sampled_from(PUBLIC))
    members, required, _ = DOCUMENTED[operation]
    params: dict[str, Any] = {}
    for member in members:
        # Mostly the required members, and mostly well-formed, so requests get past parsing.
        if not draw(
            st.sampled_from([True] * 4 + [False] if member in required else [True, False, False])
        ):
            continue
        if member in ("UserAttributes", "ValidationData"):
            params[member] = draw(attribute_lists | json_values)
        elif member in real and operation != "DeleteUser":  # keep the user for the others
            well_formed = st.just(real[member])
            params[member] = draw(st.one_of(well_formed, well_formed, well_formed, json_values))
        else:
            params[member] = draw(json_values)
    return operation, params


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_request_is_answered_or_refused_as_documented(
    hostile_server: tuple[Server, dict], data: st.DataObject
) -> None:
    server, real = hostile_server
    operation, params = data.draw(requests(real))
    response = httpx.post(
        server.url,
        content=json.dumps(params),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
        },
        timeout=30,
    )
    event(f"{operation}: {response.status_code} {response.json().get('__type', '')}")
    if response.status_code == 200:
        return
    assert response.status_code == 400, (operation, params, response.text)
    error = response.json()["__type"]
    _, _, documented = DOCUMENTED[operation]
    assert error in documented, (operation, params, response.text)
    assert "Traceback" not in response.text

"""What the SRP tests share: a real `token-service serve` with an SRP pool and its clients,
and pycognito's client math to start, answer and tamper with PASSWORD_VERIFIER exchanges."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from botocore import UNSIGNED
from pycognito.aws_srp import AWSSRP

from tests.token_service.conftest import (
    Server,
    cognito_client,
    create_user,
    start_server,
    stop_server,
)

SRP_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
BAD_CREDENTIALS = "Incorrect username or password."


@dataclass
class SrpWorld:
    server: Server
    admin: Any  # boto3 cognito-idp, signed with the admin credentials
    public: Any  # boto3 cognito-idp, unsigned
    pool_id: str
    client: str  # public client with SRP
    secret_client: str
    secret: str
    password_only: str  # a client without ALLOW_USER_SRP_AUTH

    def user(self, prefix: str = "srp") -> str:
        username = f"{prefix}-{uuid.uuid4().hex[:10]}"
        create_user(self.admin, self.pool_id, username)
        return username


def serve_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SrpWorld]:
    """A test module's server, pool and clients (the body of its `world` fixture)."""
    # A long lockout, so a test that reaches it sees it for as long as it runs.
    server = start_server(
        tmp_path_factory.mktemp("srp"),
        TOKEN_SERVICE_LOCKOUT_THRESHOLD="3",
        TOKEN_SERVICE_LOCKOUT_SECONDS="600",
    )
    admin = cognito_client(server.url)
    pool_id = admin.create_user_pool(
        PoolName="srp",
        Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]["Id"]

    def client(name: str, flows: list[str], secret: bool = False) -> dict[str, Any]:
        return admin.create_user_pool_client(
            UserPoolId=pool_id, ClientName=name, GenerateSecret=secret, ExplicitAuthFlows=flows
        )["UserPoolClient"]

    secret_client = client("backend", SRP_FLOWS, secret=True)
    yield SrpWorld(
        server=server,
        admin=admin,
        public=cognito_client(server.url, signature_version=UNSIGNED),
        pool_id=pool_id,
        client=client("spa", SRP_FLOWS)["ClientId"],
        secret_client=secret_client["ClientId"],
        secret=secret_client["ClientSecret"],
        password_only=client("legacy", ["ALLOW_USER_PASSWORD_AUTH"])["ClientId"],
    )
    stop_server(server)


def aws_srp(world: SrpWorld, username: str, password: str, *, secret: bool = False) -> AWSSRP:
    return AWSSRP(
        username=username,
        password=password,
        pool_id=world.pool_id,
        client_id=world.secret_client if secret else world.client,
        client=world.public,
        client_secret=world.secret if secret else None,
    )


def start(world: SrpWorld, helper: AWSSRP) -> dict[str, Any]:
    return world.public.initiate_auth(
        AuthFlow="USER_SRP_AUTH", AuthParameters=helper.get_auth_params(), ClientId=helper.client_id
    )


def answer(world: SrpWorld, helper: AWSSRP, challenge: dict[str, Any]) -> dict[str, Any]:
    """pycognito's own PASSWORD_VERIFIER answer to `challenge`."""
    return helper.process_challenge(challenge["ChallengeParameters"], helper.get_auth_params())


def respond(world: SrpWorld, client_id: str, responses: dict[str, Any]) -> dict[str, Any]:
    return world.public.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
    )


def signed_at(
    world: SrpWorld, helper: AWSSRP, challenge: dict[str, Any], timestamp: str
) -> dict[str, Any]:
    """A correct answer (pycognito's key derivation) signed over the given TIMESTAMP."""
    parameters = challenge["ChallengeParameters"]
    user_id = parameters["USER_ID_FOR_SRP"]
    hkdf = helper.get_password_authentication_key(
        user_id, helper.password, int(parameters["SRP_B"], 16), parameters["SALT"]
    )
    block = base64.b64decode(parameters["SECRET_BLOCK"])
    message = world.pool_id.split("_")[1].encode() + user_id.encode() + block + timestamp.encode()
    signature = base64.b64encode(hmac.new(hkdf, message, hashlib.sha256).digest()).decode()
    return {
        "USERNAME": parameters["USERNAME"],
        "PASSWORD_CLAIM_SECRET_BLOCK": parameters["SECRET_BLOCK"],
        "PASSWORD_CLAIM_SIGNATURE": signature,
        "TIMESTAMP": timestamp,
    }


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def raw(world: SrpWorld, operation: str, body: Any) -> httpx.Response:
    """An unsigned request with a body boto3 would refuse to send."""
    return httpx.post(
        world.server.url,
        content=json.dumps(body),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
        },
        timeout=30,
    )


def temporary_user(world: SrpWorld, temporary: str) -> str:
    username = f"new-{uuid.uuid4().hex[:10]}"
    world.admin.admin_create_user(
        UserPoolId=world.pool_id,
        Username=username,
        TemporaryPassword=temporary,
        MessageAction="SUPPRESS",
    )
    return username

"""Concurrent first calls for one login make one identity, on PostgreSQL (where transactions
run side by side), even for clients that never retry."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from tests.token_service.conftest import Server
from tests.token_service.test_cognito_identity import DEVELOPER, developer_token, identity_client

pytestmark = pytest.mark.postgres
CALLERS = 8


def test_parallel_first_developer_tokens_share_one_identity(postgres_server: Server) -> None:
    # No retries by the client: the service itself settles the race.
    identity: Any = identity_client(postgres_server.url, retries={"total_max_attempts": 1})
    pool_id = identity.create_identity_pool(
        IdentityPoolName="races",
        AllowUnauthenticatedIdentities=False,
        DeveloperProviderName=DEVELOPER,
    )["IdentityPoolId"]
    for _ in range(3):
        user = f"racer-{uuid.uuid4()}"
        call = partial(developer_token, identity, pool_id, user)
        with ThreadPoolExecutor(CALLERS) as callers:
            answers = [done.result() for done in [callers.submit(call) for _ in range(CALLERS)]]
        ids = {answer["IdentityId"] for answer in answers}
        assert len(ids) == 1
        listed = identity.list_identities(IdentityPoolId=pool_id, MaxResults=60)["Identities"]
        assert ids <= {i["IdentityId"] for i in listed}
    assert len(listed) == 3, "no identity without its login was left behind"

"""The client-compatibility matrix against a real `token-service serve`: one test per row.

Each row (tests/support/cognito_matrix.py) runs a real Cognito client library (boto3,
pycognito, the AWS CLI, amazon-cognito-identity-js, Amplify, OAuth and JWT libraries) in its
own fresh pool and fails with what Amazon Cognito would have answered instead. The server
mails its codes to an SMTP server in this process, where rows read them as a person would.
A row whose client is not installed here is skipped, naming the missing install.
`bench/cognito_compat.py` runs the same rows against moto as a peer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cognito_matrix import ROWS, Row, Target, missing, ours_target
from tests.token_service.conftest import Server, start_server, stop_server
from tests.token_service.mailbox import SmtpServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("matrix"),
        TOKEN_SERVICE_SMTP_URL=smtp.url,
        # A lockout long enough that the lockout row sees it whatever the machine's speed.
        TOKEN_SERVICE_LOCKOUT_SECONDS="300",
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def target(matrix_server: Server, smtp: SmtpServer) -> Target:
    return ours_target(matrix_server.url, matrix_server.env, smtp.mailbox)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_row(row: Row, target: Target) -> None:
    reason = missing(row)
    if reason:
        pytest.skip(f"{row.client}: {reason}")
    row.run(target)

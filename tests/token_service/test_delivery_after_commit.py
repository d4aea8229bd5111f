"""Mail goes out after the transaction that wrote the code: a stalled SMTP server holds up no
sign-in; the outbox says what happened to each message, and old records are pruned."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

from aiosmtpd.controller import Controller
from botocore import UNSIGNED

from tests.support.processes import free_port
from tests.token_service.conftest import (
    PASSWORD,
    cli_command,
    cognito_client,
    server_env,
    start_server,
    stop_server,
)
from tests.token_service.mailbox import Mailbox
from tests.token_service.test_accounts import make_mail_pool
from tests.token_service.test_delivery import outbox_records
from token_service.accounts import outbox
from token_service.accounts.delivery import Message, OutboxMailer, SmtpMailer, SmtpTarget
from token_service.services import build_services
from token_service.settings import Settings

DAY = 86400.0


@dataclass
class StalledMailbox(Mailbox):
    """An SMTP server that stops mid-exchange, at DATA, until the test releases it."""

    reached: Event = field(default_factory=Event)
    released: Event = field(default_factory=Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.reached.set()
        await asyncio.get_running_loop().run_in_executor(None, self.released.wait)
        return await super().handle_DATA(server, session, envelope)


def test_a_stalled_smtp_server_holds_up_no_sign_in(tmp_path: Path) -> None:
    mailbox = StalledMailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    # The SMTP timeout is far away: only the release ends the stall.
    server = start_server(
        tmp_path,
        TOKEN_SERVICE_SMTP_URL=f"smtp://127.0.0.1:{port}",
        TOKEN_SERVICE_SMTP_TIMEOUT_SECONDS="600",
    )
    try:
        admin = cognito_client(server.url)
        pool = make_mail_pool(admin)
        admin.admin_create_user(UserPoolId=pool.id, Username="signer", MessageAction="SUPPRESS")
        admin.admin_set_user_password(
            UserPoolId=pool.id, Username="signer", Password=PASSWORD, Permanent=True
        )
        email = f"stalled-{uuid.uuid4().hex[:6]}@example.com"
        signing_up = cognito_client(server.url, signature_version=UNSIGNED)
        signing_in = cognito_client(server.url, signature_version=UNSIGNED)
        with ThreadPoolExecutor(max_workers=1) as executor:
            sign_up = executor.submit(
                signing_up.sign_up,
                ClientId=pool.client,
                Username="stalled",
                Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": email}],
            )
            assert mailbox.reached.wait(60), "the mail never reached DATA"
            # Mid-exchange: a sign-in writes its refresh token and finishes meanwhile.
            tokens = signing_in.initiate_auth(
                ClientId=pool.client,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "signer", "PASSWORD": PASSWORD},
            )["AuthenticationResult"]
            assert tokens["RefreshToken"]
            assert not sign_up.done()
            [pending] = outbox_records(server, "--to", email)
            assert (pending["status"], pending["delivered_by"]) == ("pending", "smtp")
            mailbox.released.set()
            signed_up = sign_up.result(timeout=60)
        assert signed_up["CodeDeliveryDetails"]["Destination"] == "s***@e***"
        code = mailbox.last_code(email)
        [sent] = outbox_records(server, "--to", email)
        assert sent["status"] == "sent" and code not in sent["body"]
        signing_up.confirm_sign_up(ClientId=pool.client, Username="stalled", ConfirmationCode=code)
    finally:
        mailbox.released.set()
        stop_server(server)
        controller.stop()


def _message(n: int) -> Message:
    return Message("us-east-1_Prune0000", "EMAIL", f"p{n}@example.com", "s", "body 1", "body")


def _cli(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [*cli_command(), "outbox", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_old_sent_and_failed_records_are_pruned(tmp_path: Path) -> None:
    env = server_env(tmp_path, TOKEN_SERVICE_OUTBOX_RETENTION_DAYS="30")
    settings = Settings(
        database_url=env["TOKEN_SERVICE_DATABASE_URL"],
        encryption_key=env["TOKEN_SERVICE_ENCRYPTION_KEY"],
    )
    services = build_services(settings)
    store, now = services.core.store, time.time()
    expired, kept = now - 31 * DAY, now - 29 * DAY
    held, smtp = OutboxMailer(), SmtpMailer(SmtpTarget.parse("smtp://127.0.0.1:1"), "a@b.c", 1)
    try:
        with store.transaction() as repo:
            for n in range(150):
                outbox.record(repo, held, _message(n), expired, 30)
            outbox.record(repo, held, _message(150), kept, 30)
            outbox.record(repo, smtp, _message(151), expired, 30)
            failed = outbox.record(repo, smtp, _message(152), expired, 30)
            outbox.settle(repo, failed, outbox.FAILED)
        with store.transaction() as repo:
            # Writing a record deletes a bounded batch of the expired ones.
            outbox.record(repo, held, _message(153), now, 30)
        left = {m["to"]: m["status"] for m in outbox.list_outbox(services.core, limit=1000)}
        assert len(left) == 154 - outbox.PRUNE_BATCH
        # A pending record (a crash between commit and sending) is kept, however old.
        assert left["p151@example.com"] == "pending"
        assert left["p150@example.com"] == left["p153@example.com"] == "sent"
    finally:
        store.dispose()
    assert _cli(env, "--prune") == {"deleted": 51, "retention_days": 30}
    assert sorted(m["to"] for m in _cli(env, "--limit", "1000")) == [
        "p150@example.com",
        "p151@example.com",
        "p153@example.com",
    ]
    assert _cli(env, "--prune") == {"deleted": 0, "retention_days": 30}


def test_an_older_outbox_gains_its_status_and_index(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "CREATE TABLE outbox_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, pool_id"
            " VARCHAR(64), medium VARCHAR(8), destination VARCHAR(320), subject VARCHAR(256),"
            " body VARCHAR(8192), delivered_by VARCHAR(16), created_at FLOAT)"
        )
        db.execute(
            "INSERT INTO outbox_messages (pool_id, medium, destination, subject, body,"
            " delivered_by, created_at) VALUES ('p', 'EMAIL', 'old@example.com', 's', 'b',"
            " 'smtp', ?)",
            (time.time() - 31 * DAY,),
        )
    env = server_env(tmp_path)
    settings = Settings(
        database_url=f"sqlite:///{path}", encryption_key=env["TOKEN_SERVICE_ENCRYPTION_KEY"]
    )
    services = build_services(settings)
    try:
        # A record of an older release was sent, and is pruned as any sent one.
        [older] = outbox.list_outbox(services.core)
        assert (older["to"], older["status"]) == ("old@example.com", "sent")
        assert outbox.prune_outbox(services.core)["deleted"] == 1
    finally:
        services.core.store.dispose()
    with closing(sqlite3.connect(path)) as db:
        indexes = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    assert "ix_outbox_messages_created_at" in indexes

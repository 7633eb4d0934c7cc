"""Issue 19: the outbox sends a batch over one SMTP connection (mail.dispatch, mail.smtp.SmtpConnection),
with the guarantees of one connection per message: a row is marked sent only after the server accepted it,
a refused recipient does not hold up the rest, a relay that closes an idle connection costs nothing, and a
dispatcher killed mid-batch sends nothing twice. Against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from tests.smtp import RecordingSink
from workflows.clock import utcnow
from workflows.mail.outbox import CLAIM_LEASE, DispatchResult, dispatch_due_emails, queue_email
from workflows.mail.sink import SINK_HOST, start_controller
from workflows.mail.smtp import YagmailMailer
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import MailStatus, OutboxEmail

ROOT = Path(__file__).resolve().parents[2]


class Relay(RecordingSink):
    """Records messages and which connection (client address) carried each; can refuse recipients, close
    a connection after it carried `close_after` messages, drop one after its DATA, or hang on one."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[Any] = []
        self.refuse: set[str] = set()
        self.close_after = 0  # close a connection when it starts its message number close_after + 1
        self.drop_after_data = ""  # a subject: stored, then the connection dropped without a reply
        self.hang_on = ""  # a subject: its DATA is never answered (until `released`)
        self.hanging = threading.Event()
        self.released = False

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        carried = getattr(session, "carried", 0)
        if self.close_after and carried >= self.close_after:
            asyncio.get_running_loop().call_soon(_close, server)
            return "421 4.4.2 closing the idle connection"
        session.carried = carried + 1  # type: ignore[attr-defined]
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content or b""
        subject = content.decode(errors="replace") if isinstance(content, bytes) else content
        if self.hang_on and f"Subject: {self.hang_on}" in subject:
            self.hanging.set()
            while not self.released:
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again later"
        status = await super().handle_DATA(server, session, envelope)
        self.peers.append(session.peer)
        if self.drop_after_data and f"Subject: {self.drop_after_data}" in subject:
            _close(server)
        return status


def _close(server: SMTP) -> None:
    assert server.transport is not None
    server.transport.close()


@pytest.fixture
def relay() -> Iterator[Relay]:
    sink = Relay()
    controller = start_controller(sink, SINK_HOST, 0)
    sink.port = controller.port
    yield sink
    sink.released = True
    controller.stop()


def queue_notices(factory: sessionmaker[Any], now: datetime, count: int) -> None:
    with transaction(factory) as session:
        for n in range(count):
            queue_email(
                session,
                to=[f"customer{n}@example.com"],
                template="generic",
                context={"subject": f"Notice {n}", "message": "Please pay."},
                dedupe_key=f"notice:{n}",
                now=now,
            )


def rows(factory: sessionmaker[Any]) -> list[OutboxEmail]:
    with factory() as session:
        return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def subjects(relay: Relay) -> list[str]:
    return [str(m["Subject"]) for m in relay.messages]


def test_a_batch_goes_over_one_connection(
    settings: Settings, session_factory: sessionmaker[Any], clock: datetime, relay: Relay
) -> None:
    queue_notices(session_factory, clock, 12)
    mailer = YagmailMailer(settings.mail, relay.host, relay.port)
    assert dispatch_due_emails(session_factory, mailer, settings.mail, clock) == DispatchResult(sent=12)
    assert subjects(relay) == [f"Notice {n}" for n in range(12)]
    assert len(set(relay.peers)) == 1
    assert {(r.status, r.attempts) for r in rows(session_factory)} == {(MailStatus.SENT, 1)}


def test_a_refused_recipient_is_retried_and_the_others_still_go(
    settings: Settings, session_factory: sessionmaker[Any], clock: datetime, relay: Relay
) -> None:
    queue_notices(session_factory, clock, 5)
    relay.refuse = {"customer2@example.com"}
    mailer = YagmailMailer(settings.mail, relay.host, relay.port)
    result = dispatch_due_emails(session_factory, mailer, settings.mail, clock)
    assert result == DispatchResult(sent=4, retried=1)
    assert subjects(relay) == ["Notice 0", "Notice 1", "Notice 3", "Notice 4"]
    states = [(r.status, r.attempts, "550" in r.last_error) for r in rows(session_factory)]
    assert states[2] == (MailStatus.PENDING, 1, True)
    assert [s for n, s in enumerate(states) if n != 2] == [(MailStatus.SENT, 1, False)] * 4
    assert len(set(relay.peers)) == 2  # the failure closed the connection; the rest went on a new one


def test_a_relay_that_closes_idle_connections_costs_a_reconnect_not_a_message(
    settings: Settings, session_factory: sessionmaker[Any], clock: datetime, relay: Relay
) -> None:
    queue_notices(session_factory, clock, 7)
    relay.close_after = 3  # 421 and close when a connection starts its fourth message
    mailer = YagmailMailer(settings.mail, relay.host, relay.port)
    assert dispatch_due_emails(session_factory, mailer, settings.mail, clock) == DispatchResult(sent=7)
    assert subjects(relay) == [f"Notice {n}" for n in range(7)]  # each once
    assert len(set(relay.peers)) == 3
    assert {(r.status, r.attempts, r.last_error) for r in rows(session_factory)} == {(MailStatus.SENT, 1, "")}


def test_a_connection_lost_after_data_is_not_marked_sent_and_stops_the_round(
    settings: Settings, session_factory: sessionmaker[Any], clock: datetime, relay: Relay
) -> None:
    queue_notices(session_factory, clock, 4)
    relay.drop_after_data = "Notice 1"  # stored by the relay, but its reply never comes
    mailer = YagmailMailer(settings.mail, relay.host, relay.port)
    assert dispatch_due_emails(session_factory, mailer, settings.mail, clock) == DispatchResult(
        sent=1, retried=1
    )
    states = [(r.status, r.attempts) for r in rows(session_factory)]
    assert states == [(MailStatus.SENT, 1), (MailStatus.PENDING, 1), (MailStatus.PENDING, 0)] + [
        (MailStatus.PENDING, 0)
    ]
    assert "dropped the connection" in rows(session_factory)[1].last_error
    assert subjects(relay) == ["Notice 0", "Notice 1"]  # not sent again in the same round


DISPATCHER = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from workflows.mail.outbox import dispatch_due_emails
    from workflows.mail.smtp import YagmailMailer
    from workflows.settings import load_settings
    from workflows.store.db import make_engine, make_session_factory

    settings = load_settings()
    factory = make_session_factory(make_engine(settings.database))
    mailer = YagmailMailer(settings.mail, "127.0.0.1", int(sys.argv[2]))
    dispatch_due_emails(factory, mailer, settings.mail, datetime.fromisoformat(sys.argv[1]))
    print("finished", flush=True)
    """
)


def test_a_dispatcher_killed_mid_batch_sends_nothing_twice_and_loses_nothing(
    settings: Settings, session_factory: sessionmaker[Any], clock: datetime, relay: Relay
) -> None:
    queue_notices(session_factory, clock, 5)
    relay.hang_on = "Notice 2"
    env = {**os.environ, "CREDITFLOW_DATABASE_URL": settings.database.url, "PYTHONPATH": str(ROOT)}
    dispatcher = subprocess.Popen(
        [sys.executable, "-c", DISPATCHER, clock.isoformat(), str(relay.port)], cwd=ROOT, env=env
    )
    try:
        assert relay.hanging.wait(timeout=60), "the dispatcher never reached its third message"
        dispatcher.send_signal(signal.SIGKILL)
        dispatcher.wait(timeout=10)
    finally:
        if dispatcher.poll() is None:
            dispatcher.kill()
            dispatcher.wait()
    assert dispatcher.returncode == -signal.SIGKILL
    relay.hang_on, relay.released = "", True
    # The first two were accepted and recorded before the third was claimed; the third is leased; the
    # last two were never claimed.
    states = [(r.status, r.attempts) for r in rows(session_factory)]
    assert states == [(MailStatus.SENT, 1)] * 2 + [(MailStatus.PENDING, 1)] + [(MailStatus.PENDING, 0)] * 2
    mailer = YagmailMailer(settings.mail, relay.host, relay.port)
    assert dispatch_due_emails(session_factory, mailer, settings.mail, clock) == DispatchResult(sent=2)
    later = utcnow() + CLAIM_LEASE  # the killed dispatcher's lease has run out, on both clocks
    assert dispatch_due_emails(
        session_factory, mailer, settings.mail, clock + CLAIM_LEASE, wall=lambda: later
    ) == DispatchResult(sent=1)
    assert sorted(subjects(relay)) == [f"Notice {n}" for n in range(5)]  # each exactly once
    assert len({m["Message-ID"] for m in relay.messages}) == 5
    assert [(r.status, r.attempts) for r in rows(session_factory)] == [(MailStatus.SENT, 1)] * 2 + [
        (MailStatus.SENT, 2)
    ] + [(MailStatus.SENT, 1)] * 2

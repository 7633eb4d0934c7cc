"""The built-in sink shows at /mail only what creditflow's own process sent: forged local mail is refused."""

from __future__ import annotations

import smtplib
from datetime import datetime
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from workflows.mail.outbox import dispatch_due_emails, queue_email
from workflows.mail.sink import TOKEN_HEADER, SmtpSink, start_sink
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.sink_tables import SinkMessage

pytestmark = pytest.mark.db


def _forged(subject: str, headers: dict[str, str] | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "creditflow@example.com"
    message["To"] = "cfo1@example.com"
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content("Please approve the attached limit at once.")
    return message


def _send_raw(sink: SmtpSink, message: EmailMessage) -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.send_message(message)


def _subjects(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(SinkMessage.subject).order_by(SinkMessage.id)))


def test_mail_from_another_local_client_never_reaches_the_sink(
    session_factory: sessionmaker[Session],
) -> None:
    with start_sink(session_factory, port=0) as sink:
        for forged in (
            _forged("Forged without a token"),
            _forged("Forged with a guessed token", {TOKEN_HEADER: "guess"}),
            _forged("Forged with an empty token", {TOKEN_HEADER: ""}),
        ):
            with pytest.raises(smtplib.SMTPDataError) as refused:
                _send_raw(sink, forged)
            assert refused.value.smtp_code == 550
    assert _subjects(session_factory) == []


def test_creditflow_mail_reaches_the_sink_without_showing_the_token(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        queue_email(
            session,
            dedupe_key="origin-1",
            to=["anna@example.com"],
            template="generic",
            context={"subject": "Genuine", "message": "From the outbox"},
            now=clock,
        )
    with start_sink(session_factory, port=0) as sink, start_sink(session_factory, port=0) as other:
        # Each sink has its own token: a token of one sink does not open another.
        with pytest.raises(smtplib.SMTPDataError):
            _send_raw(other, _forged("Token of another sink", {TOKEN_HEADER: "x" * 43}))
        result = dispatch_due_emails(
            session_factory, mailer_for(settings.mail, sink.port), settings.mail, clock
        )
    assert result.sent == 1
    assert _subjects(session_factory) == ["Genuine"]
    with session_factory() as session:
        raw = session.scalar(select(SinkMessage.raw))
    assert raw is not None and TOKEN_HEADER.lower() not in raw.lower()
    assert "Auto-Submitted: auto-generated" in raw

"""Issue 19: `serve`'s sink process also sends the outbox (mail.dispatch_loop), so no mail work is left on
the web process's GIL: at once when the web process nudges it, by its own look every POLL_S for mail
nobody announced (the scheduler's rounds, retries), dated by the database's simulated clock when that
is the clock, and with the dispatcher's guarantees (a row sent once, marked sent after the server took it)."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.smtp import RecordingSink
from workflows.clock import utcnow
from workflows.mail import dispatch_loop
from workflows.mail.dispatch_loop import MailDispatcher
from workflows.mail.outbox import queue_email
from workflows.mail.sink import SINK_HOST, TOKEN_HEADER, start_controller
from workflows.mail.sink_process import start_mail_process, start_sink_process
from workflows.mail.smtp import YagmailMailer
from workflows.settings import ClockSettings, Settings
from workflows.store.db import transaction
from workflows.store.models import MailStatus, OutboxEmail
from workflows.store.sink_tables import SinkMessage

pytestmark = pytest.mark.db


def _queue(factory: sessionmaker[Session], now: datetime, n: int) -> None:
    with transaction(factory) as session:
        queue_email(
            session,
            dedupe_key=f"mail-process-{n}",
            to=[f"reader{n}@example.com"],
            template="generic",
            context={"subject": f"Notice {n}", "message": "From the outbox"},
            now=now,
        )


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _stored(factory: sessionmaker[Session]) -> list[SinkMessage]:
    with factory() as session:
        return list(session.scalars(select(SinkMessage).order_by(SinkMessage.id)))


def _statuses(factory: sessionmaker[Session]) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(OutboxEmail.status).order_by(OutboxEmail.id)))


def test_a_nudged_sink_process_sends_the_queued_mail_once(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with start_sink_process(settings.database, mail=settings.mail, clock=settings.clock) as sink:
        assert sink.dispatches
        for n in range(3):
            _queue(session_factory, utcnow(), n)
            sink.nudge()
        assert _until(lambda: len(_stored(session_factory)) == 3)
        time.sleep(2 * dispatch_loop.POLL_S)  # further looks send nothing again
    assert sorted(m.subject for m in _stored(session_factory)) == ["Notice 0", "Notice 1", "Notice 2"]
    assert _statuses(session_factory) == [MailStatus.SENT] * 3


def test_mail_nobody_announced_goes_out_at_the_next_look(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with start_sink_process(settings.database, mail=settings.mail, clock=settings.clock):
        time.sleep(0.5)  # the child's first look has passed
        _queue(session_factory, utcnow(), 1)  # as a scheduler round queues it: no nudge
        began = time.monotonic()
        assert _until(lambda: len(_stored(session_factory)) == 1)
    assert time.monotonic() - began < 3 * dispatch_loop.POLL_S + 2
    assert _statuses(session_factory) == [MailStatus.SENT]


def test_a_sink_process_without_mail_settings_only_receives(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with start_sink_process(settings.database) as sink:
        assert not sink.dispatches
        _queue(session_factory, utcnow(), 1)
        sink.nudge()  # nothing listens for it; harmless
        time.sleep(2 * dispatch_loop.POLL_S)
    assert _stored(session_factory) == []
    assert _statuses(session_factory) == [MailStatus.PENDING]


def test_the_sink_process_sends_as_of_the_simulated_clock(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    # The simulated clock stands years ahead: a row due then is due for the child too, and dated then.
    simulated = ClockSettings(mode="simulated", start="2031-05-04T09:00:00+00:00")
    _queue(session_factory, datetime.fromisoformat(simulated.start) - timedelta(minutes=1), 1)
    with start_sink_process(settings.database, mail=settings.mail, clock=simulated) as sink:
        sink.nudge()
        assert _until(lambda: len(_stored(session_factory)) == 1)
    assert "Date: Sun, 04 May 2031 09:00" in _stored(session_factory)[0].raw


class _Failing:
    def send(self, email: OutboxEmail) -> None:
        raise AssertionError("not reached")


def test_a_failed_round_is_a_log_line_and_the_dispatcher_goes_on(
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken: sessionmaker[Session] = sessionmaker()  # bound to nothing: every query raises
    dispatcher = MailDispatcher(broken, _Failing(), settings.mail, lambda: clock)
    with caplog.at_level(logging.ERROR, logger=dispatch_loop.__name__):
        assert dispatcher.run_round(clock) == 0
    assert "mail dispatch round at" in caplog.text
    sink = RecordingSink()
    controller = start_controller(sink, SINK_HOST, 0)
    try:
        _queue(session_factory, clock, 1)
        mailer = YagmailMailer(settings.mail, SINK_HOST, controller.port)
        working = MailDispatcher(session_factory, mailer, settings.mail, lambda: clock)
        assert working.run_round(clock) == 1
        assert working.run_round(clock) == 0  # sent once
    finally:
        controller.stop()
    assert [m["Subject"] for m in sink.messages] == ["Notice 1"]


def test_a_killed_mail_process_is_replaced_and_mail_goes_on(
    settings: Settings, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="workflows.mail.sink_process"):
        with start_sink_process(settings.database, mail=settings.mail, clock=settings.clock) as sink:
            first, port = sink.pid, sink.port
            os.kill(first, signal.SIGKILL)  # as an operator or the out-of-memory killer would
            assert _until(lambda: sink.pid != first)
            assert sink.port == port  # the same port: the new child took it over
            _queue(session_factory, utcnow(), 1)  # nobody nudges: the new child's look finds it
            assert _until(lambda: len(_stored(session_factory)) == 1)
            replaced = sink.pid
    assert caplog.text.count("starting a new one") == 1
    assert f"the mail process {first} ended (exit code -9)" in caplog.text
    assert _statuses(session_factory) == [MailStatus.SENT]
    assert _until(lambda: not Path(f"/proc/{replaced}").exists() or _zombie(replaced))


def test_with_a_relay_the_mail_process_sends_there_and_runs_no_sink(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    relay = RecordingSink()
    controller = start_controller(relay, SINK_HOST, 0)
    mail = dataclasses.replace(settings.mail, smtp_host=SINK_HOST, smtp_port=controller.port)
    try:
        with start_mail_process(settings.database, mail, settings.clock) as process:
            assert process.port is None and process.dispatches
            _queue(session_factory, utcnow(), 1)
            process.nudge()
            [message] = relay.wait_for(1, timeout=20)
    finally:
        controller.stop()
    assert message["Subject"] == "Notice 1" and TOKEN_HEADER not in message
    assert _statuses(session_factory) == [MailStatus.SENT]
    assert _stored(session_factory) == []  # no sink: nothing at /mail


def test_after_a_failed_send_the_next_look_waits(
    settings: Settings,
    session_factory: sessionmaker[Session],
    clock: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A relay that refuses connections: the round ends after its first failure (the others stay due,
    # untried); looking again every POLL_S would try one more row each time, as fast as the loop turns.
    monkeypatch.setattr(dispatch_loop, "POLL_S", 0.02)
    monkeypatch.setattr(dispatch_loop, "FAILED_ROUND_WAIT_S", 60.0)
    for n in range(3):
        _queue(session_factory, clock, n)
    refused = YagmailMailer(settings.mail, SINK_HOST, 1)  # nothing listens on port 1
    dispatcher = MailDispatcher(session_factory, refused, settings.mail, lambda: clock)
    dispatcher.start()
    time.sleep(1.0)
    dispatcher.stop(wait_s=10)
    with session_factory() as session:
        attempts = sorted(session.scalars(select(OutboxEmail.attempts)))
    assert attempts == [0, 0, 1]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True

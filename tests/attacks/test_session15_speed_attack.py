"""Attack A29 (session 15) on issue 19's speed work: serve's mail process (6ac63cb, e41c310: the built-in
sink and the outbox dispatch in a child process of serve), the cheaper header writing (e363e3c), the cached
money/when filters of the mail templates (ac7b11b) and Flask's session cookie with a cached serializer
(11c98a3). What a hostile local user or a bad day does: kill -9 of serve or of its mail process, a port
taken, mail without the sink's token, hostile headers and bodies, values alike but not equal."""

from __future__ import annotations

import dataclasses
import itertools
import os
import random
import secrets
import signal
import smtplib
import socket
import time
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from email import message_from_string
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.policy import compat32
from pathlib import Path

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from handlers.registry import build_operations
from tests.attacks.serve_processes import (
    children,
    cmdline,
    descendants,
    gone,
    kill,
    listening,
    serve_with_sink_port,
    until,
    zombie,
)
from tests.batch.test_scale_guards import NOW, dunning_outcome, seed_book
from tests.e2e.conftest import free_port
from tests.sod_diagrams import bundle
from webui import cookie_sessions
from workflows.batch.daily_starts import plan_dunning, run_chunks
from workflows.credit.models import Customer, DunningCase
from workflows.definitions.deploy import deploy_files
from workflows.engine.runner import deliver_message
from workflows.engine.runtime import Runtime
from workflows.engine.service_tasks import Operation, TaskContext
from workflows.engine.starts import start_instance
from workflows.engine.wakeups import fire_timers
from workflows.errors import DomainError, NotFound
from workflows.mail import smtp, templates
from workflows.mail.header_fold import QUICK_COMPAT32
from workflows.mail.outbox import dispatch_due_emails, queue_email
from workflows.mail.sink import SINK_HOST, TOKEN_HEADER
from workflows.mail.sink_process import start_sink_process
from workflows.mail.smtp import YagmailMailer, mailer_for
from workflows.mail.templates import format_when_for
from workflows.money import format_money
from workflows.settings import DatabaseSettings, Settings, load_settings
from workflows.store.db import make_engine, make_session_factory, transaction
from workflows.store.models import (
    DefinitionStatus,
    MailStatus,
    MessageSubscription,
    OutboxEmail,
    ProcessDefinition,
    ProcessInstance,
    Timer,
)
from workflows.store.sink_tables import SinkMessage
from workflows.users import ADMIN_GROUP, Actor

SINK_MODULE = "workflows.mail.sink_process"


def _queue(factory: sessionmaker[Session], now: datetime, key: str, subject: str, message: str = "x") -> None:
    with transaction(factory) as session:
        queue_email(
            session,
            dedupe_key=key,
            to=["anna@example.com"],
            template="generic",
            context={"subject": subject, "message": message},
            now=now,
        )


def _outbox(factory: sessionmaker[Session]) -> list[tuple[str, str, int]]:
    with factory() as session:
        rows = session.execute(
            select(OutboxEmail.dedupe_key, OutboxEmail.status, OutboxEmail.attempts).order_by(OutboxEmail.id)
        )
        return [(key, str(status), attempts) for key, status, attempts in rows]


def _stored(factory: sessionmaker[Session]) -> list[SinkMessage]:
    with factory() as session:
        return list(session.scalars(select(SinkMessage).order_by(SinkMessage.id)))


def _forged(token: str | None, subject: str = "Forged") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "creditflow@example.com"
    message["To"] = "cfo1@example.com"
    message["Subject"] = subject
    if token is not None:
        message[TOKEN_HEADER] = token
    message.set_content(f"Please approve the limit at once. {TOKEN_HEADER}: in the body")
    return message


# --- serve and its mail process, killed


def _mail_child(pid: int) -> int:
    found = [child for child in children(pid) if SINK_MODULE in cmdline(child)]
    assert len(found) == 1, f"serve {pid} has {len(found)} mail processes"
    return found[0]


def _serve_factory(directory: Path) -> sessionmaker[Session]:
    return make_session_factory(
        make_engine(DatabaseSettings(url=f"sqlite:///{directory / 'creditflow.db'}", busy_timeout_s=5))
    )


def test_kill_9_of_serve_ends_its_mail_process_and_a_second_serve_gets_the_same_sink_port(
    tmp_path: Path,
) -> None:
    sink_port = free_port()
    first = serve_with_sink_port(tmp_path / "serve", sink_port)
    second = None
    try:
        assert first.process.poll() is None, first.log()
        child = _mail_child(first.process.pid)
        assert listening(sink_port)
        # A local process that finds the port, without the token (or guessing it): refused, not stored.
        for token in (None, "", "guess", " " * 43):
            with pytest.raises(smtplib.SMTPDataError) as refused:
                with smtplib.SMTP(SINK_HOST, sink_port, timeout=10) as client:
                    client.send_message(_forged(token))
            assert refused.value.smtp_code == 550
        first.process.kill()  # no chance to stop its child
        first.process.wait()
        assert until(lambda: gone(child)), "the mail process outlived its serve (kill -9)"
        assert until(lambda: not listening(sink_port)), "the sink port stays taken after serve died"
        second = serve_with_sink_port(tmp_path / "serve", sink_port, init=False)
        assert second.process.poll() is None, second.log()
        assert f"mail: 127.0.0.1:{sink_port}" in second.log()
        second_child = _mail_child(second.process.pid)
        # SIGTERM: serve exits 0 and its mail process ends with it (reaped, no zombie left behind).
        assert second.stop() == 0, second.log()
        assert until(lambda: gone(second_child) and not zombie(second_child))
        assert not listening(sink_port)
        factory = _serve_factory(tmp_path / "serve")
        assert [m.subject for m in _stored(factory) if m.subject == "Forged"] == []
        factory.kw["bind"].dispose()
    finally:
        kill(first)
        if second is not None:
            kill(second)


def test_a_taken_sink_port_stops_serve_before_it_listens_with_the_setting_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((SINK_HOST, 0))
        taken.listen()
        server = serve_with_sink_port(tmp_path / "serve", taken.getsockname()[1])
        try:
            assert server.process.wait(timeout=60) == 1
            log = server.log()
            assert "set [mail] sink_port (0 = any free port)" in log
            assert "creditflow on http" not in log  # never half-started: no banner, no web server
            assert "Traceback" not in log
        finally:
            kill(server)


def test_after_a_kill_9_of_the_mail_process_serve_still_sends_mail(tmp_path: Path) -> None:
    sink_port = free_port()
    server = serve_with_sink_port(tmp_path / "serve", sink_port)
    factory = _serve_factory(tmp_path / "serve")
    try:
        assert server.process.poll() is None, server.log()
        child = _mail_child(server.process.pid)
        os.kill(child, signal.SIGKILL)
        assert until(lambda: gone(child))
        # serve itself keeps answering: its pages read the database, not the child.
        assert server.request("GET", "/api/health").status == 200
        assert server.request("GET", "/mail", user="admin").status == 200
        _queue(factory, datetime.now(UTC) - timedelta(minutes=1), "after-the-kill", "After the kill")
        assert until(lambda: _outbox(factory)[-1][1] == MailStatus.SENT, seconds=15), server.log()
    finally:
        kill(server)
        factory.kw["bind"].dispose()


def _processes_of(directory: Path) -> list[int]:
    """Live processes started with this test's configuration (serve's children inherit its environment)."""
    marker = f"CREDITFLOW_CONFIG={directory}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and marker in (entry / "environ").read_bytes()
                and not gone(int(entry.name))
            ):
                found.append(int(entry.name))
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return found


def test_a_mail_process_killed_again_and_again_is_replaced_each_time_and_ends_with_serve(
    tmp_path: Path,
) -> None:
    # 6b549c2's respawn on a bad day: the replacement is killed too, as soon as it appears, three times;
    # then serve is stopped while the last replacement runs. One mail process at a time, on the configured
    # port, the mail still going out; after SIGTERM none is left (no replacement started during the stop).
    sink_port = free_port()
    server = serve_with_sink_port(tmp_path / "serve", sink_port)
    factory = _serve_factory(tmp_path / "serve")
    seen: list[int] = []
    try:
        assert server.process.poll() is None, server.log()
        for _round in range(3):
            live: list[int] = []

            def one_listening(found: list[int] = live) -> bool:
                found[:] = [p for p in _mail_processes(server.process.pid) if not gone(p)]
                return len(found) == 1 and listening(sink_port)

            assert until(one_listening, seconds=30), server.log()
            child = live[0]
            assert child not in seen
            seen.append(child)
            os.kill(child, signal.SIGKILL)
            assert until(lambda c=child: gone(c))  # type: ignore[misc]
        assert until(lambda: listening(sink_port), seconds=30), server.log()
        _queue(factory, datetime.now(UTC) - timedelta(minutes=1), "after-three-kills", "After three kills")
        assert until(lambda: _outbox(factory)[-1][1] == MailStatus.SENT, seconds=20), server.log()
        last = [p for p in _mail_processes(server.process.pid) if not gone(p)]
        assert len(last) == 1
        assert {server.process.pid, last[0]} <= set(_processes_of(tmp_path))  # the check below sees them
        assert server.stop() == 0, server.log()
        assert until(lambda: gone(last[0]))
        assert not listening(sink_port)
        assert all(gone(pid) for pid in seen)
        assert until(lambda: not _processes_of(tmp_path)), "a process of this serve outlived it"
    finally:
        kill(server)
        factory.kw["bind"].dispose()


def _mail_processes(pid: int) -> list[int]:
    return [process for process in descendants(pid) if SINK_MODULE in cmdline(process)]


def test_serve_with_two_gunicorn_workers_runs_exactly_one_mail_process(tmp_path: Path) -> None:
    sink_port = free_port()
    server = serve_with_sink_port(tmp_path / "serve", sink_port, workers=2)
    try:
        assert server.process.poll() is None, server.log()
        assert until(lambda: len(_mail_processes(server.process.pid)) >= 1), server.log()
        assert until(lambda: "the scheduler runs in worker" in server.log())
        assert len(_mail_processes(server.process.pid)) == 1
        mail_process = _mail_processes(server.process.pid)[0]
        assert listening(sink_port)
        assert server.stop() == 0, server.log()
        assert until(lambda: gone(mail_process)), "the mail process outlived gunicorn's SIGTERM"
        assert not listening(sink_port)
    finally:
        kill(server)


def test_a_sink_port_held_when_a_gunicorn_worker_takes_the_scheduler_is_tried_again(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind((SINK_HOST, 0))
    taken.listen()
    sink_port = taken.getsockname()[1]
    server = serve_with_sink_port(tmp_path / "serve", sink_port, workers=2, max_sleep_s=1)
    try:
        assert server.process.poll() is None, server.log()
        assert until(lambda: "cannot start the SMTP sink" in server.log(), seconds=30)
        taken.close()  # the port is free again (the old mail process has ended)
        assert until(lambda: len(_mail_processes(server.process.pid)) == 1, seconds=20), server.log()
        assert "Traceback" not in server.log()
    finally:
        taken.close()
        kill(server)


# --- the mail process, killed; mail that fails


@pytest.mark.db
def test_mail_to_a_killed_sink_process_is_retried_or_sent_and_in_the_end_sent_once(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    sink_port = free_port()
    _queue(session_factory, clock, "k1", "Before the kill")
    sink = start_sink_process(settings.database, port=sink_port)
    mailer = mailer_for(settings.mail, sink.port)
    killed = sink.pid
    os.kill(killed, signal.SIGKILL)
    assert until(lambda: gone(killed))
    sink.nudge()  # the pipe's reader is gone (or replaced): no exception in the request thread that nudges
    # The send fails cleanly and is retried, or reaches a sink started again on the same port and token.
    result = dispatch_due_emails(session_factory, mailer, settings.mail, clock)
    assert result.failed == 0 and result.sent + result.retried == 1
    sink.stop()  # the child is gone (or replaced): no hang, no exception
    with start_sink_process(settings.database, port=sink_port) as again:
        later = clock + timedelta(hours=1)
        dispatch_due_emails(session_factory, mailer_for(settings.mail, again.port), settings.mail, later)
    assert [m.subject for m in _stored(session_factory)] == ["Before the kill"]
    assert _outbox(session_factory)[0][:2] == ("k1", MailStatus.SENT)


@pytest.mark.db
def test_kill_9_of_the_mail_process_mid_dispatch_sends_at_most_the_one_in_flight_twice_and_loses_nothing(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC) - timedelta(minutes=1)
    keys = [f"burst-{n}" for n in range(40)]
    for key in keys:
        _queue(session_factory, now, key, key, "y" * 20_000)
    sink = start_sink_process(settings.database, mail=settings.mail, clock=settings.clock)
    try:
        sink.nudge()
        assert until(lambda: len(_stored(session_factory)) >= 3)
        killed = sink.pid
        os.kill(killed, signal.SIGKILL)
        at_kill = len(_stored(session_factory))
        assert until(lambda: gone(killed))
    finally:
        sink.stop()  # and a mail process started again meanwhile
    assert at_kill < len(keys), "the whole burst went out before the kill: nothing was tested"
    # The next dispatcher, once the lease of the row cut off mid-send has run out.
    with start_sink_process(settings.database) as again:
        later = datetime.now(UTC) + timedelta(minutes=11)
        result = dispatch_due_emails(
            session_factory, mailer_for(settings.mail, again.port), settings.mail, later, wall=lambda: later
        )
    assert result.failed == 0
    subjects = [m.subject for m in _stored(session_factory)]
    assert sorted(set(subjects)) == sorted(keys), "a row was lost"
    twice = [s for s in set(subjects) if subjects.count(s) > 1]
    assert len(twice) <= 1 and all(subjects.count(s) == 2 for s in twice), twice
    assert {status for _key, status, _n in _outbox(session_factory)} == {MailStatus.SENT}


# --- what our own mailer sends the sink

HOSTILE_BODIES = {
    "long-ascii-subject": ("s" * 2000, "a long subject"),
    "long-latin-subject": ("Zahlungserinnerung " + "ä" * 600, "umlauts"),
    "8-bit-body": ("Grüße", "Grüße aus Zürich — 付款提醒 " + "y" * 3000),
    "nul-in-body": ("nul", "before \x00 after"),
    "nul-in-subject": ("nul \x00 subject", "body"),
    "huge-body": ("huge", "line of a big letter\n" * 400_000),
}


@pytest.mark.db
@pytest.mark.parametrize("name", list(HOSTILE_BODIES))
def test_hostile_messages_of_our_own_mailer_reach_the_sink_process_whole(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, name: str
) -> None:
    subject, message = HOSTILE_BODIES[name]
    if "\x00" in subject + message and settings.database.url.startswith("postgresql"):
        # PostgreSQL's text columns take no NUL: the outbox row itself is refused before any sink sees it.
        pytest.skip("PostgreSQL stores no NUL in text")
    _queue(session_factory, clock, name, subject, message)
    with start_sink_process(settings.database) as sink:
        result = dispatch_due_emails(
            session_factory, mailer_for(settings.mail, sink.port), settings.mail, clock
        )
    assert (result.sent, result.retried, result.failed) == (1, 0, 0)
    [stored] = _stored(session_factory)
    assert stored.subject.startswith(subject[:60])
    parsed = message_from_string(stored.raw)
    assert parsed["Subject"] is not None and parsed["Bcc"] is None
    text = next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
    assert text.get_payload(decode=True).decode().startswith(message[:200])
    assert TOKEN_HEADER.lower() not in stored.raw.lower()
    # RFC 5322's 998: the outbox cuts a subject to its 300-character column, the body is encoded in lines.
    assert max(len(line) for line in stored.raw.splitlines()) <= 998


# --- header writing: QuickCompat32 against the email package's own


def _row(**overrides: object) -> OutboxEmail:
    values: dict[str, object] = {
        "id": 1,
        "attempts": 1,
        "message_id": "<00000000000000000000000000000001@creditflow>",
        "to": "sales1@example.com",
        "subject": "Payment reminder",
        "body_html": "<p>Hello</p>\n",
        "body_text": "Hello\n",
        "attachments": [],
        **overrides,
    }
    return OutboxEmail(**values)


INJECTIONS = [
    {"subject": "Hi\r\nBcc: evil@example.com"},
    {"subject": "Hi\nBcc: evil@example.com"},
    {"subject": "Hi\rBcc: evil@example.com"},
    {"subject": "Hi\x0bBcc: evil@example.com"},
    {"subject": "Hi\x0cBcc: evil@example.com"},
    {"subject": "Hi\x1cBcc: evil@example.com"},
    {"subject": "Grüße\r\nBcc: evil@example.com"},
    {"subject": "Hi\x85Bcc: evil@example.com"},
    {"subject": "Hi\u2028Bcc: evil@example.com"},
    {"subject": "=?utf-8?q?Hi=0D=0ABcc=3A_evil=40example=2Ecom?="},
    {"subject": ""},
    {"subject": " "},
    {"subject": "付款提醒函" * 80},
    {"subject": "x" * 1200},
    {"subject": "a " * 700},
    {"to": "anna@example.com\r\nBcc: evil@example.com"},
    {"to": '"Evil\r\nBcc: x@example.com" <anna@example.com>'},
    {"to": "Müller <anna@example.com>"},
    {"to": "anna@example.com, =?utf-8?q?Bcc=3A?= <b@example.com>"},
]


def _written(row: OutboxEmail, policy: object, monkeypatch: pytest.MonkeyPatch) -> object:
    mailer = YagmailMailer(
        load_settings().mail,
        "127.0.0.1",
        25,
        {TOKEN_HEADER: "t" * 43},
        clock=lambda: datetime(2026, 12, 7, 3, 0, tzinfo=UTC),
    )
    boundaries = itertools.count()
    monkeypatch.setattr(secrets, "token_hex", lambda _n: f"{next(boundaries):032x}")
    monkeypatch.setattr(smtp, "QUICK_COMPAT32", policy)
    try:
        return mailer._message(mailer._client(), row)
    except HeaderParseError as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize("overrides", INJECTIONS, ids=lambda o: repr(o)[:40])
def test_hostile_headers_are_written_byte_for_byte_as_compat32_writes_them_and_inject_nothing(
    overrides: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    row = _row(**overrides)
    quick = _written(row, QUICK_COMPAT32, monkeypatch)
    assert quick == _written(row, compat32, monkeypatch)
    if quick[0] == "refused":
        return  # both refuse a value with an embedded header: the dispatcher records the row as failed
    _recipients, text = quick
    head = text.split("\n\n", 1)[0]
    parsed = message_from_string(text)
    assert parsed["Bcc"] is None
    names = [line.split(":", 1)[0] for line in head.split("\n") if line and not line[0].isspace()]
    assert sorted(set(names)) == sorted(set(names) & ALLOWED_HEADERS), names
    assert names.count("Subject") == (1 if row.subject else 0) and names.count("To") == 1


ALLOWED_HEADERS = {
    "Content-Type",
    "MIME-Version",
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    TOKEN_HEADER,
    "Content-Transfer-Encoding",
}


def test_random_control_characters_in_a_subject_write_the_same_bytes_as_compat32(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rnd = random.Random(29)
    alphabet = [chr(c) for c in range(0, 0x21)] + list("aZ:=?é付 \u2028\x85\x7f")
    for _ in range(150):
        subject = "".join(rnd.choice(alphabet) for _ in range(rnd.choice([1, 3, 10, 80])))
        row = _row(subject=subject)
        quick = _written(row, QUICK_COMPAT32, monkeypatch)
        assert quick == _written(row, compat32, monkeypatch), repr(subject)
        if quick[0] != "refused":
            assert message_from_string(quick[1])["Bcc"] is None


@pytest.mark.db
def test_a_subject_typed_with_an_embedded_header_goes_out_as_one_subject_line(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    _queue(session_factory, clock, "a-before", "Before")
    with transaction(session_factory) as session:
        queue_email(
            session,
            dedupe_key="b-injected",
            to=["anna@example.com"],
            template="generic",
            context={"subject": "Reminder\r\nBcc: evil@example.com", "message": "x"},
            now=clock,
        )
    _queue(session_factory, clock, "c-after", "After")
    with start_sink_process(settings.database) as sink:
        result = dispatch_due_emails(
            session_factory, mailer_for(settings.mail, sink.port), settings.mail, clock
        )
    # Rendering joins a subject's lines (mail.templates): the row goes out with its text on one line.
    assert (result.sent, result.failed) == (3, 0)
    stored = _stored(session_factory)
    assert sorted(m.subject for m in stored) == ["After", "Before", "Reminder Bcc: evil@example.com"]
    assert all("evil@example.com" not in m.rcpt_to for m in stored)
    for message in stored:
        assert message_from_string(message.raw)["Bcc"] is None


# --- Flask's session cookie with a cached serializer (11c98a3)


def _cookie_apps() -> dict[str, Flask]:
    """The same small app twice: with CookieSessions, and with Flask's own SecureCookieSessionInterface."""
    apps: dict[str, Flask] = {}
    for name in ("ours", "flask"):
        app = Flask(f"cookies_{name}")
        app.secret_key = "key-1"
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=30)
        if name == "ours":
            cookie_sessions.register(app)
        else:
            app.session_interface = SecureCookieSessionInterface()

        @app.get("/set/<key>/<value>")
        def set_value(key: str, value: str) -> str:
            session[key] = value
            return "set"

        @app.get("/permanent")
        def permanent() -> str:
            session.permanent = True
            session["p"] = "1"
            return "permanent"

        @app.get("/get")
        def get_values() -> dict[str, str]:
            return dict(session)

        @app.get("/clear")
        def clear() -> str:
            session.clear()
            return "cleared"

        @app.get("/pop/<key>")
        def pop(key: str) -> str:
            session.pop(key, None)
            return "popped"

        @app.get("/untouched")
        def untouched() -> str:
            return "untouched"

        apps[name] = app
    return apps


def _answer(response: TestResponse) -> tuple[int, bytes, bool, bool, str]:
    cookies = response.headers.getlist("Set-Cookie")
    deleted = any("Expires=Thu, 01 Jan 1970" in c for c in cookies)
    return response.status_code, response.data, bool(cookies), deleted, response.headers.get("Vary", "")


COOKIE_STEPS: list[tuple[str, ...]] = [
    ("GET", "/untouched"),
    ("GET", "/get"),
    ("GET", "/set/user/anna"),
    ("GET", "/get"),
    ("GET", "/untouched"),
    ("KEY", "key-2", "key-1"),  # rotation: the old key a fallback
    ("GET", "/get"),
    ("GET", "/set/user/bob"),
    ("KEY", "key-3"),  # the fallback dropped: cookies signed with key-1/key-2 no longer read
    ("GET", "/get"),
    ("GET", "/set/user/carol"),
    ("FALLBACKS-APPEND", "key-9"),  # the list changed in place, the secret key not
    ("GET", "/get"),
    ("FORGE", "eyJ1c2VyIjoiYWRtaW4ifQ.Zabcde.forgedsignature"),
    ("GET", "/get"),
    ("GET", "/set/user/dora"),
    ("GET", "/pop/user"),  # modified to empty: the cookie must be deleted
    ("GET", "/get"),
    ("GET", "/set/user/eve"),
    ("GET", "/clear"),
    ("GET", "/get"),
    ("GET", "/permanent"),
    ("EXPIRE",),
    ("GET", "/get"),
    ("GET", "/untouched"),
]


def test_the_cached_cookie_serializer_answers_as_flask_s_own_through_rotation_forgery_and_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: dict[str, list[object]] = {}
    for name, app in _cookie_apps().items():
        client = app.test_client()
        seen: list[object] = []
        moved = 0.0
        for step in COOKIE_STEPS:
            if step[0] == "KEY":
                app.secret_key = step[1]
                app.config["SECRET_KEY_FALLBACKS"] = list(step[2:])
            elif step[0] == "FALLBACKS-APPEND":
                app.config["SECRET_KEY_FALLBACKS"].append(step[1])
            elif step[0] == "FORGE":
                client.set_cookie("session", step[1])
            elif step[0] == "EXPIRE":
                moved += 3600.0  # past PERMANENT_SESSION_LIFETIME: itsdangerous reads the clock
                monkeypatch.setattr("time.time", lambda m=moved, real=time.time: real() + m)
            else:
                seen.append((step, _answer(client.get(step[1]))))
        monkeypatch.undo()
        answers[name] = seen
    assert answers["ours"] == answers["flask"]
    readings = [a for (step, a) in answers["ours"] if step[1] == "/get"]  # type: ignore[index]
    assert [r[1] for r in readings] == [
        b"{}\n",
        b'{"user":"anna"}\n',
        b'{"user":"anna"}\n',  # read with the fallback key
        b"{}\n",  # key-1 and key-2 dropped
        b'{"user":"carol"}\n',
        b"{}\n",  # forged
        b"{}\n",  # popped to empty
        b"{}\n",  # cleared
        b"{}\n",  # expired
    ]


def test_an_emptied_session_deletes_the_cookie_and_an_accessed_one_varies_on_it() -> None:
    app = _cookie_apps()["ours"]
    client = app.test_client()
    client.get("/set/user/anna")
    popped = client.get("/pop/user")
    assert any("Expires=Thu, 01 Jan 1970" in c for c in popped.headers.getlist("Set-Cookie"))
    assert "Cookie" in popped.headers.get("Vary", "")
    assert client.get_cookie("session") is None
    read = client.get("/get")
    assert "Cookie" in read.headers.get("Vary", "") and not read.headers.getlist("Set-Cookie")
    assert "Vary" not in client.get("/untouched").headers


def test_create_app_uses_the_cached_serializer(app: Flask) -> None:
    assert isinstance(app.session_interface, cookie_sessions.CookieSessions)


# --- the mail templates' cached money and when filters (ac7b11b)

ALIKE_VALUES: list[object] = [
    Decimal("1.0"),
    Decimal("1.00"),
    Decimal("1"),
    Decimal("1E+3"),
    Decimal("1000"),
    Decimal("1000.000"),
    Decimal("-0"),
    Decimal("0"),
    Decimal("-0.00"),
    Decimal("-0.004"),
    Decimal("0.005"),
    Decimal("0.015"),
    Decimal("-1234.5"),
    Decimal("999999999999.995"),
    Decimal("123456789012345678901234567890.125"),
    Decimal("1E+40"),
    Decimal("1E+41"),
    Decimal("NaN"),
    Decimal("-Infinity"),
    Decimal("sNaN"),
    10**41,
    1,
    True,
    "1",
    "1.00",
    "¥1",
    "",
    None,
    1.0,
    -0.0,
]
CURRENCIES: list[object] = [None, "EUR", "eur", "CNY", "JPY", "USD", "XXX", "1", "€", ""]
LOCALES = [None, "en", "zh_Hans", "de_DE"]
DAYS: list[object] = [
    date(2026, 12, 7),
    datetime(2026, 12, 7, 23, 30, tzinfo=UTC),
    datetime(2026, 12, 7, 23, 30),
    datetime(2026, 12, 8, 7, 30, tzinfo=timezone(timedelta(hours=8))),
    datetime(2026, 12, 7, 23, 30, tzinfo=timezone(timedelta(hours=8))),
    "2026-12-07",
    "2026-12-07T23:30:00+00:00",
    "2026-12-07T23:30:00+08:00",
    "not a day",
    "",
    None,
]


def test_the_cached_money_filter_never_writes_one_notice_s_value_into_another_s() -> None:
    # Customers' notices one after another in a random order, each value in each currency and language:
    # whatever was kept before, the filter writes what format_money writes for exactly that value.
    templates._kept_money.cache_clear()
    calls = list(itertools.product(ALIKE_VALUES, CURRENCIES, LOCALES)) * 2
    random.Random(15).shuffle(calls)
    for value, currency, locale in calls:
        assert templates._money_text(value, currency, locale=locale) == format_money(
            value,
            currency,
            locale=locale,  # type: ignore[arg-type]
        ), (value, currency, locale)
    assert templates._kept_money.cache_info().hits > 0  # the cache was used, not bypassed


def test_the_cached_when_filter_writes_each_time_zone_and_language_as_format_when_for() -> None:
    templates._kept_when.cache_clear()
    calls = list(itertools.product(DAYS, ["en", "zh", "de"])) * 2
    random.Random(15).shuffle(calls)
    for value, language in calls:
        assert templates._when_text(value, language=language) == format_when_for(
            value,  # type: ignore[arg-type]
            language=language,
        ), (value, language)
    assert templates._kept_when.cache_info().hits > 0


def test_a_rendered_zh_and_en_notice_pair_keeps_each_reader_s_currency_and_language() -> None:
    # Two customers, same digits: an en EUR customer and a zh CNY one, rendered alternately.
    for _round in range(3):
        for language, currency, expected in (("en", "EUR", "€1,200.00"), ("zh", "CNY", "¥1,200.00")):
            environment = templates._environment(templates.TEMPLATE_DIR, language)
            text = environment.from_string("{{ amount | money(currency) }}").render(
                amount=Decimal("1200.0"), currency=currency
            )
            assert text == expected


# --- Runtime.latest (2240dfb): the newest active version, read at every start

_ONE_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="{key}_definitions" targetNamespace="http://creditflow.example/bpmn/tests">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:startEvent id="started"><bpmn:outgoing>to_task</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="review" name="{name}">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="credit_approval.json" />
          <spiffworkflow:property name="candidateGroups" value="process_owner" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>to_task</bpmn:incoming>
      <bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_task" sourceRef="started" targetRef="review" />
    <bpmn:endEvent id="done"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="to_end" sourceRef="review" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""
OWNER = Actor("owner1", frozenset({"process_owner"}))
ADMIN = Actor("admin1", frozenset({ADMIN_GROUP}))


def _deploy(rt: Runtime, key: str, name: str, now: datetime) -> int:
    files = bundle(key, _ONE_TASK.format(key=key, name=name))
    with transaction(rt.factory) as session:
        [deployed] = deploy_files(session, files, rt.operations, deployed_by="owner1", now=now)
    return deployed.version


def _version_started(rt: Runtime, key: str, now: datetime) -> tuple[int, int]:
    instance = start_instance(rt, key, {}, actor=OWNER, now=now, check_groups=False)
    return instance.version, instance.definition_id


def _set_status(rt: Runtime, key: str, version: int, status: str) -> None:
    with transaction(rt.factory) as session:
        session.execute(
            update(ProcessDefinition)
            .where(ProcessDefinition.process_key == key, ProcessDefinition.version == version)
            .values(status=status)
        )


@pytest.mark.db
def test_a_start_takes_the_version_another_process_deployed_or_approved_a_moment_before(
    settings: Settings, db_engine: Engine, clock: datetime
) -> None:
    # Two Runtimes on one database: two processes, each with its own cache of definitions.
    deployer = Runtime(db_engine, settings, build_operations())
    starter = Runtime(db_engine, settings, build_operations())
    key = "a29_latest"
    assert _deploy(deployer, key, "Review v1", clock) == 1
    assert _version_started(starter, key, clock)[0] == 1
    assert _deploy(deployer, key, "Review v2", clock) == 2
    version, v2_id = _version_started(starter, key, clock)
    assert version == 2  # the very next start, no cache in the way
    assert _deploy(deployer, key, "Review v3", clock) == 3
    # v3 is read once (cached) while it is active, then turns pending, then rejected: never started then.
    assert _version_started(starter, key, clock)[0] == 3
    for status in (DefinitionStatus.PENDING, DefinitionStatus.REJECTED):
        _set_status(deployer, key, 3, status)
        assert _version_started(starter, key, clock) == (2, v2_id), status
    _set_status(deployer, key, 3, DefinitionStatus.ACTIVE)  # a second owner approved it elsewhere
    assert _version_started(starter, key, clock)[0] == 3
    # No active version left: a clear NotFound saying why, not the cached one.
    for version in (1, 2, 3):
        _set_status(deployer, key, version, DefinitionStatus.PENDING)
    with pytest.raises(NotFound, match="waits for a second process owner"):
        _version_started(starter, key, clock)
    with pytest.raises(NotFound):
        _version_started(starter, "a29_never_deployed", clock)


# --- S11's dunning Core writes (6d1be74, 6648d0c): a group cut off, a start refused mid-group ------------


class _Killed(BaseException):
    """Stands for a kill -9 inside a group's transaction: nothing catches it, the whole group rolls back."""


def _with_failing(
    operation: str, error: BaseException, *, call: int = 0, business_key: str = ""
) -> dict[str, Operation]:
    """The shipped operations, `operation` raising `error` after its own writes: on its `call`-th call, or
    at every call for the instance of `business_key` (a dunning case's is its customer's id)."""
    operations = dict(build_operations())
    real = operations[operation]
    calls = itertools.count(1)

    def failing(ctx: TaskContext, request: object) -> object:
        answer = real.func(ctx, request)
        if next(calls) == call or (business_key and ctx.business_key == business_key):
            raise error
        return answer

    operations[operation] = dataclasses.replace(real, func=failing)
    return operations


def _late_customers(factory: sessionmaker[Session]) -> dict[str, str]:
    """e-mail -> name of each customer seed_book made late (every fourth owes nothing overdue)."""
    with factory() as session:
        rows = session.execute(select(Customer.email, Customer.name, Customer.external_id)).all()
    return {email: name for email, name, external in rows if int(external[1:]) % 4 != 3}


def _notices_are_each_customer_s_own(factory: sessionmaker[Session], outcome: dict[str, object]) -> None:
    names = _late_customers(factory)
    for to, template, subject in outcome["notices"]:  # type: ignore[attr-defined]
        assert template == "dunning_notice"
        assert names[to] in subject, (to, subject)  # no other customer's name, language or amounts


def _waits_are_each_instance_s_own(factory: sessionmaker[Session]) -> None:
    """6b45aba: a step's timers and subscriptions are plain INSERTs. Every running dunning instance waits on
    one timer and the same messages under its own business key; no row of a start that rolled back."""
    with factory() as session:
        instances = dict(
            session.execute(
                select(ProcessInstance.id, ProcessInstance.business_key).where(
                    ProcessInstance.process_key == "dunning", ProcessInstance.status == "running"
                )
            ).all()
        )
        timers = session.execute(select(Timer.instance_id)).scalars().all()
        subscriptions = session.execute(
            select(
                MessageSubscription.instance_id,
                MessageSubscription.message_name,
                MessageSubscription.correlation_key,
            )
        ).all()
    assert instances
    assert sorted(timers) == sorted(instances)
    by_instance: dict[int, set[str]] = {}
    for instance_id, name, key in subscriptions:
        assert instances[instance_id] == key, (instance_id, name, key)
        by_instance.setdefault(instance_id, set()).add(name)
    assert set(by_instance) == set(instances)
    assert len({frozenset(names) for names in by_instance.values()}) == 1
    assert len(subscriptions) == len(instances) * len(next(iter(by_instance.values())))


@pytest.mark.db
def test_a_dunning_group_cut_off_mid_start_loses_nothing_and_sends_nothing_twice(
    settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    seed_book(session_factory, NOW, customers=12)
    cut = Runtime(db_engine, settings, _with_failing("dunning.send_notice", _Killed("kill -9"), call=4))
    with pytest.raises(_Killed):
        run_chunks(cut, plan_dunning(cut, NOW.date()), NOW)
    whole = Runtime(db_engine, settings, build_operations())
    run_chunks(whole, plan_dunning(whole, NOW.date()), NOW)
    run_chunks(whole, plan_dunning(whole, NOW.date()), NOW)  # a second run the same day adds nothing
    outcome = dunning_outcome(session_factory)
    late = _late_customers(session_factory)
    assert sorted(email for email, _status, _level in outcome["cases"]) == sorted(late)
    assert sorted(to for to, _template, _subject in outcome["notices"]) == sorted(late)
    _notices_are_each_customer_s_own(session_factory, outcome)
    _waits_are_each_instance_s_own(session_factory)


@pytest.mark.db
def test_a_dunning_start_refused_after_its_core_writes_leaves_the_group_s_other_cases_right(
    settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    ids = seed_book(session_factory, NOW, customers=12)
    refused = DomainError("refused after the case was written")
    failing = _with_failing("dunning.send_notice", refused, business_key=str(ids["C0001"]))
    rt = Runtime(db_engine, settings, failing)
    result = run_chunks(rt, plan_dunning(rt, NOW.date()), NOW)
    assert result.failed == [ids["C0001"]]
    outcome = dunning_outcome(session_factory)
    late = _late_customers(session_factory)
    with session_factory() as session:
        [failed_email] = session.scalars(select(Customer.email).where(Customer.id.in_(result.failed)))
    # The refused start's case and notice rolled back with its savepoint; the next start's Core INSERT
    # may reuse its id (SQLite): no stale object of it in the session answered for another customer.
    assert sorted(email for email, _s, _l in outcome["cases"]) == sorted(set(late) - {failed_email})
    assert sorted(to for to, _t, _s in outcome["notices"]) == sorted(set(late) - {failed_email})
    assert {(status, level) for _e, status, level in outcome["cases"]} == {("open", 1)}
    _notices_are_each_customer_s_own(session_factory, outcome)
    with session_factory() as session:
        cases = session.execute(
            select(DunningCase.id, DunningCase.customer_id, DunningCase.instance_id)
        ).all()
    assert len({case_id for case_id, _c, _i in cases}) == len(cases)
    assert len({customer for _id, customer, _i in cases}) == len(cases)
    _waits_are_each_instance_s_own(session_factory)


@pytest.mark.db
def test_a_dunning_handler_that_fails_once_is_run_again_and_each_customer_gets_one_case_and_one_notice(
    settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    # in_savepoint: the start that failed is run again with a savepoint per handler, over the Core writes
    # its first run made and rolled back (the case row, its grade, the notice).
    seed_book(session_factory, NOW, customers=12)
    once = _with_failing("dunning.send_notice", DomainError("only this once"), call=2)
    rt = Runtime(db_engine, settings, once)
    result = run_chunks(rt, plan_dunning(rt, NOW.date()), NOW)
    late = _late_customers(session_factory)
    assert (len(result.started), result.failed) == (len(late), [])
    outcome = dunning_outcome(session_factory)
    assert sorted(email for email, _s, _l in outcome["cases"]) == sorted(late)
    assert sorted(to for to, _t, _s in outcome["notices"]) == sorted(late)
    _notices_are_each_customer_s_own(session_factory, outcome)
    _waits_are_each_instance_s_own(session_factory)


# --- a step's timer and subscription rows as plain INSERTs (6b45aba): waits right after a start ----------

_WAITING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="a29_waits_definitions" targetNamespace="http://creditflow.example/bpmn/tests">
  <bpmn:process id="a29_waits" name="a29_waits" isExecutable="true">
    <bpmn:startEvent id="started"><bpmn:outgoing>to_wait</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="wait" name="Wait">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="credit_approval.json" />
          <spiffworkflow:property name="candidateGroups" value="process_owner" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>to_wait</bpmn:incoming>
      <bpmn:outgoing>to_done</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_wait" sourceRef="started" targetRef="wait" />
    <bpmn:boundaryEvent id="pinged" attachedToRef="wait">
      <bpmn:outgoing>to_second</bpmn:outgoing>
      <bpmn:messageEventDefinition id="ping_definition" messageRef="ping_message" />
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="late" attachedToRef="wait">
      <bpmn:outgoing>to_second_late</bpmn:outgoing>
      <bpmn:timerEventDefinition id="late_timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="second" name="Second">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="credit_approval.json" />
          <spiffworkflow:property name="candidateGroups" value="process_owner" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>to_second</bpmn:incoming>
      <bpmn:incoming>to_second_late</bpmn:incoming>
      <bpmn:outgoing>to_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="to_second" sourceRef="pinged" targetRef="second" />
    <bpmn:sequenceFlow id="to_second_late" sourceRef="late" targetRef="second" />
    <bpmn:endEvent id="done">
      <bpmn:incoming>to_done</bpmn:incoming><bpmn:incoming>to_end</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="to_done" sourceRef="wait" targetRef="done" />
    <bpmn:sequenceFlow id="to_end" sourceRef="second" targetRef="done" />
  </bpmn:process>
  <bpmn:message id="ping_message" name="a29_ping" />
</bpmn:definitions>
"""


def _waits_of(rt: Runtime, instance_id: int) -> tuple[list[str], list[tuple[str, str]]]:
    with rt.factory() as session:
        timers = session.scalars(select(Timer.bpmn_id).where(Timer.instance_id == instance_id)).all()
        subscriptions = session.execute(
            select(MessageSubscription.message_name, MessageSubscription.correlation_key).where(
                MessageSubscription.instance_id == instance_id
            )
        ).all()
    return list(timers), [tuple(row) for row in subscriptions]  # type: ignore[misc]


@pytest.mark.db
def test_a_message_and_a_timer_right_after_a_start_find_their_rows_and_leave_none_behind(
    settings: Settings, db_engine: Engine, clock: datetime
) -> None:
    rt = Runtime(db_engine, settings, build_operations())
    files = {"a29_waits.bpmn": _WAITING.encode(), **bundle("unused", "")}
    files.pop("unused.bpmn")
    with transaction(rt.factory) as session:
        deploy_files(session, files, rt.operations, deployed_by="owner1", now=clock)
    pinged = start_instance(rt, "a29_waits", {}, actor=OWNER, now=clock, check_groups=False)
    timed = start_instance(rt, "a29_waits", {}, actor=OWNER, now=clock, check_groups=False)
    for instance in (pinged, timed):
        assert _waits_of(rt, instance.id) == (["late"], [("a29_ping", str(instance.id))])
    # The message at once: it reaches the first instance only (each is addressed by its own id).
    assert deliver_message(rt, "a29_ping", str(pinged.id), {}, actor=ADMIN, now=clock) == [pinged.id]
    assert _waits_of(rt, pinged.id) == ([], [])
    assert _waits_of(rt, timed.id) == (["late"], [("a29_ping", str(timed.id))])
    # The timer an hour later: the second instance moves on, its subscription goes with the timer.
    fire_timers(rt, timed.id, clock + timedelta(hours=1, seconds=1))
    assert _waits_of(rt, timed.id) == ([], [])
    with rt.factory() as session:
        tasks = session.execute(
            select(ProcessInstance.id, ProcessInstance.status).where(
                ProcessInstance.id.in_([pinged.id, timed.id])
            )
        ).all()
    assert sorted(tasks) == sorted([(pinged.id, "running"), (timed.id, "running")])
    # Nothing waits for it any more: no instance takes it a second time.
    assert deliver_message(rt, "a29_ping", str(pinged.id), {}, actor=ADMIN, now=clock) == []


def test_tick_beside_a_running_serve_sends_each_queued_message_once(tmp_path: Path) -> None:
    # An operator runs `creditflow tick` while serve's mail process sends the outbox: two dispatchers in two
    # processes (tick with a sink of its own), claiming from one table; every row goes out exactly once.
    server = serve_with_sink_port(tmp_path / "serve", free_port())
    factory = _serve_factory(tmp_path / "serve")
    try:
        assert server.process.poll() is None, server.log()
        now = datetime.now(UTC) - timedelta(minutes=1)
        keys = [f"tick-{n}" for n in range(30)]
        for key in keys:
            _queue(factory, now, key, key, "z" * 5_000)
        server.cli("tick")
        assert until(lambda: all(status == MailStatus.SENT for _k, status, _n in _outbox(factory)[-30:]))
        subjects = [m.subject for m in _stored(factory) if m.subject.startswith("tick-")]
        assert sorted(subjects) == sorted(keys)
    finally:
        kill(server)
        factory.kw["bind"].dispose()

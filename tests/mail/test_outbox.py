"""E-mail outbox: templates, queueing, dispatch to a real SMTP server, retries, concurrency, built-in sink."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.smtp import RecordingSink
from workflows.mail import outbox as outbox_module
from workflows.mail.outbox import (
    CLAIM_LEASE,
    DispatchResult,
    dispatch_due_emails,
    message_id_for,
    next_mail_due,
    queue_email,
)
from workflows.mail.sink import list_sink_messages, start_sink
from workflows.mail.smtp import YagmailMailer, mailer_for
from workflows.mail.templates import TemplateError, UnknownTemplate, available_templates, render_email
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import MailStatus, OutboxEmail
from workflows.store.sink_tables import SinkMessage

pytestmark = pytest.mark.db


TASK_CONTEXT = {
    "task_id": 42,
    "task_title": "Review credit application",
    "process_key": "credit_application",
    "subject": "ACME GmbH, EUR 50,000",
    "group": "credit_analyst",
    "due_at": "2026-03-04T09:00:00+00:00",
    "base_url": "http://127.0.0.1:5000",
}
SAMPLE_CONTEXTS: dict[str, dict[str, Any]] = {
    "task_assigned": TASK_CONTEXT,
    "task_overdue": TASK_CONTEXT,
    "generic": {"subject": "Hello", "message": "First line\nSecond line"},
    "decision": {
        "outcome": "reject",
        "comment": "Exposure too high.",
        "process_key": "credit_application",
        "business_key": "CA-2026-0007",
    },
}


def relay_settings(settings: Settings, sink: RecordingSink) -> Settings:
    """Settings whose relay is the test's SMTP server."""
    return settings.replace("mail", smtp_host=sink.host, smtp_port=sink.port)


def queue_args(key: str, now: datetime, **overrides: Any) -> dict[str, Any]:
    """Arguments of queue_email for a generic e-mail under `key`."""
    args: dict[str, Any] = {
        "to": ["anna@example.com"],
        "template": "generic",
        "context": {"subject": f"Message {key}", "message": "Body"},
        "dedupe_key": key,
        "now": now,
    }
    args.update(overrides)
    return args


def queue(factory: sessionmaker[Session], now: datetime, key: str, **overrides: Any) -> OutboxEmail | None:
    """Queue a generic e-mail in its own committed transaction."""
    with transaction(factory) as session:
        return queue_email(session, **queue_args(key, now, **overrides))


def outbox(factory: sessionmaker[Session]) -> list[OutboxEmail]:
    with factory() as session:
        return list(session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- templates -------------------------------------------------------------------------------------


def test_every_shipped_template_renders_three_parts() -> None:
    assert set(SAMPLE_CONTEXTS) <= set(available_templates())
    for name, context in SAMPLE_CONTEXTS.items():
        rendered = render_email(name, context)
        assert rendered.subject and "\n" not in rendered.subject, name
        assert rendered.text.strip(), name
        assert rendered.html.lstrip().startswith("<!DOCTYPE html>"), name


def test_task_assigned_shows_title_due_date_and_link() -> None:
    rendered = render_email("task_assigned", TASK_CONTEXT)
    assert (
        # The group by the name the web UI gives it, not its id.
        rendered.subject == "New task for Credit analyst: Review credit application (ACME GmbH, EUR 50,000)"
    )
    assert "Due:     4 Mar 2026 09:00 UTC" in rendered.text
    assert "http://127.0.0.1:5000/tasks/42" in rendered.text
    assert '<a href="http://127.0.0.1:5000/tasks/42">' in rendered.html


def test_decision_names_outcome_and_comment() -> None:
    rendered = render_email("decision", SAMPLE_CONTEXTS["decision"])
    assert rendered.subject == "Your credit application CA-2026-0007 was rejected"
    assert "Exposure too high." in rendered.text


def test_missing_variable_is_named() -> None:
    context = {k: v for k, v in TASK_CONTEXT.items() if k != "base_url"}
    with pytest.raises(TemplateError, match=r"task_overdue\.txt: 'base_url' is undefined"):
        render_email("task_overdue", context)


def test_unknown_template_lists_the_available_ones() -> None:
    with pytest.raises(UnknownTemplate, match=r"'reminder'.*available: .*decision, .*generic"):
        render_email("reminder", {})


def test_path_like_template_name_is_unknown() -> None:
    with pytest.raises(UnknownTemplate):
        render_email("../templates/generic", SAMPLE_CONTEXTS["generic"])


def test_html_part_escapes_user_text_and_plain_part_keeps_it() -> None:
    rendered = render_email(
        "generic", {"subject": "Re: <b>limit</b>", "message": "<script>alert(1)</script> & co"}
    )
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in rendered.html
    assert "<script>alert(1)</script> & co" in rendered.text
    assert rendered.subject == "Re: <b>limit</b>"


def test_subject_is_folded_to_one_line() -> None:
    rendered = render_email("generic", {"subject": "Urgent\r\nBcc: victim@example.com", "message": "x"})
    assert rendered.subject == "Urgent Bcc: victim@example.com"


# --- queueing --------------------------------------------------------------------------------------


def test_queue_writes_a_pending_row_with_stable_message_id(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    queue(session_factory, clock, "application:7:decision", to=["anna@example.com", "ben@example.com"])
    [row] = outbox(session_factory)
    assert row.status == MailStatus.PENDING
    assert row.next_attempt_at == clock
    assert row.attempts == 0
    assert row.to == "anna@example.com, ben@example.com"
    assert row.message_id == message_id_for("application:7:decision")
    assert row.message_id.startswith("<") and row.message_id.endswith("@creditflow>")
    assert len(row.message_id) == len("<@creditflow>") + 32


def test_second_queue_with_same_dedupe_key_writes_nothing(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    assert queue(session_factory, clock, "k1") is not None
    assert (
        queue(session_factory, clock + timedelta(hours=1), "k1", context={"subject": "Other", "message": ""})
        is None
    )
    [row] = outbox(session_factory)
    assert row.subject == "Message k1"


def test_queue_does_not_commit(session_factory: sessionmaker[Session], clock: datetime) -> None:
    with session_factory() as session, session.begin():
        queue_email(
            session,
            to=["a@example.com"],
            template="generic",
            context={"subject": "s", "message": "m"},
            dedupe_key="k",
            now=clock,
        )
        session.rollback()
    assert outbox(session_factory) == []


def test_queue_without_recipients_is_refused(session_factory: sessionmaker[Session], clock: datetime) -> None:
    with pytest.raises(ValueError, match="'generic' has no recipients"):
        queue(session_factory, clock, "k", to=[])
    with pytest.raises(
        ValueError, match="'anna@example.com, ben@example.com' is not a single e-mail address"
    ):
        queue(session_factory, clock, "k", to=["anna@example.com, ben@example.com"])
    assert outbox(session_factory) == []


def test_template_error_fails_the_queueing_transaction(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with pytest.raises(TemplateError, match="'message' is undefined"):
        queue(session_factory, clock, "k", context={"subject": "no message"})
    assert outbox(session_factory) == []


# --- dispatch --------------------------------------------------------------------------------------


def test_dispatch_delivers_text_and_html_parts_with_message_id(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    queue(
        session_factory,
        clock,
        "notify:task-1",
        to=["anna@example.com", "ben@example.com"],
        context={
            "subject": "Limit for <script>ACME</script>",
            "message": "Hello <script>alert(1)</script>\nBye",
        },
    )
    relay = relay_settings(settings, smtp_sink)

    result = dispatch_due_emails(session_factory, mailer_for(relay.mail, None), relay.mail, clock)

    assert result == DispatchResult(sent=1, retried=0, failed=0)
    [message] = smtp_sink.wait_for(1)
    assert message["Message-ID"] == message_id_for("notify:task-1")
    assert message["Subject"] == "Limit for <script>ACME</script>"
    assert message["From"] == f"creditflow <{settings.mail.sender}>"
    assert message["To"] == "anna@example.com, ben@example.com"
    assert message["Auto-Submitted"] == "auto-generated"
    assert smtp_sink.envelope_recipients == [["anna@example.com", "ben@example.com"]]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    # yagmail derives the plain part from the HTML body, so both carry the escaped user text.
    assert "alert(1)" in text.get_content()
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;" in html.get_content()
    assert "<script>" not in html.get_content()
    [row] = outbox(session_factory)
    assert (row.status, row.sent_at, row.attempts) == (MailStatus.SENT, clock, 1)


def test_dispatch_without_relay_sends_to_the_sink_port(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    assert settings.mail.smtp_host == ""
    queue(session_factory, clock, "k")
    result = dispatch_due_emails(
        session_factory, mailer_for(settings.mail, smtp_sink.port), settings.mail, clock
    )
    assert result.sent == 1
    assert [str(m["Subject"]) for m in smtp_sink.wait_for(1)] == ["Message k"]


def test_mailer_needs_a_relay_or_a_sink_port(settings: Settings) -> None:
    with pytest.raises(ValueError, match="no SMTP relay is configured"):
        mailer_for(settings.mail, None)


def test_closed_port_retries_with_growing_backoff_then_fails(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    mail = settings.mail
    assert (mail.max_attempts, mail.retry_base_s) == (5, 30)
    mailer = YagmailMailer(mail, "127.0.0.1", closed_port())
    queue(session_factory, clock, "k")
    now = clock
    delays = []
    for attempt in range(1, mail.max_attempts):
        result = dispatch_due_emails(session_factory, mailer, mail, now)
        assert result == DispatchResult(sent=0, retried=1, failed=0), attempt
        [row] = outbox(session_factory)
        assert row.attempts == attempt and row.status == MailStatus.PENDING
        assert "refused" in row.last_error.lower()
        delays.append(row.next_attempt_at - now)
        # Not due a moment before the backoff ends.
        assert dispatch_due_emails(
            session_factory, mailer, mail, row.next_attempt_at - timedelta(seconds=1)
        ) == (DispatchResult())
        with session_factory() as session:
            assert next_mail_due(session) == row.next_attempt_at
        now = row.next_attempt_at
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 240)]

    assert dispatch_due_emails(session_factory, mailer, mail, now) == DispatchResult(
        sent=0, retried=0, failed=1
    )
    [row] = outbox(session_factory)
    assert (row.status, row.attempts, row.sent_at) == (MailStatus.FAILED, 5, None)
    assert dispatch_due_emails(session_factory, mailer, mail, now + timedelta(days=30)) == DispatchResult()
    with session_factory() as session:
        assert next_mail_due(session) is None


class RaisingMailer:
    """A mailer whose every send fails with the given exception."""

    def __init__(self, make_error: Callable[[], BaseException]) -> None:
        self.make_error = make_error
        self.calls = 0

    def send(self, email: OutboxEmail) -> None:
        """Fail."""
        self.calls += 1
        raise self.make_error()


def test_unexpected_mailer_error_is_recorded_and_later_rows_still_go_out(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    for key in ("a", "b"):
        queue(session_factory, clock, key)
    mailer = RaisingMailer(lambda: RuntimeError("template engine exploded"))
    assert dispatch_due_emails(session_factory, mailer, settings.mail, clock) == DispatchResult(retried=2)
    assert mailer.calls == 2
    assert [r.last_error for r in outbox(session_factory)] == ["template engine exploded"] * 2


def test_sent_row_is_not_sent_again(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    relay = relay_settings(settings, smtp_sink)
    mailer = mailer_for(relay.mail, None)
    queue(session_factory, clock, "k")
    assert dispatch_due_emails(session_factory, mailer, relay.mail, clock).sent == 1
    assert dispatch_due_emails(session_factory, mailer, relay.mail, clock).sent == 0
    assert dispatch_due_emails(session_factory, mailer, relay.mail, clock + timedelta(days=1)).sent == 0
    assert len(smtp_sink.wait_for(1)) == 1
    with session_factory() as session:
        assert next_mail_due(session) is None


def test_dispatcher_dying_mid_send_leaves_the_row_leased_then_retried(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    queue(session_factory, clock, "k")

    def at(offset: timedelta) -> datetime:  # the acting clock and the wall clock, both moved by `offset`
        return clock + offset

    with pytest.raises(KeyboardInterrupt):
        dispatch_due_emails(
            session_factory, RaisingMailer(KeyboardInterrupt), settings.mail, clock, wall=lambda: clock
        )
    relay = relay_settings(settings, smtp_sink)
    mailer = mailer_for(relay.mail, None)
    # Another dispatcher must not pick up a row that may be mid-send ...
    minute = timedelta(minutes=1)
    assert (
        dispatch_due_emails(session_factory, mailer, relay.mail, at(minute), wall=lambda: at(minute)).sent
        == 0
    )
    # ... until the lease has run out.
    lease = dispatch_due_emails(
        session_factory, mailer, relay.mail, at(CLAIM_LEASE), wall=lambda: at(CLAIM_LEASE)
    )
    assert lease.sent == 1
    [row] = outbox(session_factory)
    assert (row.status, row.attempts) == (MailStatus.SENT, 2)


def test_dispatch_takes_rows_oldest_first_up_to_the_limit(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    queue(session_factory, clock + timedelta(minutes=2), "newer")
    queue(session_factory, clock + timedelta(minutes=1), "older")
    queue(session_factory, clock + timedelta(hours=1), "not-due-yet")
    relay = relay_settings(settings, smtp_sink)
    mailer = mailer_for(relay.mail, None)
    now = clock + timedelta(minutes=5)
    assert dispatch_due_emails(session_factory, mailer, relay.mail, now, limit=1).sent == 1
    assert dispatch_due_emails(session_factory, mailer, relay.mail, now).sent == 1
    assert [str(m["Subject"]) for m in smtp_sink.wait_for(2)] == ["Message older", "Message newer"]
    with session_factory() as session:
        assert next_mail_due(session) == clock + timedelta(hours=1)


def test_two_concurrent_dispatchers_send_each_row_exactly_once(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    with transaction(session_factory) as session:
        for i in range(50):
            queue_email(
                session,
                to=[f"user{i}@example.com"],
                template="generic",
                context={"subject": f"Message {i}", "message": "Body"},
                dedupe_key=f"k{i}",
                now=clock,
            )
    relay = relay_settings(settings, smtp_sink)
    start = threading.Barrier(2)
    results: list[DispatchResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(
                dispatch_due_emails(session_factory, mailer_for(relay.mail, None), relay.mail, clock)
            )
        except BaseException as exc:  # reported by the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(r.sent for r in results) == 50
    messages = smtp_sink.wait_for(50)
    assert len(messages) == 50
    assert len({m["Message-ID"] for m in messages}) == 50
    assert {r.status for r in outbox(session_factory)} == {MailStatus.SENT}
    assert {r.attempts for r in outbox(session_factory)} == {1}


# --- built-in sink ---------------------------------------------------------------------------------


def test_start_sink_stores_received_mail_as_rows(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    queue(session_factory, clock, "k1", to=["anna@example.com"])
    queue(session_factory, clock, "k2", to=["ben@example.com", "carl@example.com"])
    with start_sink(session_factory, port=0) as sink:
        assert sink.port > 0
        result = dispatch_due_emails(
            session_factory, mailer_for(settings.mail, sink.port), settings.mail, clock
        )
    assert result.sent == 2

    with session_factory() as session:
        rows = list(session.scalars(select(SinkMessage).order_by(SinkMessage.id)))
        assert [(r.mail_from, r.rcpt_to, r.subject, r.message_id) for r in rows] == [
            (settings.mail.sender, "anna@example.com", "Message k1", message_id_for("k1")),
            (settings.mail.sender, "ben@example.com, carl@example.com", "Message k2", message_id_for("k2")),
        ]
        assert "Content-Type: multipart/alternative" in rows[0].raw
        assert rows[0].received_at.tzinfo is not None

        everything = list_sink_messages(session)
        assert (everything.total, everything.pages) == (2, 1)
        assert [m.subject for m in everything.items] == ["Message k2", "Message k1"]  # newest first
        for address in ("CARL@example.com", "ben@example.com", "anna@example.com"):
            assert list_sink_messages(session, to=address).total == 1, address
        assert list_sink_messages(session, to="arl@example.com").total == 0  # whole addresses only
        assert list_sink_messages(session, to="%").total == 0  # LIKE wildcards are taken literally
        second = list_sink_messages(session, page=2, per_page=1)
        assert ([m.subject for m in second.items], second.pages) == (["Message k1"], 2)
        with pytest.raises(ValueError, match="per_page"):
            list_sink_messages(session, per_page=0)


def test_sink_on_a_busy_port_names_the_setting_to_change(session_factory: sessionmaker[Session]) -> None:
    with start_sink(session_factory, port=0) as first:
        with pytest.raises(OSError, match=r"set \[mail\] sink_port \(0 = any free port\)"):
            start_sink(session_factory, port=first.port)


def recording_dedupe_check(monkeypatch: pytest.MonkeyPatch, *, stale: bool) -> list[bool]:
    """Wrap the outbox's dedupe check; returns what each real check found. `stale` makes every check
    answer "not queued yet", as a read taken just before another transaction committed would."""
    real = outbox_module._dedupe_key_taken
    found: list[bool] = []

    def check(session: Session, dedupe_key: str) -> bool:
        found.append(real(session, dedupe_key))
        return False if stale else found[-1]

    monkeypatch.setattr(outbox_module, "_dedupe_key_taken", check)
    return found


def test_a_queue_whose_check_lost_the_race_is_stopped_by_the_insert_and_writes_nothing(
    session_factory: sessionmaker[Session], clock: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = queue(session_factory, clock, "same")
    found = recording_dedupe_check(monkeypatch, stale=True)
    second = queue(session_factory, clock, "same")
    # The check answered "not queued" (stale), so only the insert's ON CONFLICT could have refused it.
    assert found == [True]
    assert first is not None and second is None
    assert len(outbox(session_factory)) == 1


def test_concurrent_queues_with_the_same_key_write_one_row(
    db_engine: Engine,
    session_factory: sessionmaker[Session],
    clock: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres = db_engine.dialect.name == "postgresql"
    found = recording_dedupe_check(monkeypatch, stale=False)
    first_queued, second_checked = threading.Event(), threading.Event()
    results: list[int | None] = []

    def first() -> None:
        with transaction(session_factory) as session:
            results.append(queue_email(session, **queue_args("same", clock)))
            first_queued.set()
            if postgres:
                # Commit only once the second transaction has checked for the key: its check cannot see
                # this uncommitted row, so its insert meets it (waiting on the unique index) and must yield.
                assert second_checked.wait(timeout=10)

    def second() -> None:
        assert first_queued.wait(timeout=10)
        with transaction(session_factory) as session:
            results.append(queue_email(session, **queue_args("same", clock)))

    real_check = outbox_module._dedupe_key_taken

    def check_then_signal(session: Session, dedupe_key: str) -> bool:
        taken = real_check(session, dedupe_key)
        if first_queued.is_set():
            second_checked.set()
        return taken

    monkeypatch.setattr(outbox_module, "_dedupe_key_taken", check_then_signal)
    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 and results[0] is not None and results[1] is None
    assert len(outbox(session_factory)) == 1
    # On PostgreSQL the second check ran while the first row was uncommitted and missed it, so the insert's
    # ON CONFLICT refused it; SQLite serialises writers (BEGIN IMMEDIATE), so there the check found it.
    assert found == [False, not postgres]

"""One tick does everything due, in batches: past 1,000 overdue reminders and 200 e-mails, with progress."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, event, insert, select

from handlers.registry import build_operations
from tests.batch.test_scale_guards import NOW, seed_book
from tests.fixtures.engine.cases import add_people, review_runtime, rows, start_review
from tests.smtp import RecordingSink
from workflows.batch.jobs import DAILY_JOBS, MAIL_BATCH, REMINDER_BATCH, tick
from workflows.engine.runner import Runtime
from workflows.mail.outbox import queue_email
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, InboxItem, MailStatus, OutboxEmail
from workflows.users import add_user

REVIEW_DUE = timedelta(hours=4)  # dueIn of `review_case` in review.bpmn


@pytest.fixture
def rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    return review_runtime(settings, db_engine, clock)


class RecordedProgress:
    """What a tick reports: each phase's announced total and the sum of its advances."""

    def __init__(self) -> None:
        self.totals: dict[str, int | None] = {}
        self.done: dict[str, int] = {}

    def begin(self, phase: str, total: int | None) -> None:
        self.totals[phase] = total

    def advance(self, phase: str, done: int) -> None:
        self.done[phase] = self.done.get(phase, 0) + done


def overdue_tasks(rt: Runtime, clock: datetime, count: int) -> None:
    """`count` open review tasks of one case, overdue by clock + 5 h (bulk rows, as if of many cases)."""
    instance = start_review(rt, clock)
    with rt.factory() as session:
        (item,) = session.scalars(select(InboxItem).where(InboxItem.instance_id == instance.id))
        row = {c.key: getattr(item, c.key) for c in InboxItem.__table__.columns if c.key != "id"}
    with transaction(rt.factory) as session:
        session.execute(
            insert(InboxItem), [{**row, "spiff_task_id": f"bulk-{n:06d}"} for n in range(count - 1)]
        )


def test_one_tick_reminds_every_overdue_task_and_sends_every_due_email(
    rt: Runtime, clock: datetime, smtp_sink: RecordingSink
) -> None:
    add_people(rt.factory, clock)  # ann and bob, the review's group, get the reminders
    tasks = REMINDER_BATCH + 100
    overdue_tasks(rt, clock, tasks)
    notices = MAIL_BATCH + 17
    with transaction(rt.factory) as session:
        for n in range(notices):
            queue_email(
                session,
                to=[f"customer{n}@example.com"],
                template="generic",
                context={"subject": f"Notice {n}", "message": "Please pay."},
                dedupe_key=f"notice:{n}",
                now=clock,
            )
    progress = RecordedProgress()

    mailer = mailer_for(rt.settings.mail, smtp_sink.port)
    result = tick(rt, mailer, clock + REVIEW_DUE + timedelta(hours=1), jobs={}, progress=progress)

    assert result.reminders == tasks
    assert rows(rt.factory, select(InboxItem.id).where(InboxItem.reminded_at.is_(None))) == []
    emails = notices + tasks  # every reminder is one e-mail to the review's group
    assert (result.emails, result.email_failures) == (emails, 0)
    assert rows(rt.factory, select(OutboxEmail.id).where(OutboxEmail.status != MailStatus.SENT)) == []
    assert len(smtp_sink.wait_for(emails, timeout=30)) == emails
    assert (progress.totals["reminders"], progress.done["reminders"]) == (tasks, tasks)
    assert (progress.totals["emails"], progress.done["emails"]) == (emails, emails)
    assert progress.totals["timers"] == 0


def test_a_reminder_that_cannot_be_queued_is_skipped_once_and_the_others_are_sent(
    rt: Runtime, clock: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    add_people(rt.factory, clock)  # ann and bob, the review's group
    with transaction(rt.factory) as session:  # an address the outbox refuses (recipients must be one each)
        add_user(session, "carl", groups=["ops"], email="carl at example", now=clock)
    review = start_review(rt, clock)
    with rt.factory() as session:
        (item,) = session.scalars(select(InboxItem).where(InboxItem.instance_id == review.id))
        row = {c.key: getattr(item, c.key) for c in InboxItem.__table__.columns if c.key != "id"}
    with transaction(rt.factory) as session:
        broken = session.scalar(
            insert(InboxItem)
            .values({**row, "spiff_task_id": "ops-task", "candidate_groups": ["ops"]})
            .returning(InboxItem.id)
        )
    late = clock + REVIEW_DUE + timedelta(hours=1)

    result = tick(rt, None, late, jobs={})

    assert (result.reminders, result.errors) == (2, [])
    (queued,) = rows(rt.factory, select(OutboxEmail))
    assert queued.dedupe_key == f"overdue:{item.id}"
    failed = rows(rt.factory, select(AuditEvent).where(AuditEvent.action == "task_overdue_reminder_failed"))
    assert [e.task_id for e in failed] == [broken] and "carl at example" in failed[0].detail["error"]
    assert tick(rt, None, late + timedelta(hours=1), jobs={}).reminders == 0  # not tried every round
    assert len([r for r in caplog.records if "overdue reminder" in r.getMessage()]) == 1


def test_the_daily_dunning_run_reports_its_progress_by_customer(
    settings: Settings, db_engine: Engine
) -> None:
    book = Runtime(db_engine, settings, build_operations())
    seed_book(book.factory, NOW, customers=30)
    progress = RecordedProgress()

    result = tick(book, None, NOW, jobs={"dunning_run": DAILY_JOBS["dunning_run"]}, progress=progress)

    [day] = result.jobs
    # A long dunning day shows how far it is, customer by customer, not one step for the whole job.
    assert day["customers"] == 23 and day["cases_started"] == 23  # every fourth customer owes nothing late
    assert (progress.totals["job dunning_run"], progress.done["job dunning_run"]) == (23, 23)


def test_a_round_with_nothing_due_takes_no_write_lock(
    rt: Runtime, clock: datetime, smtp_sink: RecordingSink, db_engine: Engine
) -> None:
    """The scheduler runs a round after web actions (at most every 250 ms): with nothing overdue and no
    e-mail due it only reads. A write transaction (BEGIN IMMEDIATE on SQLite, a row lock on PostgreSQL)
    would take the write lock from the requests that nudged it."""
    start_review(rt, clock)  # an open task, not yet due
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(db_engine, "before_cursor_execute", record)
    try:
        did = tick(rt, mailer_for(rt.settings.mail, smtp_sink.port), clock, daily_jobs_due=False)
    finally:
        event.remove(db_engine, "before_cursor_execute", record)
    assert (did.reminders, did.emails, did.timers) == (0, 0, 0)
    writes = [s for s in sent if s.startswith("BEGIN IMMEDIATE") or "FOR UPDATE" in s]
    assert sent and writes == [], writes

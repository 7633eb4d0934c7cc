"""Mail of the batch jobs to a whole group in each member's language (issue 20, R22's leftovers): the overdue
reminder to a task's candidate groups and the weekly watchlist to the credit managers go as one e-mail per
language, so a Chinese and an English colleague each read theirs. Both stay "sent once": a task is reminded
once, the watchlist goes once a week, also when a reader switches language in between. Delivered over a real
SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.message import EmailMessage

import pytest
from flask import Flask
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.credit.test_watchlist import NOW, TODAY, build_book, runtime
from tests.fixtures.engine.cases import add_people, open_task, review_runtime, rows, start_review
from tests.smtp import RecordingSink
from workflows.batch.jobs import DAILY_JOBS, remind_overdue_tasks, tick
from workflows.batch.watchlist_run import watchlist_run
from workflows.credit import roles
from workflows.mail.outbox import dispatch_due_emails, queue_email_by_language
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import OutboxEmail
from workflows.users import add_user, set_language

CJK = re.compile(r"[\u4e00-\u9fff]")


def _words(message: EmailMessage) -> str:
    """Subject, text part and the HTML part's words of a delivered message."""
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    shown = re.sub(r"<[^>]+>", " ", str(html.get_content()))
    return "\n".join((str(message["Subject"]), str(plain.get_content()), shown))


def _by_reader(sink: RecordingSink) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for message in sink.messages:
        (address,) = str(message["To"]).split(", ")  # one reader per language here: one address each
        assert address not in found, f"{address} got two mails"
        found[address] = message
    return found


def test_a_chinese_and_an_english_analyst_each_read_the_overdue_reminder_in_theirs_once(
    settings: Settings, db_engine: Engine, clock: datetime, smtp_sink: RecordingSink
) -> None:
    rt = review_runtime(settings, db_engine, clock)
    add_people(rt.factory, clock)  # ann and bob: the review's candidate group (credit_analyst)
    with transaction(rt.factory) as session:
        set_language(session, "ann", "zh", clock)
    instance = start_review(rt, clock)
    task_id = open_task(rt.factory, instance.id, "review_case").id

    assert remind_overdue_tasks(rt, clock + timedelta(hours=5)) == 1
    with transaction(rt.factory) as session:  # bob switches to Chinese: the task is still reminded once
        set_language(session, "bob", "zh", clock + timedelta(hours=5))
    assert remind_overdue_tasks(rt, clock + timedelta(hours=6)) == 0

    queued = rows(rt.factory, select(OutboxEmail).order_by(OutboxEmail.dedupe_key))
    assert [(e.dedupe_key, e.to) for e in queued] == [
        (f"overdue:{task_id}:en", "bob@example.com"),
        (f"overdue:{task_id}:zh", "ann@example.com"),
    ]
    sent = dispatch_due_emails(
        rt.factory, mailer_for(rt.settings.mail, smtp_sink.port), rt.settings.mail, clock + timedelta(hours=6)
    )
    assert sent.sent == 2
    smtp_sink.wait_for(2)
    mails = _by_reader(smtp_sink)
    chinese, english = _words(mails["ann@example.com"]), _words(mails["bob@example.com"])
    assert chinese.startswith("任务逾期：") and "提醒用户组 信用分析师：" in chinese, chinese
    assert "credit_analyst" not in chinese, chinese
    assert english.startswith("Overdue") and not CJK.search(english), english


@pytest.mark.usefixtures("shipped")
def test_credit_managers_of_two_languages_each_read_the_weekly_watchlist_in_theirs_once(
    app: Flask, demo_tokens: dict[str, str], smtp_sink: RecordingSink
) -> None:
    rt = runtime(app)
    build_book(app)
    with transaction(rt.factory) as session:
        add_user(session, "li", groups=[roles.CREDIT_MANAGER], now=NOW, email="li@example.com", language="zh")
    mailer = mailer_for(rt.settings.mail, smtp_sink.port)
    jobs = {"watchlist_run": DAILY_JOBS["watchlist_run"]}
    tick(rt, mailer, NOW, jobs=jobs)
    # Li switches to English and the job runs again the same Monday: the week's mail went already (under the
    # keys of the other split), so nobody gets it twice.
    with transaction(rt.factory) as session:
        set_language(session, "li", "en", NOW)
    again = watchlist_run(rt, TODAY, NOW + timedelta(hours=1))
    assert (again["summary_email"], again["summary_emails"]) == (None, [])
    tick(rt, mailer, NOW + timedelta(hours=2), jobs=jobs)

    with rt.factory() as session:
        queued = session.scalars(
            select(OutboxEmail).where(OutboxEmail.template == "watchlist_summary").order_by(OutboxEmail.id)
        ).all()
        assert sorted((e.dedupe_key, e.to, e.status) for e in queued) == [
            ("watchlist_summary:2026-W10:en", "manager1@example.com", "sent"),
            ("watchlist_summary:2026-W10:zh", "li@example.com", "sent"),
        ]
    summaries = [m for m in smtp_sink.messages if str(m["Subject"]).startswith(("Watchlist", "预警"))]
    assert len(summaries) == 2
    mails = {str(m["To"]): m for m in summaries}
    chinese, english = _words(mails["li@example.com"]), _words(mails["manager1@example.com"])
    assert chinese.startswith("预警观察名单（2026年第10周）：未解除 8 项，新增 8 项，解除 0 项"), chinese
    assert english.startswith("Watchlist 2026-W10: 8 open, 8 new, 0 cleared") and not CJK.search(english)


@pytest.mark.parametrize("first", ["zh", "en"])
def test_a_group_mail_is_queued_once_whichever_languages_its_readers_switch_to(
    session_factory: sessionmaker[Session], clock: datetime, first: str
) -> None:
    """One language first (the key alone), then two (KEY:LANGUAGE), or the other way round: the second
    call queues nothing, as queue_email does for a key queued before."""
    with transaction(session_factory) as session:
        add_user(session, "li", groups=["finance"], now=clock, email="li@example.com", language="zh")
        add_user(session, "ann", groups=["finance"], now=clock, email="ann@example.com", language=first)

    def queue() -> list[int]:
        with transaction(session_factory) as session:
            return queue_email_by_language(
                session,
                to=["li@example.com", "ann@example.com"],
                template="generic",
                context={"subject": "s", "message": "m"},
                dedupe_key="weekly:1",
                now=clock,
            )

    assert len(queue()) == (1 if first == "zh" else 2)
    with transaction(session_factory) as session:
        set_language(session, "ann", "en" if first == "zh" else "zh", clock)
    assert queue() == []
    with session_factory() as session:
        keys = sorted(session.scalars(select(OutboxEmail.dedupe_key)))
    assert keys == (["weekly:1"] if first == "zh" else ["weekly:1:en", "weekly:1:zh"])

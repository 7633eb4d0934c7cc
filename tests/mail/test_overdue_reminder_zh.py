"""The overdue reminder reaches Chinese readers in Chinese over real SMTP (aiosmtpd): the candidate groups by
their Chinese names, the process by its name, no group or process code (R20 finding 3); English readers get
no Chinese."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from tests.fixtures.engine.cases import People, add_people, review_runtime, rows, start_review
from tests.smtp import RecordingSink
from workflows.batch.jobs import remind_overdue_tasks
from workflows.engine.runner import Runtime
from workflows.mail.sink import SINK_HOST, start_controller
from workflows.mail.smtp import YagmailMailer
from workflows.settings import Settings, load_settings
from workflows.store.models import OutboxEmail
from workflows.users import set_language

CJK = re.compile(r"[\u4e00-\u9fff]")


def _sent(rt: Runtime) -> tuple[str, str]:
    """The one queued reminder sent through aiosmtpd: its decoded subject and HTML body's words."""
    [email] = rows(rt.factory, select(OutboxEmail))
    sink = RecordingSink()
    controller = start_controller(sink, SINK_HOST, 0)
    try:
        YagmailMailer(load_settings({}).mail, SINK_HOST, controller.port).send(email)
        [message] = sink.wait_for(1)
    finally:
        controller.stop()
    body = message.get_body(preferencelist=("html",)).get_content()
    # The text/plain alternative is the rendered .txt template, not the HTML source yagmail would derive.
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert plain == email.body_text and "<" not in plain, plain
    return str(message["Subject"]), " ".join(re.sub(r"<[^>]+>", " ", body).split())


def _remind(settings: Settings, db_engine: Engine, clock: datetime, language: str) -> tuple[str, str]:
    rt = review_runtime(settings, db_engine, clock)
    people: People = add_people(rt.factory, clock)
    with rt.factory() as session, session.begin():
        for name in ("ann", "bob"):
            set_language(session, name, language, clock)
    start_review(rt, clock)
    assert remind_overdue_tasks(rt, clock + timedelta(hours=5)) == 1
    assert people is not None
    return _sent(rt)


def test_a_chinese_analyst_reads_the_overdue_reminder_in_chinese(
    settings: Settings, db_engine: Engine, clock: datetime
) -> None:
    subject, body = _remind(settings, db_engine, clock, "zh")
    assert subject.startswith("任务逾期：") and "截止时间为" in subject
    assert "提醒用户组 信用分析师 ：" in body and "原截止时间 2026年3月2日 13:00 UTC" in body, body
    # The test diagram has no name_zh: its English names, never the codes (credit_analyst, review).
    assert "流程 Case review" in body and "任务 Review case" in body, body
    assert "credit_analyst" not in subject + body, body


def test_an_english_analyst_reads_it_in_english(
    settings: Settings, db_engine: Engine, clock: datetime
) -> None:
    subject, body = _remind(settings, db_engine, clock, "en")
    assert not CJK.search(subject + body), body
    assert not re.search(r"\d{4}-\d\d-\d\d", subject + body), subject + body  # days as "4 Mar 2026"

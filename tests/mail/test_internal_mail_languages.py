"""Internal e-mails in the reader's language (issue 20, R21 F-0, F-0b, F-10, F-14): the shipped diagrams'
notices (order release, write-off approvals, the write-off's decision, the credit application's question
reminder, a version's approval) and the month end's "provision run not posted" go through a template per
message, with codes and amounts as data. A Chinese user gets a Chinese subject and body with no English
sentence of ours; an English one gets English without codes. Delivered over a real SMTP server (aiosmtpd),
whose HTML part is the rendered template as it is (no `<br>` after every tag)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.collections_desk import Collections
from tests.helpers import auth, migrated_customer
from tests.mail.test_mail_languages import CJK, CONTEXT
from tests.smtp import RecordingSink
from webui.watchlist import INDICATOR_SHORT_NAMES, WATCH_ACTIONS
from workflows.batch.jobs import DAILY_JOBS, run_daily_jobs
from workflows.definitions.display_names import read_names
from workflows.group_names import GROUP_NAMES
from workflows.mail import outbox
from workflows.mail.outbox import dispatch_due_emails, queue_email, queue_email_by_language
from workflows.mail.smtp import mailer_for
from workflows.mail.templates import TemplateError, _environment, available_templates, render_email
from workflows.settings import TEMPLATE_DIR, Settings
from workflows.store.db import transaction
from workflows.store.models import OutboxEmail, User
from workflows.users import add_user, set_language

pytestmark = pytest.mark.usefixtures("shipped")

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
CHINESE_NAME = "上海精密零件有限公司"
# Latin words a Chinese mail may hold: our product, the ERP, currency codes, API paths and CLI commands
# (typed as they are).
LATIN_ALLOWED = {
    "creditflow",
    "ERP",
    "EUR",
    "CNY",
    "USD",
    "POST",
    "GET",
    "api",
    "fx",
    "rates",
    "import",
    "provisions",
    "post",
    "as",
    "of",
    "user",
}
# A code of ours in an English mail: an identifier with an underscore, a decision as stored after a colon
# ("…of customer 1: approve."), an outcome code after "outcome" ("Outcome settled:"), an amount as stored (no
# grouping, no currency).
CODE = re.compile(r"\b[a-z]+_[a-z_]+\b|: (?:approve|reject)\b|\b[Oo]utcome (?!of)\w+|\d{4,}\.\d\d")


def latin_words(text: str, *data: str) -> set[str]:
    """The Latin words of `text` that are neither allowed nor part of the data passed in."""
    for value in data:
        text = text.replace(value, " ")
    text = re.sub(r"\d{4}-\d\d-\d\d|https?://\S+|/\S*", " ", text)  # the CLI's ISO day, links, paths
    return {w for w in re.findall(r"[A-Za-z][A-Za-z_]*", text) if w not in LATIN_ALLOWED}


def bodies(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return str(plain.get_content()), str(html.get_content())


def chinese(message: EmailMessage, *data: str) -> str:
    """The message's text, checked to be Chinese throughout: subject and both parts."""
    subject = str(message["Subject"])
    plain, html = bodies(message)
    assert CJK.search(subject), subject
    assert CJK.search(plain) and 'lang="zh-Hans"' in html
    shown = re.sub(r"<[^>]+>", " ", html)
    assert not latin_words(subject + "\n" + plain + "\n" + shown, *data), (subject, plain)
    return subject + "\n" + plain


def english(message: EmailMessage, *data: str) -> str:
    """The message's text, checked to be English without our codes or Chinese (but the `data` passed in)."""
    subject = str(message["Subject"])
    plain, html = bodies(message)
    shown = re.sub(r"<[^>]+>", " ", html)
    for text in (subject, plain, shown):
        for value in data:
            text = text.replace(value, " ")
        assert not CJK.search(text), text
        assert not CODE.search(text), (CODE.search(text), text)
    return subject + "\n" + plain


def to(desk: Collections, address: str) -> list[EmailMessage]:
    """The mails to `address` but the daily watchlist summary (a credit manager gets it on every tick)."""
    return [m for m in desk.notices_to(address) if not str(m["Subject"]).startswith(("Watchlist", "预警"))]


def summaries(desk: Collections, address: str) -> list[EmailMessage]:
    return [m for m in desk.notices_to(address) if m not in to(desk, address)]


def languages(desk: Collections, language: str, users: Iterable[str]) -> None:
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        for name in users:
            set_language(session, name, language, desk.clock.now)


# --- order release ---------------------------------------------------------------------------------


def _held_order(desk: Collections, ref: str, amount: str, name: str) -> int:
    fields = {"external_id": ref, "name": name, "currency": "EUR", "credit_limit": "100000.00"}
    customer = migrated_customer(desk.client.application, fields)
    body = {"customer_id": customer, "order_ref": ref, "amount": amount, "currency": "EUR"}
    answer = desk.client.post("/api/credit-checks", json=body, headers=auth(desk.tokens["sales1"]))
    assert answer.status_code == 200 and answer.json["result"] == "over_limit", answer.json
    return int(answer.json["release_instance_id"])


def _decide_release(desk: Collections, instance_id: int, decision: str, comment: str) -> None:
    [task] = [t for t in desk.open_tasks("manager1") if t["instance_id"] == instance_id]
    assert desk.complete("manager1", task["id"], decision=decision, comment=comment).status_code == 200
    desk.tick(days=0)  # the scheduler round sends the outbox


def test_a_chinese_requester_hears_of_the_release_in_chinese_with_what_the_manager_typed(
    desk: Collections,
) -> None:
    languages(desk, "zh", ["sales1"])
    instance = _held_order(desk, "SO-2026-0815", "820000.00", CHINESE_NAME)
    [task] = [t for t in desk.open_tasks("manager1") if t["instance_id"] == instance]
    assert task["subject"] == "Order SO-2026-0815 of 上海精密零件有限公司: €820,000.00"  # R22-6: named
    _decide_release(desk, instance, "approve", "同意放行，客户已承诺月底前回款。")
    [mail] = to(desk, "sales1@example.com")
    text = chinese(mail, "SO-2026-0815", "manager1")
    assert mail["Subject"] == "订单 SO-2026-0815 已放行"
    # A Chinese name is set close to the characters around it; a Latin one apart (test_zh_mail_spacing).
    assert f"manager1 已批准放行{CHINESE_NAME}的订单 SO-2026-0815（€820,000.00）。" in text
    assert "审批意见：\n同意放行，客户已承诺月底前回款。" in text


def test_an_english_requester_hears_of_a_refusal_without_codes(desk: Collections) -> None:
    instance = _held_order(desk, "SO-3", "150000.00", "Orderly Trading GmbH")
    _decide_release(desk, instance, "reject", "Too much at once.")
    [mail] = to(desk, "sales1@example.com")
    text = english(mail)
    assert mail["Subject"] == "Order SO-3 stays held"
    assert "manager1 did not release order SO-3 of Orderly Trading GmbH (€150,000.00): it stays held." in text
    assert "Comment:\nToo much at once." in text


# --- write-off: the approvers' notices and the decision to legal -----------------------------------


def _write_off(desk: Collections, name: str, comment: str) -> None:
    """Legal proposes a settlement that writes off €60,000.00 (above the manager's authority: the CFO too);
    the credit manager and the CFO approve with `comment`."""
    customer = desk.customer(name)
    desk.invoice(customer, "SPP-7001", "50000.00")
    desk.invoice(customer, "SPP-7002", "30000.00")
    body = {
        "process_key": "write_off",
        "data": {
            "customer_id": customer,
            "outcome": "settled",
            "amount": "20000.00",
            "comment": "和解协议已签",
        },
    }
    started = desk.client.post("/api/process-instances", json=body, headers=auth(desk.tokens["legal1"]))
    assert started.status_code == 201, started.json
    for user, step in (("manager1", "manager_approval"), ("cfo1", "cfo_approval")):
        [task] = [t for t in desk.open_tasks(user) if t["name"] == step]
        assert desk.complete(user, task["id"], decision="approve", comment=comment).status_code == 200
    desk.tick(days=0)


def test_chinese_approvers_and_legal_read_the_write_off_in_chinese(desk: Collections) -> None:
    languages(desk, "zh", ["legal1", "manager1", "cfo1"])
    _write_off(desk, CHINESE_NAME, "同意。")
    [manager] = to(desk, "manager1@example.com")
    text = chinese(manager, CHINESE_NAME, "SPP")
    assert manager["Subject"] == f"坏账核销待审批：{CHINESE_NAME}"
    assert "按“和解”结案，需核销 €60,000.00（发票 SPP-7001、SPP-7002）" in text
    [cfo] = to(desk, "cfo1@example.com")
    text = chinese(cfo, CHINESE_NAME, "SPP")
    assert "信用经理已批准核销" in text and "€60,000.00" in text and "还须经首席财务官审批" in text
    [summary] = summaries(desk, "manager1@example.com")  # the watchlist of the tick, labelled
    assert "信用经理" in chinese(summary, CHINESE_NAME)
    assert str(summary["Subject"]).startswith("预警观察名单（2026年第10周）")  # not the ISO week 2026-W10
    [decision] = to(desk, "legal1@example.com")
    text = chinese(decision)
    assert decision["Subject"] == "您的坏账核销申请已批准"
    assert "诉讼结果：和解。已核销 €60,000.00" in text
    # What the approver typed, not a sentence of ours, stands under 审批意见.
    assert "审批意见：\n同意。\n" in text


def test_english_approvers_and_legal_read_the_write_off_without_codes(desk: Collections) -> None:
    _write_off(desk, "Gone Bust Trading", "Fine by me.")
    [manager] = to(desk, "manager1@example.com")
    text = english(manager)
    assert manager["Subject"] == "Write-off to approve: Gone Bust Trading"
    assert "as settled: €60,000.00 to write off (invoices SPP-7001, SPP-7002)" in text
    [cfo] = to(desk, "cfo1@example.com")
    assert "The credit manager approved writing off €60,000.00 of Gone Bust Trading" in english(cfo)
    [summary] = summaries(desk, "manager1@example.com")
    assert "owner Credit manager" in english(summary)
    [decision] = to(desk, "legal1@example.com")
    text = english(decision)
    assert "Legal outcome: settled. Written off: €60,000.00" in text
    assert "Comment from our team:\nFine by me.\n" in text and "Outcome settled" not in text


def test_a_group_whose_members_read_two_languages_gets_one_e_mail_in_each(desk: Collections) -> None:
    """Before, the credit managers' notice went in English to all of them when one read Chinese and one
    English; now each reads it in their own language (one e-mail per language, notify:KEY:LANG)."""
    languages(desk, "zh", ["manager1"])
    factory = desk.client.application.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        add_user(
            session, "manager2", groups=["credit_manager"], email="manager2@example.com", now=desk.clock.now
        )
    customer = desk.customer(CHINESE_NAME)
    desk.invoice(customer, "SPP-7001", "12000.00")
    body = {
        "process_key": "write_off",
        "data": {"customer_id": customer, "outcome": "uncollectable", "amount": 0},
    }
    started = desk.client.post("/api/process-instances", json=body, headers=auth(desk.tokens["legal1"]))
    assert started.status_code == 201, started.json
    desk.tick(days=0)
    [chinese_notice] = to(desk, "manager1@example.com")
    [english_notice] = to(desk, "manager2@example.com")
    assert chinese_notice["Subject"] == f"坏账核销待审批：{CHINESE_NAME}"
    assert "按“无法收回”结案，需核销 €12,000.00（发票 SPP-7001）" in chinese(
        chinese_notice, CHINESE_NAME, "SPP"
    )
    assert english_notice["Subject"] == f"Write-off to approve: {CHINESE_NAME}"
    assert "as uncollectable: €12,000.00 to write off (invoices SPP-7001)" in english(
        english_notice, CHINESE_NAME
    )
    with factory() as session:
        keys = session.scalars(
            select(OutboxEmail.dedupe_key).where(OutboxEmail.instance_id == started.json["id"])
        ).all()
    assert sorted(keys) == [k for k in sorted(keys) if k.endswith((":en", ":zh"))] and len(keys) == 2


# --- credit application: the unanswered question ----------------------------------------------------


def test_the_question_reminder_reaches_a_chinese_requester_in_chinese(desk: Collections) -> None:
    languages(desk, "zh", ["sales1"])
    customer = desk.customer(
        "Acme Machinery GmbH", industry="manufacturing", founded_year=1990, annual_revenue="50000000.00"
    )
    data = {
        "customer_id": customer,
        "requested_limit": 300000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "2027 年框架协议",
    }
    started = desk.client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(desk.tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    [review] = [t for t in started.json["tasks"] if t["name"] == "review_application"]
    asked = desk.complete(
        "analyst1", review["id"], decision="request_info", comment="请提供最新的资产负债表。"
    )
    assert asked.status_code == 200, asked.json
    desk.tick(days=5.1)  # the reminder timer (5 days without an answer)
    [mail] = to(desk, "sales1@example.com")
    text = chinese(mail, "Acme Machinery GmbH")
    assert mail["Subject"] == "请补充资料：Acme Machinery GmbH 的信用额度申请"
    assert "请提供最新的资产负债表。" in text and "14 天内未答复的，该申请将自动撤回" in text
    desk.tick(days=9)  # 14 days without an answer: withdrawn, and the requester is told why (R22-9)
    [withdrawn] = [m for m in to(desk, "sales1@example.com") if m is not mail]
    text = chinese(withdrawn)
    assert withdrawn["Subject"] == "您的信用额度申请已撤回"
    assert "系统自动撤回：自提出补充资料要求之日起 14 天内未收到所需资料。" in text


# A grade-E applicant (tests/bpmn/test_credit_application.py's WEAK_CUSTOMER): rejected by the rules alone.
WEAK = {
    "name": "Shaky Builders Ltd",
    "email": "office@shaky.example",
    "industry": "construction",
    "founded_year": 2025,
    "annual_revenue": "100000",
    "currency": "EUR",
    "current_ratio": "0.8",
    "debt_ratio": "0.95",
    "external_rating": "CCC",
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_automatic_rejection_says_why_in_the_requesters_language(desk: Collections, language: str) -> None:
    if language == "zh":
        languages(desk, "zh", ["sales1"])
    created = desk.client.post("/api/customers", json=WEAK, headers=auth(desk.tokens["analyst1"]))
    assert created.status_code == 201, created.json
    data = {
        "customer_id": created.json["id"],
        "requested_limit": 20000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "一次性订单",
    }
    started = desk.client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(desk.tokens["sales1"]),
    )
    assert started.status_code == 201 and started.json["data"]["decision"] == "reject", started.json
    assert started.json["data"]["comment"] == ""  # no sentence of ours in the case data (a zh page's 备注)
    score = started.json["data"]["scoring"]["score"]
    desk.tick(days=0)
    [mail] = to(desk, "sales1@example.com")
    if language == "zh":
        text = chinese(mail, "为 E（")  # the grade is data
        assert mail["Subject"] == "您的信用额度申请未获批准"
        assert f"系统自动审批：该客户信用等级为 E（评分 {score}），按信用政策只能采用预付款方式交易。" in text
        assert "审批意见" not in text
    else:
        text = english(mail)
        assert mail["Subject"] == "Your credit application was rejected"
        assert (
            f"Decided automatically: the customer's grade E (score {score}) allows cash in advance only."
            in text
        )


# --- the month end's provision run --------------------------------------------------------------------


def _refused_month_end(app: Flask, desk: Collections) -> None:
    customer = desk.customer("Norate Trading", currency="CNY")
    body = {
        "customer_id": customer,
        "number": "N-1",
        "amount": "800.00",
        "currency": "CNY",
        "issue_date": "2024-01-01",
        "due_date": "2026-02-01",
    }
    assert (
        desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"])).status_code == 201
    )
    rt = app.extensions["creditflow"].rt
    (day,) = run_daily_jobs(
        rt, datetime(2026, 2, 28, 22, 0, tzinfo=UTC), {"provision_run": DAILY_JOBS["provision_run"]}
    )
    assert day["missing_rates"] == ["CNY"]
    desk.tick(days=0)


def test_the_provision_run_not_posted_is_said_in_chinese_to_chinese_posters(
    app: Flask, desk: Collections
) -> None:
    languages(desk, "zh", ["finance1", "manager1"])
    _refused_month_end(app, desk)
    [mail] = [m for m in desk.sink.messages if "finance1@example.com" in str(m["To"])]
    assert "manager1@example.com" in str(mail["To"])
    text = chinese(mail)
    assert mail["Subject"] == "2026年2月28日坏账准备计提未能过账"
    assert "CNY 在2026年2月28日（含）之前没有折算为 EUR 的汇率" in text
    assert "creditflow provisions --post --as-of 2026-02-28 --user 您的用户名" in text


def test_the_provision_run_not_posted_is_said_in_english_days_to_english_posters(
    app: Flask, desk: Collections
) -> None:
    _refused_month_end(app, desk)
    [mail] = [m for m in desk.sink.messages if "finance1@example.com" in str(m["To"])]
    text = english(mail)
    assert mail["Subject"] == "Provision run of 28 Feb 2026 not posted"
    assert "no exchange rate into EUR on or before 28 Feb 2026 for CNY" in text
    assert "--as-of 2026-02-28" in text  # the command takes the ISO day


def test_finance_and_a_credit_manager_of_different_languages_each_read_the_month_end_in_theirs(
    app: Flask, desk: Collections
) -> None:
    languages(desk, "zh", ["finance1"])
    _refused_month_end(app, desk)
    [chinese_mail] = [m for m in desk.sink.messages if str(m["To"]) == "finance1@example.com"]
    [english_mail] = [m for m in desk.sink.messages if str(m["To"]) == "manager1@example.com"]
    assert chinese_mail["Subject"] == "2026年2月28日坏账准备计提未能过账" and chinese(chinese_mail)
    assert english_mail["Subject"] == "Provision run of 28 Feb 2026 not posted" and english(english_mail)


def test_a_version_that_fails_to_render_leaves_no_e_mail_of_the_other_language(
    session_factory: sessionmaker[Session], clock: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # notify.email runs without a savepoint on SQLite (Operation.writes_once): its writes must all come last.
    with transaction(session_factory) as session:
        session.add(User(username="li", email="li@example.com", language="zh", created_at=clock))
        session.add(User(username="ann", email="ann@example.com", created_at=clock))
    real = outbox.render_email

    def zh_broken(template: str, context: Any, **kwargs: Any) -> Any:
        if kwargs.get("language") == "zh":
            raise TemplateError("zh/generic.txt: broken by an edit")
        return real(template, context, **kwargs)

    monkeypatch.setattr(outbox, "render_email", zh_broken)
    with transaction(session_factory) as session:
        with pytest.raises(TemplateError):
            queue_email_by_language(
                session,
                to=["ann@example.com", "li@example.com"],
                template="generic",
                context={"subject": "s", "message": "m"},
                dedupe_key="both",
                now=clock,
            )
        assert session.scalars(select(OutboxEmail)).all() == []


# --- templates: every refusal, the labels, old diagrams ----------------------------------------------


@pytest.mark.parametrize("problem", ["missing_rates", "beyond_bound", "matrix"])
def test_every_refusal_of_the_month_end_is_said_in_either_language(problem: str) -> None:
    context = {
        "as_of": "2026-03-31",
        "problem": problem,
        "currencies": ["CNY"] if problem != "matrix" else [],
        "base": "EUR",
        "reason": "provision_matrix.dmn of dunning v3: no row matches 12 days past due",
    }
    zh = render_email("provision_run_refused", context, language="zh")
    assert not latin_words(zh.subject + zh.text, "provision_matrix.dmn"), zh.text
    assert "2026年3月31日" in zh.subject and "2026-03-31" not in zh.subject
    en = render_email("provision_run_refused", context, language="en")
    assert "31 Mar 2026" in en.subject and not CJK.search(en.text)
    assert (context["reason"] in en.text) == (problem == "matrix")


def test_english_mails_name_groups_actions_indicators_and_processes_as_the_web_ui_does() -> None:
    watchlist = {
        **CONTEXT,
        "total": 1,
        "by_action": {"credit_hold": 0, "call": 0, "review": 1},
        "entries": [
            {
                "customer_name": "Slowpay Trading",
                "customer_id": 2,
                "action": "review",
                "indicators": [{"indicator": "concentration"}, {"indicator": "dbt_rising"}],
                "indicator_list": "concentration, dbt_rising",
                "owner": "credit_manager",
                "opened_at": "2026-03-01T00:00:00",
            }
        ],
    }
    summary = render_email("watchlist_summary", watchlist, language="en")
    assert "Open entries: 1 (credit hold 0, call 0, review 1)" in summary.text
    assert "- Slowpay Trading (customer 2): review; concentration, dbt rising; owner Credit manager;" in (
        summary.text
    )
    assert "credit_hold" not in summary.html and "credit_manager" not in summary.html
    overdue = {
        **CONTEXT,
        "group": "credit_analyst",
        "groups": ["credit_analyst"],
        "process_key": "credit_limit_review",
    }
    reminder = render_email("task_overdue", overdue, language="en")
    assert "Reminder for the group Credit analyst:" in reminder.text
    assert "Process: Credit limit review" in reminder.text
    assert "credit_analyst" not in reminder.html and "credit limit review" not in reminder.html
    copy = {**CONTEXT, "to_customer": False, "owner_group": "collections"}
    assert "owner group Collector." in render_email("dispute_outcome", copy, language="en").text
    review = render_email("limit_review_result", {**CONTEXT, "reason": "top_exposure"}, language="en")
    assert "(one of the largest exposures)" in review.subject and "top_exposure" not in review.text


def test_the_english_labels_of_the_mails_are_the_web_uis() -> None:
    # config/templates/_labels.txt is data an administrator may edit; shipped, it says what the pages say.
    labels = _environment(TEMPLATE_DIR, "en").get_template("_labels.txt").module
    assert labels.groups == {group: name.msgid for group, name in GROUP_NAMES.items()}
    assert labels.watch_actions == {code: label._args[0] for code, label in WATCH_ACTIONS.items()}
    assert labels.indicators == {code: label._args[0] for code, label in INDICATOR_SHORT_NAMES.items()}
    for key, name in labels.processes.items():
        assert read_names((BPMN / f"{key}.bpmn").read_bytes(), key).process["en"] == name
    assert sorted(labels.processes) == sorted(p.stem for p in BPMN.glob("*.bpmn"))


def test_a_diagram_deployed_before_still_sends_generic_in_the_readers_language(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        queue_email(
            session,
            to=["someone@example.com"],
            template="generic",
            context={"subject": "Order SO-1 is released", "message": "manager1 decided: approve."},
            dedupe_key="old-diagram",
            now=clock,
        )
    with session_factory() as session:
        row = session.scalars(select(OutboxEmail)).one()
        assert row.subject == "Order SO-1 is released" and "manager1 decided: approve." in row.body_text


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_plain_text_part_ends_with_the_footer_the_html_part_shows(language: str) -> None:
    # R21 F-14: the text/plain part of five templates said less than the HTML part's footer (…请勿直接回复).
    for name in available_templates():
        rendered = render_email(name, {**CONTEXT, "to_customer": True}, language=language)
        footer = re.search(r'<p class="mail-only"[^>]*>(.*?)</p>', rendered.html)
        assert footer is not None, name
        assert rendered.text.rstrip().endswith("--\n" + footer.group(1)), (name, rendered.text[-120:])


# --- the HTML part as rendered ----------------------------------------------------------------------


def test_the_html_part_is_the_rendered_template_and_the_text_part_the_rendered_text(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    context = {**CONTEXT, "customer_name": CHINESE_NAME, "order_status": "held"}
    with transaction(session_factory) as session:
        for n, template in enumerate(("order_release_decided", "watchlist_summary", "dunning_notice")):
            queue_email(
                session,
                to=[f"reader{n}@example.com"],
                template=template,
                context=context,
                dedupe_key=f"html-{n}",
                now=clock,
                language="zh" if n % 2 else "en",
            )
    relay = settings.replace("mail", smtp_host=smtp_sink.host, smtp_port=smtp_sink.port)
    dispatch_due_emails(session_factory, mailer_for(relay.mail, None), relay.mail, clock)
    received = {str(m["To"]): m for m in smtp_sink.wait_for(3)}
    with session_factory() as session:
        rows = session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
        for row in rows:
            plain, html = bodies(received[row.to])
            assert html == row.body_html  # not wrapped in a <div>, no <br> after every tag
            assert not html.startswith("<div>") and "<html" in html
            assert plain == row.body_text

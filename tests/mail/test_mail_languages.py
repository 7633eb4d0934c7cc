"""Issue 20: every e-mail template in Chinese too, chosen by the reader's language; subjects RFC 2047 on the
wire; PDF letters with the CJK font embedded as a subset."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session, sessionmaker

from handlers.notifications import NotifyEmailRequest, notify_email
from tests.helpers import running_instance
from tests.smtp import RecordingSink
from workflows.credit.models import Customer
from workflows.engine.service_tasks import TaskContext
from workflows.mail.letters_pdf import letter_pdf
from workflows.mail.outbox import queue_email
from workflows.mail.recipients import common_language
from workflows.mail.sink import SINK_HOST, start_controller
from workflows.mail.smtp import YagmailMailer, attachment_bytes
from workflows.mail.templates import available_templates, render_email
from workflows.settings import TEMPLATE_DIR, load_settings
from workflows.store.db import transaction
from workflows.store.models import OutboxEmail, User

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
INVOICES = [{"number": "INV-1", "due_date": "2026-03-02", "days_overdue": 14, "open_amount": "1200.00"}]
# Every variable any template reads, with values a real step could send.
CONTEXT: dict[str, Any] = {
    "level": 2,
    "title": "Second reminder",
    "customer_name": "Slowpay Trading",
    "invoices": INVOICES,
    "total": Decimal("1200.00"),
    "fees": Decimal("15.00"),
    "currency": "CNY",
    "blocked": False,
    "next_step_on": "2026-03-27",
    "interest": {
        "rate": Decimal("8.5"),
        "reference_rate": Decimal("3.5"),
        "margin_points": Decimal("5"),
        "lines": {"INV-1": Decimal("3.92")},
        "total": Decimal("3.92"),
    },
    "limit": Decimal("500000.00"),
    "payment_terms_days": 30,
    "above_policy": True,
    "next_review_date": "2027-01-14",
    "case_id": 7,
    "disputed": Decimal("100.00"),
    "supplier_name": "Acme Supplies",
    "contract_number": "K-2026-01",
    "change_type": "payment_terms",
    "changes": {"payment_terms_days": 60},
    "current": {"payment_terms_days": 30},
    "reason": "Market practice",
    "countersign_by": "2027-01-14",
    "instance_id": 12,
    "outcome": "expired",
    "version": 2,
    "signed_by": "Li Wei",
    "decided_by": "cfo1",
    "comment": "OK",
    "process_key": "credit_application",
    "business_key": "CA-7",
    "dispute_id": 3,
    "to_customer": True,
    "credited_amount": Decimal("100.00"),
    "notes": [{"invoice_number": "INV-1", "amount": Decimal("100.00")}],
    "lines": [{"number": "INV-1"}],
    "disputed_amount": Decimal("100.00"),
    "owner_group": "credit_manager",
    "subject": "Hello",
    "message": "Body",
    "old_limit": Decimal("400000.00"),
    "new_limit": Decimal("500000.00"),
    "grade": "B",
    "score": 71,
    "group": "credit_analyst",
    "task_title": "Review",
    "due_at": "2026-03-04T09:00:00+00:00",
    "base_url": "http://127.0.0.1:5000",
    "task_id": 42,
    "week": "2026-W10",
    "opened": 1,
    "cleared": 0,
    "by_action": {"review": 1},
    "entries": [
        {
            "customer_name": "Slowpay Trading",
            "customer_id": 1,
            "action": "review",
            "indicator_list": "utilisation",
            "owner": "analyst1",
            "opened_at": "2026-03-01T00:00:00",
        }
    ],
    "more": 0,
    "as_of": "2026-03-02",
    # Internal mails of the shipped diagrams and the month-end job (R21 F-0, F-0b).
    "order_ref": "SO-2026-0815",
    "customer_id": 1,
    "amount": Decimal("820000.00"),
    "order_status": "released",
    "legal_outcome": "settled",
    "write_off_amount": Decimal("56000.00"),
    "invoice_numbers": ["SPP-7001"],
    "approved_by_manager": False,
    "question": "Latest balance sheet?",
    "withdrawn_after_days": 14,
    "deployed_process": "credit_application",
    "version_status": "active",
    "problem": "missing_rates",
    "currencies": ["CNY"],
    "base": "EUR",
}
# Templates whose subject is the sender's own text (no words of ours in it).
SUBJECT_FROM_SENDER = {"generic"}


def test_every_template_has_a_chinese_version_that_renders_in_chinese() -> None:
    names = available_templates()
    assert len(names) >= 13
    assert available_templates(TEMPLATE_DIR / "zh") == names
    for name in names:
        english = render_email(name, CONTEXT, language="en")
        chinese = render_email(name, CONTEXT, language="zh")
        assert (english.language, chinese.language) == ("en", "zh"), name
        assert not CJK.search(english.subject + english.text + english.html), name
        assert CJK.search(chinese.text) and CJK.search(chinese.html), name
        assert name in SUBJECT_FROM_SENDER or CJK.search(chinese.subject), (name, chinese.subject)
        assert 'lang="zh-Hans"' in chinese.html, name


def test_chinese_letters_write_amounts_and_dates_for_chinese_readers() -> None:
    notice = render_email("dunning_notice", CONTEXT, language="zh")
    assert notice.subject == "第二次催款函：逾期款项¥1,200.00（Slowpay Trading）"
    assert "2026年3月27日前" in notice.text and "催收费用¥15.00" in notice.text
    assert "年利率 8.5%" in notice.text and "¥3.92" in notice.text
    letter = render_email("approval_letter", CONTEXT, language="zh")
    assert "¥500,000.00" in letter.subject and "2027年1月14日前" in letter.text
    english = render_email("approval_letter", CONTEXT, language="en")
    assert "CN¥500,000.00" in english.subject


def test_a_language_without_its_version_falls_back_to_english(tmp_path: Path) -> None:
    (tmp_path / "zh").mkdir()
    for part in ("subject.txt", "txt", "html"):
        (tmp_path / f"hello.{part}").write_text("Hello {{ name }}")
    (tmp_path / "zh" / "hello.subject.txt").write_text("你好 {{ name }}")  # incomplete: no txt, no html
    rendered = render_email("hello", {"name": "Li"}, template_dir=tmp_path, language="zh")
    assert (rendered.language, rendered.subject) == ("en", "Hello Li")
    unknown = render_email("hello", {"name": "Li"}, template_dir=tmp_path, language="fr")
    assert unknown.language == "en"


def test_templates_render_in_the_sandbox(tmp_path: Path) -> None:
    for part in ("subject.txt", "txt", "html"):
        (tmp_path / f"evil.{part}").write_text("{{ x.__class__.__mro__ }}")
    with pytest.raises(Exception, match="unsafe|__class__|__mro__"):
        render_email("evil", {"x": 1}, template_dir=tmp_path)


def test_a_chinese_subject_goes_over_smtp_as_folded_rfc2047_words() -> None:
    raw: list[bytes] = []

    class RawSink(RecordingSink):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            raw.append(envelope.original_content or b"")
            return await super().handle_DATA(server, session, envelope)

    sink = RawSink()
    controller = start_controller(sink, SINK_HOST, 0)
    try:
        subject = "第二次催款函：逾期款项¥128,000.50（上海精密零件有限公司）"
        mailer = YagmailMailer(load_settings({}).mail, SINK_HOST, controller.port)
        mailer.send(
            OutboxEmail(
                to="ar@sh-precision.example",
                subject=subject,
                body_html="<p>上海精密零件有限公司：您好！</p>",
                attachments=[],
                message_id="<rfc2047@creditflow>",
            )
        )
        [message] = sink.wait_for(1)
    finally:
        controller.stop()
    assert str(message["Subject"]) == subject
    wire = raw[0]
    assert max(wire) < 128  # 7-bit on the wire: the UTF-8 text travels encoded
    header = re.search(rb"^Subject: (.*?)\r?\n(?! )", wire, re.MULTILINE | re.DOTALL)
    assert header is not None
    words = re.findall(rb"=\?utf-8\?b\?[^?]*\?=", header.group(1))
    assert len(words) >= 2 and all(len(word) <= 75 for word in words), header.group(1)


def test_the_pdf_letter_embeds_a_subset_of_the_font() -> None:
    notice = render_email(
        "dunning_notice", {**CONTEXT, "customer_name": "上海精密零件有限公司"}, language="zh"
    )
    data = letter_pdf(notice.html, language="zh", on=date(2027, 1, 14), title=notice.subject)
    text = PdfReader(io.BytesIO(data)).pages[0].extract_text()
    assert "上海精密零件有限公司" in text and "¥1,200.00" in text and "2027年1月14日" in text
    assert "本邮件" not in text  # the e-mail's footer is no part of the letter
    assert len(data) < 80_000  # the font file is 10 MB; its subset a few tens of KB


def test_the_recipients_language_chooses_the_template(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        for name, address, currency, language in (
            ("上海精密零件有限公司", "AR@sh.example", "CNY", "zh"),
            ("Slowpay", "ap@slowpay.example", "EUR", "en"),
        ):
            session.add(
                Customer(
                    name=name,
                    email=address,
                    currency=currency,
                    language=language,
                    created_at=clock,
                    updated_at=clock,
                )
            )
        session.add(User(username="li", email="li@example.com", language="zh", created_at=clock))
        session.add(User(username="ann", email="ann@example.com", created_at=clock))
    with transaction(session_factory) as session:
        assert common_language(session, ["ar@sh.example"]) == "zh"
        assert common_language(session, ["li@example.com"]) == "zh"
        assert common_language(session, ["li@example.com", "ar@sh.example"]) == "zh"
        assert common_language(session, ["ann@example.com"]) == "en"  # chose none: English
        assert common_language(session, ["li@example.com", "ann@example.com"]) == "en"  # they differ
        assert common_language(session, ["ap@slowpay.example", "nobody@example.com"]) == "en"
        queue_email(
            session,
            to=["ar@sh.example"],
            template="generic",
            context={"subject": "通知", "message": "你好"},
            dedupe_key="lang-1",
            now=clock,
        )
        queue_email(
            session,
            to=["ar@sh.example"],
            template="approval_letter",
            context=CONTEXT,
            dedupe_key="lang-2",
            now=clock,
            pdf_letter="letter.pdf",
        )
    with session_factory() as session:
        generic, letter = session.query(OutboxEmail).order_by(OutboxEmail.id).all()
        assert "本邮件由 creditflow 系统自动发送" in generic.body_text
        assert letter.subject == "贵公司信用额度确认：¥500,000.00"
        [pdf] = letter.attachments
        assert (pdf["filename"], pdf["content_type"], pdf["encoding"]) == (
            "letter.pdf",
            "application/pdf",
            "base64",
        )


def test_notify_email_writes_the_approval_letter_in_the_customers_language_with_its_pdf(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        session.add(User(username="sales1", email="sales1@example.com", language="zh", created_at=clock))
        session.add(
            Customer(
                name="上海精密零件有限公司",
                email="ar@sh-precision.example",
                currency="CNY",
                language="zh",
                created_at=clock,
                updated_at=clock,
            )
        )
        instance = running_instance(
            session, clock, process_key="credit_application", started_by="sales1", start_groups=["sales"]
        )
        ctx = TaskContext(
            session=session,
            now=clock,
            instance_id=instance.id,
            process_key="credit_application",
            business_key="CA-7",
            bpmn_id="send_approval_letter",
            task_key="letter-1",
            started_by="sales1",
            settings=load_settings({}),
        )
        context = {**CONTEXT, "customer_name": "上海精密零件有限公司"}
        notify_email(
            ctx, NotifyEmailRequest(template="approval_letter", to="ar@sh-precision.example", context=context)
        )
        ctx = dataclasses.replace(ctx, task_key="decision-1", bpmn_id="notify_decision")
        decided = {"outcome": "approve", "comment": "欢迎合作"}
        notify_email(ctx, NotifyEmailRequest(template="decision", to="initiator", context=decided))
    with session_factory() as session:
        letter, decision = session.query(OutboxEmail).order_by(OutboxEmail.id).all()
    assert letter.subject == "贵公司信用额度确认：¥500,000.00"
    [attachment] = letter.attachments
    assert attachment["filename"] == f"信用额度确认函-{instance.id}.pdf"  # named in the letter's language
    text = PdfReader(io.BytesIO(attachment_bytes(attachment))).pages[0].extract_text()
    assert "信用额度确认函" in text and "上海精密零件有限公司" in text and "¥500,000.00" in text
    # Internal mail: the initiator sales1 reads Chinese; no PDF for a mere notification.
    assert decision.subject == "您的信用额度申请 CA-7 已批准"
    assert decision.attachments == []

"""Issue 20: a letter to a customer or supplier is written in that party's language and greets its contact
person, whatever its e-mail address says; the demo's Chinese customer and supplier have Chinese contacts that
the name search finds."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from handlers.notifications import NotifyEmailRequest, notify_email
from tests.helpers import running_instance
from tests.smtp import RecordingSink
from workflows.cli.demo import seed_demo
from workflows.credit.customers import list_customers
from workflows.credit.models import Customer, Supplier
from workflows.credit.suppliers import list_suppliers
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.mail.outbox import dispatch_due_emails
from workflows.mail.smtp import mailer_for
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import User

CJK = re.compile(r"[\u4e00-\u9fff]")
CHANGE: dict[str, Any] = {
    "contract_number": "K-2026-01",
    "change_type": "payment_terms",
    "changes": {"payment_terms_days": 60},
    "current": {"payment_terms_days": 30},
    "reason": "Market practice",
    "countersign_by": "2027-01-14",
}
LETTER: dict[str, Any] = {
    "limit": Decimal("500000.00"),
    "currency": "CNY",
    "payment_terms_days": 30,
    "above_policy": False,
}


def _context(
    session: Session, clock: datetime, settings: Settings, process_key: str, key: str
) -> TaskContext:
    instance = running_instance(
        session, clock, process_key=process_key, started_by="system", start_groups=["procurement"]
    )
    return TaskContext(
        session=session,
        now=clock,
        instance_id=instance.id,
        process_key=process_key,
        business_key=None,
        bpmn_id=key,
        task_key=key,
        started_by="system",
        settings=settings,
    )


def _bodies(message: EmailMessage) -> str:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()) + str(html.get_content())


def _send(
    settings: Settings, factory: sessionmaker[Session], sink: RecordingSink, clock: datetime, n: int
) -> list:
    relay = settings.replace("mail", smtp_host=sink.host, smtp_port=sink.port)
    dispatch_due_emails(factory, mailer_for(relay.mail, None), relay.mail, clock)
    return sorted(sink.wait_for(n), key=lambda m: str(m["To"]))


def _supplier(name: str, email: str, contact: str, language: str, clock: datetime) -> Supplier:
    return Supplier(
        name=name,
        email=email,
        contact_name=contact,
        language=language,
        currency="CNY",
        created_at=clock,
        updated_at=clock,
    )


def test_a_chinese_suppliers_countersignature_request_is_chinese_and_an_english_ones_english(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    with transaction(session_factory) as session:
        chinese = _supplier("广州包装制品有限公司", "sales@gz.example", "李晓梅", "zh", clock)
        english = _supplier(
            "Baltic Steel Supply AB", "contracts@baltic.example", "Erik Lindqvist", "en", clock
        )
        session.add_all([chinese, english])
        # The Chinese supplier's mailbox is also a user's who reads English: the supplier's language wins.
        session.add(User(username="gzdesk", email="sales@gz.example", language="en", created_at=clock))
        session.flush()
        ctx = _context(session, clock, settings, "supplier_contract_change", "send_countersign_request")
        for supplier in (chinese, english):
            context = {**CHANGE, "supplier_name": supplier.name}
            for template in ("countersign_request", "countersign_reminder"):
                notify_email(
                    dataclasses.replace(ctx, task_key=f"{template}-{supplier.id}"),
                    NotifyEmailRequest(
                        template=template, to=supplier.email, context=context, supplier_id=supplier.id
                    ),
                )
    messages = _send(settings, session_factory, smtp_sink, clock, 4)
    english_mail = [m for m in messages if m["To"] == "contracts@baltic.example"]
    chinese_mail = [m for m in messages if m["To"] == "sales@gz.example"]
    assert len(english_mail) == len(chinese_mail) == 2
    subjects = sorted(str(m["Subject"]) for m in chinese_mail)
    assert subjects == [
        "提醒：请于2027年1月14日前会签合同 K-2026-01 的变更",
        "请会签：合同 K-2026-01 变更（编号 1）",
    ]
    for message in chinese_mail:
        body = _bodies(message)
        assert "尊敬的李晓梅先生/女士：" in body and "采购部" in body
        assert "广州包装制品有限公司" in body
    for message in english_mail:
        body = _bodies(message)
        assert not CJK.search(str(message["Subject"]) + body)
        assert "Dear Erik Lindqvist," in body and "Kind regards" in body


def test_the_approval_letter_follows_the_customers_language_not_its_address(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime, smtp_sink: RecordingSink
) -> None:
    with transaction(session_factory) as session:
        customer = Customer(
            name="上海精密零件有限公司",
            email="ar@sh-precision.example",
            contact_name="王建国",
            currency="CNY",
            language="zh",
            created_at=clock,
            updated_at=clock,
        )
        session.add(customer)
        session.flush()
        ctx = _context(session, clock, settings, "credit_application", "send_approval_letter")
        # An address neither a user nor a customer has (its treasury, say): by address it would be English.
        notify_email(
            ctx,
            NotifyEmailRequest(
                template="approval_letter",
                to="treasury@unknown.example",
                context={**LETTER, "customer_name": customer.name},
                customer_id=customer.id,
            ),
        )
        english = Customer(
            name="Slowpay Trading",
            email="ap@slowpay.example",
            currency="EUR",
            language="en",
            created_at=clock,
            updated_at=clock,
        )
        session.add(english)
        session.flush()
        notify_email(
            dataclasses.replace(ctx, task_key="letter-en"),
            NotifyEmailRequest(
                template="approval_letter",
                to=english.email,
                context={**LETTER, "customer_name": english.name},
                customer_id=english.id,
            ),
        )
    english_message, message = _send(settings, session_factory, smtp_sink, clock, 2)  # by address
    assert str(message["Subject"]) == "贵公司信用额度确认：¥500,000.00"
    body = _bodies(message)
    assert "信用额度确认函" in body and "尊敬的王建国先生/女士：" in body
    # The PDF's name is in the letter's language too (decoded from its RFC 2231 header by the email package).
    [pdf] = message.iter_attachments()
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_filename() == f"信用额度确认函-{ctx.instance_id}.pdf"
    [english_pdf] = english_message.iter_attachments()
    assert english_pdf.get_filename() == f"credit-limit-letter-{ctx.instance_id}.pdf"


def test_a_letter_names_one_existing_party(
    settings: Settings, session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        ctx = _context(session, clock, settings, "credit_application", "send_approval_letter")
        request = NotifyEmailRequest(template="approval_letter", to="a@example.com", context=LETTER)
        with pytest.raises(HandlerInputError, match="customer 999 does not exist"):
            notify_email(ctx, dataclasses.replace(request, customer_id=999))
        with pytest.raises(HandlerInputError, match="not to both"):
            notify_email(ctx, dataclasses.replace(request, customer_id=1, supplier_id=1))


def test_the_demos_chinese_customer_and_supplier_have_chinese_contacts_the_search_finds(
    session_factory: sessionmaker[Session], clock: datetime
) -> None:
    with transaction(session_factory) as session:
        seed_demo(session, clock)
    with session_factory() as session:
        customers, _ = list_customers(session, text="建国")
        assert [(c.name, c.contact_name, c.language) for c in customers] == [
            ("上海精密零件有限公司", "王建国", "zh")
        ]
        suppliers, _ = list_suppliers(session, text="晓梅")
        assert [(s.name, s.contact_name, s.language) for s in suppliers] == [
            ("广州包装制品有限公司", "李晓梅", "zh")
        ]
        # The others are written to in English and have contacts in Latin script.
        others = [c for c in list_customers(session, per_page=100)[0] if c.language != "zh"]
        others += [s for s in list_suppliers(session, per_page=100)[0] if s.language != "zh"]
        assert others and all(o.contact_name and not CJK.search(o.contact_name) for o in others)

"""Letters and e-mails to customers and suppliers are signed by the company, not by a department alone
([mail] company_name / company_name_zh): "杭州示例机械有限公司信用管理部" in Chinese, "Credit Management" over
"Hangzhou Example Machinery Co., Ltd." in English, in the e-mail and in its PDF letter (letterhead, close)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from handlers.notifications import NotifyEmailRequest, notify_email
from tests.mail.test_letter_addressee import CHANGE, LETTER, _bodies, _context
from tests.mail.test_mail_languages import CONTEXT
from tests.smtp import RecordingSink
from workflows.credit.models import Customer, Supplier
from workflows.engine.runtime import Runtime
from workflows.mail.letters_pdf import letter_pdf
from workflows.mail.outbox import dispatch_due_emails
from workflows.mail.sender import CompanyNames, company_of
from workflows.mail.smtp import mailer_for
from workflows.mail.templates import render_email
from workflows.settings import Settings, SettingsError, load_settings
from workflows.store.db import make_engine, transaction

CJK = re.compile(r"[\u4e00-\u9fff]")
EN, ZH = "Hangzhou Example Machinery Co., Ltd.", "杭州示例机械有限公司"
COMPANY = CompanyNames(EN, ZH)
# Every template that is a letter to a customer or a supplier, and the department that signs it.
LETTERS = {
    "dunning_notice": ("Credit Management", "信用管理部"),
    "approval_letter": ("Credit Management", "信用管理部"),
    "dispute_outcome": ("Credit Management", "信用管理部"),
    "countersign_request": ("Procurement", "采购部"),
    "countersign_reminder": ("Procurement", "采购部"),
}


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize("template", sorted(LETTERS))
def test_every_letter_closes_with_the_companys_name_in_the_readers_language(template: str) -> None:
    english_department, chinese_department = LETTERS[template]
    context = {**CONTEXT, "to_customer": True}
    chinese = render_email(template, context, language="zh", company=COMPANY)
    assert f"\n{ZH}{chinese_department}\n" in chinese.text, chinese.text
    assert f">{ZH}{chinese_department}</p>" in chinese.html
    assert EN not in chinese.text + chinese.html
    english = render_email(template, context, language="en", company=COMPANY)
    assert f"Kind regards,\n{english_department}\n{EN}\n" in english.text, english.text
    assert f"Kind regards,<br>{english_department}<br>{EN}</p>" in english.html
    assert not CJK.search(english.text + english.html)
    # A Chinese reader gets the English name when no Chinese one is configured; none: the department alone.
    only_english = render_email(template, context, language="zh", company=CompanyNames(EN, ""))
    assert f"\n{EN}{chinese_department}\n" in only_english.text
    unsigned = render_email(template, context, language="en")
    assert f"Kind regards,\n{english_department}\n\n--" in unsigned.text


def test_the_pdf_letterhead_names_the_company() -> None:
    notice = render_email("dunning_notice", CONTEXT, language="zh", company=COMPANY)
    data = letter_pdf(notice.html, language="zh", on=date(2027, 1, 14), title=notice.subject, company=ZH)
    lines = pdf_text(data).splitlines()
    assert lines[0] == f"{ZH} · 信用管理部", lines[:2]  # the letterhead, above the date
    assert f"{ZH}信用管理部" in lines  # and the close
    english = render_email("dunning_notice", CONTEXT, language="en", company=COMPANY)
    data = letter_pdf(english.html, language="en", on=date(2027, 1, 14), title=english.subject, company=EN)
    text = pdf_text(data)
    assert text.splitlines()[0] == f"{EN} · Credit Management" and "creditflow" not in text


def test_the_runtimes_sessions_sign_as_configured(settings: Settings) -> None:
    configured = settings.replace("mail", company_name="Acme Trading GmbH", company_name_zh="")
    rt = Runtime(make_engine(configured.database), configured, {})
    try:
        with rt.factory() as session:
            assert company_of(session) == CompanyNames("Acme Trading GmbH", "")
    finally:
        rt.engine.dispose()
    defaults = load_settings({})
    assert (defaults.mail.company_name, defaults.mail.company_name_zh) == (EN, ZH)  # the demo's company


@pytest.mark.parametrize("name", ["Acme\nBcc: x@evil.example", "Acme\r", "x" * 201])
def test_a_company_name_is_one_line(name: str) -> None:
    # It closes letters and heads the PDF's first line: a line break would break both.
    with pytest.raises(SettingsError, match="mail.company_name must be one line"):
        load_settings({}, mail={"company_name": name})


def test_a_chinese_customers_letter_and_an_english_suppliers_request_are_signed_over_smtp(
    settings: Settings, clock: datetime, smtp_sink: RecordingSink
) -> None:
    rt = Runtime(make_engine(settings.database), settings, {})  # its sessions carry the company's names
    try:
        with transaction(rt.factory) as session:
            customer = Customer(
                name="上海精密零件有限公司",
                email="ar@sh-precision.example",
                currency="CNY",
                language="zh",
                created_at=clock,
                updated_at=clock,
            )
            supplier = Supplier(
                name="Baltic Steel Supply AB",
                email="contracts@baltic.example",
                language="en",
                currency="EUR",
                created_at=clock,
                updated_at=clock,
            )
            session.add_all([customer, supplier])
            session.flush()
            _send_letters(session, clock, settings, customer, supplier)
        relay = settings.replace("mail", smtp_host=smtp_sink.host, smtp_port=smtp_sink.port)
        dispatch_due_emails(rt.factory, mailer_for(relay.mail, None), relay.mail, clock)
    finally:
        rt.engine.dispose()
    chinese, english = sorted(smtp_sink.wait_for(2), key=lambda m: str(m["To"]))  # ar@… before contracts@…
    assert f"{ZH}信用管理部" in _bodies(chinese)
    [pdf] = chinese.iter_attachments()
    text = pdf_text(pdf.get_payload(decode=True))
    assert text.startswith(f"{ZH} · 信用管理部") and f"{ZH}信用管理部" in text
    plain = english.get_body(preferencelist=("plain",))
    assert plain is not None
    # The text/plain part is the rendered NAME.txt (a dispatch read only body_html and sent yagmail's copy of
    # the HTML source as plain text until the outbox claim read body_text too).
    assert f"Kind regards,\nProcurement\n{EN}\n" in plain.get_content(), plain.get_content()
    assert not CJK.search(_bodies(english))


def _send_letters(
    session: Session, clock: datetime, settings: Settings, customer: Any, supplier: Any
) -> None:
    letter = _context(session, clock, settings, "credit_application", "send_approval_letter")
    request = NotifyEmailRequest(
        template="approval_letter",
        to=customer.email,
        context={**LETTER, "customer_name": customer.name, "limit": Decimal("500000.00")},
        customer_id=customer.id,
    )
    notify_email(letter, request)
    change = _context(session, clock, settings, "supplier_contract_change", "send_countersign_request")
    context = {**CHANGE, "supplier_name": supplier.name}
    notify_email(
        change,
        NotifyEmailRequest(
            template="countersign_request", to=supplier.email, context=context, supplier_id=supplier.id
        ),
    )

"""Operation `dunning.legal_handover`: hand a case to legal with its case file (a PDF attachment)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.dunning import CaseRequest, add_event, load_case
from workflows.credit import roles
from workflows.credit.customers import get_customer
from workflows.credit.disputes import Dispute, DisputeLine, DisputeStatus
from workflows.credit.models import (
    Customer,
    DunningCase,
    DunningEvent,
    DunningStatus,
    Invoice,
    InvoiceStatus,
    Provision,
)
from workflows.credit.provisions import audit_provision
from workflows.engine.service_tasks import TaskContext
from workflows.languages import LANGUAGES
from workflows.mail.case_history import event_detail, event_name
from workflows.mail.letter_names import file_for, legal_case_file_files
from workflows.mail.letters_pdf import PDF, letter_pdf
from workflows.mail.outbox import queue_email
from workflows.mail.recipients import common_language
from workflows.mail.sender import company_of
from workflows.mail.smtp import Attachment
from workflows.mail.templates import format_when_for
from workflows.messages import _
from workflows.money import format_money
from workflows.users import emails_of


@dataclass(frozen=True)
class Handover:
    provision: Decimal
    recipients: list[str]


def legal_handover(ctx: TaskContext, req: CaseRequest) -> Handover:
    """Hand the case to legal: 100 % specific provision and the case file e-mailed to the legal group.

    What legal pursues, and what the provision covers, is the undisputed rest of the open invoices: the
    parts open disputes hold are settled by dispute_resolution (a credit note, or dunned again when
    rejected) and are listed apart in the case file and the e-mail, never summed into the claim.
    """
    case = load_case(ctx, req.case_id)
    customer = get_customer(ctx.session, case.customer_id)
    today = ctx.now.date()
    open_invoices = ctx.session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer.id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date)
    ).all()
    amount = sum((i.undisputed_amount for i in open_invoices), Decimal("0.00"))
    disputed = sum((min(i.disputed_amount, i.open_amount) for i in open_invoices), Decimal("0.00"))
    before = {"status": case.status}
    case.status = DunningStatus.LEGAL
    provision = Provision(
        customer_id=customer.id,
        case_id=case.id,
        amount=amount,
        currency=case.currency,
        rate=Decimal("1.00"),
        reason=_("legal handover of dunning case %(case)s", case=case.id),  # a msgid: pages say it
        created_by="system",
        created_at=ctx.now,
    )
    ctx.session.add(provision)
    ctx.session.flush()  # its id, for the audit event
    audit_provision(ctx.session, provision, actor=ctx.actor or "system", instance_id=ctx.instance_id)
    add_event(
        ctx,
        case,
        "legal_handover",
        provision=str(amount),
        disputed=str(disputed),
        before=before,
        after={"status": case.status},
    )
    recipients = emails_of(ctx.session, groups=[roles.LEGAL])
    if recipients:
        # Internal mail: in the legal group's language (their chosen one; English when they differ).
        language = common_language(ctx.session, recipients)
        document = case_file_html(ctx.session, case, customer, open_invoices, today, language)
        title = CASE_FILE_LABELS[language]["title"].format(case=case.id, customer=customer.name)
        queue_email(
            ctx.session,
            to=recipients,
            template="legal_case_file",
            context={
                "customer_name": customer.name,
                "case_id": case.id,
                "total": amount,
                "disputed": disputed,
                "currency": case.currency,
            },
            dedupe_key=f"dunning:{case.id}:legal_handover",
            now=ctx.now,
            instance_id=ctx.instance_id,
            language=language,
            attachments=[
                Attachment.of_bytes(
                    file_for(legal_case_file_files(case.id), language),
                    PDF,
                    letter_pdf(
                        document,
                        language=language,
                        on=today,
                        title=title,
                        company=company_of(ctx.session).in_language(language),
                    ),
                )
            ],
        )
    return Handover(amount, recipients)


# The case file's words in each language the mail speaks.
CASE_FILE_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Dunning case {case}: {customer}",
        "contact": "Customer {id} ({external}), registration {registration}, e-mail {email}, "
        "sales owner {owner}.",
        "summary": "Opened {opened}; level {level}; fees {fees}; claimed (open, undisputed) {claimed}; "
        "held by open disputes, not claimed {held}.",
        "open_invoices": "Open invoices",
        "invoice_heads": "Invoice|Issued|Due|Amount|Open|Disputed|Claimed|Days overdue",
        "disputed_parts": "Disputed parts (not claimed)",
        "disputed_heads": "Invoice|Disputed|Reason|Dispute|Status",
        "none": "None.",
        "history": "Dunning history",
        "history_heads": "When|Level|Event|Detail",
        "missing": "-",
    },
    "zh": {
        "title": "催收案件 {case}：{customer}",
        "contact": "客户编号 {id}（ERP 编号：{external}），统一社会信用代码/注册号：{registration}，"
        "电子邮箱：{email}，销售负责人：{owner}。",
        "missing": "无",
        "summary": "立案日期 {opened}；催收级别 {level}；催收费用 {fees}；主张金额（未付且无争议）{claimed}；"
        "因未决争议暂不主张 {held}。",
        "open_invoices": "未结发票",
        "invoice_heads": "发票号|开票日期|到期日|发票金额|未付金额|争议金额|主张金额|逾期天数",
        "disputed_parts": "争议部分（不在主张金额内）",
        "disputed_heads": "发票号|争议金额|争议原因|争议编号|状态",
        "none": "无。",
        "history": "催收记录",
        "history_heads": "时间|级别|事件|详情",
    },
}


def case_file_html(
    session: Session, case: DunningCase, customer: Customer, invoices: Any, today: date, language: str = "en"
) -> str:
    """The legal case file: customer and contacts, open invoices, amounts and the full dunning history, in
    `language` (en, zh; letter_pdf makes the PDF attached to the handover mail from it).

    The claim is the undisputed rest of each invoice; the parts open disputes hold are a table of their own
    (invoice, amount, reason, dispute) and are not in the claim's total.
    """
    words = CASE_FILE_LABELS.get(language, CASE_FILE_LABELS["en"])
    locale = LANGUAGES.get(language, "en")
    e = html.escape

    def money(value: Decimal) -> str:
        return e(format_money(value, case.currency, locale=locale))

    def day(value: date) -> str:
        return format_date(value, format="long" if language == "zh" else "d MMM y", locale=locale)

    invoice_rows = "".join(
        _row(
            e(i.number),
            day(i.issue_date),
            day(i.due_date),
            money(i.amount),
            money(i.open_amount),
            money(min(i.disputed_amount, i.open_amount)),
            money(i.undisputed_amount),
            max(0, (today - i.due_date).days),
        )
        for i in invoices
    )
    disputed_rows = "".join(
        _row(e(line.invoice_number), money(line.amount), e(line.reason), line.dispute_id, e(status))
        for line, status in _open_dispute_lines(session, [i.id for i in invoices])
    )
    events = session.scalars(
        select(DunningEvent).where(DunningEvent.case_id == case.id).order_by(DunningEvent.id)
    )
    history_rows = "".join(
        _row(
            e(format_when_for(ev.at, language=language)),
            ev.level,
            e(event_name(ev.kind, language)),
            e(
                event_detail(
                    ev.detail, language, lambda amount: format_money(amount, case.currency, locale=locale)
                )
            ),
        )
        for ev in events
    )
    total = sum((i.undisputed_amount for i in invoices), Decimal("0.00"))
    held = sum((min(i.disputed_amount, i.open_amount) for i in invoices), Decimal("0.00"))
    missing = words["missing"]  # a value the customer's record does not have
    contact = words["contact"].format(
        id=customer.id,
        external=e(customer.external_id or missing),
        registration=e(customer.registration_no or missing),
        email=e(customer.email or missing),
        owner=e(customer.sales_owner or missing),
    )
    summary = words["summary"].format(
        opened=day(case.opened_at.date()),
        level=case.level,
        fees=money(case.fees),
        claimed=money(total),
        held=money(held),
    )
    invoice_table = _head(words["invoice_heads"], INVOICE_WIDTHS) + invoice_rows
    disputed_table = (
        f"<table border='1'>{_head(words['disputed_heads'], DISPUTED_WIDTHS)}{disputed_rows}</table>"
        if disputed_rows
        else f"<p>{words['none']}</p>"
    )
    history_table = _head(words["history_heads"], HISTORY_WIDTHS) + history_rows
    title = e(words["title"].format(case=case.id, customer=customer.name))
    return (
        f"<!DOCTYPE html><html lang='{'zh-Hans' if language == 'zh' else 'en'}'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>{contact}</p><p>{summary}</p>"
        f"<h2>{words['open_invoices']}</h2><table border='1'>{invoice_table}</table>"
        f"<h2>{words['disputed_parts']}</h2>{disputed_table}"
        f"<h2>{words['history']}</h2><table border='1'>{history_table}</table></body></html>"
    )


def _open_dispute_lines(session: Session, invoice_ids: list[int]) -> list[tuple[DisputeLine, str]]:
    """The lines of open disputes (open or with a credit waiting) on these invoices, by invoice."""
    if not invoice_ids:
        return []
    rows = session.execute(
        select(DisputeLine, Dispute.status)
        .join(Dispute, Dispute.id == DisputeLine.dispute_id)
        .where(DisputeLine.invoice_id.in_(invoice_ids), Dispute.status.in_(DisputeStatus.ACTIVE))
        .order_by(DisputeLine.invoice_number, DisputeLine.id)
    ).all()
    return [(line, status) for line, status in rows]


# Column widths (percent) of the case file's tables, and their 8 pt type: wide enough that an amount
# ("¥1,120,000.00") or a day ("2026年12月31日", "31 Dec 2026") is never broken inside (fpdf2 breaks a word
# that does not fit).
INVOICE_WIDTHS = (9, 15, 15, 13, 13, 12, 13, 10)
DISPUTED_WIDTHS = (14, 16, 40, 12, 18)
HISTORY_WIDTHS = (17, 6, 15, 62)


def _head(heads: str, widths: tuple[int, ...]) -> str:
    cells = zip(heads.split("|"), widths, strict=True)
    return "<tr>" + "".join(f"<th width='{w}%'>{_small(h)}</th>" for h, w in cells) + "</tr>"


def _small(text: Any) -> str:
    return f"<font size='8'>{text}</font>"


def _row(*cells: Any, cell: str = "td") -> str:
    return "<tr>" + "".join(f"<{cell}>{_small(c)}</{cell}>" for c in cells) + "</tr>"

"""Operation `dunning.legal_handover`: hand a case to legal with its case file (HTML attachment)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

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
from workflows.mail.outbox import queue_email
from workflows.mail.smtp import Attachment
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
        reason=f"legal handover of dunning case {case.id}",
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
            attachments=[
                Attachment(
                    f"case-file-{case.id}.html",
                    "text/html",
                    case_file_html(ctx.session, case, customer, open_invoices, today),
                )
            ],
        )
    return Handover(amount, recipients)


def case_file_html(
    session: Session, case: DunningCase, customer: Customer, invoices: Any, today: date
) -> str:
    """The legal case file: customer and contacts, open invoices, amounts and the full dunning history.

    The claim is the undisputed rest of each invoice; the parts open disputes hold are a table of their own
    (invoice, amount, reason, dispute) and are not in the claim's total.
    """
    e = html.escape
    invoice_rows = "".join(
        _row(
            e(i.number),
            i.issue_date,
            i.due_date,
            f"{i.amount:.2f}",
            f"{i.open_amount:.2f}",
            f"{min(i.disputed_amount, i.open_amount):.2f}",
            f"{i.undisputed_amount:.2f}",
            max(0, (today - i.due_date).days),
        )
        for i in invoices
    )
    disputed_rows = "".join(
        _row(e(line.invoice_number), f"{line.amount:.2f}", e(line.reason), line.dispute_id, e(status))
        for line, status in _open_dispute_lines(session, [i.id for i in invoices])
    )
    events = session.scalars(
        select(DunningEvent).where(DunningEvent.case_id == case.id).order_by(DunningEvent.id)
    )
    history_rows = "".join(
        _row(f"{ev.at:%Y-%m-%d %H:%M}", f"L{ev.level}", e(ev.kind), e(str(ev.detail))) for ev in events
    )
    total = sum((i.undisputed_amount for i in invoices), Decimal("0.00"))
    held = sum((min(i.disputed_amount, i.open_amount) for i in invoices), Decimal("0.00"))
    contact = (
        f"Customer {customer.id} ({e(customer.external_id or '-')}), "
        f"registration {e(customer.registration_no or '-')}, e-mail {e(customer.email or '-')}, "
        f"sales owner {e(customer.sales_owner or '-')}."
    )
    invoice_table = (
        _row("Invoice", "Issued", "Due", "Amount", "Open", "Disputed", "Claimed", "Days overdue", cell="th")
        + invoice_rows
    )
    disputed_table = (
        _row("Invoice", "Disputed", "Reason", "Dispute", "Status", cell="th") + disputed_rows
        if disputed_rows
        else ""
    )
    history_table = _row("When", "Level", "Event", "Detail", cell="th") + history_rows
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Case file {case.id}</title></head><body>"
        f"<h1>Dunning case {case.id}: {e(customer.name)}</h1><p>{contact}</p>"
        f"<p>Opened {case.opened_at:%Y-%m-%d}; level {case.level}; fees {case.fees:.2f} {e(case.currency)}; "
        f"claimed (open, undisputed) {total:.2f} {e(case.currency)}; "
        f"held by open disputes, not claimed {held:.2f} {e(case.currency)}.</p>"
        f"<h2>Open invoices</h2><table border='1'>{invoice_table}</table>"
        f"<h2>Disputed parts (not claimed)</h2><table border='1'>{disputed_table}</table>"
        f"<h2>Dunning history</h2><table border='1'>{history_table}</table></body></html>"
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


def _row(*cells: Any, cell: str = "td") -> str:
    return "<tr>" + "".join(f"<{cell}>{c}</{cell}>" for c in cells) + "</tr>"

"""Posting a dispute's outcome: the approved credit as credit notes that lower the disputed invoices, or the
end of the hold without a credit. The dispute itself (its tables, opening, proposal) is
workflows/credit/disputes.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit.disputes import ZERO, CreditNote, Dispute, DisputeLine, DisputeStatus, lines_of
from workflows.credit.models import Customer, Invoice, InvoiceStatus, PaymentAllocation
from workflows.errors import Invalid
from workflows.messages import _
from workflows.store.audit import record_event


def post_credit(
    session: Session, dispute: Dispute, *, approved_by: Sequence[str], now: datetime
) -> list[CreditNote]:
    """Post the approved credit as credit notes, line by line in order, each at most its disputed amount,
    and end the hold. An invoice is lowered by at most its open amount; the rest of its credit note (it
    was paid meanwhile) goes to the customer's credit balance.

    Raises:
        Invalid: no credit is waiting for approval, or no approver is named.
    """
    if dispute.status != DisputeStatus.PROPOSED or not dispute.proposed_credit:
        raise Invalid(
            _(
                "dispute %(dispute_id)s is %(dispute_status)s: it has no credit waiting to be posted",
                dispute_id=dispute.id,
                dispute_status=dispute.status,
            )
        )
    if not approved_by:  # the handler checks the approvals; the books always name who approved
        raise Invalid(
            _(
                "dispute %(dispute_id)s: a credit note is posted only with the people who approved it",
                dispute_id=dispute.id,
            )
        )
    customer = session.get(Customer, dispute.customer_id)
    assert customer is not None
    left = dispute.proposed_credit
    notes: list[CreditNote] = []
    balance_before = customer.credit_balance
    changes: dict[str, Any] = {"before": {}, "after": {}}
    for line in lines_of(session, dispute):
        invoice = session.get(Invoice, line.invoice_id, with_for_update=True)
        assert invoice is not None
        share = min(left, line.amount)
        left -= share
        changes["before"][invoice.number] = _invoice_fields(invoice)
        _release_line(invoice, line)
        if share > 0:
            to_balance = _overpaid_by(session, invoice, share)
            lowered = min(share - to_balance, invoice.open_amount)
            invoice.open_amount -= lowered
            if invoice.open_amount == 0 and invoice.status == InvoiceStatus.OPEN:
                invoice.status = InvoiceStatus.CREDITED
            customer.credit_balance += to_balance
            line.credited = share
            note = CreditNote(
                customer_id=dispute.customer_id,
                invoice_id=invoice.id,
                invoice_number=invoice.number,
                amount=share,
                currency=invoice.currency,
                to_balance=to_balance,
                dispute_id=dispute.id,
                instance_id=dispute.instance_id,
                approved_by=list(approved_by),
                requested_by=dispute.proposed_by or dispute.raised_by,
                posted_at=now,
            )
            session.add(note)
            notes.append(note)
        changes["after"][invoice.number] = _invoice_fields(invoice)
    dispute.credited_amount = dispute.proposed_credit
    dispute.status, dispute.closed_at = DisputeStatus.CREDITED, now
    dispute.decided_by = ", ".join(approved_by)
    session.flush()
    record_event(
        session,
        actor=dispute.decided_by,
        action="dispute_credited",
        now=now,
        instance_id=dispute.instance_id,
        dispute_id=dispute.id,
        customer_id=dispute.customer_id,
        amount=f"{dispute.credited_amount:.2f}",
        currency=dispute.currency,
        requested_by=dispute.proposed_by,
        approved_by=list(approved_by),
        credit_notes=[n.id for n in notes],
        before={"invoices": changes["before"], "credit_balance": f"{balance_before:.2f}"},
        after={"invoices": changes["after"], "credit_balance": f"{customer.credit_balance:.2f}"},
    )
    return notes


def close_without_credit(
    session: Session, dispute: Dispute, *, outcome: str, by: str, comment: str, now: datetime
) -> None:
    """End the hold without a credit: rejected by the owner, accepted for nothing, or the credit refused.

    Raises:
        Invalid: the dispute is closed already, or the outcome does not fit its state.
    """
    allowed = {
        DisputeStatus.REJECTED: DisputeStatus.OPEN,
        DisputeStatus.RESOLVED: DisputeStatus.OPEN,
        DisputeStatus.REFUSED: DisputeStatus.PROPOSED,
    }
    if allowed.get(outcome) != dispute.status:
        raise Invalid(
            _(
                "dispute %(dispute_id)s is %(dispute_status)s and cannot close as %(outcome)s",
                dispute_id=dispute.id,
                dispute_status=dispute.status,
                outcome=outcome,
            )
        )
    before = {"status": dispute.status, "held": f"{dispute.disputed_amount:.2f}"}
    for line in lines_of(session, dispute):
        invoice = session.get(Invoice, line.invoice_id, with_for_update=True)
        assert invoice is not None
        _release_line(invoice, line)
    dispute.status, dispute.closed_at = outcome, now
    if outcome == DisputeStatus.REFUSED:
        dispute.decided_by, dispute.decision_comment = by, comment
    record_event(
        session,
        actor=by,
        action="dispute_closed",
        now=now,
        instance_id=dispute.instance_id,
        dispute_id=dispute.id,
        outcome=outcome,
        comment=comment,
        before=before,
        after={"status": dispute.status, "held": "0.00"},
    )


def _overpaid_by(session: Session, invoice: Invoice, share: Decimal) -> Decimal:
    """What of a credit of `share` on the invoice becomes the customer's credit balance: only money the
    customer paid beyond what the invoice asks once all its credits count (its payments plus its credit
    notes, this one included, above its amount), less what earlier credit notes put there already.

    Never the part a write-off took: a credit on an invoice written off unpaid lowers a claim given up, and
    pays out nothing (`share - lowered` did, and made the written-off amount spendable credit).
    """
    paid = session.scalar(
        select(func.coalesce(func.sum(PaymentAllocation.amount), 0)).where(
            PaymentAllocation.invoice_id == invoice.id
        )
    )
    credited, balanced = session.execute(
        select(
            func.coalesce(func.sum(CreditNote.amount), 0), func.coalesce(func.sum(CreditNote.to_balance), 0)
        ).where(CreditNote.invoice_id == invoice.id)
    ).one()
    overpaid = Decimal(paid or 0) + Decimal(credited) + share - invoice.amount
    return min(share, max(ZERO, overpaid - Decimal(balanced)))


def _release_line(invoice: Invoice, line: DisputeLine) -> None:
    invoice.disputed_amount = max(ZERO, invoice.disputed_amount - line.amount)


def _invoice_fields(invoice: Invoice) -> dict[str, str]:
    return {
        "status": invoice.status,
        "open_amount": f"{invoice.open_amount:.2f}",
        "disputed_amount": f"{invoice.disputed_amount:.2f}",
    }

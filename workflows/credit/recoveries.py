"""After a legal outcome: money recovered on written-off invoices, and lifting the credit block it left.

A recovery is income on an invoice already written off, so it is never allocated like a payment: it cannot
exceed what was written off on that invoice less what was recovered on it before.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.customers import get_customer
from workflows.credit.models import Customer, Invoice, InvoiceStatus, Payment
from workflows.credit.receivables import parse_payment
from workflows.credit.record_fields import iso_text, money_text
from workflows.credit.write_offs import ZERO, Recovery, WriteOff
from workflows.errors import Conflict, Invalid, NotFound, field_listing
from workflows.messages import _
from workflows.money import format_money
from workflows.store.audit import record_event
from workflows.store.paging import page_rows


@dataclass(frozen=True)
class RecoveryInput:
    customer_id: int
    invoice_number: str
    amount: Decimal
    currency: str
    received_on: date
    reference: str | None


def parse_recovery(raw: Mapping[str, Any]) -> RecoveryInput:
    """The fields of a payment (customer_id, amount, currency, date, reference) plus the written-off invoice
    it recovers, which is required.

    Raises:
        Invalid: naming each bad field.
    """
    fields: dict[str, Any] = {}
    data = None
    try:
        data = parse_payment(raw)
    except Invalid as exc:
        fields.update(exc.details.get("fields", {}))
    if not str(raw.get("invoice_number") or "").strip():
        fields["invoice_number"] = _("The written-off invoice is required.")
    if fields or data is None or data.invoice_number is None:
        listing = field_listing(fields)
        raise Invalid(_("The recovery has errors: %(listing)s", listing=listing), details={"fields": fields})
    return RecoveryInput(
        data.customer_id, data.invoice_number, data.amount, data.currency, data.paid_on, data.reference
    )


def recoverable(session: Session, invoice: Invoice) -> Decimal:
    """What was written off on the invoice less what was recovered on it."""
    written = sum(session.scalars(select(WriteOff.amount).where(WriteOff.invoice_id == invoice.id)), ZERO)
    recovered = sum(session.scalars(select(Recovery.amount).where(Recovery.invoice_id == invoice.id)), ZERO)
    return written - recovered


def post_recovery(session: Session, data: RecoveryInput, *, actor: str, now: datetime) -> Recovery:
    """Record money received on a written-off invoice in the caller's transaction.

    Raises:
        NotFound: the customer or its invoice.  Conflict: the reference was seen before, or the invoice is
        not written off.  Invalid: another currency, or more than is left to recover.
    """
    customer = get_customer(session, data.customer_id)
    invoice = session.scalar(
        select(Invoice)
        .where(Invoice.number == data.invoice_number, Invoice.customer_id == customer.id)
        .with_for_update()  # two recoveries at once: the second waits and sees the first (PostgreSQL)
    )
    if invoice is None:
        raise NotFound(
            _(
                "customer %(customer_id)s has no invoice %(invoice_number)s",
                customer_id=customer.id,
                invoice_number=data.invoice_number,
            )
        )
    if invoice.status != InvoiceStatus.WRITTEN_OFF:
        raise Conflict(
            _(
                "invoice %(invoice_number)s is %(invoice_status)s, not written off; post "
                "the money as a payment (POST /api/payments)",
                invoice_number=invoice.number,
                invoice_status=invoice.status,
            )
        )
    if invoice.open_amount > 0:
        raise Conflict(
            _(
                "invoice %(invoice_number)s still has %(open_amount)s "
                "%(invoice_currency)s of its settlement unpaid; money on it pays that "
                "first as a payment (POST /api/payments), only beyond it a recovery",
                invoice_number=invoice.number,
                open_amount=invoice.open_amount,
                invoice_currency=invoice.currency,
            )
        )
    if data.reference and (
        session.scalar(select(Recovery.id).where(Recovery.reference == data.reference))
        or session.scalar(select(Payment.id).where(Payment.reference == data.reference))
    ):
        raise Conflict(
            _(
                "money with reference %(reference)s was recorded already; it is not counted twice",
                reference=data.reference,
            )
        )
    if data.currency != invoice.currency:
        raise Invalid(
            _(
                "invoice %(invoice_number)s is in %(invoice_currency)s",
                invoice_number=invoice.number,
                invoice_currency=invoice.currency,
            ),
            details={
                "fields": {
                    "currency": _(
                        "Must be %(invoice_currency)s, the invoice's currency.",
                        invoice_currency=invoice.currency,
                    )
                }
            },
        )
    left = recoverable(session, invoice)
    if data.amount > left:
        raise Invalid(
            _(
                "invoice %(invoice_number)s has %(left)s written off and not yet recovered",
                invoice_number=invoice.number,
                left=format_money(left, invoice.currency),
            ),
            details={
                "fields": {
                    "amount": _(
                        "At most %(left)s, what is left to recover on %(invoice_number)s.",
                        left=left,
                        invoice_number=invoice.number,
                    )
                }
            },
        )
    recovery = Recovery(
        customer_id=customer.id,
        invoice_id=invoice.id,
        amount=data.amount,
        currency=data.currency,
        received_on=data.received_on,
        reference=data.reference,
        posted_by=actor,
        posted_at=now,
    )
    session.add(recovery)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="recovery_posted",
        now=now,
        customer_id=customer.id,
        invoice=invoice.number,
        recovery_id=recovery.id,
        amount=str(data.amount),
        currency=data.currency,
        received_on=data.received_on.isoformat(),
        reference=data.reference,
        recoverable_before=str(left),
        before=None,
        after={"amount": str(data.amount), "recoverable": str(left - data.amount)},
    )
    return recovery


def recovery_json(session: Session, recovery: Recovery) -> dict[str, Any]:
    return recoveries_json(session, [recovery])[0]


def recoveries_json(session: Session, recoveries: Sequence[Recovery]) -> list[dict[str, Any]]:
    """The recoveries as the API shows them, their invoices' numbers read in one query (not one per row)."""
    ids = sorted({r.invoice_id for r in recoveries})
    query = select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids))
    numbers: dict[int, str] = dict(session.execute(query).all()) if ids else {}
    return [
        {
            "id": recovery.id,
            "customer_id": recovery.customer_id,
            "invoice_number": numbers.get(recovery.invoice_id),
            "amount": money_text(recovery.amount),
            "currency": recovery.currency,
            "date": recovery.received_on.isoformat(),
            "reference": recovery.reference,
            "posted_by": recovery.posted_by,
            "posted_at": iso_text(recovery.posted_at),
        }
        for recovery in recoveries
    ]


def list_recoveries(
    session: Session, *, customer_id: int | None, page: int, per_page: int
) -> tuple[list[Recovery], int]:
    query = select(Recovery).order_by(Recovery.id.desc())
    if customer_id is not None:
        query = query.where(Recovery.customer_id == customer_id)
    return page_rows(session, query, page, per_page)


def customer_recoveries(session: Session, customer_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Recovery).where(Recovery.customer_id == customer_id).order_by(Recovery.id))
    return recoveries_json(session, list(rows))


UNBLOCK_REASON_MAX = 1000
UNBLOCK_REASON_RULE = _("Say why the block is lifted (1 to %(most)s characters).", most=UNBLOCK_REASON_MAX)


def unblock_reason(text: object) -> str | None:
    """The reason as recorded (trimmed), or None when it is empty, too long or holds a NUL: the one rule the
    API and the customer page both apply."""
    if not isinstance(text, str):
        return None
    reason = text.strip()
    return reason if 0 < len(reason) <= UNBLOCK_REASON_MAX and "\x00" not in reason else None


def lift_block(session: Session, customer_id: int, *, actor: str, reason: str, now: datetime) -> Customer:
    """Lift a customer's credit block (a legal outcome leaves it on): audited with the person and reason.

    Raises:
        NotFound: no such customer.  Conflict: it is not blocked.  Invalid: the reason breaks the rule.
    """
    if unblock_reason(reason) != reason:
        raise Invalid(
            _(
                "The unblock has errors: reason: %(unblock_reason_rule)s",
                unblock_reason_rule=UNBLOCK_REASON_RULE,
            ),
            details={"fields": {"reason": UNBLOCK_REASON_RULE}},
        )
    customer = get_customer(session, customer_id)
    if not customer.blocked:
        raise Conflict(_("customer %(customer_id)s is not blocked; nothing to lift", customer_id=customer.id))
    customer.blocked, customer.updated_at = False, now
    record_event(
        session,
        actor=actor,
        action="customer_unblocked",
        now=now,
        customer_id=customer.id,
        reason=reason,
        before={"blocked": True},
        after={"blocked": False},
    )
    return customer

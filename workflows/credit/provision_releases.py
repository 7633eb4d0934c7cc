"""Specific provisions follow recoveries: a payment on provided receivables releases the share of the
provision it recovered (a write-off's use of a provision is the write-off's own record)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.fx import CENT
from workflows.credit.models import Invoice, Payment, PaymentAllocation, Provision
from workflows.credit.provision_tables import ProvisionRelease, ReleaseKind
from workflows.credit.provisions import audit_provision
from workflows.credit.record_fields import money_text
from workflows.store.audit import record_event

ZERO = Decimal("0.00")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def follow_recoveries(session: Session, payment: Payment, *, actor: str, now: datetime) -> Decimal:
    """Release the share of the customer's specific provisions that `payment` recovered: each provision's
    rate times what the payment paid of the invoices it covers (issued by the day it was booked).

    A provision with nothing left is released whole. Returns the amount released.
    """
    provisions = session.scalars(
        select(Provision)
        .where(Provision.customer_id == payment.customer_id, Provision.released_at.is_(None))
        .order_by(Provision.id)
    ).all()
    if not provisions:
        return ZERO
    allocations = session.execute(
        select(Invoice.issue_date, Invoice.currency, PaymentAllocation.amount)
        .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
        .where(PaymentAllocation.payment_id == payment.id)
    ).all()
    total = ZERO
    for provision in provisions:
        recovered = sum(
            (
                amount
                for issued, currency, amount in allocations
                if currency == provision.currency and issued <= provision.created_at.date()
            ),
            ZERO,
        )
        left = provision.amount - provision.released_amount
        share = min(left, _cents(recovered * provision.rate))
        if share <= 0:
            continue
        _release(session, provision, share, ReleaseKind.RECOVERY, actor=actor, now=now, payment_id=payment.id)
        total += share
    return total


def _release(
    session: Session,
    provision: Provision,
    amount: Decimal,
    kind: str,
    *,
    actor: str,
    now: datetime,
    payment_id: int | None = None,
    reference: str = "",
) -> None:
    before = money_text(provision.released_amount)
    provision.released_amount += amount
    session.add(
        ProvisionRelease(
            provision_id=provision.id,
            kind=kind,
            amount=amount,
            currency=provision.currency,
            payment_id=payment_id,
            reference=reference,
            actor=actor,
            at=now,
        )
    )
    record_event(
        session,
        actor=actor,
        action="provision_recovered",
        now=now,
        customer_id=provision.customer_id,
        case_id=provision.case_id,
        provision_id=provision.id,
        amount=money_text(amount),
        currency=provision.currency,
        payment_id=payment_id,
        reference=reference or None,
        before={"released_amount": before},
        after={"released_amount": money_text(provision.released_amount)},
    )
    if provision.released_amount >= provision.amount:
        provision.released_at = now
        audit_provision(session, provision, actor=actor, instance_id=None)

"""Aging buckets of open receivables and the provisions made on them (matrix and specific)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.models import Customer, Invoice, InvoiceStatus, Provision
from workflows.credit.receivables import CENT
from workflows.credit.record_fields import iso_text, money_text
from workflows.settings import ProvisionSettings
from workflows.store.audit import record_event

BUCKETS = ("not_due", "days_1_30", "days_31_60", "days_61_90", "days_91_120", "over_120")


def bucket_of(due: date, as_of: date) -> str:
    days = (as_of - due).days
    if days <= 0:
        return "not_due"
    for bound, name in ((30, "days_1_30"), (60, "days_31_60"), (90, "days_61_90"), (120, "days_91_120")):
        if days <= bound:
            return name
    return "over_120"


def aging(session: Session, as_of: date, customer_id: int | None = None) -> dict[int, dict[str, Decimal]]:
    """Open balances per customer and bucket (invoices issued by `as_of`)."""
    query = select(Invoice.customer_id, Invoice.due_date, Invoice.open_amount).where(
        Invoice.status == InvoiceStatus.OPEN, Invoice.issue_date <= as_of
    )
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    result: dict[int, dict[str, Decimal]] = {}
    for cid, due, open_amount in session.execute(query):
        buckets = result.setdefault(cid, dict.fromkeys(BUCKETS, Decimal("0.00")))
        buckets[bucket_of(due, as_of)] += open_amount
    return result


def provisions(session: Session, as_of: date, rates: ProvisionSettings) -> dict[str, Any]:
    """The provision matrix applied to the aging buckets, plus specific provisions (which replace it)."""
    specific: dict[int, Decimal] = {}
    for cid, amount in session.execute(
        select(Provision.customer_id, Provision.amount).where(
            Provision.released_at.is_(None), Provision.created_at <= _end_of(as_of)
        )
    ):
        specific[cid] = specific.get(cid, Decimal("0.00")) + amount
    totals = dict.fromkeys(BUCKETS, Decimal("0.00"))
    customers = []
    names = dict(session.execute(select(Customer.id, Customer.name)).all())
    for cid, buckets in sorted(aging(session, as_of).items()):
        if cid in specific:
            continue  # assessed individually: the specific provision replaces the matrix
        row = {b: (buckets[b] * getattr(rates, b)).quantize(CENT, rounding=ROUND_HALF_UP) for b in BUCKETS}
        for b in BUCKETS:
            totals[b] += row[b]
        customers.append(
            {
                "customer_id": cid,
                "name": names.get(cid),
                "kind": "matrix",
                "balance": money_text(sum(buckets.values(), Decimal(0))),
                "provision": money_text(sum(row.values(), Decimal(0))),
                "buckets": {b: money_text(v) for b, v in row.items()},
            }
        )
    for cid, amount in sorted(specific.items()):
        customers.append(
            {"customer_id": cid, "name": names.get(cid), "kind": "specific", "provision": money_text(amount)}
        )
    matrix_total = sum(totals.values(), Decimal(0))
    specific_total = sum(specific.values(), Decimal(0))
    return {
        "as_of": as_of.isoformat(),
        "rates": {b: str(getattr(rates, b)) for b in BUCKETS},
        "buckets": {b: money_text(v) for b, v in totals.items()},
        "matrix_total": money_text(matrix_total),
        "specific_total": money_text(specific_total),
        "total": money_text(matrix_total + specific_total),
        "customers": customers,
    }


def _end_of(day: date) -> datetime:
    from datetime import UTC, time

    return datetime.combine(day, time.max, tzinfo=UTC)


def audit_provision(session: Session, provision: Provision, *, actor: str, instance_id: int | None) -> None:
    """Audit a specific provision as booked (no `released_at` yet: it is new) or released, on its customer.

    Call it after setting `released_at` on a release, and after the flush that gives a new one its id.
    """
    released = provision.released_at is not None
    record_event(
        session,
        actor=actor,
        action="provision_released" if released else "provision_booked",
        now=provision.released_at or provision.created_at,
        instance_id=instance_id,
        customer_id=provision.customer_id,
        case_id=provision.case_id,
        provision_id=provision.id,
        reason=provision.reason,
        before={"released_at": None} if released else None,
        after={"released_at": iso_text(provision.released_at)}
        if released
        else {
            "amount": money_text(provision.amount),
            "currency": provision.currency,
            "rate": str(provision.rate),
        },
    )

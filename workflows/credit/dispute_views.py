"""The read side of disputes and credit notes: lists, one dispute, and the reason-code report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit import fx
from workflows.credit.disputes import REASONS, CreditNote, Dispute, DisputeLine, DisputeStatus
from workflows.credit.models import Customer
from workflows.credit.record_fields import iso_text, money_text
from workflows.errors import Invalid, NotFound
from workflows.messages import _
from workflows.store.paging import page_rows

ZERO = Decimal("0.00")
MAX_SUMMARY_DAYS = 3660  # ten years of months at most in one report


def list_disputes(
    session: Session,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Dispute], int]:
    """Disputes, newest first, filtered by customer and status.

    Raises:
        Invalid: an unknown status.
    """
    query = select(Dispute)
    if customer_id is not None:
        query = query.where(Dispute.customer_id == customer_id)
    if status:
        if status not in DisputeStatus.ALL:
            raise Invalid(
                _("no dispute status '%(status)s'", status=status[:40]),
                details={
                    "fields": {"status": _("Must be one of %(all)s.", all=", ".join(DisputeStatus.ALL))}
                },
            )
        query = query.where(Dispute.status == status)
    return page_rows(session, query.order_by(Dispute.id.desc()), page, per_page)


def get_dispute(session: Session, dispute_id: int) -> Dispute:
    """Raises: NotFound."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise NotFound(_("dispute %(dispute_id)s does not exist", dispute_id=dispute_id))
    return dispute


def disputes_json(session: Session, disputes: Sequence[Dispute]) -> list[dict[str, Any]]:
    """Each dispute with its customer's name, its lines and its credit notes (three queries in all)."""
    ids = [d.id for d in disputes]
    customers = select(Customer.id, Customer.name).where(Customer.id.in_({d.customer_id for d in disputes}))
    names = {customer_id: name for customer_id, name in session.execute(customers)}
    lines: dict[int, list[DisputeLine]] = defaultdict(list)
    for line in session.scalars(
        select(DisputeLine).where(DisputeLine.dispute_id.in_(ids)).order_by(DisputeLine.id)
    ):
        lines[line.dispute_id].append(line)
    notes: dict[int, list[CreditNote]] = defaultdict(list)
    for note in session.scalars(
        select(CreditNote).where(CreditNote.dispute_id.in_(ids)).order_by(CreditNote.id)
    ):
        notes[note.dispute_id].append(note)
    return [
        {
            "id": d.id,
            "customer_id": d.customer_id,
            "customer_name": names.get(d.customer_id),
            "instance_id": d.instance_id,
            "case_id": d.case_id,
            "status": d.status,
            "owner_group": d.owner_group,
            "description": d.description,
            "currency": d.currency,
            "disputed_amount": money_text(d.disputed_amount),
            "invoices": [
                {
                    "number": ln.invoice_number,
                    "amount": money_text(ln.amount),
                    "reason": ln.reason,
                    "credited": money_text(ln.credited),
                }
                for ln in lines[d.id]
            ],
            "proposal": d.proposal,
            "proposed_credit": money_text(d.proposed_credit),
            "proposed_by": d.proposed_by,
            "proposed_at": iso_text(d.proposed_at),
            "decided_by": d.decided_by,
            "credited_amount": money_text(d.credited_amount),
            "credit_notes": [credit_note_json(n) for n in notes[d.id]],
            "raised_by": d.raised_by,
            "opened_at": d.opened_at.isoformat(),
            "closed_at": iso_text(d.closed_at),
        }
        for d in disputes
    ]


def credit_note_json(note: CreditNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "customer_id": note.customer_id,
        "invoice_number": note.invoice_number,
        "amount": money_text(note.amount),
        "currency": note.currency,
        "to_balance": money_text(note.to_balance),
        "dispute_id": note.dispute_id,
        "instance_id": note.instance_id,
        "approved_by": list(note.approved_by),
        "requested_by": note.requested_by,
        "posted_at": note.posted_at.isoformat(),
    }


def list_credit_notes(
    session: Session, *, customer_id: int | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[CreditNote], int]:
    """Posted credit notes, newest first."""
    query = select(CreditNote)
    if customer_id is not None:
        query = query.where(CreditNote.customer_id == customer_id)
    return page_rows(session, query.order_by(CreditNote.id.desc()), page, per_page)


def customer_credit_notes(session: Session, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """A customer's latest credit notes, for its credit file."""
    rows, _total = list_credit_notes(session, customer_id=customer_id, per_page=limit)
    return [credit_note_json(n) for n in rows]


def reason_summary(session: Session, start: date, end: date, base: str) -> dict[str, Any]:
    """Disputed invoice lines opened from `start` to `end` (inclusive): count and amount in the base currency
    by month and reason code. A line whose currency has no rate on its opening day is counted and listed
    under `without_rate` with its own amount, never converted by a guess.

    Raises:
        Invalid: `end` before `start`, or a span of more than ten years.
    """
    if end < start or (end - start).days > MAX_SUMMARY_DAYS:
        raise Invalid(
            _("the report covers from `from` to `to`, at most ten years"),
            details={"fields": {"to": _("Must be on or after `from`, and at most ten years later.")}},
        )
    rows = session.execute(
        select(DisputeLine.reason, DisputeLine.amount, Dispute.currency, Dispute.opened_at)
        .join(Dispute, Dispute.id == DisputeLine.dispute_id)
        .where(
            Dispute.opened_at >= datetime.combine(start, time.min, tzinfo=UTC),
            # `<= the day's last instant`, not `< the next day`: 9999-12-31 has no next day (a 500 before).
            Dispute.opened_at <= datetime.combine(end, time.max, tzinfo=UTC),
        )
    ).all()
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    total = ZERO
    unconverted: dict[str, Decimal] = {}  # by currency: what `total_amount` leaves out
    for reason, amount, currency, opened in rows:
        month = f"{opened.year:04d}-{opened.month:02d}"
        cell = cells.setdefault((month, reason), {"count": 0, "amount": ZERO, "without_rate": []})
        cell["count"] += 1
        try:
            converted = fx.to_base(session, amount, currency, opened.date(), base)
        except fx.MissingRate:
            cell["without_rate"].append({"amount": money_text(amount), "currency": currency})
            unconverted[currency] = unconverted.get(currency, ZERO) + amount
            continue
        cell["amount"] += converted
        total += converted
    order = {reason: i for i, reason in enumerate(REASONS)}
    items = [
        {
            "month": month,
            "reason": reason,
            "count": cell["count"],
            "amount": money_text(cell["amount"]),
            "without_rate": cell["without_rate"],
        }
        for (month, reason), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99)))
    ]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "currency": base,
        "items": items,
        "total_count": sum(cell["count"] for cell in cells.values()),
        "total_amount": money_text(total),
        # total_count counts these lines, total_amount cannot: named here, never converted by a guess.
        "without_rate": [
            {"amount": money_text(amount), "currency": currency}
            for currency, amount in sorted(unconverted.items())
        ],
    }

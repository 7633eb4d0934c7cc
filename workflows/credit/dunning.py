"""Who is due for dunning (the daily run in workflows.batch asks) and the read side of dunning cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.models import Customer, DunningCase, DunningEvent, DunningStatus, Invoice, InvoiceStatus
from workflows.credit.record_fields import iso_text, money_text
from workflows.credit.write_offs import customers_with_pending_write_off
from workflows.store.paging import page_rows

PROCESS_KEY = roles.DUNNING


def customers_to_dun(session: Session, as_of: date, grace_days: int, minimum: Decimal) -> list[int]:
    """Customers without an active case or a write-off waiting for approval whose undisputed amount overdue
    past grace reaches the minimum (written-off invoices are not open, so never dunned again)."""
    cutoff = as_of - timedelta(days=grace_days)
    active = select(DunningCase.customer_id).where(DunningCase.status.in_(DunningStatus.ACTIVE))
    query = (
        select(Invoice.customer_id)
        .where(
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.disputed.is_(False),
            Invoice.due_date < cutoff,
            Invoice.customer_id.not_in(active),
            # Legal's outcome waits for approval: the invoices are about to be written off, not dunned.
            Invoice.customer_id.not_in(customers_with_pending_write_off()),
        )
        .group_by(Invoice.customer_id)
        .having(func.sum(Invoice.open_amount) >= minimum)
        .order_by(Invoice.customer_id)
    )
    return list(session.scalars(query))


def list_cases(
    session: Session,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[DunningCase], int]:
    query = select(DunningCase)
    if customer_id is not None:
        query = query.where(DunningCase.customer_id == customer_id)
    if status:
        query = query.where(DunningCase.status == status)
    return page_rows(session, query.order_by(DunningCase.id.desc()), page, per_page)


def case_json(session: Session, case: DunningCase) -> dict[str, Any]:
    """A case with its level, fees and the full history of levels, notices and events."""
    return cases_json(session, [case])[0]


def cases_json(session: Session, cases: Sequence[DunningCase]) -> list[dict[str, Any]]:
    """`case_json` for many cases with two queries in all (customer names and histories)."""
    ids = [case.id for case in cases]
    customers = select(Customer.id, Customer.name).where(Customer.id.in_({c.customer_id for c in cases}))
    names = {customer_id: name for customer_id, name in session.execute(customers)}
    history: dict[int, list[DunningEvent]] = {case_id: [] for case_id in ids}
    for event in session.scalars(
        select(DunningEvent).where(DunningEvent.case_id.in_(ids)).order_by(DunningEvent.id)
    ):
        history[event.case_id].append(event)
    return [
        {
            "id": case.id,
            "customer_id": case.customer_id,
            "customer_name": names.get(case.customer_id),
            "instance_id": case.instance_id,
            "status": case.status,
            "level": case.level,
            "fees": money_text(case.fees),
            "currency": case.currency,
            "promised_date": iso_text(case.promised_date),
            "promised_amount": money_text(case.promised_amount),
            "opened_at": case.opened_at.isoformat(),
            "closed_at": iso_text(case.closed_at),
            "outcome": case.outcome,
            "history": [
                {
                    "at": e.at.isoformat(),
                    "kind": e.kind,
                    "level": e.level,
                    "detail": e.detail,
                    "actor": e.actor,
                }
                for e in history[case.id]
            ],
        }
        for case in cases
    ]

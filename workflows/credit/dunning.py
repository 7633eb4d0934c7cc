"""Who is due for dunning (the daily run in workflows.batch asks) and the read side of dunning cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.models import Customer, DunningCase, DunningEvent, DunningStatus, Invoice, InvoiceStatus
from workflows.credit.promises import DunningPromise, kept_rate, promise_json
from workflows.credit.record_fields import iso_text, money_text
from workflows.credit.write_offs import customers_with_pending_write_off
from workflows.definitions.versions import definition_file, latest_definition
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.messages import _
from workflows.store.paging import page_rows
from workflows.store.shown_json import readable_or, shown_json, unreadable_note

PROCESS_KEY = roles.DUNNING
LADDER_FILE, LADDER_DECISION = "dunning_policy.dmn", "dunning_policy"


def first_level_days(session: Session) -> dict[str, int]:
    """Days after the due date at which level 1 falls, per grade ("" ungraded), from the ladder of the
    dunning version new cases start (its dunning_policy.dmn). Empty when no version is active (no case
    could start).

    Raises:
        DecisionError: the table is broken or gives no level_1_days for a grade customers have.
    """
    definition = latest_definition(session, PROCESS_KEY, required=False)
    if definition is None:
        return {}
    text = definition_file(session, definition, LADDER_FILE)
    if text is None:
        return {}
    grades = {g or "" for g in session.scalars(select(Customer.grade).distinct())} | {""}
    found = {}
    for grade in sorted(grades):
        days = evaluate_decision(text, LADDER_DECISION, {"standing": {"grade": grade}}).get("level_1_days")
        if not isinstance(days, int) or isinstance(days, bool):
            raise DecisionError(
                _(
                    "%(file)s gives no level_1_days for grade '%(grade)s': %(days)r",
                    file=LADDER_FILE,
                    grade=grade,
                    days=days,
                )
            )
        found[grade] = days
    return found


def customers_to_dun(
    session: Session, as_of: date, minimum: Decimal, first_days: Mapping[str, int] | None = None
) -> list[int]:
    """Customers without an active case or a write-off waiting for approval whose undisputed amount overdue
    reaches the minimum (written-off invoices are not open, so never dunned again), counting each invoice
    from the day level 1 of the customer's grade falls due: a case opens on the first day a step of its
    ladder is due, and there is no other grace. `first_days` (grade -> days) defaults to `first_level_days`.
    """
    days = first_level_days(session) if first_days is None else first_days
    active = select(DunningCase.customer_id).where(DunningCase.status.in_(DunningStatus.ACTIVE))
    found: set[int] = set()
    for grade, offset in days.items():
        graded = (
            (Customer.grade.is_(None) | (Customer.grade == "")) if grade == "" else Customer.grade == grade
        )
        query = (
            select(Invoice.customer_id)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(
                graded,
                Invoice.status == InvoiceStatus.OPEN,
                # Only what open disputes do not hold counts (an invoice wholly disputed not at all).
                Invoice.open_amount > Invoice.disputed_amount,
                Invoice.due_date <= as_of - timedelta(days=offset),
                Invoice.customer_id.not_in(active),
                # Legal's outcome waits for approval: the invoices are about to be written off, not dunned.
                Invoice.customer_id.not_in(customers_with_pending_write_off()),
            )
            .group_by(Invoice.customer_id)
            .having(func.sum(Invoice.open_amount - Invoice.disputed_amount) >= minimum)
        )
        found.update(session.scalars(query))
    return sorted(found)


def regraded_cases(session: Session) -> list[tuple[int, str]]:
    """(customer id, grade now) of open cases whose customer's grade is no longer the one their ladder
    follows: the daily run sends them `grade_changed`, so they re-read the ladder at once."""
    query = (
        select(DunningCase.customer_id, Customer.grade)
        .join(Customer, Customer.id == DunningCase.customer_id)
        .where(
            DunningCase.status == DunningStatus.OPEN,
            DunningCase.grade.is_not(None),
            func.coalesce(Customer.grade, "") != DunningCase.grade,
        )
        .order_by(DunningCase.customer_id)
    )
    return [(customer_id, grade or "") for customer_id, grade in session.execute(query)]


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
    """A case with its level, fees, promises (and promise-kept rate) and the full history of levels,
    notices and events."""
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
    promises: dict[int, list[DunningPromise]] = {case_id: [] for case_id in ids}
    for promise in session.scalars(
        select(DunningPromise).where(DunningPromise.case_id.in_(ids)).order_by(DunningPromise.id)
    ):
        promises[promise.case_id].append(promise)
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
            "grade": case.grade,
            "promises": [promise_json(p) for p in promises[case.id]],
            # Promises paid in full by their date over promises judged ("0.50"); None until one is judged.
            "promise_kept_rate": kept_rate(p.status for p in promises[case.id]),
            "opened_at": case.opened_at.isoformat(),
            "closed_at": iso_text(case.closed_at),
            "outcome": case.outcome,
            "history": [
                {
                    "at": e.at.isoformat(),
                    "kind": e.kind,
                    "level": e.level,
                    # Stored JSON no decoder reads (a hand edit): {} and its text under "unreadable".
                    "detail": shown_json(readable_or(e.detail, {})),
                    "actor": e.actor,
                    **unreadable_note({"detail": e.detail}),
                }
                for e in history[case.id]
            ],
        }
        for case in cases
    ]

"""Read side of the customer credit file as pages show it: list rows with exposure, the customer's file
(open invoices, aging, dunning history, related cases) and the task page's customer panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflows.credit.collateral import Collateral, list_collateral
from workflows.credit.customers import customer_since, get_customer, limit_history, list_customers
from workflows.credit.dunning import list_cases
from workflows.credit.invoice_views import ZERO, OpenInvoice, open_invoices, receivables_of
from workflows.credit.models import Customer, DunningCase, DunningEvent, LimitChange
from workflows.credit.promises import DunningPromise, kept_rate
from workflows.credit.provisions import BUCKETS, aging
from workflows.store.models import ProcessInstance

# The task page shows the newest limit changes; the customer page shows them all.
PANEL_HISTORY = 5
# A customer page lists at most this many of the customer's process instances, newest first.
MAX_INSTANCES = 100
# A customer page or panel lists at most this many dunning cases, newest first.
MAX_CASES = 200


def utilisation(exposure: Decimal, limit: Decimal | None) -> Decimal | None:
    """Exposure as a percentage of the limit (one decimal); None when there is no limit."""
    if not limit:
        return None
    return (exposure * 100 / limit).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class CustomerRow:
    """One line of the customer list, with the receivables figures the list shows."""

    customer: Customer
    exposure: Decimal
    overdue: Decimal

    @property
    def utilisation(self) -> Decimal | None:
        return utilisation(self.exposure, self.customer.credit_limit)


def list_customer_rows(
    session: Session,
    *,
    today: date,
    text: str | None = None,
    grade: str | None = None,
    blocked: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[CustomerRow], int]:
    """One page of customers (as `list_customers` filters them) with exposure and overdue, and the total."""
    customers, total = list_customers(
        session, text=text, grade=grade, blocked=blocked, page=page, per_page=per_page
    )
    figures = receivables_of(session, [c.id for c in customers], today)
    return [CustomerRow(c, *figures.get(c.id, (ZERO, ZERO))) for c in customers], total


@dataclass(frozen=True)
class DunningCaseView:
    case: DunningCase
    events: list[DunningEvent]
    promises: list[DunningPromise]
    promise_kept_rate: str | None  # kept / judged promises ("0.50"); None until one is judged


def dunning_cases(session: Session, customer_id: int) -> list[DunningCaseView]:
    """The customer's dunning cases, newest first, each with its history and promises to pay."""
    cases, _ = list_cases(session, customer_id=customer_id, per_page=MAX_CASES)
    events: dict[int, list[DunningEvent]] = {c.id: [] for c in cases}
    promises: dict[int, list[DunningPromise]] = {c.id: [] for c in cases}
    if cases:
        for event in session.scalars(
            select(DunningEvent).where(DunningEvent.case_id.in_(list(events))).order_by(DunningEvent.id)
        ):
            events[event.case_id].append(event)
        for promise in session.scalars(
            select(DunningPromise).where(DunningPromise.case_id.in_(list(events))).order_by(DunningPromise.id)
        ):
            promises[promise.case_id].append(promise)
    return [
        DunningCaseView(c, events[c.id], promises[c.id], kept_rate(p.status for p in promises[c.id]))
        for c in cases
    ]


def customer_instances(session: Session, customer_id: int) -> list[ProcessInstance]:
    """Process instances about the customer: its id in their data, or linked from its limit history/cases."""
    linked = (
        select(LimitChange.instance_id)
        .where(LimitChange.customer_id == customer_id, LimitChange.instance_id.is_not(None))
        .union(
            select(DunningCase.instance_id).where(
                DunningCase.customer_id == customer_id, DunningCase.instance_id.is_not(None)
            )
        )
    )
    # as_string() reads an integer and a numeric string alike, on SQLite and PostgreSQL.
    return list(
        session.scalars(
            select(ProcessInstance)
            .where(
                or_(
                    ProcessInstance.data["customer_id"].as_string() == str(customer_id),
                    ProcessInstance.id.in_(linked),
                )
            )
            .order_by(ProcessInstance.id.desc())
            .limit(MAX_INSTANCES)
        )
    )


@dataclass(frozen=True)
class CustomerFile:
    """What the customer page shows."""

    customer: Customer
    exposure: Decimal
    overdue: Decimal
    history: list[LimitChange]  # oldest first
    invoices: list[OpenInvoice]
    buckets: dict[str, Decimal]  # aging bucket -> open amount, in BUCKETS order
    cases: list[DunningCaseView]
    instances: list[ProcessInstance]  # newest first, at most MAX_INSTANCES
    customer_since: date | None = None  # on file, else the first invoice's date
    collateral: list[Collateral] = field(default_factory=list)  # newest first, expired ones too

    @property
    def utilisation(self) -> Decimal | None:
        return utilisation(self.exposure, self.customer.credit_limit)


def customer_file(session: Session, customer_id: int, today: date) -> CustomerFile:
    """Raises: NotFound."""
    customer = get_customer(session, customer_id)
    exposure, overdue = receivables_of(session, [customer_id], today).get(customer_id, (ZERO, ZERO))
    return CustomerFile(
        customer=customer,
        exposure=exposure,
        overdue=overdue,
        history=limit_history(session, customer_id),
        invoices=open_invoices(session, customer_id, today),
        buckets=aging(session, today, customer_id).get(customer_id, dict.fromkeys(BUCKETS, ZERO)),
        cases=dunning_cases(session, customer_id),
        instances=customer_instances(session, customer_id),
        customer_since=customer_since(session, customer),
        collateral=list_collateral(session, customer_id),
    )


@dataclass(frozen=True)
class CustomerPanel:
    """What a task page shows about the customer its case is about."""

    customer: Customer
    exposure: Decimal
    overdue: Decimal
    history: list[LimitChange]  # newest first, at most PANEL_HISTORY
    invoices: list[OpenInvoice]
    cases: list[DunningCase]

    @property
    def utilisation(self) -> Decimal | None:
        return utilisation(self.exposure, self.customer.credit_limit)


def customer_panel(session: Session, customer_id: int, today: date) -> CustomerPanel | None:
    """The task page's customer panel; None when the customer does not exist (any more)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    exposure, overdue = receivables_of(session, [customer_id], today).get(customer_id, (ZERO, ZERO))
    return CustomerPanel(
        customer=customer,
        exposure=exposure,
        overdue=overdue,
        history=limit_history(session, customer_id)[::-1][:PANEL_HISTORY],
        invoices=open_invoices(session, customer_id, today),
        cases=list_cases(session, customer_id=customer_id, per_page=MAX_CASES)[0],
    )

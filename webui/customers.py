"""/customers: the searchable customer list and each customer's credit file, plus the customer picker."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from webui import page_arg, services
from webui.auth import login_required_view, require_groups
from webui.start import may_start
from workflows.credit.customers import CUSTOMER_READERS, GRADES, get_customer, limit_history, list_customers
from workflows.credit.dunning import list_cases
from workflows.credit.models import Customer, DunningCase, DunningEvent, Invoice, InvoiceStatus, LimitChange
from workflows.credit.receivables import BUCKETS, aging, bucket_of
from workflows.definitions.deploy import latest_definition
from workflows.store.models import ProcessInstance
from workflows.store.paging import Page
from workflows.users import Actor

bp = Blueprint("customers_pages", __name__)

ZERO = Decimal("0.00")
BUCKET_LABELS = {
    "not_due": "Not due",
    "days_1_30": "1–30 days",
    "days_31_60": "31–60 days",
    "days_61_90": "61–90 days",
    "days_91_120": "91–120 days",
    "over_120": "Over 120 days",
}
# Processes a customer page offers to start, with the customer prefilled: (process key, button label).
CUSTOMER_ACTIONS = (("credit_application", "New credit application"), ("credit_limit_review", "Review limit"))
# The task page shows the newest limit changes; the customer page shows them all.
PANEL_HISTORY = 5
# A customer page lists at most this many of the customer's process instances, newest first.
MAX_INSTANCES = 100


@dataclass(frozen=True)
class CustomerRow:
    """One line of the customer list, with the receivables figures the list shows."""

    customer: Customer
    exposure: Decimal
    overdue: Decimal

    @property
    def utilisation(self) -> Decimal | None:
        return utilisation(self.exposure, self.customer.credit_limit)


@dataclass(frozen=True)
class OpenInvoice:
    invoice: Invoice
    days_overdue: int
    bucket: str


@dataclass(frozen=True)
class DunningCaseView:
    case: DunningCase
    events: list[DunningEvent]


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


def utilisation(exposure: Decimal, limit: Decimal | None) -> Decimal | None:
    """Exposure as a percentage of the limit (one decimal); None when there is no limit."""
    if not limit:
        return None
    return (exposure * 100 / limit).quantize(Decimal("0.1"))


def receivables_of(
    session: Session, customer_ids: Iterable[int], today: date
) -> dict[int, tuple[Decimal, Decimal]]:
    """{customer id: (exposure, overdue)} from open invoices, in one query for a page of customers."""
    ids = list(customer_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(
            Invoice.customer_id,
            func.sum(Invoice.open_amount),
            func.sum(case((Invoice.due_date < today, Invoice.open_amount), else_=ZERO)),
        )
        .where(Invoice.customer_id.in_(ids), Invoice.status == InvoiceStatus.OPEN)
        .group_by(Invoice.customer_id)
    )
    return {cid: (exposure or ZERO, overdue or ZERO) for cid, exposure, overdue in rows}


def open_invoices(session: Session, customer_id: int, today: date) -> list[OpenInvoice]:
    """The customer's open invoices, oldest due date first, with days overdue and aging bucket."""
    rows = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
    )
    return [OpenInvoice(i, max(0, (today - i.due_date).days), bucket_of(i.due_date, today)) for i in rows]


def dunning_cases(session: Session, customer_id: int) -> list[DunningCaseView]:
    """The customer's dunning cases, newest first, each with its history."""
    cases, _ = list_cases(session, customer_id=customer_id, per_page=200)
    events: dict[int, list[DunningEvent]] = {c.id: [] for c in cases}
    if cases:
        for event in session.scalars(
            select(DunningEvent).where(DunningEvent.case_id.in_(list(events))).order_by(DunningEvent.id)
        ):
            events[event.case_id].append(event)
    return [DunningCaseView(c, events[c.id]) for c in cases]


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
        cases=list_cases(session, customer_id=customer_id, per_page=200)[0],
    )


def customer_actions(session: Session, actor: Actor, customer_id: int) -> list[tuple[str, str]]:
    """(label, start URL with the customer prefilled) of the customer processes the actor may start."""
    actions = []
    for key, label in CUSTOMER_ACTIONS:
        definition = latest_definition(session, key, required=False)
        if definition is not None and may_start(actor, definition):
            actions.append((label, url_for("start.start", key=key, customer_id=customer_id)))
    return actions


@bp.get("/customers")
@login_required_view
def index() -> str:
    svc = services()
    require_groups(CUSTOMER_READERS, "read customers")
    grade = request.args.get("grade", "")
    blocked_arg = request.args.get("blocked", "")
    flt = {
        "q": (request.args.get("q") or "").strip(),
        "grade": grade if grade in GRADES else "",
        "blocked": blocked_arg if blocked_arg in ("yes", "no") else "",
    }
    page, per_page = page_arg(), svc.rt.settings.web.page_size
    today = svc.clock().date()
    with svc.rt.factory() as session:
        customers, total = list_customers(
            session,
            text=flt["q"] or None,
            grade=flt["grade"] or None,
            blocked={"yes": True, "no": False}.get(flt["blocked"]),
            page=page,
            per_page=per_page,
        )
        figures = receivables_of(session, [c.id for c in customers], today)
        rows = [CustomerRow(c, *figures.get(c.id, (ZERO, ZERO))) for c in customers]
        return render_template(
            "customers/list.html",
            found=Page(rows, total, page, per_page),
            flt=flt,
            grades=GRADES,
            args={k: v for k, v in flt.items() if v},
        )


@bp.get("/customers/<int:customer_id>")
@login_required_view
def show(customer_id: int) -> str:
    svc = services()
    actor = require_groups(CUSTOMER_READERS, "read customers")
    today = svc.clock().date()
    with svc.rt.factory() as session:
        customer = get_customer(session, customer_id)
        invoices = open_invoices(session, customer_id, today)
        exposure, overdue = receivables_of(session, [customer_id], today).get(customer_id, (ZERO, ZERO))
        buckets = aging(session, today, customer_id).get(customer_id, dict.fromkeys(BUCKETS, ZERO))
        return render_template(
            "customers/show.html",
            c=customer,
            exposure=exposure,
            overdue=overdue,
            utilisation=utilisation(exposure, customer.credit_limit),
            history=limit_history(session, customer_id),
            invoices=invoices,
            buckets=[(BUCKET_LABELS[b], buckets[b]) for b in BUCKETS],
            bucket_labels=BUCKET_LABELS,
            cases=dunning_cases(session, customer_id),
            instances=customer_instances(session, customer_id),
            actions=customer_actions(session, actor, customer_id),
            max_instances=MAX_INSTANCES,
        )

"""Legal outcomes and write-offs: legal's proposal, the posting that writes invoices off and uses the specific
provisions, later recoveries, and the credit block a legal outcome leaves until a credit manager lifts it.

A proposal (WriteOffRequest) names the customer's open invoices when it is made; the posting writes off at
most the approved amount of those invoices (a payment in between lowers it, a new invoice never raises it).
Every invoice of a settled or uncollectable outcome gets status `written_off` and is never dunned again;
a settlement's still unpaid part stays as its open amount (oldest invoices first), and money beyond that
is a recovery (POST /api/recoveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.credit.customers import get_customer
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.credit.record_fields import check_amount, iso_text, money_text, raise_field_errors
from workflows.errors import Conflict, message_of
from workflows.messages import _
from workflows.store.audit import record_event
from workflows.store.models import Base, Decimal2
from workflows.store.paging import page_rows

ZERO = Decimal("0.00")
RECOVERED, SETTLED, UNCOLLECTABLE = "recovered", "settled", "uncollectable"
OUTCOMES = (RECOVERED, SETTLED, UNCOLLECTABLE)


class RequestStatus:
    PROPOSED = "proposed"  # waiting for its approvals: the customer is not dunned meanwhile
    POSTED = "posted"  # written off (settled, uncollectable)
    CLOSED = "closed"  # recovered in full: nothing written off
    REJECTED = "rejected"


class WriteOffRequest(Base):
    """Legal's proposed outcome for a customer's open invoices, and how it was decided."""

    __tablename__ = "write_off_requests"
    __table_args__ = (
        Index("ix_write_off_requests_customer_status", "customer_id", "status"),
        # Two proposals made at once both see "none waiting"; the database lets only one commit (PostgreSQL;
        # SQLite serialises writers anyway).
        Index(
            "ux_write_off_requests_one_proposed",
            "customer_id",
            unique=True,
            sqlite_where=text("status = 'proposed'"),  # RequestStatus.PROPOSED
            postgresql_where=text("status = 'proposed'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("dunning_cases.id"))  # the dunning case, if any
    outcome: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Decimal2)  # recovered, or the settlement; 0 when uncollectable
    costs: Mapped[Decimal] = mapped_column(Decimal2)  # legal costs of the matter
    currency: Mapped[str] = mapped_column(String(3))
    comment: Mapped[str] = mapped_column(Text, default="")
    invoices: Mapped[list[Any]]  # the numbers of the invoices open when it was proposed
    open_amount: Mapped[Decimal] = mapped_column(Decimal2)  # their open amount then
    write_off_amount: Mapped[Decimal] = mapped_column(Decimal2)  # what is proposed to be written off
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.PROPOSED)
    requested_by: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[list[Any]]  # the approvers' user names
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class WriteOff(Base):
    """One invoice's written-off amount; `provision_used` (invoice currency) is how much of it the customer's
    specific provisions covered (the provision movement "used by write-off" sums it by `posted_at`)."""

    __tablename__ = "write_offs"
    __table_args__ = (Index("ix_write_offs_posted_at", "posted_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("write_off_requests.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    outcome: Mapped[str] = mapped_column(String(20))
    costs: Mapped[Decimal] = mapped_column(Decimal2)  # the request's legal costs, on its first line only
    provision_used: Mapped[Decimal] = mapped_column(Decimal2)
    requested_by: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[list[Any]]
    posted_at: Mapped[datetime]
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))


class WriteOffProvisionUse(Base):
    """Which specific provision covered how much of a write-off: a provision's remaining amount is its
    amount less its uses (workflows.credit.provisions counts only the remainder)."""

    __tablename__ = "write_off_provision_uses"
    id: Mapped[int] = mapped_column(primary_key=True)
    write_off_id: Mapped[int] = mapped_column(ForeignKey("write_offs.id"), index=True)
    provision_id: Mapped[int] = mapped_column(ForeignKey("provisions.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Decimal2)


class Recovery(Base):
    """Money received on a written-off invoice after the write-off: income, not a payment allocation."""

    __tablename__ = "recoveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    received_on: Mapped[date]
    reference: Mapped[str | None] = mapped_column(String(120), unique=True)
    posted_by: Mapped[str] = mapped_column(String(80))
    posted_at: Mapped[datetime]


# --- proposing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    customer_id: int
    outcome: str
    amount: Decimal
    costs: Decimal
    comment: str = ""


def check_proposal(
    session: Session, proposal: Proposal, today: date | None = None
) -> tuple[Customer, list[Invoice], Decimal]:
    """The customer, its open invoices and the amount to write off. "Recovered in full" needs the overdue
    invoices paid (as of `today`): it closes with no approval and lifts the block, so it is not a mere claim.

    Raises:
        NotFound: no such customer.  Invalid: naming each bad field.  Conflict: a proposal is open already.
    """
    customer = get_customer(session, proposal.customer_id)
    errors: dict[str, str] = {}
    if proposal.outcome not in OUTCOMES:
        errors["outcome"] = _("One of %(outcomes)s.", outcomes=", ".join(OUTCOMES))
    for field in ("amount", "costs"):
        try:
            check_amount(getattr(proposal, field), positive=False)
        except (ValueError, ArithmeticError) as exc:
            errors[field] = message_of(exc)
    invoices = open_invoices(session, customer.id)
    open_total = sum((i.open_amount for i in invoices), ZERO)
    if not errors:
        errors.update(_amount_rules(proposal, open_total))
    overdue = [i for i in invoices if today is not None and i.due_date < today and i.open_amount > 0]
    if not errors and proposal.outcome == RECOVERED and overdue:
        errors["outcome"] = _(
            "Recovered in full, but %(overdue)s overdue invoice(s) of %(amount)s "
            "%(customer_currency)s are still open (%(numbers)s): post the payments "
            "first (POST /api/payments), or propose a settlement or uncollectable, "
            "which a credit manager approves.",
            overdue=len(overdue),
            amount=sum((i.open_amount for i in overdue), ZERO),
            customer_currency=customer.currency,
            numbers=", ".join(i.number for i in overdue[:5]),
        )
    raise_field_errors(errors, _("legal outcome"))
    pending = pending_request(session, customer.id)
    if pending is not None:
        raise Conflict(
            _(
                "customer %(customer_id)s has the write-off proposal %(pending_id)s "
                "waiting for approval (instance %(instance_id)s); decide it first",
                customer_id=customer.id,
                pending_id=pending.id,
                instance_id=pending.instance_id,
            )
        )
    written_off = ZERO if proposal.outcome == RECOVERED else open_total - proposal.amount
    return customer, invoices, written_off


def _amount_rules(proposal: Proposal, open_total: Decimal) -> dict[str, str]:
    if proposal.outcome == RECOVERED:
        return {}
    if open_total == 0:
        return {"outcome": "The customer has no open invoice; nothing can be written off."}
    if proposal.outcome == UNCOLLECTABLE and proposal.amount != 0:
        return {"amount": "Must be 0 when uncollectable; a part obtained from the debtor is a settlement."}
    if proposal.outcome == SETTLED and not 0 < proposal.amount < open_total:
        return {"amount": f"The settlement must be more than 0 and less than the open amount {open_total}."}
    return {}


def open_request(
    session: Session,
    proposal: Proposal,
    *,
    requested_by: str,
    instance_id: int | None,
    now: datetime,
    case_id: int | None = None,
) -> WriteOffRequest:
    """Record legal's proposal in the caller's transaction; the customer is not dunned while it waits.

    Raises:
        NotFound, Invalid, Conflict: see `check_proposal`.
    """
    customer, invoices, written_off = check_proposal(session, proposal, now.date())
    request = WriteOffRequest(
        customer_id=customer.id,
        instance_id=instance_id,
        case_id=case_id,
        outcome=proposal.outcome,
        amount=proposal.amount,
        costs=proposal.costs,
        currency=customer.currency,
        comment=proposal.comment,
        invoices=[i.number for i in invoices],
        open_amount=sum((i.open_amount for i in invoices), ZERO),
        write_off_amount=written_off,
        status=RequestStatus.PROPOSED,
        requested_by=requested_by,
        approved_by=[],
        created_at=now,
    )
    session.add(request)
    session.flush()
    record_event(
        session,
        actor=requested_by,
        action="write_off_proposal_created",
        now=now,
        instance_id=instance_id,
        customer_id=customer.id,
        request_id=request.id,
        before=None,
        after={
            "status": request.status,
            "outcome": request.outcome,
            "amount": str(request.amount),
            "costs": str(request.costs),
            "write_off_amount": str(written_off),
            "invoices": request.invoices,
        },
    )
    return request


def open_invoices(session: Session, customer_id: int) -> list[Invoice]:
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN)
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def pending_request(session: Session, customer_id: int) -> WriteOffRequest | None:
    return session.scalar(
        select(WriteOffRequest).where(
            WriteOffRequest.customer_id == customer_id, WriteOffRequest.status == RequestStatus.PROPOSED
        )
    )


def customers_with_pending_write_off() -> Any:
    """A subquery of the customers whose legal outcome waits for approval (the dunning run skips them)."""
    return select(WriteOffRequest.customer_id).where(WriteOffRequest.status == RequestStatus.PROPOSED)


def provision_uses(session: Session, provision_ids: list[int]) -> dict[int, Decimal]:
    """How much of each provision write-offs used (summed here: Decimal2 stays exact on every backend)."""
    used: dict[int, Decimal] = {}
    for provision_id, amount in session.execute(
        select(WriteOffProvisionUse.provision_id, WriteOffProvisionUse.amount).where(
            WriteOffProvisionUse.provision_id.in_(provision_ids)
        )
    ):
        used[provision_id] = used.get(provision_id, ZERO) + amount
    return used


# --- reading ---------------------------------------------------------------------------------------------


def list_requests(
    session: Session, *, customer_id: int | None, status: str | None, page: int, per_page: int
) -> tuple[list[WriteOffRequest], int]:
    query = select(WriteOffRequest)
    if customer_id is not None:
        query = query.where(WriteOffRequest.customer_id == customer_id)
    if status:
        query = query.where(WriteOffRequest.status == status)
    return page_rows(session, query.order_by(WriteOffRequest.id.desc()), page, per_page)


def requests_json(session: Session, requests: list[WriteOffRequest]) -> list[dict[str, Any]]:
    """Each proposal with its posted lines (invoice, amount written off, provision used)."""
    lines: dict[int, list[dict[str, Any]]] = {r.id: [] for r in requests}
    rows = session.execute(
        select(WriteOff, Invoice.number)
        .join(Invoice, Invoice.id == WriteOff.invoice_id)
        .where(WriteOff.request_id.in_(list(lines)))
        .order_by(WriteOff.id)
    )
    for line, number in rows:
        lines[line.request_id].append(
            {
                "invoice_number": number,
                "amount": money_text(line.amount),
                "currency": line.currency,
                "costs": money_text(line.costs),
                "provision_used": money_text(line.provision_used),
                "posted_at": iso_text(line.posted_at),
            }
        )
    return [
        {
            "id": r.id,
            "customer_id": r.customer_id,
            "instance_id": r.instance_id,
            "case_id": r.case_id,
            "outcome": r.outcome,
            "amount": money_text(r.amount),
            "costs": money_text(r.costs),
            "currency": r.currency,
            "comment": r.comment,
            "invoices": list(r.invoices),
            "open_amount": money_text(r.open_amount),
            "write_off_amount": money_text(r.write_off_amount),
            "status": r.status,
            "requested_by": r.requested_by,
            "approved_by": list(r.approved_by),
            "decided_by": r.decided_by,
            "decision_comment": r.decision_comment,
            "created_at": iso_text(r.created_at),
            "decided_at": iso_text(r.decided_at),
            "lines": lines[r.id],
        }
        for r in requests
    ]


def customer_write_offs(session: Session, customer_id: int) -> list[dict[str, Any]]:
    """The customer's latest 50 legal outcomes, for its credit file."""
    rows, _total = list_requests(session, customer_id=customer_id, status=None, page=1, per_page=50)
    return requests_json(session, rows)

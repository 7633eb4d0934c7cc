"""Disputes and credit notes: a customer contests amounts of invoices; the owner group investigates and
proposes; an approved credit posts a credit note that lowers each invoice by its share.

A dispute holds its amounts out of dunning (Invoice.disputed_amount, the sum of the open disputes' lines of
the invoice) until it closes; the rest of each invoice is dunned as before. A credit never exceeds the
disputed amount, and it lowers only the disputed invoices, never by more than their open amount (what a
payment settled meanwhile becomes the customer's credit balance).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflows.credit import fx, roles
from workflows.credit.dispute_input import REASONS as REASONS
from workflows.credit.dispute_input import DisputeInput as DisputeInput
from workflows.credit.dispute_input import LineInput as LineInput
from workflows.credit.dispute_input import invalid
from workflows.credit.dispute_input import parse_dispute as parse_dispute
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.definitions.deploy import QUEUED_START
from workflows.definitions.versions import latest_definition
from workflows.errors import Invalid, NotFound
from workflows.messages import _
from workflows.money import format_money
from workflows.store.audit import record_event
from workflows.store.models import Base, Decimal2, InstanceStatus, ProcessInstance, Timer

ZERO = Decimal("0.00")
ACCEPT, REJECT = "accept", "reject"


class DisputeStatus:
    OPEN = "open"  # the owner group investigates
    PROPOSED = "proposed"  # a credit waits for its approval
    REJECTED = "rejected"  # the owner found the invoices right: dunned again
    RESOLVED = "resolved"  # accepted without a credit (e.g. goods replaced): the hold ends
    CREDITED = "credited"  # a credit note was posted
    REFUSED = "refused"  # the approver refused the proposed credit: dunned again
    ACTIVE = (OPEN, PROPOSED)
    ALL = (OPEN, PROPOSED, REJECTED, RESOLVED, CREDITED, REFUSED)


class Dispute(Base):
    """One customer's dispute of amounts on some of its invoices, and how it was settled."""

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_customer_status", "customer_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("dunning_cases.id"))  # raised in a dunning case
    owner_group: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    disputed_amount: Mapped[Decimal] = mapped_column(Decimal2)  # the sum of its lines
    status: Mapped[str] = mapped_column(String(20), default=DisputeStatus.OPEN)
    proposal: Mapped[str | None] = mapped_column(String(10))  # accept | reject
    proposed_credit: Mapped[Decimal | None] = mapped_column(Decimal2)
    proposed_credit_base: Mapped[Decimal | None] = mapped_column(Decimal2)  # None: no exchange rate
    proposal_comment: Mapped[str] = mapped_column(Text, default="")
    proposed_by: Mapped[str | None] = mapped_column(String(80))
    proposed_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(80))  # the approver, or who refused
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    credited_amount: Mapped[Decimal] = mapped_column(Decimal2, default=ZERO)
    raised_by: Mapped[str] = mapped_column(String(80))
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class DisputeLine(Base):
    """One disputed invoice of a dispute: how much of it, and why."""

    __tablename__ = "dispute_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    reason: Mapped[str] = mapped_column(String(20))
    credited: Mapped[Decimal] = mapped_column(Decimal2, default=ZERO)


class CreditNote(Base):
    """Posted, never changed: a credit that lowered an invoice, the dispute it settles and who approved it."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        Index("ix_credit_notes_customer", "customer_id", "posted_at"),
        Index("ix_credit_notes_posted_at", "posted_at"),  # the KPI fast path (migration 0014f)
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    invoice_number: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    # The part of `amount` the invoice no longer owed (paid meanwhile): kept as the customer's credit balance.
    to_balance: Mapped[Decimal] = mapped_column(Decimal2, default=ZERO)
    dispute_id: Mapped[int] = mapped_column(ForeignKey("disputes.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    approved_by: Mapped[list[Any]]
    requested_by: Mapped[str] = mapped_column(String(80))
    posted_at: Mapped[datetime]


# --- opening ---------------------------------------------------------------------------------------------


def open_dispute(
    session: Session,
    data: DisputeInput,
    *,
    raised_by: str,
    now: datetime,
    instance_id: int | None = None,
    case_id: int | None = None,
) -> Dispute:
    """Open a dispute and hold its amounts out of dunning.

    Each line names an open invoice of the customer, for at most what is open and not already disputed.

    Raises:
        NotFound: no such customer.  Invalid: naming each line that does not fit.
    """
    customer = session.get(Customer, data.customer_id)
    if customer is None:
        raise NotFound(_("customer %(customer_id)s does not exist", customer_id=data.customer_id))
    numbers = [line.number for line in data.lines]
    invoices = {
        i.number: i
        for i in session.scalars(
            select(Invoice).where(Invoice.number.in_(numbers)).order_by(Invoice.id).with_for_update()
        )
    }
    errors: dict[str, str] = {}
    for index, line in enumerate(data.lines):
        invoice = invoices.get(line.number)
        where = f"invoices[{index}]"
        # Another customer's invoice reads as unknown: a dispute does not tell which numbers exist.
        if invoice is None or invoice.customer_id != customer.id:
            errors[f"{where}.number"] = _(
                "Customer %(customer_id)s has no invoice %(line_number)s.",
                customer_id=customer.id,
                line_number=line.number,
            )
        elif invoice.status != InvoiceStatus.OPEN:
            errors[f"{where}.number"] = _(
                "Invoice %(line_number)s is %(invoice_status)s, not open.",
                line_number=line.number,
                invoice_status=invoice.status,
            )
        elif line.amount > invoice.open_amount - invoice.disputed_amount:
            free = max(ZERO, invoice.open_amount - invoice.disputed_amount)
            errors[f"{where}.amount"] = _(
                "Invoice %(line_number)s has %(free)s open and not yet disputed; %(line_amount)s is more.",
                line_number=line.number,
                free=format_money(free, invoice.currency),
                line_amount=format_money(line.amount, invoice.currency),
            )
    if errors:
        raise invalid(_("the dispute cannot be opened"), errors)
    dispute = Dispute(
        customer_id=customer.id,
        instance_id=instance_id,
        case_id=case_id,
        owner_group=data.owner_group,
        description=data.description,
        currency=customer.currency,
        disputed_amount=sum((line.amount for line in data.lines), ZERO),
        status=DisputeStatus.OPEN,
        raised_by=raised_by,
        opened_at=now,
    )
    session.add(dispute)
    session.flush()
    for line in data.lines:
        invoice = invoices[line.number]
        invoice.disputed_amount += line.amount
        session.add(
            DisputeLine(
                dispute_id=dispute.id,
                invoice_id=invoice.id,
                invoice_number=invoice.number,
                amount=line.amount,
                reason=line.reason,
            )
        )
    record_event(
        session,
        actor=raised_by,
        action="dispute_opened",
        now=now,
        instance_id=instance_id,
        dispute_id=dispute.id,
        customer_id=customer.id,
        owner_group=dispute.owner_group,
        lines=[
            {"invoice": ln.number, "amount": f"{ln.amount:.2f}", "reason": ln.reason} for ln in data.lines
        ],
        before={"disputed": None},
        after={"disputed": f"{dispute.disputed_amount:.2f}", "status": dispute.status},
    )
    return dispute


def queue_resolution(
    session: Session, dispute: Dispute, data: Mapping[str, Any], *, started_by: str, now: datetime
) -> int:
    """Queue a `dispute_resolution` instance for a dispute opened elsewhere (a dunning case's `dispute`
    message), started by who raised it; the next timer sweep (the scheduler, `tick`) runs it into the
    owner group's inbox. Returns its id.

    Raises:
        Invalid: dispute_resolution is not deployed (nothing is written).
    """
    definition = latest_definition(session, roles.DISPUTE_RESOLUTION, required=False)
    if definition is None:
        raise Invalid(
            _(
                "%(dispute_resolution)s is not deployed, so the dispute has no process "
                "to settle it; run `creditflow init`, then send the dispute again",
                dispute_resolution=roles.DISPUTE_RESOLUTION,
            )
        )
    due = now - timedelta(microseconds=1)  # due already, as deploy queues definition_approval
    instance = ProcessInstance(
        definition_id=definition.id,
        process_key=definition.process_key,
        version=definition.version,
        business_key=str(dispute.customer_id),
        status=InstanceStatus.RUNNING,
        state="",  # queued: engine.step.resume starts it on this data
        data=dict(data),
        waits=[["timer", QUEUED_START, due.isoformat()]],
        started_by=started_by,
        started_at=now,
        updated_at=now,
    )
    session.add(instance)
    session.flush()
    session.add(Timer(instance_id=instance.id, bpmn_id=QUEUED_START, due_at=due))
    dispute.instance_id = instance.id
    return instance.id


# --- proposal, credit, closing ---------------------------------------------------------------------------


def lines_of(session: Session, dispute: Dispute) -> list[DisputeLine]:
    return list(
        session.scalars(
            select(DisputeLine).where(DisputeLine.dispute_id == dispute.id).order_by(DisputeLine.id)
        )
    )


def record_proposal(
    session: Session,
    dispute: Dispute,
    *,
    decision: str,
    credit: Decimal | None,
    comment: str,
    by: str,
    now: datetime,
    base_currency: str,
) -> Dispute:
    """The owner group's finding: reject, or accept with a credit from zero up to the disputed amount.

    The credit's value in the base currency (for the authority table) is taken at today's rate; with no
    rate it stays None and the credit manager decides.

    Raises:
        Invalid: naming the field.  Conflict-like Invalid: the dispute is not open.
    """
    if dispute.status != DisputeStatus.OPEN:
        raise Invalid(
            _(
                "dispute %(dispute_id)s is %(dispute_status)s; only an open dispute takes a proposal",
                dispute_id=dispute.id,
                dispute_status=dispute.status,
            )
        )
    if decision not in (ACCEPT, REJECT):
        raise invalid(
            _("dispute %(dispute_id)s", dispute_id=dispute.id), {"decision": _("Must be accept or reject.")}
        )
    amount = ZERO if credit is None else credit
    if decision == REJECT and amount != 0:
        raise invalid(
            _("dispute %(dispute_id)s", dispute_id=dispute.id),
            {"credit_amount": _("Must be empty or 0 when the dispute is rejected.")},
        )
    if amount < 0 or amount > dispute.disputed_amount or amount != amount.quantize(Decimal("0.01")):
        limit = format_money(dispute.disputed_amount, dispute.currency)
        raise invalid(
            _("dispute %(dispute_id)s", dispute_id=dispute.id),
            {
                "credit_amount": _(
                    "Must be from 0 to %(limit)s, the disputed amount, in cents; not %(amount)s.",
                    limit=limit,
                    amount=amount,
                )
            },
        )
    before = _proposal_fields(dispute)
    try:
        base = fx.to_base(session, amount, dispute.currency, now.date(), base_currency)
    except fx.MissingRate:
        base = None  # no guess: the authority table sends it to the credit manager
    dispute.proposal, dispute.proposed_credit, dispute.proposed_credit_base = decision, amount, base
    dispute.proposal_comment, dispute.proposed_by, dispute.proposed_at = comment, by, now
    if decision == ACCEPT and amount > 0:
        dispute.status = DisputeStatus.PROPOSED
    record_event(
        session,
        actor=by,
        action="dispute_proposed",
        now=now,
        instance_id=dispute.instance_id,
        dispute_id=dispute.id,
        before=before,
        after=_proposal_fields(dispute),
    )
    return dispute


def _proposal_fields(dispute: Dispute) -> dict[str, Any]:
    return {
        "status": dispute.status,
        "proposal": dispute.proposal,
        "proposed_credit": None if dispute.proposed_credit is None else f"{dispute.proposed_credit:.2f}",
        "proposed_by": dispute.proposed_by,
    }

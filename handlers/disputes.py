"""Service operations of dispute_resolution: open the dispute, record the owner's proposal, post the
approved credit note (a money move), close without a credit, and tell the customer and the collector."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from handlers.approvals import authority_groups, require_approvals, started_by_one_of
from workflows.credit import roles
from workflows.credit.credit_notes import close_without_credit, post_credit
from workflows.credit.disputes import (
    ACCEPT,
    CreditNote,
    Dispute,
    DisputeLine,
    DisputeStatus,
    lines_of,
    open_dispute,
    parse_dispute,
    record_proposal,
)
from workflows.credit.models import Customer
from workflows.credit.watchlist import flag_customer
from workflows.engine.service_tasks import Approval, HandlerInputError, MissingApprovals, TaskContext
from workflows.mail.outbox import queue_email
from workflows.mail.recipients import known_language
from workflows.messages import _
from workflows.money import format_money
from workflows.store.models import User

AUTHORITY_TABLE = ("dispute_credit_authority.dmn", "dispute_credit_authority")
POST_CREDIT = "dispute.post_credit"


def own_dispute(ctx: TaskContext, dispute_id: int, operation: str) -> Dispute:
    """The dispute this instance settles; another instance's dispute is refused (a one-man diagram could
    otherwise credit any dispute).

    Raises:
        HandlerInputError: no such dispute, or it belongs to another instance.
    """
    dispute = ctx.session.get(Dispute, dispute_id, with_for_update=True)
    if dispute is None or dispute.instance_id != ctx.instance_id:
        raise HandlerInputError(
            _(
                "%(operation)s in instance %(instance)s: dispute %(dispute)s is not this instance's dispute",
                operation=operation,
                instance=ctx.instance_id,
                dispute=dispute_id,
            )
        )
    return dispute


def dispute_json(ctx: TaskContext, dispute: Dispute) -> dict[str, Any]:
    """What the tasks show and the e-mails say about a dispute."""
    customer = ctx.session.get(Customer, dispute.customer_id)
    assert customer is not None
    lines = lines_of(ctx.session, dispute)
    return {
        "dispute_id": dispute.id,
        "customer_id": customer.id,
        "customer_name": customer.name,
        "customer_email": customer.email,
        "currency": dispute.currency,
        "disputed_amount": dispute.disputed_amount,
        "owner_group": dispute.owner_group,
        "description": dispute.description,
        "raised_by": dispute.raised_by,
        "lines": [{"number": ln.invoice_number, "amount": ln.amount, "reason": ln.reason} for ln in lines],
        # The lines as one text for the task instructions (a template loop would need the script worker).
        "lines_text": ", ".join(f"{ln.invoice_number} {ln.amount:.2f} ({ln.reason})" for ln in lines),
    }


# --- open ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenDisputeRequest:
    customer_id: Any
    invoices: Any
    owner_group: Any
    description: Any = ""


def open_(ctx: TaskContext, req: OpenDisputeRequest) -> dict[str, Any]:
    """Open the dispute the start data names and hold its amounts out of dunning; a dispute a dunning case
    opened for this (queued) instance is taken as it is.

    Only an instance started by collections (or an admin, the system) opens one: a dispute stops dunning.

    Raises:
        HandlerInputError: another initiator.  Invalid: naming the fields (422 to the starter).
    """
    queued = ctx.session.scalar(select(Dispute).where(Dispute.instance_id == ctx.instance_id))
    if queued is not None:
        return dispute_json(ctx, queued)
    if not started_by_one_of(ctx, [roles.COLLECTIONS]):
        raise HandlerInputError(
            _(
                "dispute.open in instance %(instance)s: disputes are raised by collections, not by an "
                "instance %(starter)s started",
                instance=ctx.instance_id,
                starter=ctx.started_by,
            )
        )
    data = parse_dispute(
        {
            "customer_id": req.customer_id,
            "invoices": req.invoices,
            "owner_group": req.owner_group,
            "description": req.description,
        }
    )
    dispute = open_dispute(
        ctx.session, data, raised_by=ctx.started_by, now=ctx.now, instance_id=ctx.instance_id
    )
    # The customer's dispute rate moved: the watchlist evaluates it now (a savepoint of this step).
    flag_customer(
        ctx.session, data.customer_id, ctx.now, base=ctx.settings.credit.base_currency, actor=ctx.started_by
    )
    return dispute_json(ctx, dispute)


# --- the owner's proposal ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProposalRequest:
    dispute_id: int
    decision: str
    credit_amount: Decimal | None = None
    comment: str = ""


@dataclass(frozen=True)
class Proposal:
    decision: str
    credit_amount: Decimal
    needs_approval: bool  # a credit above zero
    rate_known: bool
    # What the authority table weighs, in the base currency (0 when a rate is missing: see rate_known): this
    # credit plus the rest of the same claim (`weighed_credit`), so a claim split into disputes under the
    # lead's threshold goes to the credit manager.
    credit_base: Decimal
    proposed_by: str
    base_currency: str = ""  # credit_base's currency, so the approver's text shows its symbol


def propose(ctx: TaskContext, req: ProposalRequest) -> Proposal:
    """Record who proposed what (the person completing the owner's task).

    Raises:
        Invalid: a credit below zero or above the disputed amount, or a credit on a rejection (422).
    """
    dispute = own_dispute(ctx, req.dispute_id, "dispute.record_proposal")
    record_proposal(
        ctx.session,
        dispute,
        decision=req.decision,
        credit=req.credit_amount,
        comment=req.comment,
        by=ctx.actor or ctx.started_by,
        now=ctx.now,
        base_currency=ctx.settings.credit.base_currency,
    )
    credit = dispute.proposed_credit or Decimal("0.00")
    base = weighed_credit(ctx.session, dispute)
    return Proposal(
        dispute.proposal or req.decision,
        credit,
        dispute.status == DisputeStatus.PROPOSED,
        base is not None,
        base if base is not None else Decimal("0.00"),
        dispute.proposed_by or "",
        ctx.settings.credit.base_currency,
    )


# --- the credit note (moves money) ------------------------------------------------------------------------


@dataclass(frozen=True)
class DisputeRequest:
    dispute_id: int


@dataclass(frozen=True)
class CreditPosted:
    amount: Decimal
    credit_notes: list[dict[str, Any]]
    approved_by: list[str]


def credit_approvals(ctx: TaskContext, req: DisputeRequest) -> list[Approval]:
    """The approval a dispute's credit needs: the group dispute_credit_authority.dmn names for its amount in
    the base currency with the rest of its claim (`weighed_credit`; the credit manager when no rate is
    known), given after the proposal, by someone who neither raised the dispute nor proposed the credit,
    whatever four-eyes rule the diagram has.

    Raises:
        MissingApprovals: no credit proposed, or the approval is missing.
    """
    dispute = own_dispute(ctx, req.dispute_id, POST_CREDIT)
    if dispute.status != DisputeStatus.PROPOSED or dispute.proposed_credit is None:
        raise MissingApprovals(
            _(
                "%(operation)s in instance %(instance)s: dispute %(dispute)s has no credit proposed",
                operation=POST_CREDIT,
                instance=ctx.instance_id,
                dispute=dispute.id,
            )
        )
    base = weighed_credit(ctx.session, dispute)
    proposal = {"credit_base": base if base is not None else Decimal("0.00"), "rate_known": base is not None}
    inputs = {"proposal": proposal}
    groups = authority_groups(ctx, POST_CREDIT, AUTHORITY_TABLE, inputs, roles.DISPUTE_CREDIT_AUTHORITY)
    excluded = sorted({name for name in (dispute.raised_by, dispute.proposed_by) if name})
    what = _(
        "a credit note of %(amount)s for dispute %(dispute)s, raised by %(raiser)s and "
        "proposed by %(proposer)s",
        amount=format_money(dispute.proposed_credit, dispute.currency),
        dispute=dispute.id,
        raiser=dispute.raised_by,
        proposer=dispute.proposed_by,
    )
    return require_approvals(ctx, POST_CREDIT, groups, what, excluded=excluded, since=dispute.proposed_at)


def weighed_credit(session: Session, dispute: Dispute) -> Decimal | None:
    """The credit the authority table weighs, in the base currency: this dispute's proposed credit plus
    the customer's other credits of the same claim, so that one claim split into disputes of 4,999 each is
    approved as what it is, not as many credits under the lead's threshold:

    - credits of the customer's disputes proposed before this one while this dispute was open (whatever
      became of them: the sum is fixed once proposed, so the routing and the check at posting agree), and
    - credits posted earlier on any of this dispute's invoices.

    None when one of them has no exchange rate (the credit manager decides). A later, unrelated dispute
    (opened after the earlier one closed, on other invoices) is weighed alone.
    """
    own = dispute.proposed_credit_base
    if own is None or dispute.proposed_at is None:
        return own
    invoices = select(DisputeLine.invoice_id).where(DisputeLine.dispute_id == dispute.id)
    sharing = select(DisputeLine.dispute_id).where(DisputeLine.invoice_id.in_(invoices))
    before = or_(
        Dispute.proposed_at < dispute.proposed_at,
        and_(Dispute.proposed_at == dispute.proposed_at, Dispute.id < dispute.id),
    )
    others = session.scalars(
        select(Dispute.proposed_credit_base).where(
            Dispute.customer_id == dispute.customer_id,
            Dispute.id != dispute.id,
            Dispute.proposal == ACCEPT,
            Dispute.proposed_credit > 0,
            before,
            or_(
                Dispute.closed_at.is_(None),
                Dispute.closed_at >= dispute.opened_at,
                and_(Dispute.status == DisputeStatus.CREDITED, Dispute.id.in_(sharing)),
            ),
        )
    ).all()
    if any(base is None for base in others):
        return None
    return own + sum((base for base in others if base is not None), Decimal("0.00"))


def post_credit_note(ctx: TaskContext, req: DisputeRequest) -> CreditPosted:
    """Post the approved credit as credit notes on the disputed invoices (checked by `credit_approvals`
    before it runs) and end the hold."""
    dispute = own_dispute(ctx, req.dispute_id, POST_CREDIT)
    approvers = [a.user for a in ctx.approvals]
    notes = post_credit(ctx.session, dispute, approved_by=approvers, now=ctx.now)
    return CreditPosted(dispute.credited_amount, [_note(n) for n in notes], approvers)


def _note(note: CreditNote) -> dict[str, Any]:
    return {"id": note.id, "invoice_number": note.invoice_number, "amount": note.amount}


# --- closing without a credit, and the e-mails ----------------------------------------------------------


@dataclass(frozen=True)
class CloseRequest:
    dispute_id: int
    outcome: str  # rejected | resolved | refused
    comment: str = ""


@dataclass(frozen=True)
class DisputeClosed:
    outcome: str
    closed_by: str


def close(ctx: TaskContext, req: CloseRequest) -> DisputeClosed:
    """End the hold without a credit note: the invoices are dunned again in full."""
    if req.outcome not in (DisputeStatus.REJECTED, DisputeStatus.RESOLVED, DisputeStatus.REFUSED):
        raise HandlerInputError(
            _(
                "dispute.close: outcome must be rejected, resolved or refused, not '%(outcome)s'",
                outcome=req.outcome,
            )
        )
    dispute = own_dispute(ctx, req.dispute_id, "dispute.close")
    by = ctx.actor or ctx.started_by
    close_without_credit(ctx.session, dispute, outcome=req.outcome, by=by, comment=req.comment, now=ctx.now)
    return DisputeClosed(req.outcome, by)


@dataclass(frozen=True)
class Told:
    customer: bool
    raised_by: bool


def notify_outcome(ctx: TaskContext, req: DisputeRequest) -> Told:
    """E-mail the outcome to the customer and to the collector who raised the dispute (once each, whatever
    retries happen); a missing address is skipped and said so in the result."""
    dispute = own_dispute(ctx, req.dispute_id, "dispute.notify_outcome")
    if dispute.status in DisputeStatus.ACTIVE:
        raise HandlerInputError(
            _(
                "dispute.notify_outcome: dispute %(dispute)s is still %(status)s",
                dispute=dispute.id,
                status=dispute.status,
            )
        )
    context = {
        **dispute_json(ctx, dispute),
        "outcome": dispute.status,
        "credited_amount": dispute.credited_amount,
    }
    context["notes"] = [
        {"invoice_number": n.invoice_number, "amount": n.amount}
        for n in ctx.session.scalars(select(CreditNote).where(CreditNote.dispute_id == dispute.id))
    ]
    sent = {}
    collector = ctx.session.scalar(select(User.email).where(User.username == dispute.raised_by, User.active))
    customer = ctx.session.get(Customer, dispute.customer_id)  # dispute_json loaded it: no query
    assert customer is not None
    for who, address in (("customer", context["customer_email"]), ("raised_by", collector)):
        to_customer = who == "customer"
        if address:
            queue_email(
                ctx.session,
                to=[address],
                template="dispute_outcome",
                context={**context, "to_customer": to_customer, "contact_name": customer.contact_name},
                dedupe_key=f"dispute:{dispute.id}:outcome:{who}",
                now=ctx.now,
                instance_id=ctx.instance_id,
                # The customer's letter in the customer's language; the collector's in theirs (by address).
                language=known_language(customer.language) if to_customer else None,
            )
        sent[who] = bool(address)
    return Told(sent["customer"], sent["raised_by"])

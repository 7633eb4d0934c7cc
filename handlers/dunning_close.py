"""The dunning process's last step: close the case, lift the block it set when the outcome allows, and send a
legal outcome to a write_off instance (split from handlers/dunning.py, which opens and reviews the case)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from handlers.dunning import CLOSED_NO_LONGER_OVERDUE, CLOSED_PAID, add_event, load_case
from handlers.write_offs import queue_write_off
from workflows.credit import write_offs
from workflows.credit.customers import get_customer
from workflows.credit.models import DunningStatus, Provision
from workflows.credit.provisions import audit_provision
from workflows.engine.service_tasks import TaskContext
from workflows.store.audit import changed

# Only these closes lift the case's credit block (a legal recovery in full is paid); after a settlement or a
# write-off the block stays until a credit manager lifts it (POST /api/customers/ID/unblock).
BLOCK_LIFTING_OUTCOMES = (CLOSED_PAID, CLOSED_NO_LONGER_OVERDUE, write_offs.RECOVERED)
LEGACY_LEGAL_OUTCOMES = {"written_off": write_offs.UNCOLLECTABLE}  # the legal form's choice before write_off


# --- closing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CloseRequest:
    case_id: int
    outcome: str
    # After legal (close_after_legal): what legal obtained (recovered, or the settlement; 0 when
    # uncollectable) and the matter's costs; the outcome goes to a write_off instance with them.
    amount: Decimal = Decimal("0.00")
    costs: Decimal = Decimal("0.00")
    comment: str = ""


@dataclass(frozen=True)
class Closed:
    outcome: str
    unblocked: bool
    write_off_instance: int | None = None  # the write_off instance a legal outcome started


def close_case(ctx: TaskContext, req: CloseRequest) -> Closed:
    """Close the case. Only a paid, no-longer-overdue or recovered close lifts the credit block this case
    set (paid and recovered release its provision); a settlement or an uncollectable debt keeps the block
    until a credit manager lifts it. Every legal outcome starts a write_off instance with legal's proposal,
    which writes the invoices off (settled, uncollectable) or records the recovery.

    Raises:
        HandlerInputError: the legal outcome does not fit the receivables (nothing is written).
    """
    case = load_case(ctx, req.case_id)
    customer = get_customer(ctx.session, case.customer_id)
    outcome = LEGACY_LEGAL_OUTCOMES.get(req.outcome, req.outcome)
    before = {"status": case.status, "outcome": case.outcome, "customer_blocked": customer.blocked}
    case.status, case.closed_at, case.outcome = DunningStatus.CLOSED, ctx.now, outcome
    unblocked = outcome in BLOCK_LIFTING_OUTCOMES and case.blocked_customer and customer.blocked
    if unblocked:
        customer.blocked, case.blocked_customer = False, False
    if outcome in (CLOSED_PAID, write_offs.RECOVERED):
        for provision in ctx.session.scalars(
            select(Provision).where(Provision.case_id == case.id, Provision.released_at.is_(None))
        ):
            provision.released_at = ctx.now
            audit_provision(ctx.session, provision, actor=ctx.actor or "system", instance_id=ctx.instance_id)
    write_off = None
    if outcome in write_offs.OUTCOMES:
        proposal = write_offs.Proposal(customer.id, outcome, req.amount, req.costs, req.comment)
        write_off = queue_write_off(ctx, proposal, case.id)
    after = {"status": case.status, "outcome": case.outcome, "customer_blocked": customer.blocked}
    add_event(
        ctx,
        case,
        "closed",
        outcome=outcome,
        unblocked=unblocked,
        write_off_instance=write_off,
        **changed(before, after),
    )
    return Closed(outcome, unblocked, write_off)

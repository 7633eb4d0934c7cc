"""A customer's dispute raised from a dunning case: the disputed invoices leave the case's dunning and a
dispute_resolution instance of its own settles them (see handlers/disputes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from handlers.dunning import add_event, load_case
from workflows.credit.disputes import open_dispute, parse_dispute, queue_resolution
from workflows.credit.models import DunningCase, Invoice, InvoiceStatus
from workflows.credit.receivables import overdue_invoices
from workflows.credit.record_fields import money_text
from workflows.credit.watchlist import flag_customer
from workflows.engine.service_tasks import TaskContext
from workflows.errors import Invalid
from workflows.messages import _
from workflows.users import SYSTEM_ACTOR


@dataclass(frozen=True)
class RaiseDisputeRequest:
    case_id: int
    owner_group: Any  # who investigates: sales, logistics or finance
    invoices: Any = None  # the `dispute` message's [{number, amount, reason}]
    # The call form's: comma-separated numbers (empty: every overdue invoice), each disputed in full (its
    # undisputed open amount), all for one reason.
    invoice_numbers: Any = None
    reason: Any = "other"
    description: Any = ""


@dataclass(frozen=True)
class RaisedDispute:
    dispute_id: int
    instance_id: int
    invoices: list[str]
    disputed_amount: Decimal


def raise_dispute(ctx: TaskContext, req: RaiseDisputeRequest) -> RaisedDispute:
    """Open a dispute on the customer's invoices, holding the disputed amounts out of this case (the rest is
    dunned on), and queue the `dispute_resolution` instance that settles it, started by who raised it (the
    sender of the message, or the collector who made the call). Nothing here credits anything.

    Raises:
        Invalid: naming each bad field or invoice (the sender gets 422 and nothing is written).
    """
    case = load_case(ctx, req.case_id)
    lines = req.invoices
    if lines is None:
        lines = _whole_invoices(ctx, case, req.invoice_numbers, req.reason)
    raw = {
        "customer_id": case.customer_id,
        "invoices": lines,
        "owner_group": req.owner_group,
        "description": req.description or "",
    }
    data = parse_dispute(raw)
    raised_by = ctx.actor or SYSTEM_ACTOR
    dispute = open_dispute(ctx.session, data, raised_by=raised_by, now=ctx.now, case_id=case.id)
    # The customer's dispute rate moved: the watchlist evaluates it now (a savepoint of this step).
    flag_customer(
        ctx.session, case.customer_id, ctx.now, base=ctx.settings.credit.base_currency, actor=raised_by
    )
    named = [{"number": ln.number, "amount": f"{ln.amount:.2f}", "reason": ln.reason} for ln in data.lines]
    start = {**raw, "invoices": named, "description": data.description}
    instance_id = queue_resolution(ctx.session, dispute, start, started_by=raised_by, now=ctx.now)
    add_event(
        ctx,
        case,
        "dispute_opened",
        dispute_id=dispute.id,
        instance_id=instance_id,
        owner_group=data.owner_group,
        invoices=named,
        before={"held": None},
        after={"held": money_text(dispute.disputed_amount)},
    )
    return RaisedDispute(dispute.id, instance_id, [ln.number for ln in data.lines], dispute.disputed_amount)


def _whole_invoices(ctx: TaskContext, case: DunningCase, numbers: Any, reason: Any) -> list[dict[str, Any]]:
    """The call form's invoices as dispute lines, each for its whole undisputed open amount.

    Raises:
        Invalid: a number that is no open invoice of the customer, or nothing left to dispute.
    """
    items = numbers.split(",") if isinstance(numbers, str) else list(numbers or [])
    wanted = [str(n).strip() for n in items if str(n).strip()]
    query = select(Invoice).where(
        Invoice.customer_id == case.customer_id, Invoice.status == InvoiceStatus.OPEN
    )
    if wanted:
        found = {i.number: i for i in ctx.session.scalars(query.where(Invoice.number.in_(wanted)))}
        unknown = [n for n in wanted if n not in found]
        if unknown:
            listed = {"id": case.customer_id, "listed": ", ".join(unknown)}
            raise Invalid(
                _("disputed_invoices: customer %(id)s has no open invoice %(listed)s", **listed),
                details={"fields": {"disputed_invoices": _("No open invoice %(listed)s.", **listed)}},
            )
        invoices = [found[n] for n in dict.fromkeys(wanted)]
    else:
        invoices = overdue_invoices(ctx.session, case.customer_id, ctx.now.date())
    lines = [
        {"number": i.number, "amount": i.undisputed_amount, "reason": reason}
        for i in invoices
        if i.undisputed_amount > 0
    ]
    if not lines:
        raise Invalid(
            _("disputed_invoices: nothing of these invoices is open and undisputed"),
            details={"fields": {"disputed_invoices": _("Nothing is left to dispute.")}},
        )
    return lines

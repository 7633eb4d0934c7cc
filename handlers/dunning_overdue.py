"""A dunning case's overdue invoices, read once per step (issue 19).

A dunning step asks for the customer's overdue invoices several times: a case start opens the case,
reviews it, escalates it (the day the next level falls due) and sends the notice (every invoice, named),
and reviews it again; these reads were 11-14 % of a start's CPU. None of those handlers changes an invoice,
so the first read holds for the next ones: it is kept in the step's `TaskContext.reads` for as long as
only such handlers run. Each of them says so as its first statement (`changes_no_invoice`); any other
handler of the step (a dispute holding amounts out, a write-off, an operation of someone's own diagram)
ends the reuse, as does a new step: a payment posted between two steps is always seen.

The read is a Core SELECT on the invoices table (no ORM objects: the handlers only read the rows); the
step flushes its own writes before each handler (engine/step.py), so it sees them as an ORM query would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, select

from workflows.credit.models import Invoice, InvoiceStatus
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.credit.receivables import invoice_json
from workflows.engine.service_tasks import TaskContext

_INVOICES = cast(Table, Invoice.__table__)
_OVERDUE = (
    select(
        _INVOICES.c.id,
        _INVOICES.c.customer_id,
        _INVOICES.c.number,
        _INVOICES.c.amount,
        _INVOICES.c.open_amount,
        _INVOICES.c.currency,
        _INVOICES.c.issue_date,
        _INVOICES.c.due_date,
        _INVOICES.c.status,
        _INVOICES.c.disputed_amount,
    )
    .where(
        _INVOICES.c.customer_id == bindparam("customer_id"),
        _INVOICES.c.status == InvoiceStatus.OPEN,
        _INVOICES.c.open_amount > _INVOICES.c.disputed_amount,
        _INVOICES.c.due_date < bindparam("due_before"),
    )
    .order_by(_INVOICES.c.due_date, _INVOICES.c.id)
)


@dataclass(frozen=True, slots=True)
class OverdueInvoice:
    """An overdue invoice as read (the columns `receivables.invoice_json` shows)."""

    id: int
    customer_id: int
    number: str
    amount: Decimal
    open_amount: Decimal
    currency: str
    issue_date: date
    due_date: date
    status: str
    disputed_amount: Decimal

    @property
    def undisputed_amount(self) -> Decimal:
        """What of it is open and not disputed: the part dunning acts on (as `Invoice.undisputed_amount`)."""
        return max(Decimal("0.00"), self.open_amount - self.disputed_amount)

    @property
    def disputed(self) -> bool:
        """Whether an open dispute holds part of it (as `Invoice.disputed`)."""
        return self.disputed_amount > 0

    def notice_line(self, today: date) -> dict[str, Any]:
        """The invoice as a notice names it: `receivables.invoice_json`, its open amount the undisputed part
        (a notice duns only what open disputes do not hold)."""
        return {**invoice_json(self, today), "open_amount": f"{self.undisputed_amount:.2f}"}


def _kept(ctx: TaskContext) -> dict[Any, Any]:
    """This module's part of the step's reads: "through", the last handler number they hold for, and the
    reads by (customer, day)."""
    return cast(dict[Any, Any], ctx.reads.setdefault(__name__, {}))


def changes_no_invoice(ctx: TaskContext) -> None:
    """Called first by a handler that changes no invoice: the reads kept before it still hold after it."""
    kept = _kept(ctx)
    if ctx.call and kept.get("through") == ctx.call - 1:
        kept["through"] = ctx.call


def overdue_invoices(ctx: TaskContext, customer_id: int) -> tuple[OverdueInvoice, ...]:
    """The customer's open invoices past due today with an undisputed part, oldest first (as
    `receivables.overdue_invoices` with no grace); read once while only handlers that change no invoice run.
    The caller must have called `changes_no_invoice` first, or the read is not reused."""
    kept, key = _kept(ctx), (customer_id, ctx.now.date())
    if ctx.call and kept.get("through") == ctx.call and key in kept:
        return cast(tuple[OverdueInvoice, ...], kept[key])
    rows = ctx.session.execute(_OVERDUE, {"customer_id": customer_id, "due_before": ctx.now.date()})
    found = tuple(OverdueInvoice(**row._mapping) for row in rows)
    if ctx.call:  # in a step (a context built elsewhere, e.g. by a test, keeps nothing)
        if kept.get("through") != ctx.call:
            kept.clear()  # kept before another handler ran: it may have changed invoices
        kept[key], kept["through"] = found, ctx.call
    return found


# promises.open_promise's question, asked in Core: most reviews find no open promise, and the ORM's select
# of a whole DunningPromise cost twice as much to find none (two reviews in a case's first step).
_PROMISES = cast(Table, DunningPromise.__table__)
_OPEN_PROMISE_ID = (
    select(_PROMISES.c.id)
    .where(_PROMISES.c.case_id == bindparam("case_id"), _PROMISES.c.status == PromiseStatus.OPEN)
    .order_by(_PROMISES.c.id.desc())
    .limit(1)
)


def open_promise_id(ctx: TaskContext, case_id: int) -> int | None:
    """The id of the case's open promise, if any. "None" is kept like the invoices (issue 19: a case start
    reviews twice): the handlers that change no invoice make no promise either (they only judge one, which
    ends it), so none stays none while only they run. A promise found is read again every time."""
    kept = _kept(ctx)
    if ctx.call and kept.get("through") == ctx.call and ("no promise", case_id) in kept:
        return None
    found = ctx.session.execute(_OPEN_PROMISE_ID, {"case_id": case_id}).scalar()
    if found is None:
        no_promise_yet(ctx, case_id)
    return None if found is None else int(found)


def no_promise_yet(ctx: TaskContext, case_id: int) -> None:
    """Keep that the case has no open promise (it was just opened, or none was found)."""
    if ctx.call:
        kept = _kept(ctx)
        if kept.get("through") != ctx.call:
            kept.clear()  # kept before another handler ran: it may have made a promise
        kept[("no promise", case_id)], kept["through"] = True, ctx.call

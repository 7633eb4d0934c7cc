"""Dunning operations that climb the ladder: escalate one level (its fee, the credit block) and send the
level's notice, which names the day the next step falls due and, when the currency's policy claims it,
statutory late-payment interest (dunning_charges.dmn)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from handlers.dunning import LEGAL_LEVEL, add_event, load_case
from handlers.dunning_overdue import changes_no_invoice, overdue_invoices
from workflows.credit.customers import get_customer
from workflows.credit.models import DunningCase
from workflows.credit.record_fields import iso_text, money_text
from workflows.engine.service_tasks import HandlerInputError, TaskContext
from workflows.mail.letter_names import dunning_notice_files
from workflows.mail.outbox import queue_email
from workflows.mail.recipients import known_language
from workflows.messages import _
from workflows.store.audit import changed
from workflows.store.core_writes import update_as_loaded

NOTICE_TITLES = {1: "Payment reminder", 2: "Second reminder", 3: "Final demand"}
PDF_FROM_LEVEL = 2  # notices from this level on carry a PDF letter too
CENT = Decimal("0.01")


# --- escalation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EscalateRequest:
    case_id: int
    # The ladder of the grade the last review read, and the fees of the case's currency
    # (dunning_charges.dmn); versions before 0012c pass neither: no fee, no date of the next step.
    level_2_days: int | None = None
    level_3_days: int | None = None
    level_4_days: int | None = None
    fee_level_1: Decimal = Decimal("0.00")
    fee_level_2: Decimal = Decimal("0.00")
    fee_level_3: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class Escalation:
    level: int
    fees: Decimal
    blocked: bool
    next_level_at: str  # ISO day the next step falls due on the ladder ("" at the last level or unknown)


def escalate(ctx: TaskContext, req: EscalateRequest) -> Escalation:
    """Move the case up one level: the level's fee (dunning_charges.dmn, by currency) is added, L3
    credit-blocks the customer. Returns the day the next step falls due, for the letter to name."""
    changes_no_invoice(ctx)
    case = load_case(ctx, req.case_id)
    customer = get_customer(ctx.session, case.customer_id)
    fee = _fee({1: req.fee_level_1, 2: req.fee_level_2, 3: req.fee_level_3}.get(case.level + 1, Decimal(0)))
    before = {"level": case.level, "last_notice_at": iso_text(case.last_notice_at)}
    fees_before = case.fees
    level = min(case.level + 1, LEGAL_LEVEL)
    changes: dict[str, Any] = {"level": level}
    if level == LEGAL_LEVEL:  # the proposal counts as this level's action for the retry interval
        changes["last_notice_at"] = ctx.now
    charged = fee > 0 and level < LEGAL_LEVEL
    if charged:
        changes["fees"] = case.fees + fee
    blocks = level == 3 and not customer.blocked
    if blocks:
        changes["blocked_customer"] = True
    # The case's changes in one UPDATE (issue 19), before its events: each event records the new level.
    update_as_loaded(ctx.session, case, **changes)
    add_event(
        ctx,
        case,
        "level_reached",
        **changed(before, {"level": case.level, "last_notice_at": iso_text(case.last_notice_at)}),
    )
    if charged:
        add_event(
            ctx,
            case,
            "fee_added",
            amount=money_text(fee),
            currency=case.currency,
            before={"fees": money_text(fees_before)},
            after={"fees": money_text(case.fees)},
        )
    if blocks:
        customer.blocked = True
        add_event(ctx, case, "customer_blocked", before={"blocked": False}, after={"blocked": True})
    return Escalation(case.level, case.fees, customer.blocked, _next_step_day(ctx, case, req))


def _fee(value: Any) -> Decimal:
    """A fee from the charges table: a non-negative amount in cents.

    Raises:
        HandlerInputError: anything else (the table is broken; nothing is charged).
    """
    try:
        fee = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise HandlerInputError(_("dunning.escalate: the fee %(fee)r is not an amount", fee=value)) from exc
    if not fee.is_finite() or fee < 0 or fee != fee.quantize(CENT) or fee > Decimal("1000000"):
        raise HandlerInputError(
            _("dunning.escalate: the fee %(fee)r is not an amount from 0.00 to 1,000,000.00", fee=value)
        )
    return fee.quantize(CENT)


def _next_step_day(ctx: TaskContext, case: DunningCase, req: EscalateRequest) -> str:
    """The day the level after the case's new one falls due: its ladder day from the oldest overdue
    invoice's due date, and never sooner than the notice spacing allows."""
    days = {2: req.level_2_days, 3: req.level_3_days, 4: req.level_4_days}.get(case.level + 1)
    overdue = overdue_invoices(ctx, case.customer_id)
    if days is None or not overdue:
        return ""
    due = overdue[0].due_date + timedelta(days=int(days))
    spaced = ctx.now.date() + timedelta(days=ctx.settings.dunning.min_days_between_notices)
    return max(due, spaced).isoformat()


@dataclass(frozen=True)
class NoticeRequest:
    case_id: int
    level: int
    next_level_at: str = ""  # the day the next step falls due (Escalation.next_level_at)
    # Statutory late-payment interest of the case's currency (dunning_charges.dmn)
    interest_on: bool = False
    interest_reference_rate: Decimal = Decimal("0")
    interest_margin_points: Decimal = Decimal("0")


@dataclass(frozen=True)
class Notice:
    queued: bool
    invoices: list[str]


def send_notice(ctx: TaskContext, req: NoticeRequest) -> Notice:
    """E-mail the level's notice to the customer, naming every overdue invoice; once per case and level."""
    changes_no_invoice(ctx)
    case = load_case(ctx, req.case_id)
    customer = get_customer(ctx.session, case.customer_id)
    today = ctx.now.date()
    # A notice duns only what open disputes do not hold: that part is each invoice's open amount here.
    invoices = [i.notice_line(today) for i in overdue_invoices(ctx, customer.id)]
    interest = _interest(req, invoices)
    if not customer.email:
        add_event(ctx, case, "notice_undeliverable", reason=_("the customer has no e-mail address"))
        return Notice(False, [i["number"] for i in invoices])
    context = {
        "level": req.level,
        "title": NOTICE_TITLES.get(req.level, "Reminder"),
        "customer_name": customer.name,
        "contact_name": customer.contact_name,  # the notice greets them when one is on file
        "invoices": invoices,
        "total": sum((Decimal(i["open_amount"]) for i in invoices), Decimal("0.00")),
        "fees": case.fees,
        "currency": case.currency,
        "blocked": customer.blocked,
        "next_step_on": req.next_level_at,
        "interest": interest,
    }
    # One notice per case and level, whatever retries or double ticks happen.
    dedupe_key = f"dunning:{case.id}:level:{req.level}"
    language = known_language(customer.language)  # the customer's language, English when it has none we write
    row = queue_email(
        ctx.session,
        to=[customer.email],
        template="dunning_notice",
        context=context,
        dedupe_key=dedupe_key,
        now=ctx.now,
        instance_id=ctx.instance_id,
        language=language,
        # From the second reminder on the notice is also a PDF letter in the customer's language.
        pdf_letter=dunning_notice_files(case.id, req.level) if req.level >= PDF_FROM_LEVEL else "",
    )
    before = {"last_notice_at": iso_text(case.last_notice_at)}
    update_as_loaded(ctx.session, case, last_notice_at=ctx.now)
    add_event(
        ctx,
        case,
        "notice_sent",
        invoices=[i["number"] for i in invoices],
        queued=row is not None,
        next_step_on=req.next_level_at,
        interest=money_text(interest["total"]) if interest else None,
        **changed(before, {"last_notice_at": iso_text(case.last_notice_at)}),
    )
    return Notice(row is not None, [i["number"] for i in invoices])


def _interest(req: NoticeRequest, invoices: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Statutory interest to date when the currency's policy claims it: simple interest at the reference
    rate plus the margin, a year of 365 days, on each invoice's open amount from its due date."""
    if not req.interest_on:
        return None
    try:
        rate = Decimal(str(req.interest_reference_rate)) + Decimal(str(req.interest_margin_points))
    except (InvalidOperation, ValueError) as exc:
        raise HandlerInputError(_("dunning.send_notice: the interest rate is not a number")) from exc
    if not rate.is_finite() or rate < 0 or rate > 100:
        raise HandlerInputError(
            _("dunning.send_notice: an interest rate of %(rate)s %% a year is not a rate", rate=rate)
        )
    lines = {}
    for invoice in invoices:
        amount = Decimal(invoice["open_amount"]) * rate / 100 * invoice["days_overdue"] / 365
        lines[invoice["number"]] = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        "rate": rate,
        "reference_rate": Decimal(str(req.interest_reference_rate)),
        "margin_points": Decimal(str(req.interest_margin_points)),
        "lines": lines,
        "total": sum(lines.values(), Decimal("0.00")),
    }

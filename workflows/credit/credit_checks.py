"""The order credit check: may the customer's order go ahead? Approved within the limit, blocked when the
customer is blocked (a dunning level-3 block, legal), over_limit when its exposure (open invoices + open
orders) plus the order passes the credit limit or the order cannot be converted. Every check is recorded;
an over-limit order is held and waits for a credit manager's release (the `order_release` process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.customers import exposure_of
from workflows.credit.fx import MissingRate
from workflows.credit.models import Customer, DunningCase, DunningStatus
from workflows.credit.order_tables import CheckResult, CreditCheck, Order, OrderStatus
from workflows.credit.orders import (
    OrderInput,
    find_order,
    in_limit_currency,
    new_order,
    parse_amount,
    parse_currency,
    parse_order_ref,
)
from workflows.credit.record_fields import money_text, parse_customer_id, raise_field_errors
from workflows.errors import Conflict, NotFound, message_of
from workflows.messages import _
from workflows.money import format_money
from workflows.store.audit import record_event
from workflows.store.models import InstanceStatus, ProcessInstance
from workflows.store.paging import page_rows


@dataclass(frozen=True)
class CheckRequest:
    customer_id: int
    order_ref: str
    amount: Decimal
    currency: str


def parse_check(raw: Any) -> CheckRequest:
    """Raises: Invalid naming each bad field of `{customer_id, amount, currency, order_ref}`."""
    errors: dict[str, str] = {}
    cid = parse_customer_id(raw.get("customer_id"), errors)
    ref = parse_order_ref(raw.get("order_ref"), errors)
    amount = parse_amount(raw.get("amount"), errors)
    currency = parse_currency(raw.get("currency"), errors)
    unknown = sorted(set(raw) - {"customer_id", "order_ref", "amount", "currency"})
    for name in unknown[:5]:
        errors[str(name)[:40]] = _(
            "Unknown field; a credit check takes customer_id, amount, currency, order_ref."
        )
    raise_field_errors(errors, _("credit check"))
    assert cid is not None and ref is not None and amount is not None and currency is not None
    return CheckRequest(cid, ref, amount, currency)


# (session, order, check) -> the id of the order_release instance started for the held order.
StartRelease = Callable[[Session, Order, CreditCheck], int]


def check_credit(
    session: Session,
    req: CheckRequest,
    *,
    actor: str,
    now: datetime,
    base: str,
    start_release: StartRelease,
) -> CreditCheck:
    """Answer whether the order may go ahead, record the check and the order under its reference (open when
    approved, held otherwise), and start a release for a held over-limit order that has none open (all in
    the caller's transaction; the customer row is locked so two checks at once see each other's orders).

    Raises:
        NotFound: no such customer.  Conflict: the order was invoiced or cancelled already.
    """
    customer = session.scalar(select(Customer).where(Customer.id == req.customer_id).with_for_update())
    if customer is None:
        raise NotFound(_("customer %(customer_id)s does not exist", customer_id=req.customer_id))
    order = find_order(session, customer.id, req.order_ref, lock=True)
    if order is not None and order.status in OrderStatus.CLOSED:
        raise Conflict(
            _(
                "order %(order_ref)s of customer %(customer_id)s was %(order_status)s by "
                "%(closed_by)s; a closed order is not checked again (use a new order "
                "reference)",
                order_ref=req.order_ref,
                customer_id=customer.id,
                order_status=order.status,
                closed_by=order.closed_by,
            )
        )
    ccy = customer.currency
    missing: MissingRate | None = None
    converted: Decimal | None = None
    try:
        converted = in_limit_currency(session, req.amount, req.currency, customer, now.date(), base)
    except MissingRate as exc:
        missing = exc
    counted = order.limit_amount if order is not None and order.status in OrderStatus.COUNTED else None
    exposure = exposure_of(session, customer.id) - (counted or Decimal("0.00"))
    release_open = order is not None and _release_open(session, order)
    if (
        order is not None
        and order.status == OrderStatus.HELD
        and release_open
        and (req.currency != order.currency or req.amount > order.amount)
    ):
        # The credit manager's task shows the held amount: a raised order would be released unseen.
        raise Conflict(
            _(
                "order %(order_ref)s of customer %(customer_id)s is held at "
                "%(order_amount)s and a credit manager decides on "
                "that release in instance %(release_instance_id)s; it cannot grow "
                "meanwhile (wait for the decision, or cancel it and check a new order "
                "reference)",
                order_ref=req.order_ref,
                customer_id=customer.id,
                order_amount=format_money(order.amount, order.currency),
                release_instance_id=order.release_instance_id,
            )
        )
    if customer.blocked:
        result, reason = CheckResult.BLOCKED, block_reason(session, customer)
    elif (
        order is not None
        and order.status == OrderStatus.RELEASED
        and order.currency == req.currency
        and req.amount <= order.amount
    ):
        result, reason = CheckResult.APPROVED, _("released by %(user)s", user=order.decided_by)
    elif order is not None and order.status == OrderStatus.HELD and release_open:
        result = CheckResult.OVER_LIMIT
        reason = _(
            "order %(order)s is held: a credit manager decides on its release in instance %(instance)s",
            order=req.order_ref,
            instance=order.release_instance_id,
        )
    elif converted is None:
        result = CheckResult.OVER_LIMIT
        reason = _(
            "no exchange rate: %(problem)s; a credit manager decides on the release",
            problem=message_of(missing) if missing is not None else "",
        )
    else:
        total = exposure + converted
        numbers = _(
            "exposure %(exposure)s + order %(order)s = %(total)s, credit limit %(limit)s",
            exposure=format_money(exposure, ccy),
            order=format_money(converted, ccy),
            total=format_money(total, ccy),
            limit=format_money(customer.credit_limit, ccy),
        )
        if total > customer.credit_limit:
            result, reason = CheckResult.OVER_LIMIT, _("over the credit limit: %(numbers)s", numbers=numbers)
        else:
            result, reason = CheckResult.APPROVED, _("within the credit limit: %(numbers)s", numbers=numbers)
    # A released order is not demoted by a failed re-check: it may have shipped on the credit manager's word,
    # so what was released keeps counting; a larger order is checked under a new reference.
    # Nor is an open order by a block: it was approved and counts until the ERP invoices or cancels it.
    kept = order if order is not None and order.status == OrderStatus.RELEASED else None
    if order is not None and order.status == OrderStatus.OPEN and result == CheckResult.BLOCKED:
        kept = order
        reason = _(
            "%(reason)s; order %(order)s stays open at %(amount)s as approved before",
            reason=reason,
            order=req.order_ref,
            amount=format_money(order.amount, order.currency),
        )
    elif kept is not None and result != CheckResult.APPROVED:
        reason = _(
            "%(reason)s; order %(order)s stays released at %(amount)s (released by %(user)s): "
            "check an increase under a new order reference",
            reason=reason,
            order=req.order_ref,
            amount=format_money(kept.amount, kept.currency),
            user=kept.decided_by,
        )
    else:
        kept = None
        order = _record_order(session, customer, order, req, converted, result, actor=actor, now=now)
    assert order is not None
    check = CreditCheck(
        customer_id=customer.id,
        order_id=order.id,
        order_ref=req.order_ref,
        amount=req.amount,
        currency=req.currency,
        limit_amount=converted,
        exposure=exposure,
        credit_limit=customer.credit_limit,
        limit_currency=ccy,
        result=result,
        reason=reason[:500],
        requested_by=actor,
        checked_at=now,
    )
    session.add(check)
    session.flush()
    if result == CheckResult.OVER_LIMIT and release_open:
        check.release_instance_id = order.release_instance_id  # the release it already waits for
    elif result == CheckResult.OVER_LIMIT and kept is None:
        order.release_instance_id = check.release_instance_id = start_release(session, order, check)
        order.decided_by, order.decision_comment = None, ""
    record_event(
        session,
        actor=actor,
        action="credit_check",
        now=now,
        instance_id=check.release_instance_id,
        customer_id=customer.id,
        check_id=check.id,
        order_id=order.id,
        order_ref=req.order_ref,
        amount=str(req.amount),
        currency=req.currency,
        result=result,
        reason=check.reason,
        order_status=order.status,
    )
    return check


def _record_order(
    session: Session,
    customer: Customer,
    order: Order | None,
    req: CheckRequest,
    converted: Decimal | None,
    result: str,
    *,
    actor: str,
    now: datetime,
) -> Order:
    """The order under the check's reference: new, or updated to the checked amount (a released order keeps
    its release while the check stays within what was released)."""
    status = OrderStatus.OPEN if result == CheckResult.APPROVED else OrderStatus.HELD
    if order is None:
        data = OrderInput(customer.id, req.order_ref, req.amount, req.currency, now.date())
        return new_order(session, customer, data, converted, actor=actor, now=now, status=status)
    if order.status == OrderStatus.RELEASED and result == CheckResult.APPROVED:
        return order
    before = {"status": order.status, "amount": money_text(order.amount), "currency": order.currency}
    order.amount, order.currency, order.limit_amount = req.amount, req.currency, converted
    order.status, order.updated_at = status, now
    after = {"status": order.status, "amount": money_text(order.amount), "currency": order.currency}
    if before != after:
        record_event(
            session,
            actor=actor,
            action="order_rechecked",
            now=now,
            customer_id=customer.id,
            order_id=order.id,
            order_ref=order.order_ref,
            before=before,
            after=after,
        )
    return order


def _release_open(session: Session, order: Order) -> bool:
    if order.release_instance_id is None:
        return False
    status = session.scalar(
        select(ProcessInstance.status).where(ProcessInstance.id == order.release_instance_id)
    )
    return status in (InstanceStatus.RUNNING, InstanceStatus.ERROR)


def block_reason(session: Session, customer: Customer) -> str:
    """Why a blocked customer is blocked, naming the dunning case whose block it is: its level-3 block, its
    handover to legal, or the legal outcome it closed with (a settlement or write-off keeps the block)."""
    case = session.scalar(
        select(DunningCase)
        .where(DunningCase.customer_id == customer.id, DunningCase.blocked_customer.is_(True))
        .order_by(DunningCase.id.desc())
        .limit(1)
    )
    who = customer.id
    if case is None:
        return _("customer %(customer)s is blocked (credit block); a credit manager lifts it", customer=who)
    if case.status == DunningStatus.LEGAL:
        return _(
            "customer %(customer)s is blocked: handed over to legal (dunning case %(case)s)",
            customer=who,
            case=case.id,
        )
    if case.status == DunningStatus.CLOSED:
        return _(
            "customer %(customer)s is blocked: dunning case %(case)s closed with the legal outcome "
            "%(outcome)s; a credit manager lifts the block",
            customer=who,
            case=case.id,
            outcome=case.outcome,
        )
    return _(
        "customer %(customer)s is blocked: credit block of dunning case %(case)s (level %(level)s)",
        customer=who,
        case=case.id,
        level=case.level,
    )


def list_checks(
    session: Session,
    *,
    customer_id: int | None = None,
    result: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[CreditCheck], int]:
    """One page of credit checks, newest first."""
    query = select(CreditCheck)
    if customer_id is not None:
        query = query.where(CreditCheck.customer_id == customer_id)
    if result:
        query = query.where(CreditCheck.result == result)
    return page_rows(session, query.order_by(CreditCheck.id.desc()), page, per_page)


def check_json(check: CreditCheck) -> dict[str, Any]:
    return {
        "id": check.id,
        "customer_id": check.customer_id,
        "order_id": check.order_id,
        "order_ref": check.order_ref,
        "amount": f"{check.amount:.2f}",
        "currency": check.currency,
        "result": check.result,
        "reason": check.reason,
        "exposure": money_text(check.exposure),
        "credit_limit": money_text(check.credit_limit),
        "limit_currency": check.limit_currency,
        "release_instance_id": check.release_instance_id,
        "requested_by": check.requested_by,
        "checked_at": check.checked_at.isoformat(),
    }

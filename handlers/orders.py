"""Service operations of `order_release`: a credit manager releases an order a credit check held over the
limit (a money move: it extends credit, so its approval is checked before it runs), or keeps it held."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from handlers.approvals import completed_steps, require_approvals
from workflows.credit import roles
from workflows.credit.credit_checks import block_reason
from workflows.credit.fx import MissingRate
from workflows.credit.models import Customer
from workflows.credit.order_tables import CreditCheck, Order, OrderStatus
from workflows.credit.orders import find_order, in_limit_currency
from workflows.credit.record_fields import money_text
from workflows.engine.service_tasks import Approval, HandlerInputError, TaskContext
from workflows.errors import message_of
from workflows.messages import _
from workflows.money import format_money
from workflows.store.audit import record_event

APPROVAL_STEP = "approve_release"  # the credit manager's user task in order_release.bpmn


@dataclass(frozen=True)
class OrderDecisionRequest:
    customer_id: int
    order_ref: str
    comment: str = ""


@dataclass(frozen=True)
class OrderDecided:
    order_id: int
    status: str
    decided_by: str
    limit_amount: str | None  # what now counts in exposure, in the customer's currency


def _held_order(ctx: TaskContext, operation: str, req: OrderDecisionRequest) -> Order:
    """The order this instance decides on: held for release by this very instance, or closed meanwhile.

    Raises:
        HandlerInputError: no such order, or it waits for another instance (or none).
    """
    order = find_order(ctx.session, req.customer_id, req.order_ref, lock=True)
    if order is None:
        raise HandlerInputError(
            _(
                "%(operation)s in instance %(instance)s: customer %(customer)s has no order '%(order)s'",
                operation=operation,
                instance=ctx.instance_id,
                customer=req.customer_id,
                order=req.order_ref,
            )
        )
    if order.release_instance_id != ctx.instance_id:
        raise HandlerInputError(
            _(
                "%(operation)s in instance %(instance)s: order %(order)s is not held for release in "
                "this instance (its release is instance %(release)s); only the credit check "
                "that held it starts its release",
                operation=operation,
                instance=ctx.instance_id,
                order=req.order_ref,
                release=order.release_instance_id,
            )
        )
    if order.status not in (OrderStatus.HELD, *OrderStatus.CLOSED):
        raise HandlerInputError(
            _(
                "%(operation)s in instance %(instance)s: order %(order)s is %(status)s, not held",
                operation=operation,
                instance=ctx.instance_id,
                order=req.order_ref,
                status=order.status,
            )
        )
    return order


def requesters(ctx: TaskContext, order: Order) -> list[str]:
    """Who asked for the order to go ahead, so may not release it: who recorded it and who ran its checks."""
    checkers = ctx.session.scalars(
        select(CreditCheck.requested_by).where(CreditCheck.order_id == order.id).distinct()
    )
    return sorted({order.created_by, *checkers} - {""})


def release_approvals(ctx: TaskContext, req: OrderDecisionRequest) -> list[Approval]:
    """A credit manager's approval in this instance by someone who neither started it nor recorded or checked
    the order, whatever four-eyes rule the diagram has.

    Raises:
        MissingApprovals: there is none.  HandlerInputError: the order is not this instance's to release.
    """
    order = _held_order(ctx, "order.release", req)
    who = requesters(ctx, order)
    what = _(
        "the release of order %(order)s of customer %(customer)s, asked for by %(requesters)s",
        order=order.order_ref,
        customer=order.customer_id,
        requesters=", ".join(who),
    )
    # Only the approval task of this process counts, whatever other task a changed diagram offers the group.
    return require_approvals(
        ctx, "order.release", roles.ORDER_RELEASE_AUTHORITY, what, [APPROVAL_STEP], excluded=who
    )


def release_order(ctx: TaskContext, req: OrderDecisionRequest) -> OrderDecided:
    """Release the held order: it counts in exposure from now on, and a later check of it answers approved
    ("released by NAME"). An order the ERP closed meanwhile stays closed.

    Raises:
        HandlerInputError: the order's currency still has no exchange rate (it could not be counted).
    """
    order = _held_order(ctx, "order.release", req)
    [approval] = ctx.approvals
    shown = _checked_for_release(ctx, order)
    if (
        order.status == OrderStatus.HELD
        and shown is not None
        and (order.currency != shown[1] or order.amount > shown[0])
    ):
        raise HandlerInputError(
            _(
                "order.release in instance %(instance)s: order %(order)s is now %(amount)s, "
                "not the %(shown)s this release was asked for; nothing released",
                instance=ctx.instance_id,
                order=order.order_ref,
                amount=format_money(order.amount, order.currency),
                shown=format_money(shown[0], shown[1]),
            )
        )
    if order.status in OrderStatus.CLOSED:
        return OrderDecided(order.id, order.status, approval.user, money_text(order.limit_amount))
    customer = ctx.session.get(Customer, order.customer_id)
    assert customer is not None  # an order's customer is a foreign key
    if (
        customer.blocked
    ):  # blocked since the check held it: a block is lifted by a credit manager, not released
        raise HandlerInputError(
            _(
                "order.release in instance %(instance)s: customer %(customer)s is blocked "
                "(%(reason)s); its orders are not released, reject the release",
                instance=ctx.instance_id,
                customer=customer.id,
                reason=block_reason(ctx.session, customer),
            )
        )
    if order.limit_amount is None:
        try:
            order.limit_amount = in_limit_currency(
                ctx.session,
                order.amount,
                order.currency,
                customer,
                ctx.now.date(),
                ctx.settings.credit.base_currency,
            )
        except MissingRate as exc:
            raise HandlerInputError(
                _(
                    "order.release in instance %(instance)s: order %(order)s cannot count in the "
                    "exposure without a rate: %(problem)s; then approve again",
                    instance=ctx.instance_id,
                    order=order.order_ref,
                    problem=message_of(exc),
                )
            ) from exc
    before = {"status": order.status, "decided_by": order.decided_by}
    order.status, order.decided_by, order.decision_comment = OrderStatus.RELEASED, approval.user, req.comment
    order.updated_at = ctx.now
    record_event(
        ctx.session,
        actor=approval.user,
        action="order_released",
        now=ctx.now,
        instance_id=ctx.instance_id,
        customer_id=order.customer_id,
        order_id=order.id,
        order_ref=order.order_ref,
        amount=str(order.amount),
        currency=order.currency,
        limit_amount=money_text(order.limit_amount),
        approvers=[a.user for a in ctx.approvals],
        comment=req.comment,
        before=before,
        after={"status": order.status, "decided_by": order.decided_by},
    )
    return OrderDecided(order.id, order.status, approval.user, money_text(order.limit_amount))


def _checked_for_release(ctx: TaskContext, order: Order) -> tuple[Decimal, str] | None:
    """The amount and currency of the check that started this release (what the credit manager was shown)."""
    row = ctx.session.execute(
        select(CreditCheck.amount, CreditCheck.currency)
        .where(CreditCheck.order_id == order.id, CreditCheck.release_instance_id == ctx.instance_id)
        .order_by(CreditCheck.id)
        .limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def keep_held(ctx: TaskContext, req: OrderDecisionRequest) -> OrderDecided:
    """The credit manager refused the release: the order stays held (a later check may start a new release).

    Raises:
        HandlerInputError: nobody but the requesters decided in this instance.
    """
    order = _held_order(ctx, "order.keep_held", req)
    who = requesters(ctx, order)
    deciders = [
        step["user"]
        for step in completed_steps(ctx, [APPROVAL_STEP])
        if step["user"] and step["user"] not in who and step["user"] != ctx.started_by
    ]
    if not deciders:
        raise HandlerInputError(
            _(
                "order.keep_held in instance %(instance)s: no credit manager other than "
                "%(who)s decided on order %(order)s",
                instance=ctx.instance_id,
                who=", ".join(who),
                order=order.order_ref,
            )
        )
    decider = deciders[-1]
    if order.status == OrderStatus.HELD:
        order.decided_by, order.decision_comment, order.updated_at = decider, req.comment, ctx.now
        record_event(
            ctx.session,
            actor=decider,
            action="order_release_refused",
            now=ctx.now,
            instance_id=ctx.instance_id,
            customer_id=order.customer_id,
            order_id=order.id,
            order_ref=order.order_ref,
            comment=req.comment,
        )
    return OrderDecided(order.id, order.status, decider, money_text(order.limit_amount))

"""Order releases and write-offs in the segregation-of-duties report (workflows/sod_report.py).

An order release extends credit over the limit: who recorded the order and who ran its credit checks asked
for it (handlers/orders.requesters), the credit manager who released it approved it (its `order_released`
audit event). A write-off (or a legal outcome recovered in full) is proposed by legal and approved per
write_off_authority.dmn: the credit manager, and the CFO above the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.models import Customer
from workflows.credit.order_tables import CreditCheck, Order
from workflows.credit.write_offs import RequestStatus, WriteOffRequest
from workflows.messages import _
from workflows.money import format_money
from workflows.sod_rows import MAX_ROWS, SodRow, all_rows, names, period, repeated_people
from workflows.store.models import AuditEvent, ProcessInstance

# Report kinds (not the process keys: a legal outcome recovered in full writes nothing off).
ORDER_RELEASED, LEGAL_OUTCOME = "order_released", "legal_outcome"
WRITE_OFF_TABLE = ("write_off_authority.dmn", "write_off_authority")
RELEASED_EVENT = ORDER_RELEASED  # the audit action recorded by handlers/orders.release_order


def order_releases(session: Session, start: datetime | None, end: datetime | None) -> list[SodRow]:
    """Each order a credit manager released over the limit, by its release event."""
    query = (
        select(AuditEvent, ProcessInstance.started_by)
        .outerjoin(ProcessInstance, ProcessInstance.id == AuditEvent.instance_id)
        .where(AuditEvent.action == RELEASED_EVENT, *period(AuditEvent.at, start, end))
        .order_by(AuditEvent.at, AuditEvent.id)
        .limit(MAX_ROWS + 1)
    )
    found = []
    for event, started_by in all_rows(session.execute(query).all(), "order releases"):
        detail = event.detail if isinstance(event.detail, dict) else {}
        order_id = detail.get("order_id")
        order = session.get(Order, order_id) if isinstance(order_id, int) else None
        if order is None:  # an event always names its order; a row of no order cannot be weighed
            continue
        name = session.scalar(select(Customer.name).where(Customer.id == order.customer_id))
        approvers = names(detail.get("approvers")) or [event.actor]
        checkers = session.scalars(
            select(CreditCheck.requested_by).where(CreditCheck.order_id == order.id).distinct()
        ).all()
        askers = sorted({order.created_by, *checkers, *([started_by] if started_by else [])} - {""})
        repeated = sorted({p for asker in askers for p in repeated_people(asker, approvers)})
        found.append(
            SodRow(
                kind=ORDER_RELEASED,
                id=order.id,
                at=event.at,
                object=f"order:{order.id}",
                instance_id=event.instance_id,
                summary=_release_summary(name, order, detail.get("amount", order.amount), checkers),
                requester=order.created_by,
                approvers=approvers,
                made_by=event.actor,
                rule=_(
                    "order release: one %(groups)s who neither recorded nor checked the order",
                    groups=" or ".join(roles.ORDER_RELEASE_AUTHORITY),
                ),
                repeated=repeated,
            )
        )
    return found


def _release_summary(name: str | None, order: Order, amount: object, checkers: Sequence[str]) -> str:
    if not checkers:
        return _(
            "%(customer)s: order %(order)s released over the limit, %(amount)s "
            "(recorded by %(recorder)s; checked by nobody)",
            customer=name,
            order=order.order_ref,
            amount=format_money(amount, order.currency),
            recorder=order.created_by,
        )
    return _(
        "%(customer)s: order %(order)s released over the limit, %(amount)s "
        "(recorded by %(recorder)s; checked by %(checkers)s)",
        customer=name,
        order=order.order_ref,
        amount=format_money(amount, order.currency),
        recorder=order.created_by,
        checkers=", ".join(checkers),
    )


def write_offs(session: Session, start: datetime | None, end: datetime | None) -> list[SodRow]:
    """Each legal outcome approved and posted (written off, or closed when recovered in full)."""
    query = (
        select(WriteOffRequest, Customer.name)
        .join(Customer, Customer.id == WriteOffRequest.customer_id)
        .where(
            WriteOffRequest.status.in_((RequestStatus.POSTED, RequestStatus.CLOSED)),
            *period(WriteOffRequest.decided_at, start, end),
        )
        .order_by(WriteOffRequest.decided_at, WriteOffRequest.id)
        .limit(MAX_ROWS + 1)
    )
    found = []
    for request, name in all_rows(session.execute(query).all(), "write-offs"):
        approvers = names(request.approved_by)
        found.append(
            SodRow(
                kind=LEGAL_OUTCOME,
                id=request.id,
                at=request.decided_at or request.created_at,
                object=f"customer:{request.customer_id}",
                instance_id=request.instance_id,
                summary=_(
                    "%(customer)s: %(outcome)s, written off %(amount)s of %(open)s open "
                    "(%(count)s invoice(s))",
                    customer=name,
                    outcome=request.outcome,
                    amount=format_money(request.write_off_amount, request.currency),
                    open=format_money(request.open_amount, request.currency),
                    count=len(request.invoices or []),
                ),
                requester=request.requested_by,
                approvers=approvers,
                made_by=request.decided_by or ", ".join(approvers),
                rule=_write_off_rule(approvers),
                repeated=repeated_people(request.requested_by, approvers),
            )
        )
    return found


def _write_off_rule(approvers: list[str]) -> str:
    for level, groups in roles.WRITE_OFF_AUTHORITY.items():
        if len(groups) == len(approvers):
            return _(
                "%(file)s: level %(level)s (%(groups)s)",
                file=WRITE_OFF_TABLE[0],
                level=level,
                groups=" + ".join(groups),
            )
    return _(
        "%(file)s: %(count)s approval(s), matching no level", file=WRITE_OFF_TABLE[0], count=len(approvers)
    )

"""Posting a decided legal outcome: the invoices written off, the specific provisions used (or released
when recovered in full), and a refusal recorded."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.credit.models import Invoice, InvoiceStatus, Provision
from workflows.credit.provisions import audit_provision
from workflows.credit.write_offs import (
    RECOVERED,
    ZERO,
    RequestStatus,
    WriteOff,
    WriteOffProvisionUse,
    WriteOffRequest,
    provision_uses,
)
from workflows.errors import Conflict
from workflows.messages import _
from workflows.store.audit import record_event


def post_request(
    session: Session, request: WriteOffRequest, *, approvers: list[str], actor: str, now: datetime
) -> list[WriteOff]:
    """Post an approved outcome: write the invoices off and use the specific provisions (settled,
    uncollectable), or close it with the provisions released (recovered in full).

    Raises:
        Conflict: the request was decided already.
    """
    _require_proposed(request)
    before = {"status": request.status}
    request.status = RequestStatus.CLOSED if request.outcome == RECOVERED else RequestStatus.POSTED
    request.approved_by, request.decided_by, request.decided_at = approvers, actor, now
    lines: list[WriteOff] = []
    if request.outcome == RECOVERED:
        for provision in _remaining_provisions(session, request.customer_id):
            provision[0].released_at = now
            audit_provision(session, provision[0], actor=actor, instance_id=request.instance_id)
    else:
        lines = _write_off_invoices(session, request, approvers, actor, now)
        _use_provisions(session, request, lines, actor, now)
    record_event(
        session,
        actor=actor,
        action="write_off_decided",
        now=now,
        instance_id=request.instance_id,
        customer_id=request.customer_id,
        request_id=request.id,
        outcome=request.outcome,
        approved_by=approvers,
        written_off={str(line.invoice_id): str(line.amount) for line in lines},
        provision_used=str(sum((line.provision_used for line in lines), ZERO)),
        before=before,
        after={"status": request.status},
    )
    return lines


def reject_request(
    session: Session, request: WriteOffRequest, *, actor: str, comment: str, now: datetime
) -> None:
    """Record the refusal; the invoices stay open (dunning resumes on its next run).

    Raises:
        Conflict: the request was decided already.
    """
    _require_proposed(request)
    request.status, request.decided_by, request.decided_at = RequestStatus.REJECTED, actor, now
    request.decision_comment = comment
    record_event(
        session,
        actor=actor,
        action="write_off_rejected",
        now=now,
        instance_id=request.instance_id,
        customer_id=request.customer_id,
        request_id=request.id,
        comment=comment,
        before={"status": RequestStatus.PROPOSED},
        after={"status": request.status},
    )


def _require_proposed(request: WriteOffRequest) -> None:
    if request.status != RequestStatus.PROPOSED:
        raise Conflict(
            _(
                "write-off proposal %(id)s is %(status)s already; nothing to decide",
                id=request.id,
                status=request.status,
            )
        )


def _write_off_invoices(
    session: Session, request: WriteOffRequest, approvers: list[str], actor: str, now: datetime
) -> list[WriteOff]:
    """Newest invoices first, so a settlement's unpaid part stays on the oldest; never more than approved."""
    invoices = session.scalars(
        select(Invoice)
        .where(
            Invoice.customer_id == request.customer_id,
            Invoice.number.in_(request.invoices),
            Invoice.status == InvoiceStatus.OPEN,
        )
        .order_by(Invoice.due_date.desc(), Invoice.id.desc())
    ).all()
    # A payment since the proposal lowers the open amount; the settlement part is still owed.
    still_open = sum((i.open_amount for i in invoices), ZERO)
    left = min(request.write_off_amount, max(ZERO, still_open - request.amount))
    lines: list[WriteOff] = []
    for invoice in invoices:
        share = min(left, invoice.open_amount)
        before = {"status": invoice.status, "open_amount": str(invoice.open_amount)}
        invoice.open_amount -= share
        invoice.status = InvoiceStatus.WRITTEN_OFF
        left -= share
        record_event(
            session,
            actor=actor,
            action="invoice_written_off",
            now=now,
            instance_id=request.instance_id,
            customer_id=request.customer_id,
            invoice=invoice.number,
            written_off=str(share),
            before=before,
            after={"status": invoice.status, "open_amount": str(invoice.open_amount)},
        )
        if share > 0:
            line = WriteOff(
                request_id=request.id,
                customer_id=request.customer_id,
                invoice_id=invoice.id,
                amount=share,
                currency=invoice.currency,
                outcome=request.outcome,
                costs=ZERO,
                provision_used=ZERO,
                requested_by=request.requested_by,
                approved_by=approvers,
                posted_at=now,
                instance_id=request.instance_id,
            )
            session.add(line)
            lines.append(line)
    if lines:
        lines[-1].costs = request.costs  # the oldest invoice carries the matter's costs, once
    session.flush()
    return lines


def _remaining_provisions(session: Session, customer_id: int) -> list[tuple[Provision, Decimal]]:
    """The customer's unreleased specific provisions with what is left of each, oldest first."""
    provisions = session.scalars(
        select(Provision)
        .where(Provision.customer_id == customer_id, Provision.released_at.is_(None))
        .order_by(Provision.created_at, Provision.id)
    ).all()
    used = provision_uses(session, [p.id for p in provisions])
    # What recoveries released of a provision (workflows.credit.provision_releases) is gone as well.
    left = {p.id: p.amount - p.released_amount - used.get(p.id, ZERO) for p in provisions}
    return [(p, left[p.id]) for p in provisions if left[p.id] > 0]


def _use_provisions(
    session: Session, request: WriteOffRequest, lines: list[WriteOff], actor: str, now: datetime
) -> None:
    provisions = _remaining_provisions(session, request.customer_id)
    remaining = {provision.id: left for provision, left in provisions}
    for line in lines:
        for provision, _left in provisions:
            left = remaining[provision.id]
            if provision.currency != line.currency or left <= 0 or line.provision_used >= line.amount:
                continue
            use = min(left, line.amount - line.provision_used)
            remaining[provision.id] = left - use
            line.provision_used += use
            session.add(WriteOffProvisionUse(write_off_id=line.id, provision_id=provision.id, amount=use))
            record_event(
                session,
                actor=actor,
                action="provision_used",
                now=now,
                instance_id=request.instance_id,
                customer_id=request.customer_id,
                provision_id=provision.id,
                write_off_id=line.id,
                amount=str(use),
                before={"remaining": str(left)},
                after={"remaining": str(left - use)},
            )

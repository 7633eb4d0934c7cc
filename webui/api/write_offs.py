"""/api/write-offs, /api/recoveries and /api/customers/ID/unblock: legal outcomes, what they wrote off, money
recovered afterwards, and lifting the credit block a legal outcome leaves."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import ConfigDict, Field

from webui.api import bp, current_actor, json_body, paged, require_groups
from webui.api.openapi import (
    Body,
    Day,
    Id,
    Model,
    Money,
    MoneyInput,
    Page,
    PageQuery,
    Timestamp,
    api,
    responses,
)
from webui.services import services
from workflows.credit.recoveries import (
    UNBLOCK_REASON_RULE,
    lift_block,
    list_recoveries,
    parse_recovery,
    post_recovery,
    recoveries_json,
    recovery_json,
    unblock_reason,
)
from workflows.credit.roles import BLOCK_LIFTERS, CUSTOMER_READERS, RECEIVABLE_WRITERS
from workflows.credit.write_offs import OUTCOMES, RequestStatus, list_requests, requests_json
from workflows.errors import Invalid
from workflows.messages import _
from workflows.store.db import transaction

STATUSES = (RequestStatus.PROPOSED, RequestStatus.POSTED, RequestStatus.CLOSED, RequestStatus.REJECTED)


class WriteOffQuery(PageQuery):
    customer_id: Id | None = None
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]


class WriteOffLine(Model):
    """One invoice's write-off: `amount` written off, `provision_used` of it covered by the provisions."""

    invoice_number: str
    amount: Money  # written off on this invoice
    currency: str
    costs: Money = Field(description="the matter's legal costs, on its first line only")
    provision_used: Money = Field(description="how much of it the specific provisions covered")
    posted_at: Timestamp


class WriteOff(Model):
    """A legal outcome: `amount` is what legal obtained (recovered, the settlement; 0 when uncollectable)."""

    id: Id
    customer_id: int
    instance_id: int | None
    case_id: int | None = Field(description="the dunning case whose legal step proposed it, if any")
    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]
    amount: Money  # recovered, or the settlement; 0 when uncollectable
    costs: Money
    currency: str
    comment: str
    invoices: list[str] = Field(description="the invoices open when it was proposed")
    open_amount: Money
    write_off_amount: Money = Field(description="proposed to be written off")
    status: Literal[STATUSES]  # type: ignore[valid-type]
    requested_by: str
    approved_by: list[str]
    decided_by: str | None
    decision_comment: str
    created_at: Timestamp
    decided_at: Timestamp | None
    lines: list[WriteOffLine]


class WriteOffPage(Page):
    items: list[WriteOff]


class NewRecovery(Body):
    customer_id: Id = Field(examples=[1])
    invoice_number: str = Field(
        max_length=80, description="the written-off invoice", examples=["INV-2026-0001"]
    )
    amount: MoneyInput
    currency: str = Field(pattern="^[A-Z]{3}$", examples=["EUR"])
    date: Day = Field(examples=["2026-03-15"])
    reference: str | None = Field(None, max_length=80, examples=["bank statement 4711"])


class RecoveryItem(Model):
    id: Id
    customer_id: int
    invoice_number: str
    amount: Money
    currency: str
    date: Day
    reference: str | None
    posted_by: str
    posted_at: Timestamp


class RecoveryQuery(PageQuery):
    customer_id: Id | None = None


class RecoveryPage(Page):
    items: list[RecoveryItem]


class Unblock(Body):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, examples=["settlement paid; new terms agreed"])


class Unblocked(Model):
    id: Id
    blocked: bool
    unblocked_by: str
    reason: str


@bp.get("/write-offs")
@api.validate(resp=responses(200, WriteOffPage, 403))
def get_write_offs(query: WriteOffQuery) -> Response:
    """Legal outcomes (write_off instances): proposed, posted, closed (recovered in full) or rejected."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read write-offs"))
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_requests(
            session,
            customer_id=query.customer_id,
            status=query.status,
            page=query.page,
            per_page=query.per_page,
        )
        return paged(requests_json(session, rows), total, query.page, query.per_page)


@bp.post("/recoveries")
@api.validate(json=NewRecovery, resp=responses(201, RecoveryItem, 403, 404, 409, 413, 422))
def post_recovery_view() -> tuple[Response, int]:
    """Record money received on a written-off invoice: a recovery, never allocated like a payment."""
    actor = current_actor()
    require_groups(actor, RECEIVABLE_WRITERS, _("post recoveries"))
    svc = services()
    now = svc.clock()
    data = parse_recovery(json_body())
    with transaction(svc.rt.factory) as session:
        recovery = post_recovery(session, data, actor=actor.username, now=now)
        return jsonify(recovery_json(session, recovery)), 201


@bp.get("/recoveries")
@api.validate(resp=responses(200, RecoveryPage, 403))
def get_recoveries(query: RecoveryQuery) -> Response:
    """Recoveries on written-off invoices, newest first."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read recoveries"))
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_recoveries(
            session, customer_id=query.customer_id, page=query.page, per_page=query.per_page
        )
        return paged(recoveries_json(session, rows), total, query.page, query.per_page)


@bp.post("/customers/<int:customer_id>/unblock")
@api.validate(json=Unblock, resp=responses(200, Unblocked, 403, 404, 409, 413, 422))
def post_unblock(customer_id: int) -> Response:
    """Lift a customer's credit block (a legal outcome leaves it on): a credit manager, with a reason."""
    actor = current_actor()
    require_groups(actor, BLOCK_LIFTERS, _("lift a credit block"))
    svc = services()
    now = svc.clock()
    body = json_body()
    reason = unblock_reason(body.get("reason"))
    if reason is None:
        raise Invalid(
            _(
                "The unblock has errors: reason: %(unblock_reason_rule)s",
                unblock_reason_rule=UNBLOCK_REASON_RULE,
            ),
            details={"fields": {"reason": UNBLOCK_REASON_RULE}},
        )
    unknown = sorted(set(body) - {"reason"})
    if unknown:
        message = _("Unknown field; the body takes only reason.")
        raise Invalid(
            _("The unblock has errors: %(unknown)s: %(message)s", unknown=unknown[0], message=message),
            details={"fields": {unknown[0]: message}},
        )
    with transaction(svc.rt.factory) as session:
        customer = lift_block(session, customer_id, actor=actor.username, reason=reason, now=now)
        return jsonify(
            {
                "id": customer.id,
                "blocked": customer.blocked,
                "unblocked_by": actor.username,
                "reason": reason,
            }
        )

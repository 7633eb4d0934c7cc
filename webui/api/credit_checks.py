"""/api/credit-checks: may a customer's order go ahead? An over-limit order is held and its release starts."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import Field

from webui.api import bp, current_actor, json_body, paged, require_groups
from webui.api.openapi import Body, Id, Model, Money, MoneyInput, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.credit import roles
from workflows.credit.credit_checks import check_json, list_checks, parse_check
from workflows.credit.order_tables import CheckResult
from workflows.messages import _
from workflows.order_release import run_credit_check


class NewCheck(Body):
    customer_id: Id = Field(examples=[1])
    order_ref: str = Field(max_length=80, description="the ERP's order number", examples=["SO-2026-0042"])
    amount: MoneyInput
    currency: str = Field(pattern="^[A-Z]{3}$", examples=["EUR"])


class Check(Model):
    id: Id
    customer_id: int
    order_id: int | None
    order_ref: str
    amount: Money
    currency: str
    result: Literal[CheckResult.ALL]  # type: ignore[valid-type]
    reason: str = Field(examples=["over the credit limit: exposure 700000.00 + order 80000.00 = ..."])
    exposure: Money | None = Field(description="the exposure before this order, in limit_currency")
    credit_limit: Money
    limit_currency: str
    release_instance_id: int | None = Field(description="the order_release instance a held order waits in")
    requested_by: str
    checked_at: Timestamp


class CheckQuery(PageQuery):
    customer_id: Id | None = None
    result: Literal[CheckResult.ALL] | None = None  # type: ignore[valid-type]


class CheckPage(Page):
    items: list[Check]


@bp.post("/credit-checks")
@api.validate(json=NewCheck, resp=responses(200, Check, 403, 404, 409, 413, 422))
def post_credit_check() -> Response:
    """Check an order against the customer's credit: approved, blocked or over_limit, with the reason. The
    check is recorded; an over-limit order is held and waits for a credit manager's release."""
    actor = current_actor()
    require_groups(actor, roles.ORDER_WRITERS, _("check orders"))
    svc = services()
    body = run_credit_check(svc.rt, parse_check(json_body()), actor=actor, now=svc.clock())
    svc.nudge()  # the release's task may have armed a due-date reminder
    return jsonify(body)


@bp.get("/credit-checks")
@api.validate(resp=responses(200, CheckPage, 403))
def get_credit_checks(query: CheckQuery) -> Response:
    """Recorded credit checks, newest first, by customer and result."""
    actor = current_actor()
    require_groups(actor, roles.CUSTOMER_READERS, _("read credit checks"))
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_checks(
            session,
            customer_id=query.customer_id,
            result=query.result,
            page=query.page,
            per_page=query.per_page,
        )
        return paged([check_json(c) for c in rows], total, query.page, query.per_page)

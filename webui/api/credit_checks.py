"""/api/credit-checks: may a customer's order go ahead? An over-limit order is held and its release starts."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import Field
from sqlalchemy.orm import Session

from webui.api import bp, current_actor, json_body, paged, require_groups
from webui.api.openapi import Body, Id, Model, Money, MoneyInput, Page, PageQuery, Timestamp, api, responses
from webui.services import services
from workflows.credit import roles
from workflows.credit.credit_checks import StartRelease, check_credit, check_json, list_checks, parse_check
from workflows.credit.order_tables import CheckResult, CreditCheck, Order
from workflows.engine import runner
from workflows.engine.runtime import Runtime
from workflows.store.db import transaction
from workflows.users import Actor


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


def release_starter(rt: Runtime, actor: Actor) -> StartRelease:
    """Start `order_release` for a held order in the check's transaction, as the person who asked for the
    check (its initiator: four-eyes keeps them from releasing it)."""

    def start(session: Session, order: Order, check: CreditCheck) -> int:
        data = {
            "customer_id": order.customer_id,
            "order_ref": order.order_ref,
            "amount": order.amount,
            "currency": order.currency,
            "reason": check.reason,
            "check_id": check.id,
        }
        instance = runner.start_instance(
            rt,
            roles.ORDER_RELEASE,
            data,
            actor=actor,
            now=check.checked_at,
            business_key=f"{order.customer_id}:{order.order_ref}"[:200],
            check_groups=False,  # started by the check the caller may run, not by hand
            session=session,
        )
        return instance.id

    return start


@bp.post("/credit-checks")
@api.validate(json=NewCheck, resp=responses(200, Check, 403, 404, 409, 413, 422))
def post_credit_check() -> Response:
    """Check an order against the customer's credit: approved, blocked or over_limit, with the reason. The
    check is recorded; an over-limit order is held and waits for a credit manager's release."""
    actor = current_actor()
    require_groups(actor, roles.ORDER_WRITERS, "check orders")
    svc = services()
    req = parse_check(json_body())
    with transaction(svc.rt.factory) as session:
        check = check_credit(
            session,
            req,
            actor=actor.username,
            now=svc.clock(),
            base=svc.rt.settings.credit.base_currency,
            start_release=release_starter(svc.rt, actor),
        )
        body = check_json(check)
    svc.nudge()
    return jsonify(body)


@bp.get("/credit-checks")
@api.validate(resp=responses(200, CheckPage, 403))
def get_credit_checks(query: CheckQuery) -> Response:
    """Recorded credit checks, newest first, by customer and result."""
    actor = current_actor()
    require_groups(actor, roles.CUSTOMER_READERS, "read credit checks")
    svc = services()
    per_page = min(query.per_page, 200)
    with svc.rt.factory() as session:
        rows, total = list_checks(
            session, customer_id=query.customer_id, result=query.result, page=query.page, per_page=per_page
        )
        return paged([check_json(c) for c in rows], total, query.page, per_page)

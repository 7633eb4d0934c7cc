"""/api/orders: the ERP's open sales orders; they count in the customer's exposure until invoiced."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import Field

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
    Query,
    Timestamp,
    api,
    responses,
)
from webui.services import services
from workflows.credit.order_tables import OrderStatus
from workflows.credit.orders import close_order, list_orders, order_json, parse_order, post_order
from workflows.credit.roles import CUSTOMER_READERS, ORDER_WRITERS
from workflows.messages import _
from workflows.store.db import transaction


class NewOrder(Body):
    customer_id: Id = Field(examples=[1])
    order_ref: str = Field(max_length=80, description="the ERP's order number, unique per customer")
    amount: MoneyInput
    currency: str = Field(
        pattern="^[A-Z]{3}$",
        examples=["EUR"],
        description="any currency with an exchange rate; it counts in the customer's currency",
    )
    date: Day | None = Field(None, description="the order date (default: today)", examples=["2026-03-02"])


class Order(Model):
    id: Id
    customer_id: int
    order_ref: str
    amount: Money
    currency: str
    date: Day
    limit_amount: Money | None = Field(
        description="what counts in the exposure, in the customer's currency (null: no exchange rate yet)"
    )
    status: str = Field(examples=list(OrderStatus.ALL))
    release_instance_id: int | None = Field(description="the order_release instance of a held order")
    decided_by: str | None = Field(description="the credit manager who released it or kept it held")
    created_by: str
    created_at: Timestamp
    closed_by: str | None
    closed_at: Timestamp | None


class OrderQuery(PageQuery):
    customer_id: Id | None = None
    status: Literal[OrderStatus.ALL] | None = None  # type: ignore[valid-type]


class OrderPage(Page):
    items: list[Order]


class CloseQuery(Query):
    reason: Literal["invoiced", "cancelled"] = Field("invoiced", description="why the order closes")


@bp.post("/orders")
@api.validate(json=NewOrder, resp=responses(201, Order, 403, 404, 409, 413, 422))
def post_order_view() -> tuple[Response, int]:
    """Record an open order confirmed in the ERP; it counts in the customer's exposure at once."""
    actor = current_actor()
    require_groups(actor, ORDER_WRITERS, _("post orders"))
    svc = services()
    now = svc.clock()
    data = parse_order(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        order = post_order(
            session, data, actor=actor.username, now=now, base=svc.rt.settings.credit.base_currency
        )
        return jsonify(order_json(order)), 201


@bp.get("/orders")
@api.validate(resp=responses(200, OrderPage, 403))
def get_orders(query: OrderQuery) -> Response:
    """Orders, newest first, filtered by customer and status."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read orders"))
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_orders(
            session,
            customer_id=query.customer_id,
            status=query.status,
            page=query.page,
            per_page=query.per_page,
        )
        return paged([order_json(o) for o in rows], total, query.page, query.per_page)


@bp.delete("/orders/<int:order_id>")
@api.validate(resp=responses(200, Order, 403, 404, 409))
def delete_order(order_id: int, query: CloseQuery) -> Response:
    """Close an order the ERP invoiced (the invoice counts instead) or cancelled (`?reason=cancelled`)."""
    actor = current_actor()
    require_groups(actor, ORDER_WRITERS, _("close orders"))
    svc = services()
    with transaction(svc.rt.factory) as session:
        order = close_order(session, order_id, query.reason, actor=actor.username, now=svc.clock())
        return jsonify(order_json(order))

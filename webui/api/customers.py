"""/api/customers: the customer list, creating a customer, a customer's credit file, external ratings."""

from __future__ import annotations

from typing import Literal

from flask import Response, jsonify
from pydantic import ConfigDict, Field

from webui.api import bp, create_from_body, current_actor, json_body, paged, require_groups
from webui.api.disputes import CreditNote
from webui.api.openapi import (
    Body,
    Day,
    Id,
    Model,
    Money,
    Page,
    PageQuery,
    Timestamp,
    api,
    fields_body,
    responses,
)
from webui.api.write_offs import RecoveryItem, WriteOff
from webui.services import services
from workflows.credit.collateral import (
    COLLATERAL_FIELDS,
    COLLATERAL_KINDS,
    add_collateral,
    collateral_json,
    list_collateral,
    parse_collateral,
)
from workflows.credit.customers import (
    CUSTOMER_FIELDS,
    GRADES,
    create_customer,
    customer_json,
    get_customer,
    list_customers,
    parse_customer,
)
from workflows.credit.dispute_views import customer_credit_notes
from workflows.credit.key_customer_reviews import bring_review_forward
from workflows.credit.key_customers import (
    KEY_CUSTOMER_BODY,
    check_key_customer_rights,
    parse_key_customer,
    set_key_customer,
)
from workflows.credit.limit_review import record_rating
from workflows.credit.rating_fields import check_rating_fields
from workflows.credit.recoveries import customer_recoveries
from workflows.credit.roles import (
    CUSTOMER_CREATORS,
    CUSTOMER_READERS,
    KEY_CUSTOMER_SETTERS,
    RATING_RECORDERS,
)
from workflows.credit.watchlist import flag_customer
from workflows.credit.write_offs import customer_write_offs
from workflows.messages import _
from workflows.store.db import transaction

# Who records collateral on a credit file: those who record external ratings, the credit staff.
COLLATERAL_WRITERS = RATING_RECORDERS


class CustomerQuery(PageQuery):
    q: str | None = Field(None, description="part of the name, external id, registration number or contact")
    grade: Literal[GRADES] | None = None  # type: ignore[valid-type]
    blocked: bool | None = None


class CustomerSummary(Model):
    id: Id
    external_id: str | None
    name: str
    email: str | None
    contact_name: str | None = Field(description="the person the customer's letters address")
    industry: str | None
    founded_year: int | None
    annual_revenue: Money | None
    currency: str
    registration_no: str | None
    sales_owner: str | None
    language: str | None
    external_rating: str | None
    rating_agency: str | None
    rating_date: Day | None
    grade: str | None
    score: int | None
    score_valid_to: Day | None
    credit_limit: Money
    next_review_date: Day | None
    blocked: bool
    key_customer: bool = Field(description="a key customer: reviewed more often (limit_policy.dmn)")
    account_owner: str | None = Field(description="the user who owns a key customer's account")
    customer_since: Day | None = Field(
        description="when the relationship began: on file, else the first invoice"
    )
    ownership: str | None = Field(
        description="state_owned, private, foreign or listed: the scorecard segment"
    )
    region: str | None
    management_rating: int | None = Field(description="the analyst's rating 1-5 from the latest review")
    industry_rating: int | None
    strategic_rating: int | None
    ratings_by: str | None
    ratings_at: Timestamp | None


class LimitChange(Model):
    old: Money
    new: Money
    currency: str
    reason: str
    approvers: list[object]
    instance_id: int | None
    changed_by: str
    at: Timestamp
    above_policy: bool = Field(description="an increase above the policy's limit: an exception")
    policy_limit: Money | None = Field(description="the policy's limit when the change was above it")
    exception_reason: str = Field(description="the analyst's reason for the exception")


class Customer(CustomerSummary):
    exposure: Money
    overdue: Money
    limit_history: list[LimitChange]


class CustomerPage(Page):
    items: list[CustomerSummary]


NewCustomer = fields_body("NewCustomer", CUSTOMER_FIELDS)


NewCollateral = fields_body("NewCollateral", COLLATERAL_FIELDS)


class CollateralItem(Model):
    id: Id
    customer_id: Id
    kind: Literal[COLLATERAL_KINDS]  # type: ignore[valid-type]
    provider: str
    value: Money
    currency: str
    expires_on: Day | None
    reference: str
    active: bool = Field(description="not expired: only active collateral counts in the scorecard")
    created_by: str
    created_at: Timestamp


class CollateralList(Model):
    items: list[CollateralItem]


class Rating(Body):
    model_config = ConfigDict(extra="forbid")

    agency: str = Field(max_length=80, examples=["S&P"])
    rating: str = Field(max_length=10, examples=["BBB+"])
    date: Day = Field(examples=["2026-03-01"])


@bp.get("/customers")
@api.validate(resp=responses(200, CustomerPage, 403))
def get_customers(query: CustomerQuery) -> Response:
    """Customers by name, filtered by text, grade and block."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read customers"))
    svc = services()
    with svc.rt.factory() as session:
        rows, total = list_customers(
            session,
            text=query.q,
            grade=query.grade,
            blocked=query.blocked,
            page=query.page,
            per_page=query.per_page,
        )
        today = svc.clock().date()
        items = [customer_json(session, c, today=today, full=False) for c in rows]
        return paged(items, total, query.page, query.per_page)


@bp.post("/customers")
@api.validate(json=NewCustomer, resp=responses(201, Customer, 403, 409, 413, 422))
def post_customer() -> tuple[Response, int]:
    """Create a customer (without a credit limit: that comes from an approved application). Only credit
    staff (credit_analyst, credit_manager) or an admin may send external_rating: 403 naming it otherwise."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_CREATORS, _("create customers"))
    check_rating_fields(actor, json_body(), action="create a customer")
    check_key_customer_rights(actor, json_body(), action="create a customer")
    return create_from_body(
        CUSTOMER_CREATORS,
        _("create customers"),
        parse_customer,
        create_customer,
        lambda session, customer, now: customer_json(session, customer, today=now.date()),
    )


class CustomerFile(Customer):
    credit_notes: list[CreditNote] = Field(description="the latest 50 credit notes posted for disputes")
    write_offs: list[WriteOff] = Field(description="the latest 50 legal outcomes and what they wrote off")
    recoveries: list[RecoveryItem] = Field(description="money recovered on written-off invoices")


@bp.get("/customers/<int:customer_id>")
@api.validate(resp=responses(200, CustomerFile, 403, 404))
def get_customer_file(customer_id: int) -> Response:
    """A customer's credit file: limit history, exposure, what is overdue, its credit notes, legal outcomes
    (write-offs) and recoveries."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read customers"))
    svc = services()
    with svc.rt.factory() as session:
        body = customer_json(session, get_customer(session, customer_id), today=svc.clock().date())
        return jsonify(
            {
                **body,
                "credit_notes": customer_credit_notes(session, customer_id),
                "write_offs": customer_write_offs(session, customer_id),
                "recoveries": customer_recoveries(session, customer_id),
            }
        )


@bp.post("/customers/<int:customer_id>/rating")
@api.validate(json=Rating, resp=responses(200, Customer, 403, 404, 413, 422))
def post_rating(customer_id: int) -> Response:
    """Record a new external rating; the next sweep starts a review with reason rating_change."""
    actor = current_actor()
    require_groups(actor, RATING_RECORDERS, _("record external ratings"))
    svc = services()
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        customer = record_rating(session, customer_id, json_body(), actor=actor.username, now=now)
        # A downgrade puts the customer on the watchlist at once (an upgrade may clear its entry).
        base = svc.rt.settings.credit.base_currency
        flag_customer(session, customer_id, now, base=base, actor=actor.username)
        return jsonify(customer_json(session, customer, today=now.date()))


NewKeyCustomer = fields_body("KeyCustomer", KEY_CUSTOMER_BODY)


@bp.post("/customers/<int:customer_id>/key-customer")
@api.validate(json=NewKeyCustomer, resp=responses(200, Customer, 403, 404, 413, 422))
def post_key_customer(customer_id: int) -> Response:
    """Name the customer a key customer with its account owner (an active user), or no longer (credit
    analysts and managers); audited as key_customer_changed. Key customers are reviewed more often."""
    actor = current_actor()
    require_groups(actor, KEY_CUSTOMER_SETTERS, _("name key customers"))
    svc = services()
    now = svc.clock()
    fields = parse_key_customer(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        customer = get_customer(session, customer_id)
        was_key = customer.key_customer
        set_key_customer(session, customer, fields, actor=actor.username, now=now)
        if customer.key_customer and not was_key:  # onto the key review cycle from now on
            bring_review_forward(session, customer, actor=actor.username, now=now)
        return jsonify(customer_json(session, customer, today=now.date()))


@bp.get("/customers/<int:customer_id>/collateral")
@api.validate(resp=responses(200, CollateralList, 403, 404))
def get_collateral(customer_id: int) -> Response:
    """The collateral and guarantees on a customer's file, newest first; expired ones show active false."""
    actor = current_actor()
    require_groups(actor, CUSTOMER_READERS, _("read customers"))
    svc = services()
    with svc.rt.factory() as session:
        today = svc.clock().date()
        rows = list_collateral(session, customer_id)
        return jsonify({"items": [collateral_json(row, today=today) for row in rows]})


@bp.post("/customers/<int:customer_id>/collateral")
@api.validate(json=NewCollateral, resp=responses(201, CollateralItem, 403, 404, 409, 413, 422))
def post_collateral(customer_id: int) -> tuple[Response, int]:
    """Record a collateral or guarantee on the customer's file (credit analysts and managers); the
    scorecard counts it until it expires."""
    actor = current_actor()
    require_groups(actor, COLLATERAL_WRITERS, _("record collateral"))
    svc = services()
    now = svc.clock()
    fields = parse_collateral(json_body(), today=now.date())
    with transaction(svc.rt.factory) as session:
        row = add_collateral(session, customer_id, fields, actor=actor.username, now=now)
        return jsonify(collateral_json(row, today=now.date())), 201

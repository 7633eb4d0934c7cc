"""The customer credit file: customers, their limits with append-only history, exposure, and CSV import."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.key_customers import KEY_CUSTOMER_FIELDS, check_owners
from workflows.credit.limit_reasons import migrated
from workflows.credit.models import Customer, Invoice, InvoiceStatus, LimitChange, LimitPolicyNote
from workflows.credit.order_tables import open_orders_of
from workflows.credit.record_fields import FieldSpec, iso_text, money_text, parse_fields, raise_field_errors
from workflows.definitions.decision_tables import output_values
from workflows.definitions.versions import definition_file, latest_definition
from workflows.errors import Conflict, Invalid, NotFound, field_listing
from workflows.messages import _
from workflows.store.audit import as_recorded, record_event
from workflows.store.paging import page_rows
from workflows.store.text_search import contains

GRADES = ("A", "B", "C", "D", "E")

# The policy table that sets how often each grade is reviewed, and the process that ships it.
LIMIT_POLICY_FILE = "limit_policy.dmn"
LIMIT_POLICY_DECISION, REVIEW_CYCLE_OUTPUT = "limit_policy", "review_months"

# What people may set on a customer (the API and the web form). A credit limit is not among them: it
# comes only from an approved credit application or limit review (the migration import aside).
CUSTOMER_FIELDS: dict[str, FieldSpec] = {
    "external_id": FieldSpec("text", max_length=80),
    "name": FieldSpec("text", required=True),
    "email": FieldSpec("email"),
    "contact_name": FieldSpec("text", max_length=120),  # the person letters address
    "industry": FieldSpec("text", max_length=80),
    "founded_year": FieldSpec("year"),
    "annual_revenue": FieldSpec("money"),
    "currency": FieldSpec("currency", required=True),
    "registration_no": FieldSpec("text", max_length=80),
    "sales_owner": FieldSpec("text", max_length=80),
    "language": FieldSpec("language"),
    "current_ratio": FieldSpec("ratio"),
    "debt_ratio": FieldSpec("ratio"),
    "external_rating": FieldSpec("text", max_length=10),
    "next_review_date": FieldSpec("date"),
    "customer_since": FieldSpec("date"),  # when the relationship began; absent: the first invoice's date
    "ownership": FieldSpec("text", max_length=20),  # one of OWNERSHIPS: picks the scorecard segment
    "region": FieldSpec("text", max_length=80),  # e.g. EU, UK, CN: picks the scorecard segment
    **KEY_CUSTOMER_FIELDS,  # key_customer (reviewed more often) and account_owner (an active user)
}
# Who owns the customer, as the segment scorecards of scorecard_weights.dmn tell them apart.
OWNERSHIPS = ("state_owned", "private", "foreign", "listed")
# The ERP migration import (`creditflow import customers`, admins only) also takes over the ERP's limit.
MIGRATED_CUSTOMER_FIELDS: dict[str, FieldSpec] = {**CUSTOMER_FIELDS, "credit_limit": FieldSpec("money")}

_NO_LIMIT = (
    "A credit limit comes only from an approved credit application or limit review: create the customer "
    "without one, then start a credit application."
)


def parse_customer(raw: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Check and convert customer fields from the API or the web form; empty strings count as absent.

    Raises:
        Invalid: `details["fields"]` names each bad field and why (`credit_limit` is always refused).
    """
    limit = raw.get("credit_limit")
    rest = {k: v for k, v in raw.items() if k != "credit_limit"}
    if limit is not None and not (isinstance(limit, str) and not limit.strip()):
        try:
            _parse_customer_fields(CUSTOMER_FIELDS, rest, today)
        except Invalid as exc:
            fields = {"credit_limit": _NO_LIMIT, **exc.details["fields"]}
        else:
            fields = {"credit_limit": _NO_LIMIT}
        listing = field_listing(fields)
        raise Invalid(_("The customer has errors: %(listing)s", listing=listing), details={"fields": fields})
    return _parse_customer_fields(CUSTOMER_FIELDS, rest, today)  # an empty credit_limit counts as absent


def parse_migrated_customer(raw: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """Check and convert a row of the ERP migration import, which may carry the ERP's credit limit.

    Raises:
        Invalid: `details["fields"]` names each bad field and why.
    """
    return _parse_customer_fields(MIGRATED_CUSTOMER_FIELDS, raw, today)


def _parse_customer_fields(
    specs: Mapping[str, FieldSpec], raw: Mapping[str, Any], today: date
) -> dict[str, Any]:
    """parse_fields, plus the rules of the scorecard's segment and relationship fields."""
    errors: dict[str, str] = {}
    try:
        fields = parse_fields(_("customer"), specs, raw, today)
    except Invalid as exc:
        errors, fields = dict(exc.details["fields"]), {}
    if "ownership" in fields and fields["ownership"] not in OWNERSHIPS:
        errors["ownership"] = _("One of %(ownerships)s.", ownerships=", ".join(OWNERSHIPS))
    since, start = fields.get("customer_since"), date(fields.get("founded_year") or 1800, 1, 1)
    if since is not None and not start <= since <= today:
        dates = {"start": start, "today": today}  # a date's str is its ISO form
        errors["customer_since"] = _("A date between %(start)s and today (%(today)s).", **dates)
    raise_field_errors(errors, _("customer"))
    return fields


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def longest_review_cycle(session: Session) -> int | None:
    """Months of the longest review cycle of the deployed limit policy (limit_policy.dmn's `review_months`
    in the newest limit review or credit application version); None when none is deployed."""
    for key in (roles.CREDIT_LIMIT_REVIEW, roles.CREDIT_APPLICATION):
        definition = latest_definition(session, key, required=False)
        if definition is None:
            continue
        text = definition_file(session, definition, LIMIT_POLICY_FILE)
        if text is None:
            continue
        cycles = [
            int(v) for v in output_values(text, LIMIT_POLICY_DECISION, REVIEW_CYCLE_OUTPUT) if v.isdigit()
        ]
        if cycles:
            return max(cycles)
    return None


def check_review_date(session: Session, review_date: date | None, today: date) -> None:
    """Refuse a next review date beyond the limit policy's longest review cycle from today: a date far in
    the future would keep the customer out of every scheduled review.

    Raises:
        Invalid: naming `next_review_date` and the latest date allowed.
    """
    if review_date is None:
        return
    months = longest_review_cycle(session)
    if months is None:
        message = (
            "No limit policy is deployed (limit_policy.dmn with credit_limit_review), so no review cycle "
            "allows a review date; leave it out or run `creditflow init`."
        )
    elif review_date > (latest := add_months(today, months)):
        message = (
            f"At most {latest.isoformat()}: the limit policy reviews every customer at least every "
            f"{months} months."
        )
    else:
        return
    raise _field_error("next_review_date", message)


def _field_error(name: str, message: str) -> Invalid:
    said = _("The customer has errors: %(name)s: %(message)s", name=name, message=message)
    return Invalid(said, details={"fields": {name: message}})


def create_customer(session: Session, fields: Mapping[str, Any], *, actor: str, now: datetime) -> Customer:
    """Add a customer with limit 0 (a limit comes only from an approved application or review).

    Raises:
        Invalid: the fields carry a credit limit, an unknown sales owner or a review date beyond the
            policy's longest review cycle.  Conflict: the external_id is taken.
    """
    if fields.get("credit_limit"):
        raise _field_error("credit_limit", _NO_LIMIT)
    return _add_customer(session, fields, actor=actor, now=now)


def migrate_customer(
    session: Session, fields: Mapping[str, Any], *, actor: str, now: datetime, source: str
) -> Customer:
    """Add a customer taken over from the ERP with its ERP limit; the limit history records the
    migration, the importing user and the file (`source`).

    Raises:
        Invalid, Conflict: as create_customer, except that a credit limit is taken over.
    """
    customer = _add_customer(session, fields, actor=actor, now=now)
    limit = fields.get("credit_limit")
    if limit:
        reason = migrated(source)[: LimitChange.reason.type.length]
        change_limit(session, customer, limit, reason=reason, approvers=[], actor=actor, now=now)
    return customer


def _add_customer(session: Session, fields: Mapping[str, Any], *, actor: str, now: datetime) -> Customer:
    check_review_date(session, fields.get("next_review_date"), now.date())
    check_owners(session, fields)  # sales_owner a user, account_owner an active user
    external_id = fields.get("external_id")
    if external_id and session.scalar(select(Customer.id).where(Customer.external_id == external_id)):
        raise Conflict(_("a customer with external_id '%(id)s' exists already", id=external_id))
    customer = Customer(**{**fields, "credit_limit": Decimal("0.00")}, created_at=now, updated_at=now)
    session.add(customer)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="customer_created",
        now=now,
        customer_id=customer.id,
        name=customer.name,
        before=None,
        after=as_recorded({**fields, "credit_limit": customer.credit_limit}),
    )
    return customer


def change_limit(
    session: Session,
    customer: Customer,
    new_limit: Decimal,
    *,
    reason: str,
    approvers: Iterable[str],
    actor: str,
    now: datetime,
    instance_id: int | None = None,
    policy: LimitPolicyNote | None = None,
) -> LimitChange:
    """Set a customer's credit limit and append the change to its history (in the caller's transaction);
    `policy` marks an increase above policy with the policy's limit and the reason for the exception."""
    change = LimitChange(
        customer_id=customer.id,
        old_limit=customer.credit_limit,
        new_limit=new_limit,
        currency=customer.currency,
        reason=reason,
        approvers=list(approvers),
        instance_id=instance_id,
        changed_by=actor,
        changed_at=now,
        above_policy=policy is not None,
        policy_limit=policy.policy_limit if policy else None,
        exception_reason=policy.exception_reason if policy else "",
    )
    session.add(change)
    customer.credit_limit = new_limit
    customer.updated_at = now
    record_event(
        session,
        actor=actor,
        action="credit_limit_changed",
        now=now,
        instance_id=instance_id,
        customer_id=customer.id,
        old=str(change.old_limit),
        new=str(new_limit),
        currency=customer.currency,  # the pages write the amounts as money in it
        reason=reason,
        approvers=list(change.approvers),
        above_policy=policy is not None,
        policy_limit=str(policy.policy_limit) if policy else None,
    )
    return change


def get_customer(session: Session, customer_id: int) -> Customer:
    """Raises: NotFound."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(_("customer %(id)s does not exist", id=customer_id))
    return customer


def list_customers(
    session: Session,
    *,
    text: str | None = None,
    grade: str | None = None,
    blocked: bool | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Customer], int]:
    """One page of customers by name, filtered by name/external id/registration text, grade, block."""
    query = select(Customer)
    if text:
        query = query.where(
            or_(
                contains(Customer.name, text),
                contains(Customer.external_id, text),
                contains(Customer.registration_no, text),
                contains(Customer.contact_name, text),
            )
        )
    if grade:
        query = query.where(Customer.grade == grade)
    if blocked is not None:
        query = query.where(Customer.blocked.is_(blocked))
    return page_rows(session, query.order_by(Customer.name, Customer.id), page, per_page)


def exposure_of(session: Session, customer_id: int) -> Decimal:
    """What the customer owes and has ordered, in its currency: the open amounts of its open invoices plus
    its open and released orders (each converted when it was recorded; held orders do not count). A
    written-off invoice counts what a settlement still asks of the debtor (its open amount; 0 when
    uncollectable)."""
    total = session.scalar(
        select(func.sum(Invoice.open_amount)).where(
            Invoice.customer_id == customer_id, Invoice.status.in_(InvoiceStatus.OWED)
        )
    )
    orders = open_orders_of(session, [customer_id]).get(customer_id, Decimal("0.00"))
    return (total if total is not None else Decimal("0.00")) + orders


def overdue_of(session: Session, customer_id: int, today: date) -> Decimal:
    """Open receivables whose due date has passed by `today`."""
    total = session.scalar(
        select(func.sum(Invoice.open_amount)).where(
            Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN, Invoice.due_date < today
        )
    )
    return total if total is not None else Decimal("0.00")


def customer_since(session: Session, customer: Customer) -> date | None:
    """When the relationship began: the date on file, else the first invoice's issue date; None when the
    customer has neither (a new customer)."""
    if customer.customer_since is not None:
        return customer.customer_since
    return session.scalar(select(func.min(Invoice.issue_date)).where(Invoice.customer_id == customer.id))


def limit_history(session: Session, customer_id: int) -> list[LimitChange]:
    return list(
        session.scalars(
            select(LimitChange).where(LimitChange.customer_id == customer_id).order_by(LimitChange.id)
        )
    )


def customer_json(session: Session, customer: Customer, *, today: date, full: bool = True) -> dict[str, Any]:
    """A customer as the REST API shows it; `full` adds limit history, exposure and overdue."""
    body: dict[str, Any] = {
        "id": customer.id,
        "external_id": customer.external_id,
        "name": customer.name,
        "email": customer.email,
        "contact_name": customer.contact_name,
        "industry": customer.industry,
        "founded_year": customer.founded_year,
        "annual_revenue": money_text(customer.annual_revenue),
        "currency": customer.currency,
        "registration_no": customer.registration_no,
        "sales_owner": customer.sales_owner,
        "language": customer.language,
        "external_rating": customer.external_rating,
        "rating_agency": customer.rating_agency,
        "rating_date": customer.rating_date.isoformat() if customer.rating_date else None,
        "grade": customer.grade,
        "score": customer.score,
        "score_valid_to": customer.score_valid_to.isoformat() if customer.score_valid_to else None,
        "credit_limit": money_text(customer.credit_limit),
        "next_review_date": customer.next_review_date.isoformat() if customer.next_review_date else None,
        "blocked": customer.blocked,
        "key_customer": customer.key_customer,
        "account_owner": customer.account_owner,
        "customer_since": iso_text(customer_since(session, customer)),
        "ownership": customer.ownership,
        "region": customer.region,
        "management_rating": customer.management_rating,
        "industry_rating": customer.industry_rating,
        "strategic_rating": customer.strategic_rating,
        "ratings_by": customer.ratings_by,
        "ratings_at": iso_text(customer.ratings_at),
    }
    if full:
        body["exposure"] = money_text(exposure_of(session, customer.id))
        body["overdue"] = money_text(overdue_of(session, customer.id, today))
        body["limit_history"] = [
            {
                "old": money_text(c.old_limit),
                "new": money_text(c.new_limit),
                "currency": c.currency,
                "reason": c.reason,
                "approvers": c.approvers,
                "instance_id": c.instance_id,
                "changed_by": c.changed_by,
                "at": c.changed_at.isoformat(),
                "above_policy": c.above_policy,
                "policy_limit": money_text(c.policy_limit),
                "exception_reason": c.exception_reason,
            }
            for c in limit_history(session, customer.id)
        ]
    return body

"""The daily limit-review sweep: which customers need a credit limit review, and why."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.customers import get_customer
from workflows.credit.key_customer_reviews import top_exposures_due
from workflows.credit.models import Customer, DunningCase, DunningStatus, Invoice, InvoiceStatus
from workflows.credit.order_tables import open_orders_of
from workflows.credit.record_fields import iso_text
from workflows.errors import Invalid, field_listing
from workflows.messages import _
from workflows.settings import ReviewSettings
from workflows.store.audit import changed as changed_fields
from workflows.store.audit import record_event
from workflows.store.models import InstanceStatus, ProcessInstance

PROCESS_KEY = roles.CREDIT_LIMIT_REVIEW
# The first matching trigger names the review; the riskier the signal, the earlier it is listed.
RATING_FIELDS = ("agency", "rating", "date")
EVENT_TRIGGERS = ("dunning", "overdue", "utilisation")


def review_triggers(
    session: Session, as_of: date, policy: ReviewSettings, *, base: str | None = None
) -> dict[int, str]:
    """customer id -> reason, for every customer that needs a review and has none open. With `base` (the
    base currency), also the top-N exposures exposure_review_policy.dmn reviews more often (top_exposure)."""
    reviews = select(
        ProcessInstance.business_key, ProcessInstance.data, ProcessInstance.status, ProcessInstance.started_at
    ).where(ProcessInstance.process_key == PROCESS_KEY)
    open_reviews: set[int] = set()
    last_started: dict[int, datetime] = {}
    for key, data, status, started in session.execute(reviews):
        # Manual reviews may be started without a business key: their data still names the customer. The
        # key is typed by whoever starts the review: ASCII digits only ("²".isdigit() is true, int() fails).
        cid = int(key) if key and key.isascii() and key.isdigit() else (data or {}).get("customer_id")
        if not isinstance(cid, int):
            continue
        if status in (InstanceStatus.RUNNING, InstanceStatus.ERROR):
            open_reviews.add(cid)
        last_started[cid] = max(started, last_started.get(cid, started))
    found: dict[str, set[int]] = {
        "dunning": set(session.scalars(_in_dunning())),
        "overdue": set(session.scalars(_overdue(as_of, policy.overdue_days))),
        "utilisation": _highly_utilised(session, policy.utilisation_threshold),
        "rating_change": set(),
        "top_exposure": set() if base is None else top_exposures_due(session, as_of, base, last_started),
        "scheduled": set(session.scalars(select(Customer.id).where(Customer.next_review_date <= as_of))),
    }
    for cid, changed in session.execute(
        select(Customer.id, Customer.rating_changed_at).where(Customer.rating_changed_at.is_not(None))
    ):
        if changed is not None and (cid not in last_started or changed > last_started[cid]):
            found["rating_change"].add(cid)
    cooldown_start = datetime.combine(
        as_of - timedelta(days=policy.cooldown_days), datetime.min.time(), tzinfo=None
    )
    triggers: dict[int, str] = {}
    for reason in ("dunning", "overdue", "rating_change", "utilisation", "top_exposure", "scheduled"):
        for cid in sorted(found[reason]):
            if cid in triggers or cid in open_reviews:
                continue
            recent = cid in last_started and last_started[cid].replace(tzinfo=None) >= cooldown_start
            if reason in EVENT_TRIGGERS and recent:
                continue  # the same risk signal was just reviewed; wait for the cool-down
            triggers[cid] = reason
    return triggers


def _in_dunning() -> Select[Any]:
    """Customers with a dunning case at level 3 or beyond (the final demand, a credit block)."""
    return select(DunningCase.customer_id).where(
        DunningCase.status.in_(DunningStatus.ACTIVE), DunningCase.level >= 3
    )


def _overdue(as_of: date, days: int) -> Select[Any]:
    """Customers with an invoice more than `days` past due and not wholly held by a dispute."""
    return select(Invoice.customer_id).where(
        Invoice.status == InvoiceStatus.OPEN,
        Invoice.open_amount > Invoice.disputed_amount,  # not wholly held by a dispute
        Invoice.due_date < as_of - timedelta(days=days),
    )


def late_payer(session: Session, customer_id: int, as_of: date, policy: ReviewSettings) -> str | None:
    """The risk signal ("dunning", "overdue") that would trigger a review of the customer today, None without
    one: a review started by hand as "manual" or "utilisation" proposes no increase either."""
    signals = (
        ("dunning", _in_dunning().where(DunningCase.customer_id == customer_id)),
        ("overdue", _overdue(as_of, policy.overdue_days).where(Invoice.customer_id == customer_id)),
    )
    return next((reason for reason, query in signals if session.scalar(query.limit(1)) is not None), None)


def _highly_utilised(session: Session, threshold: Decimal) -> set[int]:
    """Customers whose exposure (open invoices and open orders, as exposure_of counts) reaches `threshold`
    of their limit."""
    invoiced = session.execute(
        select(Invoice.customer_id, func.sum(Invoice.open_amount))
        .where(Invoice.status.in_(InvoiceStatus.OWED))
        .group_by(Invoice.customer_id)
    )
    exposure: dict[int, Decimal] = {cid: total for cid, total in invoiced if total is not None}
    for cid, ordered in open_orders_of(session).items():
        exposure[cid] = exposure.get(cid, Decimal("0.00")) + ordered
    limits = session.execute(select(Customer.id, Customer.credit_limit).where(Customer.credit_limit > 0))
    # Compared in Python: the amounts are exact Decimals here, not floats in SQL.
    return {cid for cid, limit in limits if cid in exposure and exposure[cid] >= limit * threshold}


def record_rating(
    session: Session, customer_id: int, body: dict[str, Any], *, actor: str, now: datetime
) -> Customer:
    """Store a new external rating; the next sweep starts a review with reason rating_change.

    Raises:
        NotFound, Invalid (agency, rating or date missing or malformed).
    """
    errors = {}
    unknown = sorted(set(body) - set(RATING_FIELDS))
    if unknown:
        errors["_unknown"] = _(
            "Unknown field(s): %(unknown)s; a rating has agency, rating and date.", unknown=", ".join(unknown)
        )
    # Strings only: str() of an object would store its Python spelling ("{'typename': 'x'}").
    texts = {name: value if isinstance(value := body.get(name), str) else "" for name in RATING_FIELDS}
    agency, rating = texts["agency"].strip(), texts["rating"].strip().upper()
    if not agency or len(agency) > 80:
        errors["agency"] = _("Name the rating agency (at most 80 characters).")
    if not rating or len(rating) > 10:
        errors["rating"] = _("Give the rating, e.g. BBB or A+ (at most 10 characters).")
    try:
        rated_on = date.fromisoformat(texts["date"])
    except ValueError:
        errors["date"] = _("The date of the rating, as YYYY-MM-DD.")
    else:
        if rated_on > now.date():
            errors["date"] = _(
                "The rating date %(rated_on)s lies in the future; give the day the agency rated.",
                rated_on=rated_on,
            )
    if errors:
        raise Invalid(
            _("The rating has errors: %(listing)s", listing=field_listing(errors)),
            details={"fields": errors},
        )
    customer = get_customer(session, customer_id)
    old = customer.external_rating
    before = _rating(customer)
    customer.external_rating, customer.rating_agency, customer.rating_date = rating, agency, rated_on
    customer.rating_changed_at, customer.updated_at = now, now
    diff = changed_fields(before, _rating(customer))
    record_event(
        session,
        actor=actor,
        action="external_rating_changed",
        now=now,
        customer_id=customer.id,
        agency=agency,
        old=old,
        new=rating,
        date=rated_on.isoformat(),
        before=diff["before"],  # the agency and date it replaced, too
        after=diff["after"],
    )
    return customer


def _rating(customer: Customer) -> dict[str, Any]:
    return {
        "external_rating": customer.external_rating,
        "rating_agency": customer.rating_agency,
        "rating_date": iso_text(customer.rating_date),
    }

"""A key customer's review cycle: naming a customer key brings a later next review forward to the cycle
limit_policy.dmn gives key customers of its grade (the table as deployed, never a constant here)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.customers import LIMIT_POLICY_DECISION, LIMIT_POLICY_FILE, add_months
from workflows.credit.models import Customer
from workflows.definitions.versions import definition_file, latest_definition
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.errors import Conflict
from workflows.store.audit import record_event


def key_review_date(session: Session, customer: Customer, today: date) -> date | None:
    """The latest next review the deployed limit policy allows a key customer of the customer's grade:
    today + `review_months` of limit_policy.dmn for (grade, key customer); None without a grade or a
    deployed policy (the next decision then sets it).

    Raises:
        Conflict: the deployed table fails on these inputs (naming the file and version).
    """
    if customer.grade is None:
        return None
    for key in (roles.CREDIT_LIMIT_REVIEW, roles.CREDIT_APPLICATION):
        definition = latest_definition(session, key, required=False)
        if definition is None:
            continue
        text = definition_file(session, definition, LIMIT_POLICY_FILE)
        if text is None:
            continue
        inputs = {"grade": customer.grade, "credit_file": {"key_customer": True}}
        try:
            months = evaluate_decision(text, LIMIT_POLICY_DECISION, inputs).get("review_months")
        except DecisionError as exc:  # nothing is written: the process owner fixes the deployed table
            raise Conflict(f"{LIMIT_POLICY_FILE} of {key} v{definition.version}: {exc}") from exc
        if isinstance(months, int) and not isinstance(months, bool):
            return add_months(today, months)
    return None


def bring_review_forward(session: Session, customer: Customer, *, actor: str, now: datetime) -> None:
    """A customer just named key is reviewed on the key cycle from now on: a next review later than the
    policy's key cycle allows moves forward to it (audited as next_review_date_set, reason key_customer)."""
    latest = key_review_date(session, customer, now.date())
    scheduled = customer.next_review_date
    if latest is None or (scheduled is not None and scheduled <= latest):
        return
    customer.next_review_date = latest
    record_event(
        session,
        actor=actor,
        action="next_review_date_set",
        now=now,
        customer_id=customer.id,
        reason="key_customer",
        before={"next_review_date": scheduled.isoformat() if scheduled else None},
        after={"next_review_date": latest.isoformat()},
    )

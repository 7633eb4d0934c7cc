"""A key customer's review cycle: naming a customer key brings a later next review forward to the cycle
limit_policy.dmn gives key customers of its grade (the table as deployed, never a constant here). And the
top-N exposures' review frequency: exposure_review_policy.dmn names N and the months, the limit-review sweep
starts a review (reason top_exposure) for each of the N largest exposures not reviewed that long."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.credit import roles
from workflows.credit.aging_history import top_exposures
from workflows.credit.customers import LIMIT_POLICY_DECISION, LIMIT_POLICY_FILE, add_months
from workflows.credit.exposure_policy import EXPOSURE_FILE, exposure_policy
from workflows.credit.models import Customer, LimitChange
from workflows.definitions.versions import definition_file, latest_definition
from workflows.engine.decisions import DecisionError, evaluate_decision
from workflows.errors import Conflict, message_of
from workflows.messages import _
from workflows.store.audit import record_event

logger = logging.getLogger(__name__)


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
            raise Conflict(
                _(
                    "%(limit_policy_file)s of %(key)s v%(definition_version)s: %(problem)s",
                    limit_policy_file=LIMIT_POLICY_FILE,
                    key=key,
                    definition_version=definition.version,
                    problem=message_of(exc),
                )
            ) from exc
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


# --- the top-N exposures' review frequency (bpmn/exposure_review_policy.dmn) -------------------------------

TOP_EXPOSURE = "top_exposure"  # the limit-review sweep's reason


@dataclass(frozen=True)
class ExposureRank:
    rank: int  # 1: the largest exposure
    top_n: int
    review_months: int
    in_base: Decimal

    def as_data(self) -> dict[str, Any]:
        """What the review instance carries (its task shows why it is reviewed)."""
        return {
            "exposure_rank": self.rank,
            "exposure_top_n": self.top_n,
            "exposure_review_months": self.review_months,
        }


def top_exposure_ranks(session: Session, as_of: date, base: str) -> dict[int, ExposureRank]:
    """customer id -> its rank among the policy's top-N exposures at the end of `as_of` (the dashboard's
    ranking: open receivables in the base currency at the day's rates; customers in a currency without a rate
    are not ranked). Empty when the policy names none."""
    policy = exposure_policy(session)
    if policy.top_n <= 0:
        return {}
    found = top_exposures(session, as_of, base, limit=policy.top_n)
    if found.missing_rates:
        # Amounts in a currency without a rate cannot be ranked: naming the largest of the rest "rank 1"
        # would guess. No top-N review starts until the rate is posted (the dashboard and the watchlist
        # show the missing rate to the credit manager).
        logger.warning("top-N exposure reviews wait: no rate for %s on %s", found.missing_rates, as_of)
        return {}
    return {
        e.customer_id: ExposureRank(rank, policy.top_n, policy.review_months, e.in_base)
        for rank, e in enumerate(found.top, start=1)
    }


def top_exposures_due(
    session: Session, as_of: date, base: str, last_started: Mapping[int, datetime]
) -> set[int]:
    """The top-N exposure customers nobody looked at for the policy's review_months (on `as_of`, or more):
    the last time is the latest of its last limit review's start, its last limit change (an application's
    decision, the ERP migration) and its creation. The sweep reviews them with reason top_exposure."""
    ranks = top_exposure_ranks(session, as_of, base)
    if not ranks:
        return set()
    looked: dict[int, datetime] = {}
    for cid, created, changed in session.execute(
        select(Customer.id, Customer.created_at, func.max(LimitChange.changed_at))
        .outerjoin(LimitChange, LimitChange.customer_id == Customer.id)
        .where(Customer.id.in_(list(ranks)))
        .group_by(Customer.id, Customer.created_at)
    ):
        moments = [m for m in (created, changed, last_started.get(cid)) if m is not None]
        looked[cid] = max(_naive(m) for m in moments)
    due = set()
    for cid, rank in ranks.items():
        last = looked.get(cid)
        if last is None or last.date() <= add_months(as_of, -rank.review_months):
            due.add(cid)
    return due


def _naive(moment: datetime) -> datetime:
    """UTC without its zone (SQLite gives naive datetimes, PostgreSQL aware ones): comparable."""
    return (
        moment.replace(tzinfo=None) if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
    )


def top_exposure_note(
    session: Session,
    customer_id: int,
    as_of: date,
    base: str,
    ranks: Mapping[int, ExposureRank] | None = None,
) -> str | None:
    """Why a top_exposure review was started, in words for its task ("why this review"); None when the
    customer is no longer among the top N (the review still runs, with its reason). `ranks` are
    `top_exposure_ranks`' answer when the caller read it already."""
    if ranks is None:
        ranks = top_exposure_ranks(session, as_of, base)
    rank = ranks.get(customer_id)
    if rank is None:
        return None
    return (
        f"rank {rank.rank} of the {rank.top_n} largest exposures ({rank.in_base:.2f} {base} open on "
        f"{as_of.isoformat()}); {EXPOSURE_FILE} reviews them at least every {rank.review_months} months"
    )


class StartData:
    """A daily job's start data, for the starts of one chunk: the customer, the sweep's reason, and for a
    top_exposure review why (its rank).

    The book's top-N ranking is read once, by the chunk's first top_exposure start, and kept for the
    chunk's others: ranking the whole book again for each review cost 0.2 s a start at 20,000
    customers, and more as the book grows (issue 19). A chunk is minutes at most; a rank that moves
    meanwhile only changes the words of the note, not whether the review starts (the planner decided).
    """

    def __init__(self, as_of: date, base: str) -> None:
        self.as_of, self.base = as_of, base
        self._ranks: dict[int, ExposureRank] | None = None

    def __call__(self, session: Session, customer_id: int, reason: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"customer_id": customer_id}
        if reason is not None:
            data["reason"] = reason
        if reason == TOP_EXPOSURE:
            if self._ranks is None:
                self._ranks = top_exposure_ranks(session, self.as_of, self.base)
            note = top_exposure_note(session, customer_id, self.as_of, self.base, self._ranks)
            if note:
                data["review_note"] = note
        return data

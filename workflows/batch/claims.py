"""The customers of a day's batch job (`batch_claims`): planned once, claimed one at a time, counted.

Every run of a day (the claimant, runs that join it, a run that takes it over) adds the customers its
query names with INSERT ... ON CONFLICT DO NOTHING, so the day has one list whoever planned it. A
customer is claimed by locking its pending row in the transaction that starts its case, and that same
transaction records the outcome: a case is started once and counted once, and a run killed mid-start
leaves the row pending and unlocked for the next run. The day's counts are read from these rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflows.store.db import is_postgres
from workflows.store.models import BatchClaim, ClaimOutcome

# Claim rows older than this are deleted when a later day plans; the day's counts stay on `job_runs`.
CLAIMS_KEPT_FOR = timedelta(days=14)
# How long a run waits for a customer another run is starting before the chunk fails (and is retried).
WAIT_FOR_OTHER_RUN = "5min"
# Rows per INSERT: SQLite allows 32,766 bound parameters per statement, a row here takes three.
_INSERT_BATCH = 2000
HANDLED = (ClaimOutcome.STARTED, ClaimOutcome.ALREADY_HANDLED, ClaimOutcome.FAILED)


@dataclass(frozen=True)
class DayCounts:
    """The whole day of one batch job, whoever did the work."""

    planned: int = 0  # customers the day's queries named (dropped ones aside)
    handled: int = 0  # of those, started, found handled already, or failed
    started: int = 0  # instances the job started
    failed: int = 0  # customers whose start was refused

    def columns(self) -> dict[str, int]:
        """The `job_runs` columns these counts fill."""
        return {
            "customers_planned": self.planned,
            "customers_handled": self.handled,
            "instances_started": self.started,
            "customers_failed": self.failed,
        }


def _day(process_key: str, as_of: date) -> Any:
    return (BatchClaim.process_key == process_key) & (BatchClaim.as_of == as_of)


def add_plan(session: Session, process_key: str, as_of: date, due: Mapping[int, str | None]) -> list[int]:
    """Add the customers due now to the day's list; the pending ones of them, in customer order.

    Pending rows that are no longer due (a run planned them, then the customer paid) are dropped, unless
    a run is starting that customer right now (its row is locked: that run records the outcome).
    """
    dialect = postgresql if is_postgres(session) else sqlite
    rows = [
        {"process_key": process_key, "as_of": as_of, "customer_id": c, "reason": due[c]} for c in sorted(due)
    ]
    # Every run of the day plans (nearly) the same customers: a row that exists already is no conflict
    # to report. Sorted rows keep two concurrent planners from waiting on each other in a cycle.
    for start in range(0, len(rows), _INSERT_BATCH):
        batch = rows[start : start + _INSERT_BATCH]
        session.execute(dialect.insert(BatchClaim).values(batch).on_conflict_do_nothing())
    pending = list(
        session.scalars(
            select(BatchClaim.customer_id)
            .where(_day(process_key, as_of), BatchClaim.outcome.is_(None))
            .order_by(BatchClaim.customer_id)
        )
    )
    gone = [c for c in pending if c not in due]
    if gone:
        unlocked = (
            select(BatchClaim.customer_id)
            .where(_day(process_key, as_of), BatchClaim.customer_id.in_(gone), BatchClaim.outcome.is_(None))
            .with_for_update(skip_locked=True)
        )
        session.execute(
            update(BatchClaim)
            .where(_day(process_key, as_of), BatchClaim.customer_id.in_(unlocked))
            .values(outcome=ClaimOutcome.DROPPED)
        )
    session.execute(delete(BatchClaim).where(BatchClaim.as_of < as_of - CLAIMS_KEPT_FOR))
    return [c for c in pending if c in due]


def pending_among(session: Session, process_key: str, as_of: date, customer_ids: Sequence[int]) -> set[int]:
    """Which of these customers no run has handled yet."""
    query = select(BatchClaim.customer_id).where(
        _day(process_key, as_of), BatchClaim.customer_id.in_(customer_ids), BatchClaim.outcome.is_(None)
    )
    return set(session.scalars(query))


def take(session: Session, process_key: str, as_of: date, customer_id: int, *, wait: bool) -> bool:
    """Claim a pending customer for the session's transaction; False when another run holds or handled it.

    On PostgreSQL the row is locked until the transaction ends (SKIP LOCKED unless `wait`; waiting, a
    row another run handled meanwhile no longer matches once that run commits). SQLite's writers are
    serialised by BEGIN IMMEDIATE, so the pending row is simply ours.

    Raises:
        sqlalchemy.exc.OperationalError: `wait`, and another run held it past WAIT_FOR_OTHER_RUN.
    """
    if wait and is_postgres(session):
        session.execute(text(f"SET LOCAL lock_timeout = '{WAIT_FOR_OTHER_RUN}'"))
    query = (
        select(BatchClaim.customer_id)
        .where(_day(process_key, as_of), BatchClaim.customer_id == customer_id, BatchClaim.outcome.is_(None))
        .with_for_update(skip_locked=not wait)
    )
    return session.scalar(query) is not None


def take_many(session: Session, process_key: str, as_of: date, customer_ids: Sequence[int]) -> set[int]:
    """Claim the pending ones of these customers for the session's transaction, skipping any another run
    holds (PostgreSQL: SKIP LOCKED; SQLite: BEGIN IMMEDIATE already serialises the writers)."""
    query = (
        select(BatchClaim.customer_id)
        .where(
            _day(process_key, as_of), BatchClaim.customer_id.in_(customer_ids), BatchClaim.outcome.is_(None)
        )
        .order_by(BatchClaim.customer_id)
        .with_for_update(skip_locked=True)
    )
    return set(session.scalars(query))


def record(
    session: Session,
    process_key: str,
    as_of: date,
    customer_id: int,
    outcome: str,
    at: datetime,
    instance_id: int | None = None,
) -> None:
    """Record what became of a claimed customer, in the transaction that holds its claim."""
    session.execute(
        update(BatchClaim)
        .where(_day(process_key, as_of), BatchClaim.customer_id == customer_id)
        .values(outcome=outcome, instance_id=instance_id, handled_at=at)
    )


def record_many(
    session: Session,
    process_key: str,
    as_of: date,
    outcomes: Sequence[tuple[int, str | None, int | None]],
    at: datetime,
) -> None:
    """Record what became of claimed customers, (customer id, outcome, instance id) each, in one
    executemany in the transaction that holds their claims."""
    if not outcomes:
        return
    # Executed on the connection, so a plain executemany (the session would take it for an ORM bulk update).
    statement = (
        update(BatchClaim)
        .where(_day(process_key, as_of), BatchClaim.customer_id == bindparam("customer"))
        .values(outcome=bindparam("outcome"), instance_id=bindparam("instance"), handled_at=at)
    )
    session.connection().execute(
        statement, [{"customer": c, "outcome": o, "instance": i} for c, o, i in outcomes]
    )


def day_counts(session: Session, process_key: str, as_of: date) -> DayCounts:
    """The day's counts: customers planned and handled, instances started, customers failed."""
    by_outcome: dict[str | None, int] = {
        outcome: count
        for outcome, count in session.execute(
            select(BatchClaim.outcome, func.count())
            .where(_day(process_key, as_of))
            .group_by(BatchClaim.outcome)
        )
    }
    return DayCounts(
        planned=sum(n for outcome, n in by_outcome.items() if outcome != ClaimOutcome.DROPPED),
        handled=sum(by_outcome.get(outcome, 0) for outcome in HANDLED),
        started=by_outcome.get(ClaimOutcome.STARTED, 0),
        failed=by_outcome.get(ClaimOutcome.FAILED, 0),
    )


@dataclass(frozen=True)
class DayOutcomes:
    """Who got what on the day: started instances (with the review reasons) and refused customers."""

    started: list[tuple[int, str | None]]  # (instance id, reason), by instance id
    failed_customers: list[int]


def day_outcomes(session: Session, process_key: str, as_of: date) -> DayOutcomes:
    """The day's started instances and failed customers, from every run's claims."""
    started = session.execute(
        select(BatchClaim.instance_id, BatchClaim.reason)
        .where(_day(process_key, as_of), BatchClaim.outcome == ClaimOutcome.STARTED)
        .order_by(BatchClaim.instance_id)
    )
    failed = session.scalars(
        select(BatchClaim.customer_id)
        .where(_day(process_key, as_of), BatchClaim.outcome == ClaimOutcome.FAILED)
        .order_by(BatchClaim.customer_id)
    )
    return DayOutcomes([(int(i), r) for i, r in started if i is not None], list(failed))

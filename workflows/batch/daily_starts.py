"""Chunked, claim-safe batch starts: a daily job's customers split into chunks that any run may work.

The dunning run and the limit-review sweep pick their customers with the domain's queries
(`customers_to_dun`, `review_triggers`) and start each one with `start_instance`. `tick`, the embedded
scheduler, the CLI and the Prefect flows all run them through this module, which adds what several
concurrent runs need (Prefect flows on many machines, a scheduler beside them):

- planning adds the customers to the day's list in `batch_claims` (`workflows.batch.claims`), so every
  run of the day works from one list and the day is counted from it, whoever did the work;
- each customer is claimed (its pending row locked) in the transaction that starts its case and
  records the outcome; a few customers share one transaction (STARTS_PER_TRANSACTION), each start in a
  savepoint of its own. A second run skips a customer another run is starting; a run killed with
  `kill -9` takes its uncommitted starts and their claims with it, leaving those customers pending;
- a claimed customer is re-checked before it is started: one that got a case (or review) elsewhere is
  recorded as handled already, not started again;
- `run_chunks` makes a second pass over the customers it skipped, waiting for their claims, and a
  `DailyStart` plans again until nothing of the day is pending, so a run returns only once every
  customer is done, by it or by another run (including the remainder of a dead run's chunk).

Prefect is not imported here: `workflows.batch.flows` wraps these functions in tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import partial
from time import perf_counter as time_now
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from workflows.batch import claims
from workflows.batch.chunk_units import Chunk as Chunk
from workflows.batch.chunk_units import ChunkResult as ChunkResult
from workflows.batch.chunk_units import leftovers, split
from workflows.batch.chunk_units import summary as summary
from workflows.batch.claims import DayCounts
from workflows.batch.regrade import tell_regraded_cases
from workflows.clock import utcnow
from workflows.credit import dunning, limit_review
from workflows.credit.key_customer_reviews import StartData
from workflows.credit.models import Customer, DunningCase, DunningStatus
from workflows.definitions.versions import latest_definition
from workflows.engine.lean_starts import in_savepoint
from workflows.engine.runner import Runtime, start_instance
from workflows.errors import DomainError
from workflows.store.db import transaction
from workflows.store.models import ClaimOutcome, InstanceStatus, ProcessDefinition, ProcessInstance
from workflows.users import SYSTEM

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1000
# Starts per transaction: one commit, claim query and re-check for this many customers. On SQLite a
# transaction holds the write lock, so a group is also cut short by time ...
STARTS_PER_TRANSACTION = 20
# ... and at most about this long (the web's writers and the job's heartbeat wait for the lock meanwhile).
TRANSACTION_SECONDS = 0.2
# A day is planned again until nothing of it is pending; more rounds than this means customers keep
# becoming due while the day runs: the run fails, and the next run goes on with the day.
MAX_PLAN_ROUNDS = 5


# --- planning ----------------------------------------------------------------------------------------


def plan_dunning(rt: Runtime, as_of: date, size: int = DEFAULT_CHUNK_SIZE) -> list[Chunk]:
    """The dunning run's customers for `as_of` added to the day's list; its pending ones, in chunks."""
    policy = rt.settings.dunning
    with transaction(rt.factory) as session:
        due = dunning.customers_to_dun(session, as_of, policy.minimum_amount)
        pending = claims.add_plan(session, dunning.PROCESS_KEY, as_of, dict.fromkeys(due))
    return [Chunk(dunning.PROCESS_KEY, as_of, part) for part in split(pending, size)]


def plan_reviews(rt: Runtime, as_of: date, size: int = DEFAULT_CHUNK_SIZE) -> list[Chunk]:
    """The review sweep's customers and reasons for `as_of` added to the day's list; its pending ones."""
    with transaction(rt.factory) as session:
        triggers = limit_review.review_triggers(
            session, as_of, rt.settings.reviews, base=rt.settings.credit.base_currency
        )
        pending = claims.add_plan(session, limit_review.PROCESS_KEY, as_of, dict(triggers))
    return [
        Chunk(limit_review.PROCESS_KEY, as_of, part, tuple(triggers[c] for c in part))
        for part in split(pending, size)
    ]


# --- claiming and running ------------------------------------------------------------------------------


def already_handled(session: Session, chunk: Chunk) -> set[int]:
    """Customers of the chunk that got their instance outside this job (or before its claims existed).
    Dunning: an active case, or a dunning instance started since the day began. Reviews: an open review
    (running or in error, as the sweep counts them), or one started since the day began.
    """
    ids = list(chunk.customer_ids)
    since_day_start = ProcessInstance.started_at >= datetime.combine(chunk.as_of, time.min, tzinfo=UTC)
    handled: set[int] = set()
    if chunk.process_key == dunning.PROCESS_KEY:
        condition = since_day_start
        active = select(DunningCase.customer_id).where(
            DunningCase.customer_id.in_(ids), DunningCase.status.in_(DunningStatus.ACTIVE)
        )
        handled.update(session.scalars(active))
    else:
        condition = since_day_start | ProcessInstance.status.in_(
            (InstanceStatus.RUNNING, InstanceStatus.ERROR)
        )
    # By business key, the process key compared here: given both, SQLite walked the process key's index
    # (its every instance, for each group: a day grew quadratic), not the business key's (a few rows).
    started = select(ProcessInstance.business_key, ProcessInstance.process_key).where(
        ProcessInstance.business_key.in_([str(c) for c in ids]), condition
    )
    handled.update(int(b) for b, key in session.execute(started) if key == chunk.process_key and b)
    return handled


def run_chunk(rt: Runtime, chunk: Chunk, now: datetime, *, wait: bool = False) -> ChunkResult:
    """Start each customer of the chunk that is still pending, with claims and outcomes in the starts'
    transactions: STARTS_PER_TRANSACTION customers per transaction (`_start_group`), one when waiting.
    Without `wait`, a customer another run is starting right now is skipped (`held_elsewhere`); with
    `wait`, the chunk waits for that run and then starts the customer only if it is still pending.
    """
    with rt.factory() as session:
        pending = claims.pending_among(session, chunk.process_key, chunk.as_of, chunk.customer_ids)
    result = ChunkResult(already_done=[c for c in chunk.customer_ids if c not in pending])
    reasons = dict(zip(chunk.customer_ids, chunk.reasons, strict=False))
    data = StartData(chunk.as_of, rt.settings.credit.base_currency)
    todo = [c for c in chunk.customer_ids if c in pending]
    while todo:
        if wait:
            outcomes = [_wait_and_start(rt, chunk, todo[0], reasons.get(todo[0]), now, data)]
        else:
            with transaction(rt.factory) as session:
                group = todo[:STARTS_PER_TRANSACTION]
                outcomes = _start_group(session, rt, chunk, group, reasons, now, data)
        del todo[: len(outcomes)]
        for customer_id, outcome, instance_id in outcomes:
            reason = reasons.get(customer_id)
            if outcome == ClaimOutcome.STARTED and instance_id is not None:
                result.started.append(instance_id)
                if reason is not None:
                    result.by_reason.setdefault(reason, []).append(instance_id)
            elif outcome == ClaimOutcome.FAILED:
                result.failed.append(customer_id)
            elif outcome is None:
                result.held_elsewhere.append(customer_id)
            else:
                result.already_done.append(customer_id)
    return result


Outcome = tuple[int, str | None, int | None]
"""(customer id, outcome or None while another run holds the customer, instance id when started)."""


def _start_group(
    session: Session,
    rt: Runtime,
    chunk: Chunk,
    group: Sequence[int],
    reasons: dict[int, str],
    now: datetime,
    data: StartData | None = None,
) -> list[Outcome]:
    """Claim, re-check and start a few customers in one transaction (the session's): one claim query, one
    re-check and one read of the customers for all of them, and one commit, instead of one per customer.
    The group stops early once it has run TRANSACTION_SECONDS (the outcomes say how far it got: the rest
    are released unhandled at commit), so a slow machine does not hold SQLite's write lock longer.

    Each start runs in a savepoint, so a start the customer's data refuses rolls back alone and is
    recorded failed (its handlers run without a savepoint each unless one fails: `in_savepoint`). Anything
    else (connection, lock) fails the whole group: its starts and claims roll back together and the
    customers stay pending for the chunk's retry, as a `kill -9` leaves them.
    """
    key, as_of = chunk.process_key, chunk.as_of
    taken = claims.take_many(session, key, as_of, group)
    skipped = [c for c in group if c not in taken]
    held = claims.pending_among(session, key, as_of, skipped) if skipped else set()
    handled = already_handled(session, Chunk(key, as_of, tuple(c for c in group if c in taken)))
    # The group's customers and what its starts write stay in the session (its identity map holds rows
    # weakly): the start's steps read them by key again and again (`session.get`), now without a query.
    kept = list(session.scalars(select(Customer).where(Customer.id.in_(sorted(taken - handled)))))
    _keep_loaded_rows(session, kept)
    definition = latest_definition(session, key, required=False)  # once a group (None: each start refuses)
    outcomes: list[Outcome] = []
    ends = time_now() + TRANSACTION_SECONDS
    for customer_id in group:
        if outcomes and time_now() > ends:
            break
        if customer_id not in taken:
            outcomes.append(
                (customer_id, None if customer_id in held else ClaimOutcome.ALREADY_HANDLED, None)
            )
        elif customer_id in handled:
            outcomes.append((customer_id, ClaimOutcome.ALREADY_HANDLED, None))
        else:
            try:
                reason = reasons.get(customer_id)
                start = partial(_start, session, rt, chunk, customer_id, reason, now, data, definition)
                instance_id = in_savepoint(session, start)  # start(lean): see in_savepoint
                outcomes.append((customer_id, ClaimOutcome.STARTED, instance_id))
            except (DomainError, IntegrityError, DataError) as exc:
                _log_refused(chunk, customer_id, exc)
                outcomes.append((customer_id, ClaimOutcome.FAILED, None))
    # Only the claims this group holds: a customer it could not take is another run's to record.
    claims.record_many(session, key, as_of, [o for o in outcomes if o[0] in taken], utcnow())
    return outcomes


def _keep_loaded_rows(session: Session, kept: list[Any]) -> None:
    """Hold every row the session loads or inserts until it ends (`kept` lives as long as its listeners):
    reading one again by key in the same transaction finds it in the identity map."""
    for found in ("loaded_as_persistent", "pending_to_persistent", "detached_to_persistent"):  # the last:
        event.listen(session, found, lambda _s, obj: kept.append(obj))  # rows a handler Core-inserted


def _wait_and_start(
    rt: Runtime, chunk: Chunk, customer_id: int, reason: str | None, now: datetime, data: StartData
) -> Outcome:
    """One customer another run held: wait for its claim, then start it if it is still pending."""
    try:
        with transaction(rt.factory) as session:
            outcome, instance_id = _claim_and_start(session, rt, chunk, customer_id, reason, now, True, data)
    except (DomainError, IntegrityError, DataError) as exc:
        _log_refused(chunk, customer_id, exc)
        outcome, instance_id = _record_failure(rt, chunk, customer_id), None
    return customer_id, outcome, instance_id


def _log_refused(chunk: Chunk, customer_id: int, exc: Exception) -> None:
    # A sweep loop: one customer's bad data must not stop the others, whether a rule refused the start or
    # the database refused what it would save. One log line (the day records the customer failed; it is
    # tried again another day). A technical failure (connection, lock) is not the customer's: it fails
    # the chunk, which is retried whole.
    logger.warning(
        "%s for %s: nothing started for customer %s: %s: %s",
        chunk.process_key,
        chunk.as_of,
        customer_id,
        type(exc).__name__,
        " ".join(str(exc).split())[:200],
    )


def _claim_and_start(
    session: Session,
    rt: Runtime,
    chunk: Chunk,
    customer_id: int,
    reason: str | None,
    now: datetime,
    wait: bool,
    data: StartData,
) -> tuple[str | None, int | None]:
    """(outcome, instance id); outcome None while another run holds the customer (and not `wait`)."""
    key, as_of = chunk.process_key, chunk.as_of
    if not claims.take(session, key, as_of, customer_id, wait=wait):
        held = claims.pending_among(session, key, as_of, [customer_id])
        return (None, None) if held else (ClaimOutcome.ALREADY_HANDLED, None)
    if already_handled(session, Chunk(key, as_of, (customer_id,))):
        claims.record(session, key, as_of, customer_id, ClaimOutcome.ALREADY_HANDLED, utcnow())
        return ClaimOutcome.ALREADY_HANDLED, None
    instance_id = _start(session, rt, chunk, customer_id, reason, now, data)
    claims.record(session, key, as_of, customer_id, ClaimOutcome.STARTED, utcnow(), instance_id)
    return ClaimOutcome.STARTED, instance_id


def _record_failure(rt: Runtime, chunk: Chunk, customer_id: int) -> str | None:
    """Record a refused start (its transaction rolled back), unless another run handled the customer since."""
    with transaction(rt.factory) as session:
        if not claims.take(session, chunk.process_key, chunk.as_of, customer_id, wait=True):
            return ClaimOutcome.ALREADY_HANDLED
        claims.record(session, chunk.process_key, chunk.as_of, customer_id, ClaimOutcome.FAILED, utcnow())
    return ClaimOutcome.FAILED


def _start(
    session: Session,
    rt: Runtime,
    chunk: Chunk,
    customer_id: int,
    reason: str | None,
    now: datetime,
    data: StartData | None = None,
    definition: ProcessDefinition | None = None,
    lean: bool = False,
) -> int:
    """Start the job's process for one customer in the claim's transaction, with the chunk's `data` (its
    `StartData`), the key's latest `definition` when the caller read it in this transaction, and `lean` as
    start_instance has it. Raises DomainError: the start was refused (the customer's data)."""
    data = data or StartData(chunk.as_of, rt.settings.credit.base_currency)
    instance = start_instance(
        rt,
        chunk.process_key,
        data(session, customer_id, reason),
        actor=SYSTEM,
        now=now,
        business_key=str(customer_id),
        check_groups=False,
        session=session,
        definition=definition,
        lean=lean,
    )
    return int(instance.id)


RunOne = Callable[[Chunk, bool], ChunkResult]
"""(chunk, wait) -> what it did: `run_chunk`, or a Prefect task around it."""


def run_chunks(
    rt: Runtime, chunks: Sequence[Chunk], now: datetime, run_one: RunOne | None = None
) -> ChunkResult:
    """Run every chunk, then wait for and finish the customers another run held meanwhile.

    `run_one(chunk, wait)` replaces the direct call (Prefect submits each as a task with retries).
    """
    call = run_one or (lambda chunk, wait: run_chunk(rt, chunk, now, wait=wait))
    total = ChunkResult()
    for chunk in chunks:
        total.merge(call(chunk, False))
    held, total.held_elsewhere = total.held_elsewhere, []
    for chunk in leftovers(chunks, held):
        total.merge(call(chunk, True))
    return total


# --- a daily job made of chunked starts ------------------------------------------------------------------

Planner = Callable[[Runtime, date, int], list[Chunk]]


@dataclass(frozen=True)
class DailyStart:
    """A daily job that starts one `process_key` instance per customer its planner names.

    Called as a daily job (`job(rt, as_of, now)`) it plans and runs chunks until nothing of the day is
    pending, and returns the whole day's summary from the claims, not this run's share.
    """

    process_key: str
    planner: Planner

    def __call__(
        self,
        rt: Runtime,
        as_of: date,
        now: datetime,
        size: int = DEFAULT_CHUNK_SIZE,
        *,
        plan: Callable[[], list[Chunk]] | None = None,
        run_one: RunOne | None = None,
    ) -> dict[str, Any]:
        """Work the day to its end; `plan` and `run_one` replace the direct calls (Prefect tasks)."""
        plan_now = plan or (lambda: self.planner(rt, as_of, size))
        if self.process_key == dunning.PROCESS_KEY:
            tell_regraded_cases(rt, as_of, now)
        for _round in range(MAX_PLAN_ROUNDS):
            chunks = plan_now()
            if not chunks:
                break
            run_chunks(rt, chunks, now, run_one)
        else:
            # Not done: the day is recorded failed and the next run (or round) goes on with it.
            raise RuntimeError(
                f"{self.process_key} for {as_of}: customers still pending after {MAX_PLAN_ROUNDS} rounds"
            )
        return self.day_summary(rt, as_of)

    def day_counts(self, session: Session, as_of: date) -> DayCounts:
        """The day's counts so far, from every run's claims."""
        return claims.day_counts(session, self.process_key, as_of)

    def day_summary(self, rt: Runtime, as_of: date) -> dict[str, Any]:
        """The whole day, whoever did it: customers planned, instances started, customers refused."""
        with rt.factory() as session:
            counts = self.day_counts(session, as_of)
            outcomes = claims.day_outcomes(session, self.process_key, as_of)
        instances = [instance for instance, _reason in outcomes.started]
        found: dict[str, Any] = {"customers": counts.planned}
        if self.process_key == dunning.PROCESS_KEY:
            found |= {"cases_started": len(instances), "instances": instances}
        else:
            by_reason: dict[str, list[int]] = {}
            for instance, reason in outcomes.started:
                by_reason.setdefault(reason or "", []).append(instance)
            found |= {"reviews_started": len(instances), "by_reason": by_reason}
        return found | {"failed_customers": outcomes.failed_customers}


# The claim-safe, chunked forms of the daily dunning run and limit-review sweep (batch/jobs.DAILY_JOBS).
chunked_dunning_run = DailyStart(dunning.PROCESS_KEY, plan_dunning)
chunked_review_sweep = DailyStart(limit_review.PROCESS_KEY, plan_reviews)

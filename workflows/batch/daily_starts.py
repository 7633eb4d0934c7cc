"""Chunked, claim-safe batch starts: a daily job's customers split into chunks that any worker may run.

The dunning run and the limit-review sweep pick their customers with the domain's queries
(`customers_to_dun`, `review_triggers`) and start each one with `start_instance`. `tick`, the embedded
scheduler, the CLI and the Prefect flows all run them through this module, which adds what several
concurrent workers need (Prefect flows on many machines):

- each customer is *claimed* before it is started. On PostgreSQL that is its row in `batch_claims`
  (job, day, customer), locked with `SELECT ... FOR UPDATE SKIP LOCKED`: a second run skips a customer
  another run is starting. The lock dies with its connection, so a worker killed with `kill -9` leaves
  nothing held. SQLite needs no claim: its writers are serialised (BEGIN IMMEDIATE) and only one
  machine can use the file.
- a claimed customer is re-checked before it is started: one that got a case (or review) from another
  run, or from an earlier attempt of this chunk, is skipped. So a chunk can be retried, rerun after a
  crash, or raced by a second run, and each customer is started once.
- `run_chunks` makes a second pass over the customers it skipped, this time waiting for their claims,
  so a run only reports success once every customer is done, by it or by someone else. A run that
  finishes while another run's worker died mid-chunk picks up that chunk's remainder.

Prefect is not imported here: `workflows.batch.flows` wraps these functions in tasks, and plain callers
(benchmarks, tests, a future `tick`) use them directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from workflows.credit import dunning, limit_review
from workflows.credit.models import DunningCase, DunningStatus
from workflows.engine.runner import Runtime, start_instance
from workflows.errors import DomainError
from workflows.store.models import BatchClaim, InstanceStatus, ProcessInstance
from workflows.users import SYSTEM

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1000
# Claim rows older than this are deleted when a later day plans its chunks.
CLAIMS_KEPT_FOR = timedelta(days=14)
# How long the second pass waits for a customer another run is starting before the chunk fails (retried).
WAIT_FOR_OTHER_RUN = "5min"


@dataclass(frozen=True)
class Chunk:
    """Customers of one daily job to start, in order; `reasons` only for the review sweep."""

    process_key: str
    as_of: date
    customer_ids: tuple[int, ...]
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (Prefect task parameters, logs)."""
        return {
            "process_key": self.process_key,
            "as_of": self.as_of.isoformat(),
            "customer_ids": list(self.customer_ids),
            "reasons": list(self.reasons),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Chunk:
        return cls(
            raw["process_key"],
            date.fromisoformat(raw["as_of"]),
            tuple(int(c) for c in raw["customer_ids"]),
            tuple(raw.get("reasons") or ()),
        )


@dataclass
class ChunkResult:
    """What a chunk did: instances started; customers handled elsewhere, held by another run, or failed."""

    started: list[int] = field(default_factory=list)  # instance ids
    by_reason: dict[str, list[int]] = field(default_factory=dict)
    already_done: list[int] = field(default_factory=list)  # customer ids
    held_elsewhere: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def merge(self, other: ChunkResult) -> None:
        self.started += other.started
        for reason, ids in other.by_reason.items():
            self.by_reason.setdefault(reason, []).extend(ids)
        self.already_done += other.already_done
        self.held_elsewhere += other.held_elsewhere
        self.failed += other.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "by_reason": self.by_reason,
            "already_done": self.already_done,
            "held_elsewhere": self.held_elsewhere,
            "failed": self.failed,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChunkResult:
        return cls(
            list(raw["started"]),
            {k: list(v) for k, v in raw["by_reason"].items()},
            list(raw["already_done"]),
            list(raw["held_elsewhere"]),
            list(raw["failed"]),
        )


# --- planning ----------------------------------------------------------------------------------------


def split(ids: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """Consecutive slices of at most `size` ids (the order is kept, so chunks are the same in every run)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [tuple(ids[i : i + size]) for i in range(0, len(ids), size)]


def plan_dunning(rt: Runtime, as_of: date, size: int = DEFAULT_CHUNK_SIZE) -> list[Chunk]:
    """The dunning run's customers for `as_of` (the embedded job's own query), in chunks."""
    policy = rt.settings.dunning
    with rt.factory() as session:
        ids = dunning.customers_to_dun(session, as_of, policy.grace_days, policy.minimum_amount)
    return [Chunk(dunning.PROCESS_KEY, as_of, part) for part in split(ids, size)]


def plan_reviews(rt: Runtime, as_of: date, size: int = DEFAULT_CHUNK_SIZE) -> list[Chunk]:
    """The review sweep's customers and reasons for `as_of` (the embedded job's own query), in chunks."""
    with rt.factory() as session:
        triggers = limit_review.review_triggers(session, as_of, rt.settings.reviews)
    ids = sorted(triggers)
    return [
        Chunk(limit_review.PROCESS_KEY, as_of, part, tuple(triggers[c] for c in part))
        for part in split(ids, size)
    ]


# --- claiming and running ------------------------------------------------------------------------------


class Claims:
    """Claims on the customers of one chunk: `batch_claims` rows locked on a connection of their own.

    A claim is a transaction holding the customer's row `FOR UPDATE` (`SKIP LOCKED` unless waiting)
    while the case starts on another connection; `release` ends it. The row has no foreign keys and
    nothing else touches it, so the start never waits on its own claim. On SQLite every claim
    succeeds: writers are serialised and the file lives on one machine.
    """

    def __init__(self, rt: Runtime, chunk: Chunk) -> None:
        engine = rt.engine
        self._chunk = chunk
        self._conn: Connection | None = None
        if engine.dialect.name == "postgresql":
            self._conn = engine.connect()
            self._add_rows()

    def _add_rows(self) -> None:
        assert self._conn is not None
        rows = [
            {"process_key": self._chunk.process_key, "as_of": self._chunk.as_of, "customer_id": c}
            for c in self._chunk.customer_ids
        ]
        # Every run of the day plans the same chunks, so the rows may exist already.
        self._conn.execute(pg_insert(BatchClaim).values(rows).on_conflict_do_nothing())
        self._conn.execute(delete(BatchClaim).where(BatchClaim.as_of < self._chunk.as_of - CLAIMS_KEPT_FOR))
        self._conn.commit()

    def __enter__(self) -> Claims:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            finally:
                self._conn.close()

    def take(self, customer_id: int, *, wait: bool) -> bool:
        """Claim the customer; False when another run holds it (and not `wait`).

        Raises:
            sqlalchemy.exc.OperationalError: `wait`, and the other run held it past WAIT_FOR_OTHER_RUN.
        """
        if self._conn is None:
            return True
        if wait:
            self._conn.execute(text(f"SET LOCAL lock_timeout = '{WAIT_FOR_OTHER_RUN}'"))
        query = (
            select(BatchClaim.customer_id)
            .where(
                BatchClaim.process_key == self._chunk.process_key,
                BatchClaim.as_of == self._chunk.as_of,
                BatchClaim.customer_id == customer_id,
            )
            .with_for_update(skip_locked=not wait)
        )
        got = self._conn.scalar(query) is not None
        if not got:
            self._conn.rollback()
        return got

    def release(self, customer_id: int) -> None:
        if self._conn is not None:
            self._conn.rollback()


def already_handled(session: Session, chunk: Chunk) -> set[int]:
    """Customers of the chunk that another run (or an earlier attempt) has handled for its day.

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
    started = select(ProcessInstance.business_key).where(
        ProcessInstance.process_key == chunk.process_key,
        ProcessInstance.business_key.in_([str(c) for c in ids]),
        condition,
    )
    handled.update(int(key) for key in session.scalars(started) if key is not None)
    return handled


def run_chunk(rt: Runtime, chunk: Chunk, now: datetime, *, wait: bool = False) -> ChunkResult:
    """Start each customer of the chunk that is not handled yet; one claim and transaction per customer.

    Without `wait`, a customer another run is starting right now is skipped (`held_elsewhere`); with
    `wait`, the chunk waits for that run and then starts the customer only if it still needs it.
    """
    with rt.factory() as session:
        done = already_handled(session, chunk)
    result = ChunkResult(already_done=[c for c in chunk.customer_ids if c in done])
    reasons = dict(zip(chunk.customer_ids, chunk.reasons, strict=False))
    with Claims(rt, chunk) as claims:
        for customer_id in chunk.customer_ids:
            if customer_id in done:
                continue
            if not claims.take(customer_id, wait=wait):
                result.held_elsewhere.append(customer_id)
                continue
            try:
                with rt.factory() as session:
                    if already_handled(session, _one(chunk, customer_id)):
                        result.already_done.append(customer_id)
                        continue
                instance_id = _start(rt, chunk, customer_id, reasons.get(customer_id), now)
            finally:
                claims.release(customer_id)
            if instance_id is None:
                result.failed.append(customer_id)
                continue
            result.started.append(instance_id)
            if customer_id in reasons:
                result.by_reason.setdefault(reasons[customer_id], []).append(instance_id)
    return result


def _one(chunk: Chunk, customer_id: int) -> Chunk:
    return Chunk(chunk.process_key, chunk.as_of, (customer_id,))


def _start(rt: Runtime, chunk: Chunk, customer_id: int, reason: str | None, now: datetime) -> int | None:
    """Start the job's process for one customer, as the embedded job does; None when refused."""
    data: dict[str, Any] = {"customer_id": customer_id}
    if reason is not None:
        data["reason"] = reason
    try:
        instance = start_instance(
            rt,
            chunk.process_key,
            data,
            actor=SYSTEM,
            now=now,
            business_key=str(customer_id),
            check_groups=False,
        )
    except DomainError:
        # A sweep loop: one customer's bad data must not stop the others; logged, retried tomorrow.
        logger.exception(
            "%s for %s: nothing started for customer %s", chunk.process_key, chunk.as_of, customer_id
        )
        return None
    return int(instance.id)


def leftovers(chunks: Sequence[Chunk], held: Sequence[int]) -> list[Chunk]:
    """The customers (with their reasons) another run held during the first pass, as chunks to wait for."""
    wanted = set(held)
    found: list[Chunk] = []
    for chunk in chunks:
        reasons = dict(zip(chunk.customer_ids, chunk.reasons, strict=False))
        ids = tuple(c for c in chunk.customer_ids if c in wanted)
        if ids:
            found.append(
                Chunk(chunk.process_key, chunk.as_of, ids, tuple(reasons[c] for c in ids if c in reasons))
            )
    return found


def run_chunks(
    rt: Runtime,
    chunks: Sequence[Chunk],
    now: datetime,
    run_one: Callable[[Chunk, bool], ChunkResult] | None = None,
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


def summary(process_key: str, result: ChunkResult) -> dict[str, Any]:
    """The summary the embedded job returns for the same work (stored in its JobRun row)."""
    if process_key == dunning.PROCESS_KEY:
        return {
            "cases_started": len(result.started),
            "instances": sorted(result.started),
            "failed_customers": sorted(result.failed),
        }
    return {
        "reviews_started": len(result.started),
        "by_reason": {k: sorted(v) for k, v in result.by_reason.items()},
        "failed_customers": sorted(result.failed),
    }


def chunked_dunning_run(
    rt: Runtime, as_of: date, now: datetime, size: int = DEFAULT_CHUNK_SIZE
) -> dict[str, Any]:
    """The daily dunning run: a case for each customer `customers_to_dun` names, claim-safe and chunked."""
    return summary(dunning.PROCESS_KEY, run_chunks(rt, plan_dunning(rt, as_of, size), now))


def chunked_review_sweep(
    rt: Runtime, as_of: date, now: datetime, size: int = DEFAULT_CHUNK_SIZE
) -> dict[str, Any]:
    """The limit-review sweep: one credit_limit_review per triggered customer, claim-safe and chunked."""
    return summary(limit_review.PROCESS_KEY, run_chunks(rt, plan_reviews(rt, as_of, size), now))

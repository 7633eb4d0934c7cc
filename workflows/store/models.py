"""Typed SQLAlchemy models of the engine: definitions, instances, inbox, timers, messages, audit, mail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from workflows.store.column_types import Decimal2, ReadableDate, UTCDateTime

__all__ = ["Decimal2", "UTCDateTime"]  # where the other modules import them from


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON, date: ReadableDate}


NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)


class InstanceStatus:
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ERROR = "error"
    ALL = (RUNNING, COMPLETED, CANCELLED, ERROR)


class TaskStatus:
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class DefinitionStatus:
    """Whether a deployed version may be started: a version that calls a money-moving operation waits
    (pending) until a second process owner approves it; a refused one stays rejected."""

    ACTIVE = "active"
    PENDING = "pending"
    REJECTED = "rejected"


class MailStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


# --- users -----------------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # The web UI's language (workflows.languages.LANGUAGES: "en", "zh"); None until the user chooses one.
    language: Mapped[str | None] = mapped_column(String(10), default=None)
    groups: Mapped[list[UserGroup]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def group_names(self) -> frozenset[str]:
        return frozenset(g.group_name for g in self.groups)


class Group(Base):
    __tablename__ = "groups"
    name: Mapped[str] = mapped_column(String(80), primary_key=True)


class UserGroup(Base):
    __tablename__ = "user_groups"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(ForeignKey("groups.name"), primary_key=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


# --- definitions and instances -----------------------------------------------------------------------


class Deployment(Base):
    """One upload: the files as deployed, so a version can always be shown and re-parsed."""

    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    files: Mapped[dict[str, Any]]  # file name -> text
    deployed_by: Mapped[str] = mapped_column(String(80))
    deployed_at: Mapped[datetime]


class ProcessDefinition(Base):
    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("process_key", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(120))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200), default="")
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # serialized once per version
    start_groups: Mapped[list[Any]]  # lane of the start event -> groups allowed to start
    bpmn_file: Mapped[str] = mapped_column(String(200))
    deployed_by: Mapped[str] = mapped_column(String(80))
    deployed_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=DefinitionStatus.ACTIVE)
    # The second process owner who approved (or rejected) a pending version, and when.
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None]
    # Loaded only when a form schema is not cached yet: the files hold whole diagrams.
    deployment: Mapped[Deployment] = relationship(lazy="select")


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (
        Index("ix_instances_key_status", "process_key", "status"),
        Index("ix_instances_business_key", "business_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    process_key: Mapped[str] = mapped_column(String(120))
    version: Mapped[int]
    business_key: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)  # serialized workflow without its spec
    data: Mapped[dict[str, Any]]  # JSON-safe copy of the workflow data, for reading without the engine
    # The timers and messages the state waits on; their rows are rewritten only when this changes.
    waits: Mapped[list[Any]] = mapped_column(default=list)
    lock_version: Mapped[int] = mapped_column(Integer, default=1)
    started_by: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    __mapper_args__ = {"version_id_col": lock_version}


class InboxItem(Base):
    """One row per human task; the inbox is a plain indexed query over these rows."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        Index("ix_inbox_status_due", "status", "due_at"),
        Index("ix_inbox_status_due_sort", "status", "due_sort"),
        Index("ix_inbox_assignee_status", "assignee", "status"),
        Index("ix_inbox_instance", "instance_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    process_key: Mapped[str] = mapped_column(String(120))
    bpmn_id: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str | None] = mapped_column(String(120))
    candidate_groups: Mapped[list[Any]]
    assignee: Mapped[str | None] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(300), default="")
    instructions: Mapped[str] = mapped_column(Text, default="")
    # Subject and instructions in the diagram's other languages: {"zh": {"subject": ..., "instructions": ..}}.
    translations: Mapped[dict[str, Any] | None]
    form_file: Mapped[str | None] = mapped_column(String(200))
    form_schema: Mapped[dict[str, Any]]
    four_eyes: Mapped[list[Any]]  # bpmn ids (or "initiator") whose actors may not complete this task
    context: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN)
    due_at: Mapped[datetime | None]
    # due_at, or the far future when there is none: a NOT NULL key the inbox can read in index order
    # (SQLite sorts NULLs first and cannot use an index for NULLS LAST).
    due_sort: Mapped[datetime] = mapped_column(default=lambda: NO_DUE_DATE)
    reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(80))
    completed_at: Mapped[datetime | None]
    decision: Mapped[str | None] = mapped_column(String(40))  # the form's `decision` (approve, reject...)


class TaskCandidate(Base):
    """(group, open task) pairs, so "tasks of my groups" is an index range scan. They carry the task's
    sort keys (written with the task, which never changes them), so the inbox reads a group's tasks in
    due or creation order from the index instead of walking every open task (workflows/inbox.py)."""

    __tablename__ = "task_candidates"
    __table_args__ = (
        Index("ix_task_candidates_due", "group_name", "due_sort", "task_id", "shared"),
        Index("ix_task_candidates_created", "group_name", "created_at", "task_id"),
        # A closed task's rows are dropped by task id (migration 0014h).
        Index("ix_task_candidates_task", "task_id"),
    )
    group_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("inbox_items.id", ondelete="CASCADE"), primary_key=True)
    due_sort: Mapped[datetime]  # InboxItem.due_sort
    created_at: Mapped[datetime]  # InboxItem.created_at
    # The task is offered to more than one group: only such rows can count a task twice for one caller.
    shared: Mapped[bool]


class InstanceGroup(Base):
    """A group that was offered a task of the instance (tasks assigned to one person aside): its members
    may read the instance. Kept after the task closes, unlike `task_candidates`."""

    __tablename__ = "instance_groups"
    instance_id: Mapped[int] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), primary_key=True
    )
    group_name: Mapped[str] = mapped_column(String(80), primary_key=True, index=True)


class Timer(Base):
    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(index=True)


class MessageSubscription(Base):
    __tablename__ = "message_subscriptions"
    __table_args__ = (Index("ix_subscriptions_lookup", "message_name", "correlation_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    message_name: Mapped[str] = mapped_column(String(120))
    correlation_key: Mapped[str] = mapped_column(String(120))
    bpmn_id: Mapped[str] = mapped_column(String(120))


class AuditEvent(Base):
    """Append-only trail of every state change and who made it."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[int | None]
    bpmn_id: Mapped[str | None] = mapped_column(String(120))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]]
    at: Mapped[datetime]


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    # Times the step failed under this incident: the scheduler retries it with backoff
    # (`workflows.engine.wakeups`) until [scheduler] retry_attempts, then only an admin's retry runs it.
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    next_retry_at: Mapped[datetime | None] = mapped_column(index=True)


class OutboxEmail(Base):
    __tablename__ = "outbox_emails"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    to: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(120))
    # [{"filename", "content_type", "content"}] with text content (case files are HTML documents).
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    # A dispatcher's claim, on the wall clock: a simulated clock moved meanwhile must not free a row that
    # is being sent (next_attempt_at follows the acting clock, so it alone would let a day's move resend).
    leased_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class JobStatus:
    """Where one day of a daily job stands (the `job_runs` row)."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    ALL = (RUNNING, DONE, FAILED)


class JobRun(Base):
    """One day of a daily job: claimed before any work, beaten while it runs, finished with the day's counts.

    The unique (job, day) key is what every runner (tick, the scheduler, Prefect flows) claims with
    INSERT ... ON CONFLICT DO NOTHING. The times here are wall-clock times (a heartbeat measures real
    time even when the business clock is simulated); the counts are the whole day's, from `batch_claims`.
    """

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_name", "run_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(80))
    run_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.RUNNING)
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    claimed_by: Mapped[str] = mapped_column(String(200), default="")  # runner@host:pid of the claimant
    runs: Mapped[int] = mapped_column(default=1)  # runs that worked on the day: claimant, joiners, takers
    takeovers: Mapped[int] = mapped_column(default=0)
    customers_planned: Mapped[int] = mapped_column(default=0)
    customers_handled: Mapped[int] = mapped_column(default=0)
    instances_started: Mapped[int] = mapped_column(default=0)
    customers_failed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[dict[str, Any]]


class ClaimOutcome:
    """What became of one customer of a day's batch job (`batch_claims.outcome`; NULL while pending)."""

    STARTED = "started"  # this job started its instance
    ALREADY_HANDLED = "already_handled"  # it had one already (an open case, a review started today)
    FAILED = "failed"  # the start was refused (bad data); logged, retried on another day
    DROPPED = "dropped"  # planned by a run, no longer due when the day finished (e.g. paid meanwhile)


class BatchClaim(Base):
    """One customer of one day's chunked batch job, and what became of it.

    A worker locks the row (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serialises writers) in the
    transaction that starts the customer's case and records the outcome, so a case is started once and
    counted once, whichever run, chunk or retry started it. The day's counts are read from these rows.
    """

    __tablename__ = "batch_claims"
    process_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    as_of: Mapped[date] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(40))  # the review sweep's trigger
    outcome: Mapped[str | None] = mapped_column(String(20))
    instance_id: Mapped[int | None]
    handled_at: Mapped[datetime | None]

"""Typed SQLAlchemy models of the engine: definitions, instances, inbox, timers, messages, audit, mail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: creditflow stores only timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Decimal2(TypeDecorator[Decimal]):
    """An exact decimal with two places (money, ratios), stored as an integer of hundredths.

    SQLite has no exact decimal type; integers keep sums and comparisons exact on every backend.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be a Decimal, not a float")
        return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON, date: Date}


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


class TaskCandidate(Base):
    """(group, open task) pairs, so "tasks of my groups" is an index range scan."""

    __tablename__ = "task_candidates"
    group_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("inbox_items.id", ondelete="CASCADE"), primary_key=True)


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
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class SinkMessage(Base):
    """A message received by the built-in SMTP sink, shown at /mail."""

    __tablename__ = "sink_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime]
    mail_from: Mapped[str] = mapped_column(String(300))
    rcpt_to: Mapped[str] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(String(500))
    message_id: Mapped[str] = mapped_column(String(300))
    raw: Mapped[str] = mapped_column(Text)


class JobRun(Base):
    """A daily job that ran for a day; the unique key makes a second run of the same day a no-op."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_name", "run_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    job_name: Mapped[str] = mapped_column(String(80))
    run_date: Mapped[date]
    started_at: Mapped[datetime]
    result: Mapped[dict[str, Any]]


class BatchClaim(Base):
    """One customer of one day's chunked batch job: the row a worker locks (FOR UPDATE SKIP LOCKED on
    PostgreSQL) while it starts that customer's case, so two workers never start it at once."""

    __tablename__ = "batch_claims"
    process_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    as_of: Mapped[date] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(primary_key=True)


# --- the customer credit file -------------------------------------------------------------------------


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_name", "name"), Index("ix_customers_review", "next_review_date"))
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)  # the ERP's customer number
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    industry: Mapped[str] = mapped_column(String(80), default="")
    founded_year: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    registration_no: Mapped[str | None] = mapped_column(String(80))
    sales_owner: Mapped[str | None] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(10), default="en")
    # Optional financial and qualitative inputs of the scorecard; missing ones score neutral.
    current_ratio: Mapped[Decimal | None] = mapped_column(Decimal2)
    debt_ratio: Mapped[Decimal | None] = mapped_column(Decimal2)  # liabilities / assets, e.g. 0.55
    external_rating: Mapped[str | None] = mapped_column(String(10))
    rating_agency: Mapped[str | None] = mapped_column(String(80))
    rating_date: Mapped[date | None]
    rating_changed_at: Mapped[datetime | None]  # when a new external rating arrived: a review trigger
    grade: Mapped[str | None] = mapped_column(String(1))
    score: Mapped[int | None]
    score_valid_to: Mapped[date | None]
    credit_limit: Mapped[Decimal] = mapped_column(Decimal2, default=Decimal("0.00"))
    credit_balance: Mapped[Decimal] = mapped_column(Decimal2, default=Decimal("0.00"))  # overpayments held
    next_review_date: Mapped[date | None]
    blocked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LimitChange(Base):
    """Append-only history of a customer's credit limit: every change, why, and who approved it."""

    __tablename__ = "limit_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    old_limit: Mapped[Decimal] = mapped_column(Decimal2)
    new_limit: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(200))
    approvers: Mapped[list[Any]]
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    changed_by: Mapped[str] = mapped_column(String(80))
    changed_at: Mapped[datetime]


class InvoiceStatus:
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class Invoice(Base):
    """A receivable posted by the ERP; open_amount falls as payments are allocated to it."""

    __tablename__ = "invoices"
    __table_args__ = (Index("ix_invoices_customer_status", "customer_id", "status", "due_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(80), unique=True)
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    open_amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date]
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.OPEN)
    paid_date: Mapped[date | None]  # the day the last payment closed it, for the payment-history score
    disputed: Mapped[bool] = mapped_column(default=False)  # out of dunning until the dispute is resolved
    created_at: Mapped[datetime]


class Payment(Base):
    """Money received from a customer; `reference` (the bank's) is unique so it is never counted twice."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date]
    reference: Mapped[str | None] = mapped_column(String(120), unique=True)
    unallocated: Mapped[Decimal] = mapped_column(Decimal2)  # overpayment kept as the customer's credit
    recorded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]


class PaymentAllocation(Base):
    __tablename__ = "payment_allocations"
    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Decimal2)


class DunningStatus:
    OPEN = "open"
    PAUSED = "paused"
    DISPUTED = "disputed"
    LEGAL = "legal"
    CLOSED = "closed"
    ACTIVE = (OPEN, PAUSED, DISPUTED, LEGAL)


class DunningCase(Base):
    """One customer's dunning: at most one case is active per customer."""

    __tablename__ = "dunning_cases"
    __table_args__ = (
        Index("ix_dunning_cases_customer_status", "customer_id", "status"),
        # Two dunning runs on two workers may both see "no active case" for a customer; the database
        # lets only one of their inserts commit (migration 0005).
        Index(
            "ux_dunning_cases_one_active",
            "customer_id",
            unique=True,
            sqlite_where=text("status IN ('open', 'paused', 'disputed', 'legal')"),  # DunningStatus.ACTIVE
            postgresql_where=text("status IN ('open', 'paused', 'disputed', 'legal')"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    status: Mapped[str] = mapped_column(String(20), default=DunningStatus.OPEN)
    level: Mapped[int] = mapped_column(default=0)
    fees: Mapped[Decimal] = mapped_column(Decimal2, default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3))
    blocked_customer: Mapped[bool] = mapped_column(default=False)  # a block this case set, lifted on closing
    promised_date: Mapped[date | None]
    promised_amount: Mapped[Decimal | None] = mapped_column(Decimal2)
    last_notice_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))


class DunningEvent(Base):
    """The history of a case: levels, notices, fees, promises, disputes, calls, payments, handover."""

    __tablename__ = "dunning_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("dunning_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    level: Mapped[int]
    detail: Mapped[dict[str, Any]]
    actor: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]


class Provision(Base):
    """A specific provision for a customer's receivables (e.g. 100 % on legal handover)."""

    __tablename__ = "provisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("dunning_cases.id"))
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(Decimal2)
    reason: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]


# --- suppliers and contracts ----------------------------------------------------------------------------


class Supplier(Base):
    """A supplier with the inputs of its risk scorecard and its latest score and grade."""

    __tablename__ = "suppliers"
    __table_args__ = (Index("ix_suppliers_name", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)  # the ERP's supplier number
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200))  # where countersignature requests go
    registration_no: Mapped[str | None] = mapped_column(String(80))
    founded_year: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    # Optional risk inputs; a missing one scores a neutral value.
    litigation_count: Mapped[int | None]
    penalties_count: Mapped[int | None]
    delivery_score: Mapped[int | None]  # on-time, in-full delivery, 0-100
    external_rating: Mapped[str | None] = mapped_column(String(10))
    score: Mapped[int | None]
    grade: Mapped[str | None] = mapped_column(String(1))
    grade_valid_to: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SupplierEvaluation(Base):
    """Append-only: one risk evaluation of a supplier, with its factor scores."""

    __tablename__ = "supplier_evaluations"
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    score: Mapped[int]
    grade: Mapped[str] = mapped_column(String(1))
    factors: Mapped[dict[str, Any]]
    valid_to: Mapped[date]
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    evaluated_by: Mapped[str] = mapped_column(String(80))
    evaluated_at: Mapped[datetime]


class Contract(Base):
    """A supplier contract's current terms; every state it has had is a ContractVersion."""

    __tablename__ = "contracts"
    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    number: Mapped[str] = mapped_column(String(80), unique=True)
    value: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    payment_terms_days: Mapped[int]
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    terms: Mapped[dict[str, Any]]  # price, delivery, liability, termination, quantity...
    version: Mapped[int] = mapped_column(default=1)  # the number of the current ContractVersion
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ContractChangeStatus:
    IN_REVIEW = "in_review"
    AWAITING_COUNTERSIGNATURE = "awaiting_countersignature"
    REJECTED = "rejected"
    EXPIRED = "expired"
    COMPLETED = "completed"
    OPEN = (IN_REVIEW, AWAITING_COUNTERSIGNATURE)
    ALL = (IN_REVIEW, AWAITING_COUNTERSIGNATURE, REJECTED, EXPIRED, COMPLETED)


class ContractChangeRequest(Base):
    """One requested change of a contract and how it went (risk check, safeguard, approvals, outcome)."""

    __tablename__ = "contract_change_requests"
    __table_args__ = (Index("ix_change_requests_contract", "contract_id", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    change_type: Mapped[str] = mapped_column(String(30))
    changes: Mapped[dict[str, Any]]  # the new values
    previous: Mapped[dict[str, Any]]  # the values they replace, as they were when the request was made
    value_impact: Mapped[Decimal] = mapped_column(Decimal2)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30))
    supplier_score: Mapped[int | None]
    supplier_grade: Mapped[str | None] = mapped_column(String(1))
    safeguard: Mapped[str | None] = mapped_column(String(20))  # guarantee | justification
    safeguard_details: Mapped[str] = mapped_column(Text, default="")
    guarantee_amount: Mapped[Decimal | None] = mapped_column(Decimal2)
    approvers: Mapped[list[Any]]  # [{step, user, at}] of the reviews and approvals
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    countersign_by: Mapped[date | None]
    requested_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class ContractVersion(Base):
    """Immutable: the terms of a contract from one change on, who approved it and who countersigned."""

    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("contract_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    version: Mapped[int]
    value: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    payment_terms_days: Mapped[int]
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    terms: Mapped[dict[str, Any]]
    change_request_id: Mapped[int | None] = mapped_column(ForeignKey("contract_change_requests.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    approvers: Mapped[list[Any]]
    countersigned_by: Mapped[str | None] = mapped_column(String(200))
    countersigned_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]

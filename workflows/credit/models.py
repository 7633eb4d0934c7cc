"""Typed SQLAlchemy models of the credit domain: customers, limits, receivables, dunning, contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

# Registers the flush hook that keeps the portfolio's balances in step with every invoice posting (it
# imports nothing of this package, so every process that can write an invoice has the hook).
import workflows.credit.customer_balances  # noqa: F401
from workflows.store.models import Base, Decimal2


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_name", "name"),
        Index("ix_customers_review", "next_review_date"),
        Index("ix_customers_key", "key_customer"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)  # the ERP's customer number
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    contact_name: Mapped[str | None] = mapped_column(String(120))  # the person letters address (0014g)
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
    # Scorecard segment and relationship (0012a): ownership is one of customers.OWNERSHIPS, region free text
    # scorecard_weights.dmn matches ("EU", "CN"); customer_since: when it began (else the first invoice).
    ownership: Mapped[str | None] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(80))
    customer_since: Mapped[date | None]
    # The analyst's qualitative ratings, 1 (poor) to 5 (excellent), from the latest review form.
    management_rating: Mapped[int | None]
    industry_rating: Mapped[int | None]
    strategic_rating: Mapped[int | None]
    ratings_by: Mapped[str | None] = mapped_column(String(80))
    ratings_at: Mapped[datetime | None]
    grade: Mapped[str | None] = mapped_column(String(1))
    score: Mapped[int | None]
    score_valid_to: Mapped[date | None]
    credit_limit: Mapped[Decimal] = mapped_column(Decimal2, default=Decimal("0.00"))
    credit_balance: Mapped[Decimal] = mapped_column(Decimal2, default=Decimal("0.00"))  # overpayments held
    next_review_date: Mapped[date | None]
    blocked: Mapped[bool] = mapped_column(default=False)
    # Key customers (0013b): reviewed more often (limit_policy.dmn), named with the account's owning user.
    key_customer: Mapped[bool] = mapped_column(default=False, server_default=false())
    account_owner: Mapped[str | None] = mapped_column(String(80))
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
    # An increase above the policy's limit (the formula's, within limit_policy.dmn's cap) is an exception
    # with one more approval level: the history says so, with the policy's limit and the analyst's reason.
    above_policy: Mapped[bool] = mapped_column(default=False)
    policy_limit: Mapped[Decimal | None] = mapped_column(Decimal2)
    exception_reason: Mapped[str] = mapped_column(String(1000), default="")


@dataclass(frozen=True)
class LimitPolicyNote:
    """Why a limit change lies above policy: the policy's limit and the analyst's reason."""

    policy_limit: Decimal
    exception_reason: str


class InvoiceStatus:
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"
    CREDITED = "credited"  # a dispute's credit note lowered it to nothing (workflows/credit/disputes.py)
    # Closed by a legal outcome (credit/write_offs.py): never dunned again; open_amount is what a settlement
    # still asks of the debtor, and money beyond it posts as a recovery.
    WRITTEN_OFF = "written_off"
    # What the customer still owes, so what its exposure counts: a settlement's unpaid part included.
    OWED = (OPEN, WRITTEN_OFF)


class Invoice(Base):
    """A receivable posted by the ERP; open_amount falls as payments are allocated to it."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_customer_status", "customer_id", "status", "due_date"),
        Index("ix_invoices_issue_sales", "issue_date", "currency", "status", "amount", "open_amount"),  # KPIs
        # Covering indexes of the portfolio's aggregates (workflows/credit/portfolio.py, migration 0013b):
        # open invoices per customer and currency, and per currency and due date, read without the table.
        Index(
            "ix_invoices_open_aging",
            "status",
            "customer_id",
            "currency",
            "due_date",
            "issue_date",
            "open_amount",
        ),
        Index(
            "ix_invoices_open_totals",
            "status",
            "currency",
            "due_date",
            "issue_date",
            "open_amount",
            "customer_id",
        ),
    )
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
    # Held out of dunning: the sum of the open disputes' lines of this invoice (workflows/credit/disputes.py
    # keeps it); dunning acts on open_amount - disputed_amount only.
    disputed_amount: Mapped[Decimal] = mapped_column(Decimal2, default=Decimal("0.00"))
    created_at: Mapped[datetime]

    @hybrid_property
    def disputed(self) -> bool:
        """Whether an open dispute holds part of it."""
        return self.disputed_amount > 0

    @disputed.inplace.expression
    @classmethod
    def _disputed_expression(cls) -> ColumnElement[bool]:
        return cls.disputed_amount > 0

    @property
    def undisputed_amount(self) -> Decimal:
        """What of it is open and not disputed: the part dunning acts on."""
        return max(Decimal("0.00"), self.open_amount - self.disputed_amount)


class Payment(Base):
    """Money received from a customer; `reference` (the bank's) is unique so it is never counted twice."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(index=True)  # ix_payments_paid_on: the KPIs (migration 0014f)
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
    # The grade whose ladder the case follows now ("" ungraded; None before its first review): the daily
    # run tells a waiting case when the customer's grade moved away from it (message grade_changed).
    grade: Mapped[str | None] = mapped_column(String(2))


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
    """A specific provision for a customer's receivables (e.g. 100 % on legal handover).

    It follows recoveries: a payment on the provided receivables releases `rate` times what it recovered
    (`released_amount`, each release a provision_releases row); `released_at` is set when nothing is left
    or the case closes paid or recovered.
    """

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
    released_amount: Mapped[Decimal] = mapped_column(Decimal2, default=Decimal("0.00"))


class Supplier(Base):
    """A supplier with the inputs of its risk scorecard and its latest score and grade."""

    __tablename__ = "suppliers"
    __table_args__ = (Index("ix_suppliers_name", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)  # the ERP's supplier number
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200))  # where countersignature requests go
    contact_name: Mapped[str | None] = mapped_column(String(120))  # the person letters address (0014g)
    language: Mapped[str] = mapped_column(String(10), default="en", server_default="en")  # of its letters
    registration_no: Mapped[str | None] = mapped_column(String(80))
    founded_year: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(Decimal2)
    currency: Mapped[str] = mapped_column(String(3))
    litigation_count: Mapped[int | None]  # this and the next three: optional risk inputs (absent: neutral)
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

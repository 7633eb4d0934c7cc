"""Receivables: invoices and payments from the ERP, payment allocation, aging buckets and provisions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workflows.credit.csv_import import ImportReport, import_customer_rows
from workflows.credit.customers import get_customer
from workflows.credit.models import Customer, Invoice, InvoiceStatus, Payment, PaymentAllocation
from workflows.credit.provision_releases import follow_recoveries
from workflows.credit.record_fields import check_amount, iso_text, parse_customer_id, raise_field_errors
from workflows.errors import Conflict, Invalid, NotFound, message_of
from workflows.messages import _
from workflows.store.audit import record_event

CENT = Decimal("0.01")


# --- parsing -------------------------------------------------------------------------------------------


def _amount(value: Any, field: str, errors: dict[str, str]) -> Decimal | None:
    if isinstance(value, (bool, float)) or value is None or str(value).strip() == "":
        errors[field] = _("A decimal amount is required (use a dot: 1234.50).")
        return None
    try:
        return check_amount(Decimal(str(value).strip()), positive=True)
    except ArithmeticError:
        errors[field] = _("'%(value)s' is not a decimal amount (use a dot: 1234.50).", value=value)
    except ValueError as exc:
        errors[field] = message_of(exc)
    return None


def _day(value: Any, field: str, errors: dict[str, str]) -> date | None:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = _("'%(value)s' is not an ISO date (YYYY-MM-DD).", value=value)
        return None


def _text(value: Any, field: str, errors: dict[str, str], *, required: bool = True) -> str | None:
    text = "" if value is None else str(value).strip()
    if required and not text:
        errors[field] = _("This field is required.")
    if len(text) > 80:
        errors[field] = _("At most 80 characters.")
    return text or None


@dataclass(frozen=True)
class InvoiceInput:
    customer_id: int
    number: str
    amount: Decimal
    currency: str
    issue_date: date
    due_date: date


@dataclass(frozen=True)
class PaymentInput:
    customer_id: int
    amount: Decimal
    currency: str
    paid_on: date
    invoice_number: str | None = None
    reference: str | None = None


def parse_invoice(raw: Mapping[str, Any], customer_id: int | None = None) -> InvoiceInput:
    """Raises: Invalid naming each bad field."""
    errors: dict[str, str] = {}
    cid = customer_id if customer_id is not None else parse_customer_id(raw.get("customer_id"), errors)
    number = _text(raw.get("number"), "number", errors)
    amount = _amount(raw.get("amount"), "amount", errors)
    currency = _currency(raw.get("currency"), errors)
    issued = _day(raw.get("issue_date"), "issue_date", errors)
    due = _day(raw.get("due_date"), "due_date", errors)
    if issued and due and due < issued:
        errors["due_date"] = _("The due date cannot be before the issue date.")
    raise_field_errors(errors, _("invoice"))
    assert cid and number and amount and currency and issued and due
    return InvoiceInput(cid, number, amount, currency, issued, due)


def parse_payment(raw: Mapping[str, Any], customer_id: int | None = None) -> PaymentInput:
    """Raises: Invalid naming each bad field."""
    errors: dict[str, str] = {}
    cid = customer_id if customer_id is not None else parse_customer_id(raw.get("customer_id"), errors)
    amount = _amount(raw.get("amount"), "amount", errors)
    currency = _currency(raw.get("currency"), errors)
    paid_on = _day(raw.get("date"), "date", errors)
    invoice_number = _text(raw.get("invoice_number"), "invoice_number", errors, required=False)
    reference = _text(raw.get("reference"), "reference", errors, required=False)
    raise_field_errors(errors, _("payment"))
    assert cid and amount and currency and paid_on
    return PaymentInput(cid, amount, currency, paid_on, invoice_number, reference)


def _currency(value: Any, errors: dict[str, str]) -> str | None:
    text = str(value or "").strip()
    if len(text) != 3 or not text.isalpha() or not text.isupper():
        errors["currency"] = _("Use a three-letter ISO currency code such as EUR.")
        return None
    return text


# --- posting -------------------------------------------------------------------------------------------


def post_invoice(session: Session, data: InvoiceInput, *, actor: str, now: datetime) -> Invoice:
    """Record an invoice in the caller's transaction.

    Raises:
        NotFound (customer), Conflict (number exists), Invalid (currency differs from the customer's).
    """
    customer = get_customer(session, data.customer_id)
    _same_currency(customer, data.currency)
    if session.scalar(select(Invoice.id).where(Invoice.number == data.number)) is not None:
        raise Conflict(_("invoice %(number)s exists already; invoice numbers are unique", number=data.number))
    invoice = Invoice(
        customer_id=customer.id,
        number=data.number,
        amount=data.amount,
        open_amount=data.amount,
        currency=data.currency,
        issue_date=data.issue_date,
        due_date=data.due_date,
        status=InvoiceStatus.OPEN,
        created_at=now,
    )
    session.add(invoice)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="invoice_posted",
        now=now,
        customer_id=customer.id,
        invoice=data.number,
        amount=str(data.amount),
        currency=data.currency,
        issue_date=iso_text(data.issue_date),
        due_date=data.due_date.isoformat(),
    )
    return invoice


def post_payment(session: Session, data: PaymentInput, *, actor: str, now: datetime) -> Payment:
    """Record a payment and allocate it: to the named invoice, else to the oldest open invoices.

    What no invoice needs is kept as the customer's credit balance.

    Raises:
        NotFound (customer or named invoice), Conflict (reference seen before), Invalid (currency).
    """
    customer = get_customer(session, data.customer_id)
    _same_currency(customer, data.currency)
    if data.reference and session.scalar(select(Payment.id).where(Payment.reference == data.reference)):
        raise Conflict(
            _(
                "a payment with reference %(reference)s was recorded already; it is not counted twice",
                reference=data.reference,
            )
        )
    payment = Payment(
        customer_id=customer.id,
        amount=data.amount,
        currency=data.currency,
        paid_on=data.paid_on,
        reference=data.reference,
        unallocated=data.amount,
        recorded_by=actor,
        created_at=now,
    )
    session.add(payment)
    session.flush()
    before: dict[str, Any] = {"credit_balance": str(customer.credit_balance), "open_amounts": {}}
    after: dict[str, Any] = {"open_amounts": {}}
    for invoice in _allocation_order(session, customer.id, data.invoice_number):
        if payment.unallocated <= 0:
            break
        share = min(payment.unallocated, invoice.open_amount)
        before["open_amounts"][invoice.number] = str(invoice.open_amount)
        after["open_amounts"][invoice.number] = str(invoice.open_amount - share)
        session.add(PaymentAllocation(payment_id=payment.id, invoice_id=invoice.id, amount=share))
        invoice.open_amount -= share
        payment.unallocated -= share
        if invoice.open_amount == 0 and invoice.status == InvoiceStatus.OPEN:  # written off stays so
            invoice.status, invoice.paid_date = InvoiceStatus.PAID, data.paid_on
    customer.credit_balance += payment.unallocated
    after["credit_balance"] = str(customer.credit_balance)
    record_event(
        session,
        actor=actor,
        action="payment_received",
        now=now,
        customer_id=customer.id,
        amount=str(data.amount),
        currency=data.currency,
        paid_on=iso_text(data.paid_on),
        reference=data.reference,
        unallocated=str(payment.unallocated),
        before=before,  # the invoices it paid (open amounts) and the customer's credit balance
        after=after,
    )
    follow_recoveries(session, payment, actor=actor, now=now)  # a specific provision shrinks with the debt
    return payment


def _allocation_order(session: Session, customer_id: int, invoice_number: str | None) -> list[Invoice]:
    """The named invoice first (when given), then the customer's other open invoices, oldest first.

    Raises:
        NotFound: the named invoice is not the customer's.
    """
    open_invoices = session.scalars(
        select(Invoice)
        .where(Invoice.customer_id == customer_id, Invoice.status == InvoiceStatus.OPEN)
        .order_by(Invoice.due_date, Invoice.id)
    ).all()
    if not invoice_number:
        return list(open_invoices)
    named = session.scalar(
        select(Invoice).where(Invoice.number == invoice_number, Invoice.customer_id == customer_id)
    )
    if named is None:
        raise NotFound(
            _(
                "customer %(customer_id)s has no invoice %(invoice_number)s",
                customer_id=customer_id,
                invoice_number=invoice_number,
            )
        )
    if named.status == InvoiceStatus.WRITTEN_OFF:
        if named.open_amount == 0:  # money beyond a settlement's unpaid part is a recovery, not a payment
            raise Conflict(
                _(
                    "invoice %(invoice_number)s was written off; post the money as a "
                    "recovery (POST /api/recoveries)",
                    invoice_number=invoice_number,
                )
            )
        return [named, *open_invoices]  # what a settlement still asks of the debtor
    # What the named invoice does not need pays the oldest others before it becomes a credit balance.
    return [i for i in open_invoices if i.id == named.id] + [i for i in open_invoices if i.id != named.id]


def _same_currency(customer: Customer, currency: str) -> None:
    if currency != customer.currency:
        raise Invalid(
            _(
                "customer %(customer_id)s is kept in %(customer_currency)s; convert the "
                "amount before posting it",
                customer_id=customer.id,
                customer_currency=customer.currency,
            ),
            details={
                "fields": {
                    "currency": _(
                        "Must be %(customer_currency)s, the customer's currency.",
                        customer_currency=customer.currency,
                    )
                }
            },
        )


# Built once: a dunning case start reads its customer's overdue invoices four or five times (open, review,
# escalate, notice), and building the select each time was a third of that read's cost (issue 19).
_OVERDUE_INVOICES = (
    select(Invoice)
    .where(
        Invoice.customer_id == bindparam("customer_id"),
        Invoice.status == InvoiceStatus.OPEN,
        Invoice.open_amount > Invoice.disputed_amount,
        Invoice.due_date < bindparam("due_before"),
    )
    .order_by(Invoice.due_date, Invoice.id)
)


def overdue_invoices(session: Session, customer_id: int, today: date, grace_days: int = 0) -> list[Invoice]:
    """Open invoices more than `grace_days` past due with an undisputed part (`Invoice.undisputed_amount`;
    open disputes hold the rest out of dunning), oldest first."""
    due_before = date.fromordinal(today.toordinal() - grace_days)
    return list(session.scalars(_OVERDUE_INVOICES, {"customer_id": customer_id, "due_before": due_before}))


class InvoiceFacts(Protocol):
    """What invoice_json reads: an Invoice, or a row read without the ORM (handlers/dunning_overdue)."""

    @property
    def id(self) -> int: ...
    @property
    def customer_id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def open_amount(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def issue_date(self) -> date: ...
    @property
    def due_date(self) -> date: ...
    @property
    def status(self) -> str: ...
    @property
    def disputed(self) -> bool: ...
    @property
    def disputed_amount(self) -> Decimal: ...


def invoice_json(invoice: InvoiceFacts, today: date) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "number": invoice.number,
        "amount": f"{invoice.amount:.2f}",
        "open_amount": f"{invoice.open_amount:.2f}",
        "currency": invoice.currency,
        # None: a stored day no one can read (column_types.ReadableDate, a hand edit on SQLite)
        "issue_date": iso_text(invoice.issue_date),
        "due_date": iso_text(invoice.due_date),
        "days_overdue": None if invoice.due_date is None else max(0, (today - invoice.due_date).days),
        "status": invoice.status,
        "disputed": invoice.disputed,
        "disputed_amount": f"{invoice.disputed_amount:.2f}",  # held out of dunning by open disputes
    }


def payment_json(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "customer_id": payment.customer_id,
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        "date": payment.paid_on.isoformat(),
        "reference": payment.reference,
        "unallocated": f"{payment.unallocated:.2f}",
    }


# --- aging and provisions ------------------------------------------------------------------------------


# --- CSV imports -----------------------------------------------------------------------------------------

INVOICE_COLUMNS = ("customer_external_id", "number", "amount", "currency", "issue_date", "due_date")
PAYMENT_COLUMNS = ("customer_external_id", "invoice_number", "amount", "currency", "date", "reference")


def import_invoices(
    session: Session, path: Path, *, actor: str, now: datetime, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import invoices; customers are named by external_id. Raises: ImportRejected (nothing imported)."""
    return import_customer_rows(
        session,
        path,
        "invoices",
        INVOICE_COLUMNS,
        parse_invoice,
        post_invoice,
        actor=actor,
        now=now,
        progress=progress,
    )


def import_payments(
    session: Session, path: Path, *, actor: str, now: datetime, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import payments; customers are named by external_id. Raises: ImportRejected (nothing imported)."""
    return import_customer_rows(
        session,
        path,
        "payments",
        PAYMENT_COLUMNS,
        parse_payment,
        post_payment,
        actor=actor,
        now=now,
        progress=progress,
    )

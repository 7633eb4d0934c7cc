"""Demo data for `creditflow init --demo`: the demo users (README.md), customers, suppliers, and a few
running cases, so a first login finds work in the inbox instead of an empty page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from workflows.batch.daily_starts import chunked_dunning_run
from workflows.credit import roles
from workflows.credit.collateral import add_collateral
from workflows.credit.credit_checks import CheckRequest
from workflows.credit.customers import migrate_customer
from workflows.credit.fx import FxRate, parse_rate, store_rate
from workflows.credit.models import Contract, Customer
from workflows.credit.receivables import InvoiceInput, PaymentInput, post_invoice, post_payment
from workflows.credit.suppliers import seed_demo_suppliers
from workflows.engine.runner import Runtime, start_instance
from workflows.order_release import run_credit_check
from workflows.store.db import transaction
from workflows.store.models import ProcessInstance
from workflows.users import actor_for, add_user, get_user

DEMO_CUSTOMERS: list[dict[str, Any]] = [
    {
        "external_id": "C-1001",
        "name": "Acme Machinery GmbH",
        "email": "ap@acme-machinery.example",
        "contact_name": "Klaus Weber",
        "industry": "manufacturing",
        "founded_year": 1987,
        "annual_revenue": Decimal("48000000.00"),
        "currency": "EUR",
        "credit_limit": Decimal("750000.00"),
        "sales_owner": "sales1",
        "current_ratio": Decimal("1.60"),
        "debt_ratio": Decimal("0.55"),
        "external_rating": "BBB",
        "customer_since": date(2009, 4, 1),
        "ownership": "private",
        "region": "EU",
    },
    {
        "external_id": "C-1002",
        "name": "Nordlicht Retail AG",
        "email": "finance@nordlicht.example",
        "contact_name": "Jonas Becker",
        "industry": "retail",
        "founded_year": 2004,
        "annual_revenue": Decimal("2000000.00"),
        "currency": "EUR",
        "credit_limit": Decimal("900000.00"),
        "sales_owner": "sales1",
        "customer_since": date(2019, 9, 1),
        "ownership": "private",
        "region": "EU",
    },
    {
        "external_id": "C-1003",
        "name": "上海精密零件有限公司",  # Shanghai Precision Parts Co., Ltd.: a Chinese customer, in Chinese
        "email": "ar@sh-precision.example",
        "contact_name": "王建国",
        "industry": "manufacturing",
        "founded_year": 2011,
        "annual_revenue": Decimal("120000000.00"),
        "currency": "CNY",
        "language": "zh",
        "registration_no": "91310000MA1FL0XX1X",
        "customer_since": date(2021, 3, 15),
        "ownership": "foreign",
        "region": "CN",
    },
    {
        "external_id": "C-1004",
        "name": "Helios Utilities plc",
        "email": "treasury@helios.example",
        "contact_name": "Oliver Grant",
        "industry": "utilities",
        "founded_year": 1962,
        "annual_revenue": Decimal("310000000.00"),
        "currency": "GBP",
        "external_rating": "AA",
        "current_ratio": Decimal("1.90"),
        "debt_ratio": Decimal("0.48"),
        "customer_since": date(1998, 6, 1),
        "ownership": "listed",
        "region": "UK",
    },
    {
        "external_id": "C-1005",
        "name": "Quickbuild Contractors Ltd",
        "email": "office@quickbuild.example",
        "contact_name": "Sam Turner",
        "industry": "construction",
        "founded_year": 2024,
        "annual_revenue": Decimal("350000.00"),
        "currency": "GBP",
        "credit_limit": Decimal("40000.00"),
        "sales_owner": "sales1",
        "current_ratio": Decimal("0.85"),
        "debt_ratio": Decimal("0.92"),
        "external_rating": "CCC",
        "customer_since": date(2025, 1, 10),
        "ownership": "private",
        "region": "UK",
    },
]


def seed_demo(session: Session, now: datetime) -> dict[str, list[str]]:
    """Create the demo users and customers that do not exist yet (idempotent)."""
    users = seed_demo_users(session, now)
    known = set(session.scalars(select(Customer.external_id)))
    customers = []
    for fields in DEMO_CUSTOMERS:
        if fields["external_id"] not in known:
            customer = migrate_customer(session, fields, actor="system", now=now, source="demo data")
            _demo_credit_file(session, customer, now)
            customers.append(fields["name"])
    return {
        "users": users,
        "customers": customers,
        "suppliers": seed_demo_suppliers(session, now),
        "fx_rates": seed_demo_rates(session, now),
    }


# Exchange rates into the base currency (EUR) for the demo book's GBP and CNY customers (and USD), so its
# aging and provisions convert: (currency, EUR per unit). Dated the first of last year, so the book's
# history converts too; a person posts today's rates (POST /api/fx-rates) as they would in production.
DEMO_FX_RATES = (("GBP", "1.1700"), ("CNY", "0.1283"), ("USD", "0.9200"))


def seed_demo_rates(session: Session, now: datetime) -> list[str]:
    """Store the demo rates of the currencies that have none yet; the currencies stored."""
    stored = []
    for currency, rate in DEMO_FX_RATES:
        if session.scalar(select(FxRate.id).where(FxRate.currency == currency).limit(1)) is None:
            day = date(now.year - 1, 1, 1).isoformat()
            data = parse_rate({"currency": currency, "rate": rate, "date": day, "source": "demo data"}, "EUR")
            store_rate(session, data, actor="system", now=now)
            stored.append(currency)
    return stored


# The collateral on the demo files: (external id, kind, provider, value, currency, years until it expires).
DEMO_COLLATERAL = (
    ("C-1002", "credit_insurance", "Allianz Trade", Decimal("500000.00"), "EUR", 1),
    ("C-1005", "parent_guarantee", "Quickbuild Holdings Ltd", Decimal("20000.00"), "GBP", 2),
)
# Helios pays on time: a year of paid invoices, so the scorecard has a payment history to grade A.
HELIOS_INVOICES = 6


def _demo_credit_file(session: Session, customer: Customer, now: datetime) -> None:
    """The demo customer's collateral and, for Helios, a year of invoices paid on their due dates."""
    for external_id, kind, provider, value, currency, years in DEMO_COLLATERAL:
        if external_id == customer.external_id:
            expires = now.date().replace(month=12, day=31) + timedelta(days=365 * (years - 1))
            fields = {"kind": kind, "provider": provider, "value": value, "currency": currency}
            add_collateral(session, customer.id, fields | {"expires_on": expires}, actor="system", now=now)
    if customer.external_id != "C-1004":
        return
    for month in range(HELIOS_INVOICES, 0, -1):
        due = now.date() - timedelta(days=60 * month - 20)
        number = f"HU-{due:%Y%m}"
        amount = Decimal("150000.00") + Decimal(5000 * month)
        post_invoice(
            session,
            InvoiceInput(customer.id, number, amount, "GBP", due - timedelta(days=30), due),
            actor="system",
            now=now,
        )
        payment = PaymentInput(
            customer.id, amount, "GBP", due, invoice_number=number, reference=f"HELIOS-{number}"
        )
        post_payment(session, payment, actor="system", now=now)


def start_demo_cases(rt: Runtime, now: datetime) -> list[str]:
    """On a database with no cases yet: open one case of each kind that waits for a person.

    A credit application and a payment-terms exception wait for analyst1, a contract change for
    finance1 and legal1, an order held over Acme's limit for manager1's release, legal1's settlement of an
    old invoice of Shanghai Precision Parts for manager1's write-off approval, Helios's price dispute for
    sales1's proposal, and overdue
    invoices of Quickbuild start a dunning case (its first reminder
    goes to the built-in mail sink). Returns what was started; nothing when any case exists already.
    """
    with rt.factory() as session:
        if session.scalar(select(func.count()).select_from(ProcessInstance)):
            return []
        customers = dict(session.execute(select(Customer.external_id, Customer.id)).all())
        contract_id = session.scalar(select(Contract.id).where(Contract.number == "PC-2026-001"))
        sales, buyer = (actor_for(get_user(session, name)) for name in ("sales1", "buyer1"))
    started = []
    application = {
        "customer_id": customers["C-1002"],
        "requested_limit": Decimal("1200000"),
        "currency": "EUR",
        "payment_terms_days": 60,
        "expected_annual_sales": Decimal("3000000"),
        "justification": "Nordlicht opens twelve new stores and doubles its orders for the season.",
    }
    start_instance(rt, roles.CREDIT_APPLICATION, application, actor=sales, now=now)
    started.append("credit application of Nordlicht Retail AG (analyst review)")
    terms = {
        "customer_name": "Acme Machinery GmbH",
        "order_value": Decimal("250000"),
        "standard_terms_days": 30,
        "requested_terms_days": 60,
        "justification": "A framework order; Acme asks for 60 days as its other suppliers grant.",
    }
    start_instance(rt, roles.PAYMENT_TERMS_EXCEPTION, terms, actor=sales, now=now)
    started.append("payment terms exception for Acme Machinery GmbH (analyst review)")
    if contract_id is not None:
        change = {
            "contract_id": contract_id,
            "change_type": "price",
            "changes": {"price": "EUR 860 per tonne"},
            "value_impact": Decimal("60000"),
            "reason": "Energy surcharge passed on by the mill from the second quarter.",
        }
        start_instance(rt, roles.SUPPLIER_CONTRACT_CHANGE, change, actor=buyer, now=now)
        started.append("price change of contract PC-2026-001 (finance and legal review)")
    # An order of Acme over its limit, held by its credit check: the release waits for manager1.
    order = CheckRequest(customers["C-1001"], "SO-2026-0815", Decimal("820000.00"), "EUR")
    check = run_credit_check(rt, order, actor=sales, now=now)
    started.append(
        f"order SO-2026-0815 of Acme Machinery GmbH held: {check['result']} (release by a credit manager)"
    )
    started.append(_legal_outcome(rt, customers["C-1003"], now))
    started.append(_dispute(rt, customers["C-1004"], now))
    started.extend(_overdue_invoices(rt, customers["C-1005"], now))
    return started


def _legal_outcome(rt: Runtime, customer_id: int, now: datetime) -> str:
    """An old invoice of Shanghai Precision Parts that legal settled: the write-off waits for manager1."""
    due = now.date() - timedelta(days=200)
    invoice = InvoiceInput(customer_id, "SPP-7001", Decimal("86000.00"), "CNY", due - timedelta(days=30), due)
    with transaction(rt.factory) as session:
        post_invoice(session, invoice, actor="system", now=now)
        legal = actor_for(get_user(session, "legal1"))
    outcome = {
        "customer_id": customer_id,
        "outcome": "settled",
        "amount": Decimal("30000.00"),
        "costs": Decimal("4500.00"),
        "comment": "Settled in court: CNY 30,000 in full and final settlement of invoice SPP-7001.",
    }
    start_instance(rt, roles.WRITE_OFF, outcome, actor=legal, now=now)
    return "write-off of 上海精密零件有限公司 (CNY 56,000 settled away; manager1 approves)"


def _dispute(rt: Runtime, customer_id: int, now: datetime) -> str:
    """Helios disputes the price of part of an invoice: collector1 raises it, sales1 investigates."""
    due = now.date() + timedelta(days=10)
    invoice = InvoiceInput(customer_id, "HX-4410", Decimal("12800.00"), "GBP", due - timedelta(days=30), due)
    with transaction(rt.factory) as session:
        post_invoice(session, invoice, actor="system", now=now)
        collector = actor_for(get_user(session, "collector1"))
    dispute = {
        "customer_id": customer_id,
        "invoices": [{"number": "HX-4410", "amount": Decimal("2400.00"), "reason": "price"}],
        "owner_group": roles.SALES,
        "description": "Helios says the framework price of GBP 640 per unit applies, not the list price.",
    }
    start_instance(rt, roles.DISPUTE_RESOLUTION, dispute, actor=collector, now=now)
    return "price dispute of Helios Utilities plc (GBP 2,400.00 of HX-4410; sales1 investigates)"


def _overdue_invoices(rt: Runtime, customer_id: int, now: datetime) -> list[str]:
    today = now.date()
    with transaction(rt.factory) as session:
        for number, amount, days_overdue in (("QB-9001", "18400.00", 41), ("QB-9002", "7250.50", 12)):
            due = today - timedelta(days=days_overdue)
            invoice = InvoiceInput(customer_id, number, Decimal(amount), "GBP", due - timedelta(days=30), due)
            post_invoice(session, invoice, actor="system", now=now)
    run = chunked_dunning_run(rt, today, now)
    return [f"dunning of Quickbuild Contractors Ltd ({run['cases_started']} case, 2 overdue invoices)"]


DEMO_PASSWORD = "demo"


def seed_demo_users(session: Session, now: datetime) -> list[str]:
    """Create the demo users (idempotent); returns their names."""
    for name, group in roles.DEMO_USERS.items():
        user = add_user(session, name, groups=[group], now=now)
        if not user.password_hash:
            user.password_hash = _demo_password_hash()
    return list(roles.DEMO_USERS)


@lru_cache(maxsize=1)
def _demo_password_hash() -> str:
    # Hashing is deliberately slow; the demo users share one hash so seeding stays quick.
    return generate_password_hash(DEMO_PASSWORD)

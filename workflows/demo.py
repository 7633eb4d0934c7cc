"""Demo data for `creditflow init --demo`: the users of DESIGN.md and a few customers to work with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.customers import create_customer
from workflows.models import Customer
from workflows.suppliers import seed_demo_suppliers
from workflows.users import seed_demo_users

DEMO_CUSTOMERS: list[dict[str, Any]] = [
    {
        "external_id": "C-1001",
        "name": "Acme Machinery GmbH",
        "email": "ap@acme-machinery.example",
        "industry": "manufacturing",
        "founded_year": 1987,
        "annual_revenue": Decimal("48000000.00"),
        "currency": "EUR",
        "credit_limit": Decimal("750000.00"),
        "sales_owner": "sales1",
        "current_ratio": Decimal("1.60"),
        "debt_ratio": Decimal("0.55"),
        "external_rating": "BBB",
    },
    {
        "external_id": "C-1002",
        "name": "Nordlicht Retail AG",
        "email": "finance@nordlicht.example",
        "industry": "retail",
        "founded_year": 2004,
        "annual_revenue": Decimal("2000000.00"),
        "currency": "EUR",
        "credit_limit": Decimal("900000.00"),
        "sales_owner": "sales1",
    },
    {
        "external_id": "C-1003",
        "name": "Shanghai Precision Parts Co., Ltd.",
        "email": "ar@sh-precision.example",
        "industry": "manufacturing",
        "founded_year": 2011,
        "annual_revenue": Decimal("120000000.00"),
        "currency": "CNY",
        "language": "zh",
        "registration_no": "91310000MA1FL0XX1X",
    },
    {
        "external_id": "C-1004",
        "name": "Helios Utilities plc",
        "email": "treasury@helios.example",
        "industry": "utilities",
        "founded_year": 1962,
        "annual_revenue": Decimal("310000000.00"),
        "currency": "GBP",
        "external_rating": "AA",
        "current_ratio": Decimal("1.90"),
        "debt_ratio": Decimal("0.48"),
    },
    {
        "external_id": "C-1005",
        "name": "Quickbuild Contractors Ltd",
        "email": "office@quickbuild.example",
        "industry": "construction",
        "founded_year": 2024,
        "annual_revenue": Decimal("350000.00"),
        "currency": "GBP",
        "current_ratio": Decimal("0.85"),
        "debt_ratio": Decimal("0.92"),
        "external_rating": "CCC",
    },
]


def seed_demo(session: Session, now: datetime) -> dict[str, list[str]]:
    """Create the demo users and customers that do not exist yet (idempotent)."""
    users = seed_demo_users(session, now)
    known = set(session.scalars(select(Customer.external_id)))
    customers = []
    for fields in DEMO_CUSTOMERS:
        if fields["external_id"] not in known:
            create_customer(session, fields, actor="system", now=now)
            customers.append(fields["name"])
    return {"users": users, "customers": customers, "suppliers": seed_demo_suppliers(session, now)}

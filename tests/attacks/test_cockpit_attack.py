"""Hostile use of the credit manager's cockpit (issue 17), across its parts: exports, pages, the contact log,
the KPIs, the watchlist job. Each test is a break found (and fixed) or an attack that held."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.credit.collection_contacts import CollectionContact
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.credit.promises import DunningPromise
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped", "demo_tokens")

HOSTILE_NAME = "</script><script>alert(1)</script><img src=x onerror=alert(2)>\"'&"


def add_customer(
    app: Flask, name: str, amount: str = "10.10", *, currency: str = "EUR", days: int = 10
) -> int:
    """A customer with one invoice `days` past due, written straight into the book."""
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        customer = Customer(name=name, currency=currency, created_at=now, updated_at=now)
        session.add(customer)
        session.flush()
        session.add(
            Invoice(
                customer_id=customer.id,
                number=f"X-{customer.id}",
                amount=Decimal(amount),
                open_amount=Decimal(amount),
                currency=currency,
                issue_date=now.date() - timedelta(days=days + 30),
                due_date=now.date() - timedelta(days=days),
                status=InvoiceStatus.OPEN,
                created_at=now,
            )
        )
        return customer.id


def counts(app: Flask) -> tuple[int, int]:
    """(contacts, promises) stored."""
    with app.extensions["creditflow"].rt.factory() as session:
        contacts = session.scalar(select(func.count()).select_from(CollectionContact)) or 0
        promises = session.scalar(select(func.count()).select_from(DunningPromise)) or 0
        return contacts, promises


def open_case(desk: Collections, name: str, amount: str = "1000.00") -> tuple[int, int]:
    customer = desk.customer(name)
    desk.invoice(
        customer, f"{name[:3].upper()}-{customer}", amount, due=desk.clock.now.date() - timedelta(days=5)
    )
    desk.tick()
    return customer, desk.case(customer)["id"]


def post_contact(desk: Collections, case_id: int, body: Any, user: str = "collector1") -> Any:
    return desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts", json=body, headers=auth(desk.tokens[user])
    )


# --- exports ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        '\x01=HYPERLINK("http://evil.example","pay here")',  # a control character hides the '='
        "\x1f+1+1",
        "\x08@SUM(A1:A9)",
        "\x0b-2+3",
    ],
)
def test_a_formula_behind_a_control_character_exports_as_inert_text(app: Flask, name: str) -> None:
    add_customer(app, name)
    manager = logged_in(app, "manager1")
    answer = manager.get("/portfolio.xlsx")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.data))["Portfolio"]
    [cell] = [row[2] for row in sheet.iter_rows(min_row=2) if row[2].value != "Total (EUR)"]
    assert cell.data_type == "s" and isinstance(cell.value, str), (cell.data_type, cell.value)
    assert cell.value[0] not in "=+-@\t\r", cell.value


# --- pages: names and notes are text, never markup ----------------------------------------------------------


def test_a_hostile_customer_name_is_text_on_every_cockpit_page(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    add_customer(app, HOSTILE_NAME, "5000.00", days=100)
    manager = logged_in(app, "manager1")
    for path in (
        "/dashboard",
        "/portfolio",
        "/portfolio?tab=top",
        "/watchlist?status=all",
        "/collections?due=all",
    ):
        answer = manager.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        html = answer.get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "</script><" not in html, path

"""Hostile requests to /portfolio and its exports (issue 17): crafted query strings get a 4xx naming the
parameter, never a 500 nor a silently different page; the wrong group gets 403; names that a spreadsheet
would run or that no XLSX can hold come out as inert text. Also the key-customer route's hostile bodies."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.store.db import transaction

PATHS = ("/portfolio", "/portfolio.csv", "/portfolio.xlsx")


@pytest.fixture
def manager(app: Flask, demo_tokens: dict[str, str]) -> FlaskClient:
    return logged_in(app, "manager1")


@pytest.mark.parametrize(
    "query",
    [
        "grade=A&grade=B",  # repeated filters: which one? refused, not the first silently
        "region=EU&region=UK",
        "sort=total&sort=name",
        "page=1&page=2",
        "grade=Z",
        "sort=password",
        "sort=name;DROP TABLE customers",
        "dir=sideways",
        "key=maybe",
        "tab=admin",
        "currency=eur",
        "currency=EURO",
        "page=0",
        "page=-1",
        "page=2147483648",  # beyond the OFFSET the pager allows
        "page=99999999999999999999999",
        "page=%C2%B2",  # "²": isdigit() is true, int() refuses
        "page=1e3",
        "tab=top&top=0",
        "tab=top&top=201",
        "tab=top&top=" + "9" * 30,
        "region=" + "x" * 81,
        "industry=%00",
        "sales_owner=a%00b",
    ],
)
def test_hostile_parameters_get_a_4xx_naming_them(manager: FlaskClient, query: str) -> None:
    for path in PATHS:
        answer = manager.get(f"{path}?{query}")
        assert 400 <= answer.status_code < 500, (path, query, answer.status_code)


def test_the_last_page_the_pager_allows_is_an_empty_page(manager: FlaskClient) -> None:
    answer = manager.get("/portfolio?page=2147483647")
    assert answer.status_code == 200
    assert "No customers with open receivables" in answer.get_data(as_text=True)
    # Unknown parameters are ignored, as on every list; SQL in a text filter is just a name that matches none.
    assert manager.get("/portfolio?colour=red&region=' OR 1=1 --").status_code == 200
    # Bytes that are no UTF-8 arrive as U+FFFD (werkzeug): a region no customer has, not an error.
    assert manager.get("/portfolio?region=%ED%A0%80").status_code == 200


def test_the_wrong_group_is_refused_on_every_path(app: Flask, demo_tokens: dict[str, str]) -> None:
    for user in ("sales1", "collector1", "lead1", "finance1", "buyer1", "owner1"):
        client = logged_in(app, user)
        for path in PATHS:
            assert client.get(f"{path}?grade=A").status_code == 403, (user, path)


def test_control_characters_and_formulas_in_names_export_as_inert_text(
    app: Flask, manager: FlaskClient
) -> None:
    svc = app.extensions["creditflow"]
    now = svc.clock()
    names = ["@SUM(A1:A9)", "+1+1", "-2+3", "\tTabbed", "Bell\x07Co", "=cmd|' /C calc'!A0"]
    with transaction(svc.rt.factory) as session:
        for number, name in enumerate(names):
            customer = Customer(name=name, currency="EUR", created_at=now, updated_at=now)
            session.add(customer)
            session.flush()
            session.add(
                Invoice(
                    customer_id=customer.id,
                    number=f"ATT-{number}",
                    amount=Decimal("10.10"),
                    open_amount=Decimal("10.10"),
                    currency="EUR",
                    issue_date=now.date() - timedelta(days=40),
                    due_date=now.date() - timedelta(days=10),
                    status=InvoiceStatus.OPEN,
                    created_at=now,
                )
            )
    sheet = load_workbook(io.BytesIO(manager.get("/portfolio.xlsx").data))["Portfolio"]
    cells = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    for cell in cells[:-1]:
        assert isinstance(cell, str) and cell[0] not in "=+-@\t\r", cell
        assert "\x07" not in cell
    assert cells[-1] == "Total (EUR)"
    text = manager.get("/portfolio.csv").get_data(as_text=True)
    for name in names:
        if name[0] in "=+-@\t":
            assert "'" + name in text, name
    page = manager.get("/portfolio")
    assert page.status_code == 200
    assert "60.60" in page.get_data(as_text=True)  # six times 10.10, exactly


def test_key_customer_bodies_that_break_the_rules_are_refused_whole(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        customer = Customer(name="Keyed Ltd", currency="EUR", created_at=now, updated_at=now)
        session.add(customer)
        session.flush()
        customer_id = customer.id
    path = f"/api/customers/{customer_id}/key-customer"
    manager = auth(demo_tokens["manager1"])
    for body in (
        {"key_customer": True, "account_owner": "manager1\x00"},
        {"key_customer": True, "account_owner": ["manager1"]},
        {"key_customer": True, "account_owner": {"$ne": None}},
        {"key_customer": 1e400, "account_owner": "manager1"},
        {"key_customer": None, "account_owner": "manager1"},
        {"key_customer": True, "account_owner": "manager1", "credit_limit": "1000000"},
        {"key_customer": True, "account_owner": "auditor1 "},  # trimmed: auditor1 exists and is active
    ):
        answer = client.post(path, json=body, headers=manager)
        if body.get("account_owner") == "auditor1 ":
            assert answer.status_code == 200 and answer.json["account_owner"] == "auditor1"
            continue
        assert 400 <= answer.status_code < 500, (body, answer.status_code)
    # A 422 wrote nothing: the customer is still what the last good call left.
    with svc.rt.factory() as session:
        stored = session.get(Customer, customer_id)
        assert stored is not None and (stored.key_customer, stored.account_owner) == (True, "auditor1")
    for user in ("sales1", "auditor1", "cfo1", "collector1"):
        answer = client.post(path, json={"key_customer": False}, headers=auth(demo_tokens[user]))
        assert answer.status_code == 403, user
    huge = client.post(
        "/api/customers/2147483648/key-customer", json={"key_customer": False}, headers=manager
    )
    assert huge.status_code == 404

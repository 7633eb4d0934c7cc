"""Hostile input to the customer page's unblock button and to start-form rows: NUL bytes, huge values, other
groups, row numbers past any list; every answer is a 4xx and nothing changes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.bpmn.test_order_release import CUSTOMER
from tests.collections_desk import Collections
from tests.helpers import migrated_customer
from tests.webui.test_pages import csrf_token, logged_in
from workflows.credit.models import Customer
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, ProcessInstance

pytestmark = pytest.mark.usefixtures("shipped")


def _blocked(app: Flask) -> int:
    customer = migrated_customer(app, CUSTOMER)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.get_one(Customer, customer).blocked = True
    return customer


@pytest.mark.parametrize("reason", ["\x00", "ok\x00then", "x" * 1001, "", "   \n\t "])
def test_a_bad_unblock_reason_lifts_nothing(app: Flask, demo_tokens: dict[str, str], reason: str) -> None:
    customer = _blocked(app)
    manager = logged_in(app, "manager1")
    token = csrf_token(manager, f"/customers/{customer}")
    answer = manager.post(f"/customers/{customer}/unblock", data={"csrf_token": token, "reason": reason})
    assert answer.status_code in (400, 422)
    with app.extensions["creditflow"].rt.factory() as session:
        assert session.get_one(Customer, customer).blocked
        assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "customer_unblocked")).all()


@pytest.mark.parametrize("user", ["auditor1", "legal1", "cfo1", "collector1", "sales1"])
def test_only_a_credit_manager_may_press_unblock(app: Flask, demo_tokens: dict[str, str], user: str) -> None:
    customer = _blocked(app)
    client = logged_in(app, user)
    answer = client.post(
        f"/customers/{customer}/unblock",
        data={"csrf_token": csrf_token(client, "/inbox"), "reason": "I would like it lifted."},
    )
    assert answer.status_code == 403
    with app.extensions["creditflow"].rt.factory() as session:
        assert session.get_one(Customer, customer).blocked


def test_unblocking_no_customer_is_not_found(app: Flask, demo_tokens: dict[str, str]) -> None:
    manager = logged_in(app, "manager1")
    token = csrf_token(manager, "/inbox")
    for customer in (987654, 10**30):
        answer = manager.post(
            f"/customers/{customer}/unblock", data={"csrf_token": token, "reason": "Why not."}
        )
        assert answer.status_code == 404


@pytest.mark.parametrize(
    "rows",
    [
        {
            "invoices-9999999-number": "X-1",
            "invoices-9999999-amount": "1",
            "invoices-9999999-reason": "price",
        },
        {"invoices-0-number": "X\x00", "invoices-0-amount": "1", "invoices-0-reason": "price"},
        {"invoices-0-number": "X-1", "invoices-0-amount": "1e999999", "invoices-0-reason": "price"},
        {"invoices-0-number": "X-1", "invoices-0-amount": "NaN", "invoices-0-reason": "price"},
        {
            "invoices-0-number": "X-1",
            "invoices-0-amount": "1",
            "invoices-0-reason": "price",
            "invoices": "[{}]",
        },
        {"invoices-0-number": "X" * 81, "invoices-0-amount": "1", "invoices-0-reason": "price"},
        {
            "invoices-0-number": "X-1",
            "invoices-0-amount": "1",
            "invoices-0-reason": "price",
            "invoices-0-x": "y",
        },
    ],
)
def test_hostile_rows_start_nothing(app: Flask, desk: Collections, rows: dict[str, str]) -> None:
    customer = desk.customer("Hostile Rows Ltd")
    desk.invoice(customer, "X-1", "100.00")
    collector = logged_in(app, "collector1")
    form = {
        "csrf_token": csrf_token(collector, "/start/dispute_resolution"),
        "customer_id": str(customer),
        "owner_group": "finance",
        **rows,
    }
    answer = collector.post("/start/dispute_resolution", data=form)
    body = answer.get_data(as_text=True)
    with app.extensions["creditflow"].rt.factory() as session:
        started = session.scalar(select(func.count()).select_from(ProcessInstance))
    if "invoices-0-x" in rows or "invoices" in rows:
        # An unknown column is dropped (as the API drops undeclared fields), and a JSON text posted under the
        # field's own name is not read: the rows are the list. It starts with the one row.
        assert answer.status_code == 302 and started == 1
        with app.extensions["creditflow"].rt.factory() as session:
            data = session.scalars(select(ProcessInstance.data)).one()
        [line] = data["invoices"]
        assert (line["number"], Decimal(line["amount"]), line["reason"]) == ("X-1", Decimal("1.00"), "price")
        return
    assert answer.status_code in (400, 422), body[:500]
    assert started == 0

"""The customer page shows the orders the exposure holds and the latest credit checks (paged, filtered by
status); a credit manager lifts a credit block there with a reason, audited by name; collections find a
"Raise a dispute" link and legal a "Propose a legal outcome" link, both with the customer preselected."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.bpmn.test_order_release import CUSTOMER, check, decide, invoice, release_task
from tests.helpers import auth, migrated_customer
from tests.webui.test_pages import csrf_token, logged_in
from workflows.credit.models import Customer
from workflows.store.db import transaction
from workflows.store.models import AuditEvent

pytestmark = pytest.mark.usefixtures("shipped")


def _page(app: Flask, user: str, customer: int, query: str = "") -> str:
    response = logged_in(app, user).get(f"/customers/{customer}{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _orders_panel(page: str) -> str:
    start = page.index('<section class="panel" id="orders">')
    return page[start : page.index("</section>", start)]


def test_the_customer_page_lists_orders_and_the_latest_credit_checks(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-700-9", "90000.00")
    assert check(client, demo_tokens["sales1"], customer, "SO-OK", "5000.00")["result"] == "approved"
    held = check(client, demo_tokens["sales1"], customer, "SO-BIG", "20000.00")
    assert held["result"] == "over_limit"
    panel = _orders_panel(_page(app, "manager1", customer))
    assert 'data-order="SO-OK"' in panel and 'data-order="SO-BIG"' in panel
    assert f'href="/instances/{held["release_instance_id"]}"' in panel
    assert "over the credit limit: exposure €95,000.00 + order €20,000.00" in panel  # the check's reason
    assert "approved" in panel and "sales1" in panel
    # A release: the order counts from now on, and the page names who released it.
    task = release_task(client, demo_tokens["manager1"], held["release_instance_id"])
    assert decide(client, demo_tokens["manager1"], task["id"], "approve", "Paid by phone.").status_code == 200
    released = _orders_panel(_page(app, "manager1", customer, "?orders_status=released"))
    assert 'data-order="SO-BIG"' in released and 'data-order="SO-OK"' not in released
    assert "by manager1" in released
    # Paging: 25 orders more, 20 a page, the newest first; page 2 holds the oldest.
    for number in range(25):
        body = {"customer_id": customer, "order_ref": f"SO-P{number:02}", "amount": "1.00", "currency": "EUR"}
        assert client.post("/api/orders", json=body, headers=auth(demo_tokens["sales1"])).status_code == 201
    first = _orders_panel(_page(app, "auditor1", customer))
    assert 'data-order="SO-P24"' in first and 'data-order="SO-OK"' not in first
    assert "orders_page=2" in first and "27 in all" in first
    second = _orders_panel(_page(app, "auditor1", customer, "?orders_page=2"))
    assert 'data-order="SO-OK"' in second and 'data-order="SO-P24"' not in second
    bad = _orders_panel(_page(app, "auditor1", customer, "?orders_page=x9&orders_status=<script>"))
    assert 'data-order="SO-P24"' in bad and "<script>" not in bad  # a bad page or status: page 1, all


def _blocked_customer(app: Flask) -> int:
    customer = migrated_customer(app, CUSTOMER | {"external_id": "C-701", "name": "Blocked Trading Ltd"})
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.get_one(Customer, customer).blocked = True  # as a legal outcome leaves it
    return customer


def test_a_credit_manager_lifts_the_block_with_a_reason_and_the_audit_names_them(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    customer = _blocked_customer(app)
    assert 'id="unblock"' not in _page(app, "collector1", customer)
    assert 'id="unblock"' not in _page(app, "auditor1", customer)
    manager = logged_in(app, "manager1")
    assert 'id="unblock"' in manager.get(f"/customers/{customer}").get_data(as_text=True)
    token = csrf_token(manager, f"/customers/{customer}")
    empty = manager.post(f"/customers/{customer}/unblock", data={"csrf_token": token, "reason": "  "})
    assert empty.status_code == 422
    assert "Say why the block is lifted" in empty.get_data(as_text=True)
    no_csrf = manager.post(f"/customers/{customer}/unblock", data={"reason": "Paid in full."})
    assert no_csrf.status_code == 400
    collector = logged_in(app, "collector1")
    refused = collector.post(
        f"/customers/{customer}/unblock",
        data={"csrf_token": csrf_token(collector, f"/customers/{customer}"), "reason": "Mine."},
    )
    assert refused.status_code == 403
    with app.extensions["creditflow"].rt.factory() as session:
        assert session.get_one(Customer, customer).blocked
    lifted = manager.post(
        f"/customers/{customer}/unblock", data={"csrf_token": token, "reason": "Settlement paid in full."}
    )
    assert lifted.status_code == 302
    with app.extensions["creditflow"].rt.factory() as session:
        assert not session.get_one(Customer, customer).blocked
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer_unblocked")).one()
        assert event.actor == "manager1" and event.detail["reason"] == "Settlement paid in full."
    again = manager.post(f"/customers/{customer}/unblock", data={"csrf_token": token, "reason": "Twice."})
    assert again.status_code == 409  # not blocked any more: nothing to lift


def _action_links(page: str) -> dict[str, str]:
    return {
        label: href.replace("&amp;", "&")
        for href, label in re.findall(r'<a class="button[^"]*" href="([^"]+)">([^<]+)</a>', page)
    }


def test_collections_raise_a_dispute_and_legal_propose_an_outcome_from_the_customer_page(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    collector = _action_links(_page(app, "collector1", customer))
    assert collector.get("Raise a dispute") == f"/start/dispute_resolution?customer_id={customer}"
    assert "Propose a legal outcome" not in collector
    legal = _action_links(_page(app, "legal1", customer))
    assert legal.get("Propose a legal outcome") == f"/start/write_off?customer_id={customer}"
    assert "Raise a dispute" not in legal
    manager = _action_links(_page(app, "manager1", customer))
    assert "Raise a dispute" not in manager and "Propose a legal outcome" not in manager
    form = logged_in(app, "legal1").get(legal["Propose a legal outcome"]).get_data(as_text=True)
    assert re.search(rf'<option value="{customer}" selected>', form)

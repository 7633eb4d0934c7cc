"""In chromium: a collector raises a dispute from the customer page with the start form's invoice rows, adding
a row with the button (app.js); the dispute holds both lines (driven as in tests/e2e/test_browser.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.test_browser import chromium, deploy_shipped, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.helpers import auth, migrated_customer

pytestmark = pytest.mark.browser


def test_a_collector_raises_a_dispute_with_rows_from_the_customer_page(
    page: Any,  # noqa: F811
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
) -> None:
    deploy_shipped(app, "dispute_resolution")
    customer = migrated_customer(app, {"external_id": "C-900", "name": "Browser Rows Ltd", "currency": "EUR"})
    for number, amount in (("BR-1", "800.00"), ("BR-2", "300.00")):
        body = {
            "customer_id": customer,
            "number": number,
            "amount": amount,
            "currency": "EUR",
            "issue_date": "2026-02-01",
            "due_date": "2026-04-01",
        }
        assert (
            client.post("/api/invoices", json=body, headers=auth(demo_tokens["finance1"])).status_code == 201
        )
    log_in(page, "collector1")
    page.goto(f"/customers/{customer}")
    page.get_by_role("link", name="Raise a dispute").click()
    assert page.locator("#f-customer_id").input_value() == str(customer)
    rows = page.locator("fieldset[data-rows=invoices] tbody tr")
    shown = rows.count()
    page.fill("[name=invoices-0-number]", "BR-1")
    page.fill("[name=invoices-0-amount]", "120.25")
    page.select_option("[name=invoices-0-reason]", "quality")
    page.get_by_role("button", name="Add a row").click()
    assert rows.count() == shown + 1
    last = f"invoices-{shown}"
    page.fill(f"[name={last}-number]", "BR-2")
    page.fill(f"[name={last}-amount]", "50")
    page.select_option(f"[name={last}-reason]", "duplicate")
    page.get_by_label("logistics").check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**/instances/*")
    disputes = client.get(f"/api/disputes?customer_id={customer}", headers=auth(demo_tokens["collector1"]))
    [dispute] = disputes.json["items"]
    assert [(i["number"], i["amount"], i["reason"]) for i in dispute["invoices"]] == [
        ("BR-1", "120.25", "quality"),
        ("BR-2", "50.00", "duplicate"),
    ]
    assert dispute["owner_group"] == "logistics" and dispute["raised_by"] == "collector1"

"""/audit and /audit/sod in Debian chromium: an auditor finds a limit change from the navigation, filters
it by its customer, and sees a forged row flagged in the segregation-of-duties report."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.helpers import migrated_customer
from workflows.credit.models import LimitChange
from workflows.store.db import transaction

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]


def test_an_auditor_filters_the_trail_and_sees_a_flagged_row(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],
    clock: datetime,
) -> None:
    fields = {"name": "Browser Audit Oy", "currency": "EUR", "credit_limit": "40000.00", "external_id": "B-1"}
    customer_id = migrated_customer(app, fields)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            LimitChange(
                customer_id=customer_id,
                old_limit=Decimal("40000.00"),
                new_limit=Decimal("90000.00"),
                currency="EUR",
                reason="forged",
                approvers=["cfo1"],
                instance_id=None,
                changed_by="cfo1",
                changed_at=clock,
            )
        )
    log_in(page, "auditor1")
    page.click("nav >> text=Audit")
    page.fill("input[name=object]", f"customer:{customer_id}")
    page.fill("input[name=kind]", "credit_limit_changed")
    # The filter submits a GET: wait for the filtered page before counting (counting right after the click
    # read a page still loading: 0 rows, once, in the PostgreSQL stage of a CI dry run).
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1
    assert "40000.00" in rows.first.inner_text() and "admin" in rows.first.inner_text()
    with page.expect_navigation():
        page.click("text=segregation-of-duties report")
    flagged = page.locator("table.sod tr[data-flagged=yes]")
    assert flagged.count() == 1 and "cfo1 twice" in flagged.inner_text()
    assert page.locator("table.sod tr[data-flagged=no]").count() == 1  # the migration: one person

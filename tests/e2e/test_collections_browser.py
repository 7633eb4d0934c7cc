"""Must-show 3 of issue 17 in chromium: collector1 opens the top case of the worklist, logs a call with a
promise, and the case leaves "due today" for its next-action date, the promised date (driven as in
tests/e2e/test_browser.py; the dunning cases come from real daily ticks of the shipped dunning diagram)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.collections_desk import Collections
from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.helpers import auth

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]


def test_a_collector_logs_a_promise_and_the_case_drops_to_its_next_action_date(
    page: Any,  # noqa: F811
    desk: Collections,
) -> None:
    big = desk.customer("Bigdebt Holdings")
    small = desk.customer("Smalldebt Traders")
    desk.invoice(big, "BW-1", "9000.00")
    desk.invoice(small, "BW-2", "400.00")
    for _ in range(5):
        desk.tick()
    today = desk.clock.now.date()
    promised = today + timedelta(days=12)

    log_in(page, "collector1")
    page.get_by_role("link", name="Collections").click()
    page.wait_for_url("**/collections")
    rows = page.locator("#worklist tbody tr")
    assert rows.count() == 2
    assert "Bigdebt Holdings" in rows.nth(0).inner_text()  # 9,000 overdue outranks 400 at the same age
    assert "Smalldebt Traders" in rows.nth(1).inner_text()

    rows.nth(0).get_by_role("link", name="Bigdebt Holdings").click()
    page.wait_for_url("**/collections/*")
    page.select_option("#f-kind", "call")
    page.select_option("#f-outcome", "promise")
    page.fill("#f-note", "AP promised the full amount with the next payment run")
    page.fill("#f-promised_date", promised.isoformat())
    page.fill("#f-promised_amount", "9000.00")
    page.get_by_role("button", name="Log contact").click()
    page.wait_for_url("**/collections")

    assert f"Next action on {promised.day} {promised:%b %Y}" in page.locator(".flash").inner_text()
    due_today = page.locator("#worklist tbody tr")
    assert due_today.count() == 1
    assert "Smalldebt Traders" in due_today.nth(0).inner_text()

    page.select_option("#f-due", "all")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/collections?due=all*")
    everything = page.locator("#worklist tbody tr")
    assert everything.count() == 2
    moved = page.locator("#worklist tbody tr", has_text="Bigdebt Holdings")
    assert moved.locator(".next-action-date").get_attribute("data-day") == promised.isoformat()
    assert "call: promise" in moved.inner_text() and "1 open" in moved.inner_text()

    case = desk.case(big)  # the promise went through the dunning instance: the case is paused until then
    assert (case["status"], case["promised_date"]) == ("paused", promised.isoformat())
    [promise] = case["promises"]
    assert (promise["recorded_by"], promise["amount"], promise["status"]) == ("collector1", "9000.00", "open")
    later = desk.client.get("/api/collections?due=today", headers=auth(desk.tokens["collector1"]))
    assert [row["customer_id"] for row in later.json["items"]] == [small]

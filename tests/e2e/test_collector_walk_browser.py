"""Must-show 3 of issue 17 in chromium, with the drop checked from both sides: collector1 opens the top
case of the "due today" worklist (three cases ranked by priority), logs a call with a promise, and the case
drops to its next-action date: it leaves "due today" (the others keep their order), it is listed under "all
open cases" with the promise date as its shown next-action date, it stays out of "due today" on each daily
run up to the day before that date, and on that date it is back in "due today", at the top where its
priority puts it, with that date shown (the dunning cases come from real daily ticks of the shipped dunning
diagram)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.collections_desk import Collections
from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.e2e.test_csp import assert_clean, watch
from tests.helpers import auth

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]

# The worklist's rows: [customer, priority score text, next-action date text or ""].
ROWS = """
() => Array.from(document.querySelectorAll("#worklist tbody tr[data-case-id]")).map((row) => [
  row.querySelector("td a").textContent.trim(),
  row.querySelector("td.num").textContent.trim(),
  (row.querySelector(".next-action-date") || {dataset: {day: ""}}).dataset.day,  // ISO; shown as 14 Jan 2027
])"""


def next_morning(tab: Any, desk: Collections) -> None:
    """The daily run, and the collector logs in again (a web session lasts 12 hours)."""
    desk.tick()
    log_in(tab, "collector1")
    tab.wait_for_url(lambda url: "/login" not in url)


def show(tab: Any, due: str) -> list[list[str]]:
    """The worklist under the due filter `due`, chosen in the page's form; its rows."""
    tab.goto("/collections")
    assert tab.locator("#f-due").input_value() == "today"  # the default filter
    if due != "today":
        tab.select_option("#f-due", due)
        tab.get_by_role("button", name="Filter").click()
        tab.wait_for_url(f"**/collections?due={due}*")
    rows: list[list[str]] = tab.evaluate(ROWS)
    return rows


def test_the_top_case_drops_to_its_promise_date_and_comes_back_on_it(
    page: Any,  # noqa: F811
    desk: Collections,
) -> None:
    errors = watch(page)
    big = desk.customer("Bigdebt Holdings")
    desk.invoice(big, "WALK-1", "9000.00")
    desk.invoice(desk.customer("Middebt Partners"), "WALK-2", "3000.00")
    desk.invoice(desk.customer("Smalldebt Traders"), "WALK-3", "400.00")
    for _ in range(5):
        desk.tick()
    today = desk.clock.now.date()
    promised = today + timedelta(days=12)

    log_in(page, "collector1")
    page.get_by_role("link", name="Collections").click()
    page.wait_for_url("**/collections")
    before = show(page, "today")
    names = [row[0] for row in before]
    assert names == ["Bigdebt Holdings", "Middebt Partners", "Smalldebt Traders"]
    scores = [Decimal(row[1].replace(",", "")) for row in before]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[1]  # ranked by priority
    assert all(row[2] != promised.isoformat() for row in before)

    page.locator("#worklist tbody tr").nth(0).locator("td a").click()  # the top case
    page.wait_for_url("**/collections/*")
    page.select_option("#f-kind", "call")
    page.select_option("#f-outcome", "promise")
    page.fill("#f-note", "AP promised the full amount with the next payment run")
    page.fill("#f-promised_date", promised.isoformat())
    page.fill("#f-promised_amount", "9000.00")
    page.get_by_role("button", name="Log contact").click()
    page.wait_for_url("**/collections")
    assert f"Next action on {promised.day} {promised:%b %Y}" in page.locator(".flash").inner_text()

    # Dropped: gone from "due today", the others in their order; under "all" with the promise date shown.
    assert [row[0] for row in page.evaluate(ROWS)] == names[1:]
    assert [row[0] for row in show(page, "today")] == names[1:]
    everything = {row[0]: row for row in show(page, "all")}
    assert set(everything) == set(names)
    assert everything["Bigdebt Holdings"][2] == promised.isoformat()
    api = desk.client.get("/api/collections?due=all", headers=auth(desk.tokens["collector1"])).json
    [mine] = [row for row in api["items"] if row["customer_id"] == big]
    assert mine["next_action_date"] == promised.isoformat()

    # Each daily run up to the day before the promise date: still not due.
    for _ in range(11):
        next_morning(page, desk)
        assert "Bigdebt Holdings" not in [row[0] for row in show(page, "today")], desk.clock.now.date()
    assert desk.clock.now.date() == promised - timedelta(days=1)
    # On the promise date it is due again, first by its priority, showing that date.
    next_morning(page, desk)
    assert desk.clock.now.date() == promised
    back = show(page, "today")
    assert back[0][0] == "Bigdebt Holdings" and back[0][2] == promised.isoformat(), back
    assert_clean(page, errors, "/collections")

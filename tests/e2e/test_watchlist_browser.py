"""Must-show 2 of issue 17 for /watchlist in chromium: a credit manager opens the watchlist from the nav, the
strongest action comes first, and the indicator, owner and status filters narrow the list (driven as in
tests/e2e/test_browser.py; the entries come from the daily watchlist run over a built book)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.webui.test_watchlist_pages import flagged_book

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]


def test_a_credit_manager_filters_the_watchlist(
    page: Any,  # noqa: F811
    app: Flask,
    demo_tokens: dict[str, str],
) -> None:
    flagged_book(app)
    log_in(page, "manager1")
    page.get_by_role("link", name="Watchlist").click()
    page.wait_for_url("**/watchlist")
    rows = page.locator("#watchlist tbody tr")
    assert rows.count() == 9
    assert "credit hold" in rows.nth(0).inner_text() and "Over the limit" in rows.nth(0).inner_text()

    page.select_option("#f-indicator", "broken_promise")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/watchlist?*indicator=broken_promise*")
    assert rows.count() == 1 and "broken" in rows.nth(0).inner_text()

    page.select_option("#f-indicator", "")
    page.select_option("#f-owner", "sales1")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/watchlist?*owner=sales1*")
    assert rows.count() == 1 and "owned-util" in rows.nth(0).inner_text()

    page.select_option("#f-status", "cleared")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/watchlist?*status=cleared*")
    assert rows.count() == 1 and "No entries match these filters." in rows.nth(0).inner_text()

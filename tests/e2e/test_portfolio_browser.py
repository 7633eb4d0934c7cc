"""/portfolio in Debian chromium (issue 17): the credit manager opens it from the nav, filters by grade and
the rows change, switches to the key customers tab, and the XLSX export downloaded from the page opens with
openpyxl holding the page's rows; under the Content-Security-Policy with no console error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from tests.credit.test_portfolio import Book, book  # noqa: F401 (fixture)
from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.e2e.test_csp import assert_clean, watch
from workflows.credit.portfolio_export import COLUMNS

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]

ROWS = """() => Array.from(document.querySelectorAll("#portfolio-table tbody tr[data-customer]")).map(
  (row) => [Number(row.dataset.customer), row.querySelector("td a").textContent.trim()])"""


def test_a_credit_manager_filters_the_portfolio_and_exports_what_the_page_shows(
    app: Flask,
    page: Any,  # noqa: F811
    book: Book,  # noqa: F811
    tmp_path: Path,
) -> None:
    errors = watch(page)
    log_in(page, "manager1")
    page.click("nav >> text=Portfolio")
    page.wait_for_url("**/portfolio")
    ids = book.ids
    everyone = page.evaluate(ROWS)
    assert [i for i, _ in everyone] == [ids["alpha"], ids["beta"], ids["hostile"], ids["gamma"]]
    assert page.locator("tr.rate-missing").count() == 1  # Gamma: no CNY rate, flagged

    page.select_option("#portfolio-filters select[name=grade]", "B")
    page.click("#portfolio-filters button[type=submit]")
    page.wait_for_url("**grade=B**")
    assert page.evaluate(ROWS) == [[ids["beta"], "Beta Wholesale Ltd"]]
    assert f"{book.beta_eur:,.2f}" in page.locator("#portfolio-table tfoot").inner_text()

    page.click("nav.tabs >> text=Key customers")
    page.wait_for_url("**tab=key**")
    assert page.evaluate(ROWS) == []  # grade B has no key customer; the filter stays
    page.select_option("#portfolio-filters select[name=grade]", "")
    page.click("#portfolio-filters button[type=submit]")
    page.wait_for_url("**tab=key**")
    assert page.evaluate(ROWS) == [[ids["alpha"], "Alpha Retail AG"]]

    page.goto("/portfolio")
    with page.expect_download() as download:
        page.click("text=XLSX")
    saved = tmp_path / "portfolio.xlsx"
    download.value.save_as(saved)
    sheet = load_workbook(saved, read_only=True)["Portfolio"]
    cells = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [row[0] for row in cells[:-1]] == [i for i, _ in everyone]
    assert cells[-1][2] == "Total (EUR)"
    assert Decimal(str(cells[0][COLUMNS.index("total")])) == Decimal("1500.00")  # Alpha's, exact
    assert_clean(page, errors, "/portfolio")

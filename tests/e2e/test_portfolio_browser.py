"""/portfolio in Debian chromium (issue 17): the credit manager opens it from the nav, filters by grade and
the rows change, switches to the key customers tab, and the XLSX export downloaded from the page opens with
openpyxl holding the page's rows; under the Content-Security-Policy with no console error. And, unfiltered and
filtered by region: every shown row, each of its cells and amounts, the rate-missing badge and the totals
equal the XLSX the page's link exports, and the filtered page and export differ from the unfiltered."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import get_currency_symbol
from flask import Flask
from openpyxl import load_workbook

from tests.credit.test_portfolio import Book, book  # noqa: F401 (fixture)
from tests.e2e.test_browser import chromium, live_url, log_in, page  # noqa: F401 (fixtures)
from tests.e2e.test_csp import assert_clean, watch
from workflows.credit.portfolio_export import AMOUNT_COLUMNS, COLUMNS
from workflows.credit.provisions import BUCKETS
from workflows.csv_export import safe_cell

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]

# Every shown row as its cells' texts: [customer id, name, the rate-missing badge, grade, region, industry,
# sales owner, key, the six buckets, total, overdue, over 90]; the footer's totals as texts.
TABLE = """
() => Array.from(document.querySelectorAll("#portfolio-table tbody tr[data-customer]")).map((row) => {
  const cells = Array.from(row.querySelectorAll("td")).map((cell) => cell.textContent.trim());
  const badge = row.querySelector("td .badge[title]");
  return [Number(row.dataset.customer), row.querySelector("td a").textContent.trim(),
          badge ? badge.textContent.trim() : "", ...cells.slice(1)];
})"""
TOTALS = """
() => Array.from(document.querySelectorAll("#portfolio-table tfoot td")).map((c) => c.textContent.trim())"""
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
    workbook = load_workbook(saved, read_only=True)
    cells = list(workbook["Portfolio"].iter_rows(min_row=2, values_only=True))
    workbook.close()  # a read-only workbook holds its file open: unclosed, it fails a later test
    assert [row[0] for row in cells[:-1]] == [i for i, _ in everyone]
    assert cells[-1][2] == "Total (EUR)"
    assert Decimal(str(cells[0][COLUMNS.index("total")])) == Decimal("1500.00")  # Alpha's, exact
    assert_clean(page, errors, "/portfolio")


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def unconverted(text: str) -> set[tuple[str, Decimal]]:
    """The (currency, amount) pairs a text names: the export's "CNY 5000.00", the page's "CN¥5,000.00"."""
    if re.match(r"[A-Z]{3} \d", text):
        return {(code, money(amount)) for code, amount in re.findall(r"([A-Z]{3}) ([\d,]+\.\d\d)", text)}
    codes = {get_currency_symbol(code, locale="en"): code for code in ("CNY", "EUR", "GBP", "USD", "JPY")}
    found = re.findall(r"([^\s\d,.:;]+)\xa0?([\d,]+\.\d\d)", text)
    return {(codes.get(symbol, symbol), money(amount)) for symbol, amount in found}


def download_xlsx(tab: Any, path: Path) -> list[tuple[Any, ...]]:
    """The XLSX the page's link exports, as rows of cell values (the header first)."""
    with tab.expect_download() as download:
        tab.click("text=XLSX")
    download.value.save_as(path)
    workbook = load_workbook(path, read_only=True)
    rows = list(workbook["Portfolio"].iter_rows(values_only=True))
    workbook.close()  # a read-only workbook holds its file open: unclosed, it fails a later test
    return rows


def assert_export_is_the_page(tab: Any, sheet: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Every shown row, every cell and amount of it, and the totals equal the XLSX; the page's rows."""
    shown, totals = tab.evaluate(TABLE), tab.evaluate(TOTALS)
    header, *cells = sheet
    assert list(header) == list(COLUMNS)
    *rows, footer = cells
    assert len(rows) == len(shown) > 0
    first = COLUMNS.index(AMOUNT_COLUMNS[0])
    for row, (cid, name, badge, grade, region, industry, owner, key, *amounts) in zip(
        rows, shown, strict=True
    ):
        cell = dict(zip(COLUMNS, row, strict=True))
        assert cell["customer_id"] == cid and cell["name"] == safe_cell(name), (cell, name)
        for column, text in (
            ("grade", grade),
            ("region", region),
            ("industry", industry),
            ("sales_owner", owner),
        ):
            assert (cell[column] or "—") == text, (column, cell, text)
        if cell["key_customer"] == "yes":
            assert key == f"key {cell['account_owner'] or ''}".strip(), (cell, key)
        else:
            assert (cell["key_customer"], key) == ("no", "—")
        assert len(amounts) == len(AMOUNT_COLUMNS)
        assert [Decimal(str(v)) for v in row[first : first + len(AMOUNT_COLUMNS)]] == [
            money(a) for a in amounts
        ]
        # A currency without a rate: the page's badge names what the export's rate_missing cell names.
        assert unconverted(badge) == unconverted(cell["rate_missing"] or ""), (badge, cell)
        assert badge.startswith("no rate: ") == bool(cell["rate_missing"]), (badge, cell)
    assert footer[2] == "Total (EUR)"
    assert [Decimal(str(v)) for v in footer[first : first + len(AMOUNT_COLUMNS)]] == [
        money(t) for t in totals
    ]
    assert len(totals) == len(BUCKETS) + 3
    return shown


def test_the_filtered_page_and_its_xlsx_hold_the_same_rows_amounts_and_totals(
    app: Flask,
    page: Any,  # noqa: F811
    book: Book,  # noqa: F811
    tmp_path: Path,
) -> None:
    errors = watch(page)
    log_in(page, "manager1")
    page.goto("/portfolio")
    everyone = assert_export_is_the_page(page, download_xlsx(page, tmp_path / "all.xlsx"))
    assert len(everyone) == 4  # Alpha, Beta, the formula-named customer, Gamma (no CNY rate)

    page.fill("#portfolio-filters input[name=region]", "EU")
    page.click("#portfolio-filters button[type=submit]")
    page.wait_for_url("**region=EU**")
    filtered = assert_export_is_the_page(page, download_xlsx(page, tmp_path / "eu.xlsx"))
    ids = book.ids
    assert [row[0] for row in filtered] == [ids["alpha"], ids["hostile"]]
    assert (
        filtered != everyone and [r for r in everyone if r[0] in {ids["alpha"], ids["hostile"]}] == filtered
    )
    # The filtered totals are the two rows' sums, not the whole book's.
    totals = [money(t) for t in page.evaluate(TOTALS)]
    assert totals == [sum((money(row[8 + i]) for row in filtered), Decimal(0)) for i in range(len(totals))]
    assert totals[len(BUCKETS)] == Decimal("1550.00")  # Alpha 1,500.00 + 50.00

    # Other filters and a sort, chosen in the form: the export follows the page, row for row, in its order.
    page.fill("#portfolio-filters input[name=region]", "")
    page.select_option("#portfolio-filters select[name=key]", "no")
    page.select_option("#portfolio-filters select[name=sort]", "total")
    page.select_option("#portfolio-filters select[name=dir]", "asc")
    page.click("#portfolio-filters button[type=submit]")
    page.wait_for_url("**key=no**")
    others = assert_export_is_the_page(page, download_xlsx(page, tmp_path / "others.xlsx"))
    assert {row[0] for row in others} == {ids["beta"], ids["hostile"], ids["gamma"]}
    # Smallest first; a customer whose currency has no rate has no EUR total to sort by: it comes last.
    assert [row[0] for row in others][-1] == ids["gamma"] and others[-1][2].startswith("no rate")
    shown_totals = [money(row[8 + len(BUCKETS)]) for row in others[:-1]]
    assert shown_totals == sorted(shown_totals) and shown_totals[0] < shown_totals[-1]
    page.select_option("#portfolio-filters select[name=key]", "")
    page.fill("#portfolio-filters input[name=currency]", "GBP")
    page.click("#portfolio-filters button[type=submit]")
    page.wait_for_url("**currency=GBP**")
    gbp = assert_export_is_the_page(page, download_xlsx(page, tmp_path / "gbp.xlsx"))
    assert [row[0] for row in gbp] == [ids["beta"]]
    assert money(gbp[0][8 + len(BUCKETS)]) == book.beta_eur
    assert_clean(page, errors, "/portfolio?currency=GBP")

"""The portfolio as CSV and XLSX: the page's rows and totals, amounts exact, no cell read as a formula.

Both files hold one row per customer in the page's order, then the totals in the base currency and, when
some currency has no rate, a row of what was left unconverted per currency. Text that a spreadsheet would
run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'` (workflows/csv_export.py); XLSX
amounts are numeric cells written from the Decimal's text (no binary float on the way).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell

from workflows.credit.portfolio import PortfolioRow, PortfolioTotals
from workflows.credit.provisions import BUCKETS
from workflows.csv_export import safe_cell, to_csv

AMOUNT_COLUMNS = (*BUCKETS, "total", "overdue", "over_90")
COLUMNS = (
    "customer_id",
    "external_id",
    "name",
    "grade",
    "region",
    "industry",
    "sales_owner",
    "currency",
    "key_customer",
    "account_owner",
    *AMOUNT_COLUMNS,
    "rate_missing",  # the open amounts left unconverted, e.g. "CNY 1200.00": no rate into the base currency
)
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ExportWords:
    """The few words the file writes besides data: the key-customer column's yes/no and the totals row's
    label ("Total (%(base)s)"). English by default (the API's file); a page's download passes its reader's."""

    yes: str = "yes"
    no: str = "no"
    total: str = "Total (%(base)s)"


ENGLISH_WORDS = ExportWords()


def _unconverted(amounts: dict[str, Decimal]) -> str:
    return "; ".join(f"{currency} {amount:.2f}" for currency, amount in sorted(amounts.items()))


def row_cells(row: PortfolioRow, words: ExportWords = ENGLISH_WORDS) -> list[Any]:
    amounts = [*(row.buckets[b] for b in BUCKETS), row.total, row.overdue, row.over_90]
    return [
        row.customer_id,
        row.external_id,
        row.name,
        row.grade,
        row.region,
        row.industry,
        row.sales_owner,
        row.currency,
        words.yes if row.key_customer else words.no,
        row.account_owner,
        *amounts,
        _unconverted(row.unconverted),
    ]


def totals_cells(totals: PortfolioTotals, base: str, words: ExportWords = ENGLISH_WORDS) -> list[list[Any]]:
    """The totals row: amounts in `base`; its rate_missing cell lists what stayed unconverted."""
    amounts = [*(totals.buckets[b] for b in BUCKETS), totals.total, totals.overdue, totals.over_90]
    label = words.total % {"base": base}
    return [[None, None, label, *[None] * 7, *amounts, _unconverted(totals.unconverted)]]


def _all_rows(
    rows: Iterable[PortfolioRow], totals: PortfolioTotals, base: str, words: ExportWords
) -> list[list[Any]]:
    return [row_cells(r, words) for r in rows] + totals_cells(totals, base, words)


def portfolio_csv(
    rows: Iterable[PortfolioRow],
    totals: PortfolioTotals,
    base: str,
    header: Sequence[str] = COLUMNS,
    words: ExportWords = ENGLISH_WORDS,
) -> str:
    """The CSV document: amounts as decimal text with two places (csv_export makes every cell safe).
    `header`: the names of COLUMNS, in order (a page's download names them in its reader's language)."""
    return to_csv(header, _all_rows(rows, totals, base, words))


def _xlsx_cell(value: Any) -> Any:
    if value is None or isinstance(value, (int, Decimal)):
        return value
    # Control characters no XLSX can hold go first, so none can hide a formula from safe_cell ("\x01=...").
    return safe_cell(ILLEGAL_CHARACTERS_RE.sub("", safe_cell(value)))


def portfolio_xlsx(
    rows: Iterable[PortfolioRow],
    totals: PortfolioTotals,
    base: str,
    header: Sequence[str] = COLUMNS,
    words: ExportWords = ENGLISH_WORDS,
) -> bytes:
    """The XLSX workbook (one sheet, "Portfolio"): the same rows and totals as the CSV, `header` as there."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Portfolio")
    first_amount = COLUMNS.index(AMOUNT_COLUMNS[0])
    sheet.append([_xlsx_cell(name) for name in header])
    for values in _all_rows(rows, totals, base, words):
        sheet.append(_typed_row(sheet, values, first_amount))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _typed_row(sheet: Any, values: Sequence[Any], first_amount: int) -> list[Any]:
    """Text made safe; amounts as numeric cells with two decimals shown."""
    cells: list[Any] = [_xlsx_cell(v) for v in values]
    for index in range(first_amount, first_amount + len(AMOUNT_COLUMNS)):
        if isinstance(cells[index], Decimal):
            cell = WriteOnlyCell(sheet, value=cells[index])
            cell.number_format = "#,##0.00"
            cells[index] = cell
    return cells

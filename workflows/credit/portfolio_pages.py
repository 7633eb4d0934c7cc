"""One page of the portfolio, and its exports: from the maintained balances when they are rolled for the
day asked at its rates (portfolio_balances.py: one row per customer, no cache needed), else from the live
queries of workflows/credit/portfolio.py.

For the live queries, the order of the filtered book's customers and its totals are kept per database
engine, filter, sort and day under a fingerprint of the book (workflows/credit/kpi_cache.py: the highest
id of the tables read and of the audit trail, which every change made through creditflow extends; at most
300 s old). Paging, sorting back and forth and exporting a filter already shown then cost the fingerprint
and one page's rows, not two passes over every open invoice; any new invoice, payment, credit note,
write-off, rate or audited change (a customer's grade or key-customer flag) starts over.
"""

from __future__ import annotations

import copy
from dataclasses import astuple, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from workflows.credit import portfolio_balances as balances
from workflows.credit.kpi_cache import cached
from workflows.credit.portfolio import (
    TOP_DEFAULT,
    Portfolio,
    PortfolioFilter,
    PortfolioRow,
    PortfolioTotals,
    _page_ids,
    _rows,
    current_rates,
    portfolio_totals,
    totals_of,
)

EXPORT_CHUNK = 500  # customer ids per detail query of an export


def _ordered(
    session: Session, flt: PortfolioFilter, as_of: date, base: str, rates: dict[str, Decimal]
) -> dict[str, Any]:
    """{"ids": every customer id of the filter in the sort's order (the top tab: its N), "totals": the
    filtered book's totals (None on the top tab: those of its rows)}."""

    def compute() -> dict[str, Any]:
        if flt.top is not None:
            ids, _ = _page_ids(session, flt, as_of, rates, 1, flt.top)
            return {"ids": ids, "totals": None}
        ids, _ = _page_ids(session, flt, as_of, rates, None, None)
        return {"ids": ids, "totals": portfolio_totals(session, flt, as_of, rates)}

    return cached(session, ("portfolio", astuple(flt), as_of, base), compute)


def _top(flt: PortfolioFilter) -> PortfolioFilter:
    """The top exposures: the largest totals first, whatever the sort asked."""
    return replace(flt, sort="total", descending=True, top=flt.top or TOP_DEFAULT)


def load_portfolio(
    session: Session, flt: PortfolioFilter, *, as_of: date, base: str, page: int = 1, per_page: int = 50
) -> Portfolio:
    """One page of the portfolio and the filtered book's totals (the top tab: its N rows, one page)."""
    balances.ensure_rolled(session, as_of, base)
    rates = current_rates(session, as_of, base)
    if flt.top is not None:
        flt = _top(flt)
        page, per_page = 1, flt.top or TOP_DEFAULT
    if balances.usable(session, as_of, base, rates):
        shown, total = balances.page_ids(session, flt, page, per_page)
        rows = balances.rows(session, shown, rates)
        if flt.top is not None:
            return Portfolio(as_of, base, rows, len(shown), page, per_page, totals_of(rows), rates)
        return Portfolio(
            as_of, base, rows, total, page, per_page, balances.totals(session, flt, rates), rates
        )
    found = _ordered(session, flt, as_of, base, rates)
    ids: list[int] = found["ids"]
    start = (page - 1) * per_page
    rows = _rows(session, ids[start : start + per_page], as_of, rates)
    totals = totals_of(rows) if found["totals"] is None else copy.deepcopy(found["totals"])
    return Portfolio(as_of, base, rows, len(ids), page, per_page, totals, rates)


def export_rows(
    session: Session, flt: PortfolioFilter, *, as_of: date, base: str
) -> tuple[list[PortfolioRow], PortfolioTotals]:
    """Every row of the filtered portfolio in the page's order (the top tab: its N rows), and the totals
    the page shows; for the CSV and XLSX exports."""
    balances.ensure_rolled(session, as_of, base)
    rates = current_rates(session, as_of, base)
    if flt.top is not None:
        flt = _top(flt)
    rows: list[PortfolioRow] = []
    if balances.usable(session, as_of, base, rates):
        listed, _ = balances.page_ids(session, flt, 1 if flt.top else None, flt.top)
        for start in range(0, len(listed), EXPORT_CHUNK):
            rows += balances.rows(session, listed[start : start + EXPORT_CHUNK], rates)
        if flt.top is not None:
            return rows, totals_of(rows)
        return rows, balances.totals(session, flt, rates)
    found = _ordered(session, flt, as_of, base, rates)
    ids: list[int] = found["ids"]
    for start in range(0, len(ids), EXPORT_CHUNK):
        rows += _rows(session, ids[start : start + EXPORT_CHUNK], as_of, rates)
    totals = totals_of(rows) if found["totals"] is None else copy.deepcopy(found["totals"])
    return rows, totals

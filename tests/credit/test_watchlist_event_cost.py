"""An event's evaluation on a large book reads the book-wide references (the book's open receivables and
the normal dispute rate) of the day's first computation instead of reading every invoice again: on a
1,000,000-invoice book that scan took about 3 s per invoice or payment posted (measured by the lead on the
cockpit benchmark book); after the first event of the day it is 42-80 ms. A small book keeps computing
them exactly at every event (tests/credit/test_watchlist_events.py relies on that)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.collections_desk import Collections
from tests.credit.test_watchlist import runtime
from tests.credit.test_watchlist_events import book, entries, fired, post_invoice
from workflows.credit import watchlist_signals

pytestmark = pytest.mark.usefixtures("shipped")


def count_whole_book_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one at every read of every customer's open receivables."""
    whole_book: list[int] = []
    owed = watchlist_signals._owed

    def counting(session: Any, rates: Any, customer_ids: Any = None) -> Any:
        if customer_ids is None:
            whole_book.append(1)
        return owed(session, rates, customer_ids)

    monkeypatch.setattr(watchlist_signals, "_owed", counting)
    return whole_book


def test_a_large_book_s_events_read_the_day_s_references_and_the_customer_exactly(
    desk: Collections, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = book(desk, limit="1000.00")
    monkeypatch.setattr(watchlist_signals, "LARGE_BOOK", 1)  # this small book counts as large
    whole_book = count_whole_book_reads(monkeypatch)
    post_invoice(desk, customer, "R-1", "899.00")  # the day's first event reads the whole book once
    assert len(whole_book) == 1
    post_invoice(desk, customer, "R-2", "1.00")  # 90.0 %: the customer's own amounts are exact
    assert len(whole_book) == 1
    [entry] = entries(desk, customer)
    assert fired(entry) == {"utilisation"} and entry.indicators[0]["measure"] == "90.0"
    remembered = watchlist_signals._REFERENCES[runtime(desk.client.application).engine]
    [(total, normal)] = remembered.values()
    # The twelve fillers of 10,000.00 and the first invoice: the book as the first event saw it.
    assert total == Decimal("120899.00") and normal == Decimal("0.0")


def test_a_small_book_computes_the_references_at_every_event(
    desk: Collections, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = book(desk, limit="1000.00")
    whole_book = count_whole_book_reads(monkeypatch)
    post_invoice(desk, customer, "S-1", "100.00")
    post_invoice(desk, customer, "S-2", "100.00")
    assert len(whole_book) == 2

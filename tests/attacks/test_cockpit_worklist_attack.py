"""Hostile and unlucky users against helper C's issue-17 work (helper I): the watchlist heard on postings
(a5e51e1), the top-N exposure review policy (3434265) and the collections next action (1b16ace)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.collections_desk import Collections
from tests.credit.test_top_exposure_reviews import AS_OF, deploy_policy
from tests.credit.test_watchlist import NOW, Book, runtime
from tests.credit.test_watchlist_events import book, entries, post_invoice
from tests.helpers import auth
from workflows.credit import watchlist
from workflows.credit.exposure_policy import exposure_policy
from workflows.credit.key_customer_reviews import top_exposure_ranks
from workflows.credit.limit_review import review_triggers
from workflows.credit.models import Invoice
from workflows.credit.watchlist import WatchlistEntry, flag_customer
from workflows.definitions.validation import InvalidBundle
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


# --- the watchlist on postings -----------------------------------------------------------------------------


def test_an_invoice_in_a_currency_without_a_rate_posts_and_the_watchlist_does_not_guess(
    desk: Collections,
) -> None:
    customer = book(desk, limit="100.00")
    body = {
        "customer_id": customer,
        "number": "NR-1",
        "amount": "5000.00",
        "currency": "JPY",
        "issue_date": desk.clock.now.date().isoformat(),
        "due_date": (desk.clock.now.date() + timedelta(days=30)).isoformat(),
    }
    posted = desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"]))
    assert posted.status_code in (201, 422), posted.json
    with runtime(desk.client.application).factory() as session:
        stored = session.scalar(select(func.count()).where(Invoice.customer_id == customer))
    assert stored == (1 if posted.status_code == 201 else 0)  # posted whole or refused whole


def test_an_invoice_for_an_unknown_customer_is_refused_whole_and_flags_nobody(desk: Collections) -> None:
    body = {
        "customer_id": 10**12,
        "number": "X-1",
        "amount": "100.00",
        "currency": "EUR",
        "issue_date": "2026-03-02",
        "due_date": "2026-04-01",
    }
    refused = desk.client.post("/api/invoices", json=body, headers=auth(desk.tokens["finance1"]))
    assert 400 <= refused.status_code < 500, refused.json
    with runtime(desk.client.application).factory() as session:
        assert session.scalar(select(func.count()).select_from(WatchlistEntry)) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"__class__": {"__init__": 1}, "customer_id": 1},
        {"customer_id": "1\u0000", "number": "N\u0000", "amount": "1.00", "currency": "EUR"},
        {"customer_id": 1, "number": "B", "amount": "1e400", "currency": "EUR"},
        {"customer_id": 10**40, "number": "B", "amount": "1.00", "currency": "EUR"},
        {"customer_id": [[[[[[[[[[1]]]]]]]]]], "number": "B", "amount": "1.00", "currency": "EUR"},
    ],
)
def test_crafted_postings_get_a_4xx_and_leave_no_watchlist_trace(
    desk: Collections, body: dict[str, Any]
) -> None:
    for route in ("/api/invoices", "/api/payments"):
        answer = desk.client.post(route, json=body, headers=auth(desk.tokens["finance1"]))
        assert 400 <= answer.status_code < 500, (route, answer.status_code, answer.data[:300])


def test_an_entry_flagged_by_a_posting_clears_on_the_payment_and_its_history_stays(desk: Collections) -> None:
    customer = book(desk, limit="1000.00")
    post_invoice(desk, customer, "H-1", "950.00")  # 95 %: flagged
    [entry] = entries(desk, customer)
    assert entry.cleared_at is None
    assert desk.pay(customer, "500.00", "PAY-H1").status_code == 201  # 45 %: clears
    assert desk.pay(customer, "100.00", "PAY-H2").status_code == 201  # a second event changes nothing
    [entry] = entries(desk, customer)
    assert entry.cleared_at is not None


def test_two_postings_at_once_on_postgresql_keep_both_and_open_one_entry(desk: Collections) -> None:
    """Two transactions post for one customer and both cross 90 %: the second's entry insert waits on the
    first's unique open entry and fails when it commits; its savepoint rolls back, its invoice stands."""
    rt = runtime(desk.client.application)
    if rt.factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("row locks and a waiting unique insert: PostgreSQL only (-m db)")
    customer = book(desk, limit="1000.00")
    first = rt.factory()
    Book(first, n=5000).invoice(customer, "950.00")
    assert flag_customer(first, customer, NOW, base="EUR", actor="finance1") is not None
    answers: list[Any] = []

    def second() -> None:
        with transaction(rt.factory) as session:
            Book(session, n=6000).invoice(customer, "960.00")
            answers.append(flag_customer(session, customer, NOW, base="EUR", actor="finance2"))

    worker = threading.Thread(target=second)
    worker.start()
    time.sleep(1.0)  # the second waits on the first's entry (or has read nothing yet)
    first.commit()
    first.close()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert len(answers) == 1  # no deadlock, no exception out of the posting
    with rt.factory() as session:
        invoices = session.scalar(select(func.count()).where(Invoice.customer_id == customer))
        open_entries = session.scalar(
            select(func.count()).where(
                WatchlistEntry.customer_id == customer, WatchlistEntry.cleared_at.is_(None)
            )
        )
    assert (invoices, open_entries) == (2, 1)


def test_a_failing_evaluation_on_a_posting_is_recorded_and_the_posting_commits(
    desk: Collections, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    customer = book(desk, limit="100.00")

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ArithmeticError("a rule that fails")

    monkeypatch.setattr(watchlist, "evaluate_watchlist", broken)
    with caplog.at_level(logging.ERROR, logger="workflows.credit.watchlist"):
        post_invoice(desk, customer, "E-1", "500.00")
    assert any(str(customer) in r.getMessage() and r.exc_info for r in caplog.records), caplog.text
    with runtime(desk.client.application).factory() as session:
        assert session.scalar(select(func.count()).where(Invoice.customer_id == customer)) == 1
    assert entries(desk, customer) == []


# --- the top-N exposure policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("top_n", "months"),
    [
        ("abc", "3"),
        ("1000000000", "3"),
        ("10**400", "3"),
        ("9" * 5000, "3"),
        ("20", "10**9"),
        ('"20"', "3"),
        ("20.0", "3"),
        ("None", "3"),
        ("20", "-3"),
        ("1/0", "3"),
    ],
)
def test_a_hostile_exposure_policy_is_refused_at_deploy_naming_the_file(
    app: Flask, top_n: str, months: str
) -> None:
    with pytest.raises(InvalidBundle) as refused:
        deploy_policy(app, top_n, months, deployed_by="owner1")
    assert "exposure_review_policy.dmn" in str(refused.value)
    with runtime(app).factory() as session:
        assert exposure_policy(session).top_n == 20


def test_a_nul_byte_in_the_exposure_policy_is_refused_not_a_crash(app: Flask) -> None:
    with pytest.raises(InvalidBundle):
        deploy_policy(app, "2\u00000", "3", deployed_by="owner1")
    with runtime(app).factory() as session:
        assert exposure_policy(session).top_n == 20


def test_a_tie_at_rank_n_is_ranked_the_same_every_time_and_n_are_named(app: Flask) -> None:
    deploy_policy(app, "2", "3")
    rt = runtime(app)
    with transaction(rt.factory) as session:
        b = Book(session)
        ids = [b.customer(f"tie{i}") for i in range(4)]
        b.invoice(ids[0], "50000.00")
        for cid in ids[1:]:
            b.invoice(cid, "30000.00")  # three tied for rank 2
    with rt.factory() as session:
        first = top_exposure_ranks(session, AS_OF, "EUR")
        again = top_exposure_ranks(session, AS_OF, "EUR")
        triggers = review_triggers(session, AS_OF, rt.settings.reviews, base="EUR")
    assert first == again and len(first) == 2 and first[ids[0]].rank == 1
    assert {c for c, why in triggers.items() if why == "top_exposure"} == set(first)


def test_the_largest_exposure_in_a_currency_without_a_rate_is_not_silently_skipped(app: Flask) -> None:
    deploy_policy(app, "1", "3")
    rt = runtime(app)
    with transaction(rt.factory) as session:
        b = Book(session)
        big = b.customer("Rateless KK", currency="JPY")
        b.invoice(big, "900000000.00", currency="JPY")
        small = b.customer("Small EUR")
        b.invoice(small, "10.00")
    with rt.factory() as session:
        triggers = review_triggers(session, AS_OF, rt.settings.reviews, base="EUR")
    # Nobody can rank what has no rate: the 10.00 EUR customer is not "the largest exposure", and no
    # top-N review starts until the JPY rate is posted (the lead's fix: top_exposure_ranks is empty then).
    assert triggers.get(small) != "top_exposure" and triggers.get(big) != "top_exposure"
    with rt.factory() as session:
        assert top_exposure_ranks(session, AS_OF, "EUR") == {}


def test_the_sweep_asked_twice_the_same_day_names_each_customer_once(app: Flask) -> None:
    deploy_policy(app, "3", "3")
    rt = runtime(app)
    with transaction(rt.factory) as session:
        b = Book(session)
        ids = [b.customer(f"twice{i}") for i in range(3)]
        for cid in ids:
            b.invoice(cid, "20000.00")
    with rt.factory() as session:
        one = review_triggers(session, AS_OF, rt.settings.reviews, base="EUR")
        two = review_triggers(session, AS_OF, rt.settings.reviews, base="EUR")
    assert one == two and set(one) >= set(ids)


# --- the collections next action --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["due=%00", "due=today%00", "page=" + "9" * 400, "per_page=-1", "page=1e9", "sort=__class__", "q=%00"],
)
def test_crafted_worklist_queries_get_a_4xx_or_a_page_never_a_500(desk: Collections, query: str) -> None:
    answer = desk.client.get(f"/api/collections?{query}", headers=auth(desk.tokens["collector1"]))
    assert answer.status_code < 500, (query, answer.data[:300])


def test_collections_api_and_page_agree_and_a_closed_case_shows_no_next_step(
    desk: Collections, app: Flask
) -> None:
    from tests.webui.test_collections_next_action import api_row, open_case, page_cell

    customer, case_id = open_case(desk, "Paidup Ltd")
    row = api_row(desk, case_id)
    assert page_cell(app, case_id) == (row["next_action"], row["next_action_date"], row["next_action_source"])
    assert desk.pay(customer, "2000.00", "PAY-ALL").status_code == 201
    desk.tick()
    response = desk.client.get("/api/collections?due=all", headers=auth(desk.tokens["collector1"]))
    listed = response.json
    assert listed is not None
    assert all(r["case_id"] != case_id for r in listed["items"])  # closed: nobody is told to dun


def test_a_promise_refused_then_a_new_one_logged_the_same_day_is_not_called_void(
    desk: Collections, app: Flask
) -> None:
    from tests.webui.test_collections_next_action import api_row, open_case, page_cell, refuse_promise

    _, case_id = open_case(desk, "Tworounds SA")
    refuse_promise(desk, case_id)
    promised = desk.clock.now.date() + timedelta(days=10)  # within what ungraded allows
    logged = desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts",
        json={
            "kind": "call",
            "outcome": "promise",
            "promised_date": promised.isoformat(),
            "promised_amount": "2000.00",
        },
        headers=auth(desk.tokens["collector1"]),
    )
    assert logged.status_code == 201, logged.json
    row = api_row(desk, case_id)
    assert row["next_action_source"] != "void_promise", row  # the new promise stands
    assert page_cell(app, case_id) == (row["next_action"], row["next_action_date"], row["next_action_source"])


def test_a_case_at_the_last_level_never_shows_a_level_beyond_the_ladder_and_page_equals_api(
    desk: Collections, app: Flask
) -> None:
    from tests.webui.test_collections_next_action import api_row, open_case, page_cell

    def same() -> dict[str, Any]:
        row = api_row(desk, case_id)
        assert page_cell(app, case_id) == (
            row["next_action"],
            row["next_action_date"],
            row["next_action_source"],
        )
        assert "level 5" not in row["next_action"], row
        return row

    customer, case_id = open_case(desk, "Lastlevel BV")
    for _ in range(70):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            if task["name"] == "call_customer":  # level 3's call: nobody answers
                assert desk.complete("collector1", task["id"], outcome="unreachable").status_code == 200
        same()
        if desk.case(customer)["level"] >= 4:
            break
    assert desk.case(customer)["level"] == 4
    same()

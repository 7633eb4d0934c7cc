"""A worklist row's next action is one function's answer (collection_next.next_action), so /collections and
GET /api/collections say the same: a logged promise that was refused, lapsed or replaced asks to check the
case (the page said "none set"), and a case no collector set a date on shows the dunning ladder's next step
and the day it falls due (hand dates from the shipped dunning_policy.dmn)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask

from tests.collections_desk import Collections
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.credit.promises import DunningPromise, PromiseStatus
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")


def api_row(desk: Collections, case_id: int, due: str = "all") -> dict[str, Any]:
    response = desk.client.get(f"/api/collections?due={due}", headers=auth(desk.tokens["collector1"]))
    assert response.status_code == 200, response.json
    [row] = [r for r in response.json["items"] if r["case_id"] == case_id]
    return dict(row)


def page_cell(app: Flask, case_id: int, due: str = "all") -> tuple[str, str | None, str]:
    """(text, date, source) of the row's next-action cell on /collections."""
    html = logged_in(app, "collector1").get(f"/collections?due={due}").text
    row = re.search(rf'<tr data-case-id="{case_id}">(.*?)</tr>', html, re.S)
    assert row is not None, html
    cell = re.search(r'<td class="next-action" data-source="(\w+)">(.*?)</td>', row.group(1), re.S)
    assert cell is not None, row.group(1)
    text = re.search(r'<span class="next-action-text">(.*?)</span>', cell.group(2), re.S)
    # The page shows the date in the reader's language; data-day keeps it ISO.
    when = re.search(r'<small class="next-action-date" data-day="([0-9-]+)">', cell.group(2))
    return (
        "" if text is None else text.group(1).replace("&#39;", "'"),
        None if when is None else when.group(1),
        cell.group(1),
    )


def open_case(desk: Collections, name: str, amount: str = "2000.00") -> tuple[int, int]:
    customer = desk.customer(name)
    desk.invoice(customer, f"{name[:4]}-1", amount)  # due 2026-03-02
    for _ in range(5):
        desk.tick()  # 2026-03-07: level 1 fell on 03-05 (ungraded: 3 days after due)
    return customer, int(desk.case(customer)["id"])


def test_a_case_without_a_contact_shows_its_next_dunning_step_and_the_day_it_falls(
    desk: Collections, app: Flask
) -> None:
    customer, case_id = open_case(desk, "Nocontact Ltd")
    assert desk.clock.now.date() == date(2026, 3, 7) and desk.case(customer)["level"] == 1
    # Ungraded ladder: level 2 at 14 days after the due date 2026-03-02; the notices' 5-day spacing
    # (2026-03-05 + 5 = 03-10) is earlier, so the step falls on 2026-03-16.
    expected = ("Next dunning step: level 2, second reminder with fee", "2026-03-16", "ladder")
    row = api_row(desk, case_id)
    assert (row["next_action"], row["next_action_date"], row["next_action_source"]) == expected
    assert page_cell(app, case_id) == expected
    # Nobody contacted the customer yet: the case stays due today, on the page and in the API.
    assert api_row(desk, case_id, due="today")["case_id"] == case_id
    assert page_cell(app, case_id, due="today") == expected
    for _ in range(9):
        desk.tick()  # 2026-03-16: level 2 went out; level 3 at 25 days = 2026-03-27
    assert desk.case(customer)["level"] == 2
    expected = ("Next dunning step: level 3, final demand, credit block and call", "2026-03-27", "ladder")
    row = api_row(desk, case_id)
    assert (row["next_action"], row["next_action_date"], row["next_action_source"]) == expected
    assert page_cell(app, case_id) == expected


def test_a_contact_without_a_date_keeps_its_words_and_shows_the_ladder_date(
    desk: Collections, app: Flask
) -> None:
    _, case_id = open_case(desk, "Wordsonly GmbH")
    logged = desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts",
        json={"kind": "call", "outcome": "reached", "next_action": "send the statement"},
        headers=auth(desk.tokens["collector1"]),
    )
    assert logged.status_code == 201, logged.json
    expected = (
        "send the statement (Next dunning step: level 2, second reminder with fee)",
        "2026-03-16",
        "ladder",
    )
    row = api_row(desk, case_id, due="today")  # no date set by the collector: still due
    assert (row["next_action"], row["next_action_date"], row["next_action_source"]) == expected
    assert page_cell(app, case_id, due="today") == expected


def refuse_promise(desk: Collections, case_id: int) -> None:
    promised = desk.clock.now.date() + timedelta(days=60)  # beyond the 30 days ungraded allows
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
    [task] = [t for t in desk.open_tasks("manager1") if t["name"] == "approve_promise"]
    assert desk.complete("manager1", task["id"], decision="reject").status_code == 200


def set_promise_status(desk: Collections, case_id: int, status: str) -> None:
    """The promise the contact logged, moved on as the dunning instance moves it (lapsed, replaced)."""
    with transaction(desk.client.application.extensions["creditflow"].rt.factory) as session:
        promise = session.query(DunningPromise).filter_by(case_id=case_id).one()
        promise.status = status


@pytest.mark.parametrize("gone", [PromiseStatus.REFUSED, PromiseStatus.LAPSED, PromiseStatus.REPLACED])
def test_a_logged_promise_that_no_longer_stands_reads_the_same_on_the_page_and_in_the_api(
    desk: Collections, app: Flask, gone: str
) -> None:
    _, case_id = open_case(desk, f"Gone {gone} AG")
    refuse_promise(desk, case_id)
    if gone != PromiseStatus.REFUSED:
        set_promise_status(desk, case_id, gone)
    expected = (f"The logged promise was {gone}: check the case", None, "void_promise")
    row = api_row(desk, case_id, due="today")  # due now
    assert (row["next_action"], row["next_action_date"], row["next_action_source"]) == expected
    assert page_cell(app, case_id, due="today") == expected
    assert "none set" not in logged_in(app, "collector1").get("/collections?due=all").text

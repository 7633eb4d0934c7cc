"""Hostile messages against the dunning policy: who may regrade a case's ladder, and promises that try to
slip past the limits of dunning_policy.dmn with crafted data."""

from __future__ import annotations

from typing import Any

import pytest

from tests.collections_desk import DUE, Collections
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def opened_case(desk: Collections) -> int:
    customer = desk.customer("Hostile Debtor")
    desk.invoice(customer, "INV-H1", "25650.00")
    for _ in range(3):
        desk.tick()
    assert desk.case(customer)["level"] == 1
    return customer


def send(desk: Collections, user: str, name: str, customer: int, data: Any) -> Any:
    message = {"name": name, "correlation_key": str(customer), "data": data}
    return desk.client.post("/api/messages", json=message, headers=auth(desk.tokens[user]))


@pytest.mark.parametrize("user", ["collector1", "manager1", "finance1", "sales1"])
def test_only_the_daily_run_or_an_admin_tells_a_case_its_grade_changed(desk: Collections, user: str) -> None:
    customer = opened_case(desk)
    refused = send(desk, user, "grade_changed", customer, {"grade": "A"})
    assert refused.status_code == 403, refused.json
    case = desk.case(customer)
    assert case["grade"] == "" and [e["kind"] for e in case["history"]].count("ladder_grade") == 1


def test_a_grade_sent_in_the_message_is_not_believed(desk: Collections) -> None:
    customer = opened_case(desk)
    sent = send(desk, "admin", "grade_changed", customer, {"grade": "A"})
    assert sent.status_code == 200 and sent.json["delivered_to"], sent.json
    assert desk.case(customer)["grade"] == ""  # the case reads the customer's grade, not the message's


@pytest.mark.parametrize(
    "data",
    [
        {"promised_date": (DUE.replace(year=DUE.year + 1)).isoformat(), "amount": "1e30"},
        {"promised_date": "2026-03-10\u0000", "amount": "25650.00"},
        {"promised_date": "2026-03-10", "amount": "NaN"},
        {"promised_date": "2026-03-10", "amount": "-25650.00"},
        {"promised_date": "2026-03-10", "amount": "0.001"},
        {"promised_date": "2026-03-10", "amount": 25650.00, "max_days": 9999, "min_pct": 0},
    ],
)
def test_a_crafted_promise_is_refused_or_held_to_the_limits(desk: Collections, data: dict[str, Any]) -> None:
    customer = opened_case(desk)
    answer = send(desk, "collector1", "promise_to_pay", customer, data)
    case = desk.case(customer)
    if answer.status_code == 200:  # the last one: the limits are the table's, extra fields are dropped
        assert "max_days" not in str(case["promises"])
        assert case["promises"][0]["status"] == "open" and case["status"] == "paused"
    else:
        assert answer.status_code in (400, 422), answer.json  # a NUL is refused as unreadable JSON (400)
        assert case["promises"] == [] and case["status"] == "open"

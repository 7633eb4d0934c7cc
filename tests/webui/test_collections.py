"""The collectors' worklist and contact log over the API: ranked by collection_priority.dmn, filtered by
the next action, and a promise recorded through the dunning instance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.collections_desk import Collections
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def worklist(desk: Collections, user: str = "collector1", due: str = "today") -> dict[str, Any]:
    response = desk.client.get(f"/api/collections?due={due}", headers=auth(desk.tokens[user]))
    assert response.status_code == 200, response.json
    return dict(response.json)


def log(desk: Collections, case_id: int, user: str = "collector1", **body: Any) -> Any:
    return desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts", json=body, headers=auth(desk.tokens[user])
    )


def test_a_logged_call_sets_the_next_action_and_a_promise_goes_through_the_instance(
    desk: Collections,
) -> None:
    customer = desk.customer("Ringback Ltd")
    desk.invoice(customer, "INV-C1", "1000.00")
    for _ in range(5):
        desk.tick()
    [row] = worklist(desk)["items"]
    case_id = row["case_id"]
    assert (row["customer_id"], row["overdue_base"], row["next_action_date"]) == (customer, "1000.00", None)
    today = desk.clock.now.date()
    tomorrow = today + timedelta(days=1)
    first = log(
        desk,
        case_id,
        kind="call",
        outcome="no_answer",
        next_action="call again",
        next_action_date=tomorrow.isoformat(),
    )
    assert first.status_code == 201, first.json
    assert (first.json["actor"], first.json["next_action_date"]) == ("collector1", tomorrow.isoformat())
    assert worklist(desk)["items"] == []  # not due today any more
    [later] = worklist(desk, due="all")["items"]
    assert later["last_contact"]["id"] == first.json["id"] and later["next_action"] == "call again"
    promised = today + timedelta(days=10)
    second = log(
        desk,
        case_id,
        kind="call",
        outcome="promise",
        note="AP confirmed",
        promised_date=promised.isoformat(),
        promised_amount="1000.00",
    )
    assert second.status_code == 201, second.json
    assert second.json["next_action_date"] == promised.isoformat()
    case = desk.case(customer)
    assert case["status"] == "paused" and case["promised_date"] == promised.isoformat()
    [promise] = case["promises"]
    assert (promise["id"], promise["recorded_by"], promise["status"]) == (
        second.json["promise_id"],
        "collector1",
        "open",
    )
    contacts = desk.client.get(
        f"/api/dunning-cases/{case_id}/contacts", headers=auth(desk.tokens["manager1"])
    )
    assert [c["outcome"] for c in contacts.json["items"]] == ["promise", "no_answer"]

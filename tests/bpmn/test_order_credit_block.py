"""The level-3 credit block means something: once the dunning case of an unpaid customer reaches level 3
(final demand, credit block), its next order's credit check answers blocked, naming the case; while it
was only reminded, the order went through."""

from __future__ import annotations

import pytest

from tests.collections_desk import Collections
from tests.helpers import auth

pytestmark = pytest.mark.usefixtures("shipped")


def test_a_customer_blocked_by_dunning_level_3_gets_its_next_order_blocked(desk: Collections) -> None:
    customer = desk.customer("Blocked Trading")
    desk.invoice(customer, "INV-B1", "900.00")

    def check(ref: str) -> dict[str, object]:
        body = {"customer_id": customer, "order_ref": ref, "amount": "10.00", "currency": "EUR"}
        response = desk.client.post("/api/credit-checks", json=body, headers=auth(desk.tokens["sales1"]))
        assert response.status_code == 200, response.json
        return dict(response.json)

    level, reminded = 0, False
    for _day in range(40):
        desk.tick()
        for task in desk.open_tasks("collector1"):  # the level-3 call: nobody answers
            desk.complete("collector1", task["id"], outcome="unreachable", comment="voicemail")
        cases = desk.client.get(
            f"/api/dunning-cases?customer_id={customer}", headers=auth(desk.tokens["collector1"])
        ).json["items"]
        level = cases[0]["level"] if cases else 0
        if level == 1:
            # Reminded but not blocked: no limit (a new customer's is 0), so over the limit, not blocked.
            assert check("SO-L1")["result"] == "over_limit"
            reminded = True
        if level >= 3:
            break
    assert level == 3 and reminded
    case = desk.case(customer)
    answer = check("SO-L3")
    assert answer["result"] == "blocked"
    assert (
        answer["reason"]
        == f"customer {customer} is blocked: credit block of dunning case {case['id']} (level 3)"
    )
    assert answer["release_instance_id"] is None

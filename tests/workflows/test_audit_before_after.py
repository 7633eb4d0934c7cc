"""Every state change the audit trail lists carries its before and after (issue 14, "An auditor's view").

A dunning case is walked through the collections desk as the demo users would: a reminder, a promise that
breaks, a part payment, a failed step an admin retries, a claimed and released call, a dispute upheld with a
credit note, the legal handover with its provision, and the recovery that closes the case and releases it.
Then every row of the trail is checked, and the values of a few.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.collections_desk import Collections
from tests.helpers import auth
from workflows.engine.wakeups import record_failure
from workflows.store.db import transaction
from workflows.users import add_user

pytestmark = [pytest.mark.usefixtures("shipped"), pytest.mark.db]

# Kinds that record no before/after because no record changed, each with the reason.
NOT_STATE_CHANGES = {
    "message_unmatched": "a message no instance waited for; nothing received it",
    "message_received": "the delivery; what it changed (a promise, a payment) has rows of its own",
    "timers_checked": "a wakeup; what its step changed has rows of its own",
    "service_called": "a handler ran; what it changed has rows of its own",
    "dunning_notice_undeliverable": "no notice went out; the case is as it was",
}
# Kinds that create a record: there is nothing before them (before is None), only an after.
CREATIONS = (
    "_created",
    "_posted",
    "_deployed",
    "_started",
    "_issued",
    "provision_booked",
    "dunning_opened",
)
# Posted, but a change, not a creation: a month-end run moves the allowance on the books from its opening
# to its closing balance, and the trail shows both.
POSTED_CHANGES = ("provision_run_posted",)


def _trail(desk: Collections, query: str = "") -> list[dict[str, Any]]:
    """Every change the trail lists (oldest first), page by page, as auditor1 reads it."""
    changes: list[dict[str, Any]] = []
    for page in range(1, 100):
        response = desk.client.get(
            f"/api/audit?per_page=200&page={page}{query}", headers=auth(desk.tokens["auditor1"])
        )
        assert response.status_code == 200, response.json
        changes += response.json["items"]
        if len(changes) >= response.json["total"]:
            return changes[::-1]
    raise AssertionError("the trail did not end")


def _message(desk: Collections, name: str, customer: int, data: dict[str, Any]) -> None:
    body = {"name": name, "correlation_key": str(customer), "data": data}
    sent = desk.client.post("/api/messages", json=body, headers=auth(desk.tokens["collector1"]))
    assert sent.status_code == 200 and len(sent.json["delivered_to"]) == 1, sent.json


def _ok(response: Any) -> None:
    assert response.status_code == 200, response.json


def _walk(desk: Collections, customer: int) -> None:
    """Tick day by day, doing each task the case offers, until the case is closed."""
    called = False
    for _day in range(150):
        desk.tick()
        for task in desk.open_tasks("collector1"):
            if task["name"] == "call_customer" and not called:
                called = True
                # Taken, given back, then done: the customer disputes one invoice.
                _ok(
                    desk.client.post(
                        f"/api/tasks/{task['id']}/claim", headers=auth(desk.tokens["collector1"])
                    )
                )
                unclaim = f"/api/tasks/{task['id']}/unclaim"
                _ok(desk.client.post(unclaim, headers=auth(desk.tokens["collector1"])))
                _ok(desk.complete("collector1", task["id"], outcome="disputed", disputed_invoices="INV-A2"))
            elif task["name"] == "call_customer":
                _ok(desk.complete("collector1", task["id"], outcome="unreachable"))
        # The call's dispute is settled by its own dispute_resolution: sales accepts, a lead approves.
        for task in desk.open_tasks("sales1"):
            _ok(desk.complete("sales1", task["id"], decision="accept", credit_amount="300.00"))
        for task in desk.open_tasks("lead1"):
            _ok(desk.complete("lead1", task["id"], decision="approve"))
        for task in desk.open_tasks("manager1"):
            _ok(desk.complete("manager1", task["id"], decision="approve"))
        for task in desk.open_tasks("legal1"):
            assert task["name"] == "pursue_legally"
            # "Recovered in full" needs the money in first (write_offs.check_proposal): the 800.00 left.
            assert desk.pay(customer, "800.00", "LEGAL-RECOVERED").status_code == 201
            _ok(desk.complete("legal1", task["id"], legal_outcome="recovered"))
        if desk.case(customer)["status"] == "closed":
            return
    raise AssertionError(f"the case did not close: {desk.case(customer)}")


def _one(changes: list[dict[str, Any]], kind: str, **after: Any) -> dict[str, Any]:
    found = [
        c for c in changes if c["kind"] == kind and all(c["after"].get(k) == v for k, v in after.items())
    ]
    assert len(found) == 1, (kind, after, [c for c in changes if c["kind"] == kind])
    return found[0]


def test_a_dunning_case_walked_to_legal_and_closed_lists_before_and_after_for_every_change(
    desk: Collections,
) -> None:
    app = desk.client.application
    rt = app.extensions["creditflow"].rt
    customer = desk.customer("Audit Walk GmbH")
    desk.invoice(customer, "INV-A1", "900.00")
    desk.invoice(customer, "INV-A2", "300.00")
    while (
        desk.client.get(
            f"/api/dunning-cases?customer_id={customer}", headers=auth(desk.tokens["collector1"])
        ).json["items"]
        == []
        or desk.case(customer)["level"] < 1
    ):
        desk.tick()
    case = desk.case(customer)
    promised: date = desk.clock.now.date() + timedelta(days=5)
    _message(desk, "promise_to_pay", customer, {"promised_date": promised.isoformat(), "amount": "900.00"})
    assert desk.pay(customer, "100.00", "BANK-A1").status_code == 201
    # A step fails outside the engine (the scheduler records it); an admin retries the instance.
    record_failure(rt, case["instance_id"], RuntimeError("database went away"), desk.clock.now)
    retried = desk.client.post(
        f"/api/process-instances/{case['instance_id']}/retry", headers=auth(desk.tokens["admin"])
    )
    assert retried.status_code == 200 and retried.json["status"] == "running", retried.json
    _walk(desk, customer)
    with transaction(rt.factory) as session:  # an admin gives collector1 a second group and a new password
        add_user(
            session, "collector1", groups=["legal"], now=desk.clock.now, password="n3w-Secret!", actor="admin"
        )

    changes = _trail(desk)
    kinds = {c["kind"] for c in changes}
    for change in changes:
        kind = change["kind"]
        if kind in NOT_STATE_CHANGES:
            continue
        assert change["after"] is not None, change
        assert (change["before"] is None) == (kind.endswith(CREATIONS) and kind not in POSTED_CHANGES), change
    expected = {
        "dunning_opened",
        "dunning_level_reached",
        "dunning_fee_added",
        "dunning_customer_blocked",
        "dunning_notice_sent",
        "dunning_promise_to_pay",
        "dunning_promise_partly_kept",  # 100.00 of the 900.00 promised came in by its date
        "dunning_dispute_opened",
        "dispute_opened",
        "dispute_proposed",
        "dispute_credited",
        "dunning_legal_handover",
        "dunning_closed",
        "instance_started",
        "instance_failed",
        "instance_retried",
        "instance_completed",
        "task_created",
        "task_claimed",
        "task_unclaimed",
        "task_completed",
        "payment_received",
        "provision_booked",
        "provision_released",
        "user_created",
        "user_changed",
    }
    assert expected <= kinds, (expected - kinds, " ".join(sorted(kinds)))

    level_2 = _one(changes, "dunning_level_reached", level=2)
    assert level_2["before"] == {"level": 1} and level_2["object"] == f"case:{case['id']}"
    assert _one(changes, "dunning_fee_added")["before"] == {"fees": "0.00"}
    assert _one(changes, "dunning_fee_added")["after"] == {"fees": "40.00"}
    promise = _one(changes, "dunning_promise_to_pay", promised_date=promised.isoformat())
    assert promise["actor"] == "collector1"
    assert promise["before"] == {"status": "open", "promised_date": None, "promised_amount": None}
    assert promise["after"] == {
        "status": "paused",
        "promised_date": promised.isoformat(),
        "promised_amount": "900.00",
    }
    # Judged by the amount received (issue 15): the judgement records the case's status before and after,
    # so no separate status_changed event is written for it.
    judged = _one(changes, "dunning_promise_partly_kept")
    assert (
        judged["before"]["promised_date"] == promised.isoformat() and judged["after"]["promised_date"] is None
    )
    assert judged["before"]["status"] == "paused" and judged["after"]["status"] == "open"
    unclaimed = _one(changes, "task_unclaimed")
    assert unclaimed["actor"] == "collector1"
    assert (unclaimed["before"], unclaimed["after"]) == ({"assignee": "collector1"}, {"assignee": None})
    credit = _one(changes, "dispute_credited")
    assert credit["actor"] == "lead1"
    assert credit["before"]["invoices"] == {
        "INV-A2": {"status": "open", "open_amount": "300.00", "disputed_amount": "300.00"}
    }
    assert credit["after"]["invoices"] == {
        "INV-A2": {"status": "credited", "open_amount": "0.00", "disputed_amount": "0.00"}
    }
    # The provision is the open amount at the handover: 900.00 less the 100.00 paid; INV-A2 was credited.
    booked = _one(changes, "provision_booked")
    assert booked["object"] == f"customer:{customer}" and booked["instance_id"] == case["instance_id"]
    assert booked["after"] == {"amount": "800.00", "currency": "EUR", "rate": "1.00"}
    released = _one(changes, "provision_released")
    assert released["before"] == {"released_at": None} and released["after"]["released_at"]
    closed = _one(changes, "dunning_closed")
    assert closed["before"] == {"status": "legal", "outcome": None, "customer_blocked": True}
    assert closed["after"] == {"status": "closed", "outcome": "recovered", "customer_blocked": False}
    failed = [
        c for c in changes if c["kind"] == "instance_failed" and c["instance_id"] == case["instance_id"]
    ]
    assert [(c["before"], c["after"]) for c in failed] == [({"status": "running"}, {"status": "error"})]
    assert _one(changes, "instance_retried")["before"] == {"status": "error"}
    completed = [
        c for c in changes if c["kind"] == "instance_completed" and c["instance_id"] == case["instance_id"]
    ]
    assert [(c["before"], c["after"]) for c in completed] == [
        ({"status": "running"}, {"status": "completed"})
    ]
    user = [c for c in changes if c["kind"] == "user_changed" and c["object"] == "user:collector1"][-1]
    assert user["actor"] == "admin"
    assert user["before"] == {"groups": ["collections"], "password_changed": False}
    assert user["after"] == {"groups": ["collections", "legal"], "password_changed": True}
    assert "hash" not in str(user)

"""Attacks on the order credit check and release and on write-offs, recoveries and the block they leave,
beyond the builders' hostile tests: an order raised while its release waits, a release of a customer blocked
meanwhile, two recoveries at once, a write-off that fails half-way, and who the audit trail names."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from tests.attacks.test_order_credit_hostile import release_bundle
from tests.attacks.test_write_off_hostile import recovery, written_off_invoice
from tests.bpmn.test_order_release import (
    CUSTOMER,
    check,
    decide,
    exposure,
    invoice,
    order_row,
    release_task,
)
from tests.bpmn.test_write_off import (
    customer_file,
    invoices_of,
    start_write_off,
    task_named,
    user_in,
    walk_to_legal,
    write_offs_of,
)
from tests.collections_desk import Collections
from tests.handlers.test_money_moves import deploy
from tests.helpers import auth, migrated_customer
from workflows.credit import write_off_posting
from workflows.credit.customer_views import list_customer_rows
from workflows.credit.models import Customer
from workflows.credit.order_tables import Order
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, User, UserGroup

pytestmark = pytest.mark.usefixtures("shipped")


def test_an_order_raised_while_its_release_waits_is_not_released_at_the_new_amount(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """The credit manager's task shows 20,000.00; sales re-checks the held order at 900,000.00 before the
    decision. Approving what was shown must not release 900,000.00 of credit."""
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-A-1", "90000.00")
    held = check(client, demo_tokens["sales1"], customer, "SO-A-1", "20000.00")
    assert held["result"] == "over_limit"
    instance_id = held["release_instance_id"]
    body = {"customer_id": customer, "order_ref": "SO-A-1", "amount": "900000.00", "currency": "EUR"}
    raised = client.post("/api/credit-checks", json=body, headers=auth(demo_tokens["sales1"]))
    assert raised.status_code == 409, raised.json
    assert f"decides on that release in instance {instance_id}" in raised.json["error"]["message"]
    order = order_row(app, customer, "SO-A-1")
    assert (order.status, order.amount) == ("held", Decimal("20000.00"))
    task = release_task(client, demo_tokens["manager1"], instance_id)
    decided = decide(client, demo_tokens["manager1"], task["id"], "approve", "20k is fine")
    assert decided.status_code == 200, decided.json
    order = order_row(app, customer, "SO-A-1")
    assert (order.status, order.limit_amount) == ("released", Decimal("20000.00"))
    assert exposure(client, demo_tokens["manager1"], customer) == "110000.00"


def test_the_release_refuses_an_order_changed_behind_the_check(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """Whatever changes the held order (an import, a direct write), the release compares it with the check
    that asked for the release and releases nothing else."""
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-A-2", "90000.00")
    held = check(client, demo_tokens["sales1"], customer, "SO-A-2", "20000.00")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        order = session.scalars(select(Order).where(Order.order_ref == "SO-A-2")).one()
        order.amount = Decimal("900000.00")
    task = release_task(client, demo_tokens["manager1"], held["release_instance_id"])
    refused = decide(client, demo_tokens["manager1"], task["id"], "approve")
    assert refused.status_code == 422, refused.json
    assert "not the €20,000.00 this release was asked for" in refused.json["error"]["message"]
    assert order_row(app, customer, "SO-A-2").status == "held"


def test_a_customer_blocked_while_the_release_waits_is_not_released(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """The order was held over the limit; before the credit manager decides, dunning blocks the customer
    (level 3). A blocked customer is never released (bpmn/README.md): approving refuses, rejecting works."""
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-A-3", "90000.00")
    held = check(client, demo_tokens["sales1"], customer, "SO-A-3", "20000.00")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.get_one(Customer, customer).blocked = True
    task = release_task(client, demo_tokens["manager1"], held["release_instance_id"])
    refused = decide(client, demo_tokens["manager1"], task["id"], "approve")
    assert refused.status_code == 422, refused.json
    assert "is blocked" in refused.json["error"]["message"]
    assert order_row(app, customer, "SO-A-3").status == "held"
    assert exposure(client, demo_tokens["manager1"], customer) == "90000.00"
    kept = decide(client, demo_tokens["manager1"], task["id"], "reject", "blocked by dunning")
    assert kept.status_code == 200, kept.json
    assert (order_row(app, customer, "SO-A-3").status, order_row(app, customer, "SO-A-3").decided_by) == (
        "held",
        "manager1",
    )


# --- write-offs and recoveries ------------------------------------------------------------------------------


def test_a_write_off_that_fails_half_way_writes_nothing(
    desk: Collections, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like a kill -9 in the middle of the posting: the invoices are written off, then using the provisions
    fails. The approval is refused and nothing of the posting stays: invoices open, no write-off line, the
    proposal still waits, and a retry after the fault posts once."""
    customer = desk.customer("Half Written")
    desk.invoice(customer, "HW-1", "700.00")
    desk.invoice(customer, "HW-2", "300.00")
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201, started.json
    task = task_named(desk, "manager1", "manager_approval")

    def crash(*_args: Any) -> None:
        raise RuntimeError("power cut after the invoices were written off")

    monkeypatch.setattr(write_off_posting, "_use_provisions", crash)
    crashed = desk.complete("manager1", task["id"], decision="approve")
    assert crashed.json["instance"]["status"] == "error", crashed.json  # an incident for an admin
    assert {n: i["status"] for n, i in invoices_of(desk, customer).items()} == {
        "HW-1": "open",
        "HW-2": "open",
    }
    [proposal] = write_offs_of(desk, customer)
    assert (proposal["status"], proposal["lines"]) == ("proposed", [])
    monkeypatch.undo()
    instance = started.json["id"]
    retried = desk.client.post(f"/api/process-instances/{instance}/retry", headers=auth(desk.tokens["admin"]))
    assert retried.status_code == 200, retried.json
    [proposal] = write_offs_of(desk, customer)
    assert proposal["status"] == "posted"
    assert sorted(line["amount"] for line in proposal["lines"]) == ["300.00", "700.00"]


def test_two_recoveries_at_once_never_recover_more_than_was_written_off(
    app: Flask, desk: Collections
) -> None:
    """500.00 written off; two bank lines of 300.00 posted at the same moment: one is refused."""
    customer = written_off_invoice(desk, "Twice Recovered")
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def post(reference: str) -> None:
        body = recovery(customer, amount="300.00", reference=reference)
        with app.test_client() as own:
            barrier.wait()
            answer = own.post("/api/recoveries", json=body, headers=auth(desk.tokens["finance1"]))
            answers.append(answer.status_code)

    threads = [threading.Thread(target=post, args=(f"TR-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [201, 422]
    listed = desk.client.get(f"/api/recoveries?customer_id={customer}", headers=auth(desk.tokens["auditor1"]))
    assert [r["amount"] for r in listed.json["items"]] == ["300.00"]


def test_legal_alone_cannot_claim_recovered_in_full_while_the_invoices_are_overdue(desk: Collections) -> None:
    """ "Recovered in full" needs no approval and lifts the block; with 5,000.00 still overdue it would be a
    one-person close of the matter. It is refused until the payments are posted."""
    customer = desk.customer("Claimed Recovered")
    desk.invoice(customer, "CR-1", "5000.00")
    desk.clock.advance(days=40)
    claimed = start_write_off(desk, desk.tokens["legal1"], customer, outcome="recovered", amount="5000.00")
    assert claimed.status_code == 422, claimed.json
    assert "CR-1" in claimed.json["error"]["message"]
    assert write_offs_of(desk, customer) == []
    assert desk.pay(customer, "5000.00", "CR-PAY-1").status_code == 201
    closed = start_write_off(desk, desk.tokens["legal1"], customer, outcome="recovered", amount="5000.00")
    assert closed.status_code == 201, closed.json
    assert [(w["status"], w["approved_by"]) for w in write_offs_of(desk, customer)] == [("closed", [])]


def test_money_on_a_settlements_unpaid_part_is_a_payment_not_a_recovery(desk: Collections) -> None:
    """Settled for 400.00 of 1,000.00: 600.00 written off, 400.00 still owed on the invoice. Booking money as
    a recovery while the settlement is unpaid would count income and leave the debt open."""
    customer = desk.customer("Half Settled")
    desk.invoice(customer, "HS-1", "1000.00")
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="settled", amount="400.00")
    assert started.status_code == 201, started.json
    task = task_named(desk, "manager1", "manager_approval")
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    assert invoices_of(desk, customer)["HS-1"]["open_amount"] == "400.00"
    body = recovery(customer, invoice_number="HS-1", amount="100.00", date="2026-03-02")
    refused = desk.client.post("/api/recoveries", json=body, headers=auth(desk.tokens["finance1"]))
    assert refused.status_code == 409, refused.json
    assert "settlement" in refused.json["error"]["message"]
    payment = recovery(customer, invoice_number="HS-1", amount="400.00", date="2026-03-02", reference="HS-P")
    paid = desk.client.post("/api/payments", json=payment, headers=auth(desk.tokens["finance1"]))
    assert paid.status_code == 201, paid.json
    posted = desk.client.post("/api/recoveries", json=body, headers=auth(desk.tokens["finance1"]))
    assert posted.status_code == 201, posted.json


def test_a_diagram_whose_credit_manager_task_is_no_release_approval_releases_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """A process owner's order_release (approved by a second owner) renames the credit manager's task into a
    harmless-looking 'glance_at_order' whose decision is approve: order.release counts only its own approval
    step, approve_release, so nothing is released."""
    files = release_bundle()
    files["order_release.bpmn"] = files["order_release.bpmn"].replace(b"approve_release", b"glance_at_order")
    deploy(app, client, demo_tokens, files)
    customer = migrated_customer(app, CUSTOMER)
    held = check(client, demo_tokens["sales1"], customer, "SO-A-4", "150000.00")
    task = release_task(client, demo_tokens["manager1"], held["release_instance_id"])
    assert task["name"] == "glance_at_order"
    refused = decide(client, demo_tokens["manager1"], task["id"], "approve")
    assert refused.status_code == 422, refused.json
    assert "order.release" in refused.json["error"]["message"]
    assert order_row(app, customer, "SO-A-4").status == "held"


def test_a_recovery_legal_recorded_names_legal_not_the_system(app: Flask, desk: Collections) -> None:
    """The dunning case's legal step records "recovered in full" (the money is in); the write_off instance
    it queues runs on the scheduler's next round. Its decision is legal1's, and the audit trail says so."""
    customer = desk.customer("Paid In Court")
    desk.invoice(customer, "PC-1", "1000.00")
    walk_to_legal(desk, customer)
    pursue = task_named(desk, "legal1", "pursue_legally")
    assert desk.pay(customer, "1000.00", "PC-COURT").status_code == 201
    done = desk.complete("legal1", pursue["id"], legal_outcome="recovered", legal_amount="1000.00")
    assert done.status_code == 200, done.json
    desk.tick(days=0)
    [closed] = write_offs_of(desk, customer)
    assert (closed["status"], closed["requested_by"], closed["decided_by"]) == ("closed", "legal1", "legal1")
    with app.extensions["creditflow"].rt.factory() as session:
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "write_off_decided")
        ).all()
        assert actors == ["legal1"]
        assert (
            "system"
            not in session.scalars(
                select(AuditEvent.actor).where(AuditEvent.action == "provision_released")
            ).all()
        )


def test_a_settlements_unpaid_part_counts_in_the_exposure_after_the_block_is_lifted(
    app: Flask, desk: Collections
) -> None:
    """Settled for 400.00 of 1,000.00: the invoice is written off but 400.00 is still owed. Once a credit
    manager lifts the block, a credit check must count that 400.00 (it counted 0.00: silently wrong)."""
    customer = desk.customer("Settled Then Ordering")
    desk.invoice(customer, "SO-S-1", "1000.00")
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="settled", amount="400.00")
    assert started.status_code == 201, started.json
    task = task_named(desk, "manager1", "manager_approval")
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    file = desk.client.get(f"/api/customers/{customer}", headers=auth(desk.tokens["manager1"])).json
    assert file["exposure"] == "400.00"
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.get_one(Customer, customer).credit_limit = Decimal("1000.00")
    body = {"customer_id": customer, "order_ref": "SO-S-2", "amount": "700.00", "currency": "EUR"}
    answer = desk.client.post("/api/credit-checks", json=body, headers=auth(desk.tokens["sales1"]))
    assert answer.status_code == 200, answer.json
    assert (answer.json["result"], answer.json["exposure"]) == ("over_limit", "400.00")
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:  # the customer list counts it as well
        rows, _ = list_customer_rows(session, today=svc.clock().date(), text="Settled Then")
        assert [r.exposure for r in rows] == [Decimal("400.00")]


def test_an_approver_removed_from_the_group_before_completing_posts_nothing(
    app: Flask, desk: Collections
) -> None:
    """manager1 opens the write-off task, then leaves credit_manager before completing it: the approval
    does not count, nothing is written off, and another credit manager approves it."""
    customer = desk.customer("Left The Group")
    desk.invoice(customer, "LG-1", "900.00")
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201, started.json
    task = task_named(desk, "manager1", "manager_approval")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        manager = session.scalars(select(User).where(User.username == "manager1")).one()
        session.execute(
            delete(UserGroup).where(UserGroup.user_id == manager.id, UserGroup.group_name == "credit_manager")
        )
    refused = desk.complete("manager1", task["id"], decision="approve")
    assert refused.status_code in (403, 422), refused.json
    assert invoices_of(desk, customer)["LG-1"]["status"] == "open"
    second = user_in(app, "manager2", ["credit_manager"])
    done = desk.client.post(
        f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}}, headers=auth(second)
    )
    assert done.status_code == 200, done.json
    [posted] = write_offs_of(desk, customer)
    assert (posted["status"], posted["approved_by"], posted["decided_by"]) == (
        "posted",
        ["manager2"],
        "manager2",
    )


def test_one_person_in_credit_manager_and_cfo_cannot_sign_both_steps(app: Flask, desk: Collections) -> None:
    """75,000.00 needs a credit manager and then the CFO, two people; 'bigboss' is in both groups. Having
    approved as credit manager, bigboss's CFO approval is refused; cfo1 signs the second step."""
    customer = desk.customer("Two Hats Ltd")
    desk.invoice(customer, "TH-1", "75000.00")
    bigboss = user_in(app, "bigboss", ["credit_manager", "cfo"])
    started = start_write_off(desk, desk.tokens["legal1"], customer, outcome="uncollectable", amount=0)
    assert started.status_code == 201, started.json
    task = task_named(desk, "manager1", "manager_approval")
    done = desk.client.post(
        f"/api/tasks/{task['id']}/complete", json={"data": {"decision": "approve"}}, headers=auth(bigboss)
    )
    assert done.status_code == 200, done.json
    cfo_task = task_named(desk, "cfo1", "cfo_approval")
    refused = desk.client.post(
        f"/api/tasks/{cfo_task['id']}/complete", json={"data": {"decision": "approve"}}, headers=auth(bigboss)
    )
    assert refused.status_code in (403, 422), refused.json
    assert invoices_of(desk, customer)["TH-1"]["status"] == "open"
    assert desk.complete("cfo1", cfo_task["id"], decision="approve").status_code == 200
    [posted] = write_offs_of(desk, customer)
    assert (posted["status"], posted["approved_by"]) == ("posted", ["bigboss", "cfo1"])


def test_a_legal_outcome_that_does_not_fit_leaves_the_case_with_legal(desk: Collections) -> None:
    """Legal records 'settled for 5,000.00' on 1,000.00 open, then negative costs: each is refused at the
    task (422) and nothing is half-written: the case stays with legal, blocked, no proposal, no write-off."""
    customer = desk.customer("Over Settled")
    desk.invoice(customer, "OS-1", "1000.00")
    walk_to_legal(desk, customer)
    pursue = task_named(desk, "legal1", "pursue_legally")
    for amount, costs in (("5000.00", "0"), ("400.00", "-10.00")):
        refused = desk.complete(
            "legal1", pursue["id"], legal_outcome="settled", legal_amount=amount, legal_costs=costs
        )
        assert refused.status_code == 422, refused.json
        assert desk.case(customer)["status"] == "legal"
        assert write_offs_of(desk, customer) == []
        assert customer_file(desk, customer)["blocked"] is True
        assert invoices_of(desk, customer)["OS-1"]["status"] == "open"
    done = desk.complete("legal1", pursue["id"], legal_outcome="settled", legal_amount="400.00")
    assert done.status_code == 200, done.json
    assert [w["write_off_amount"] for w in write_offs_of(desk, customer)] == ["600.00"]


def test_a_released_order_rechecked_higher_keeps_counting_what_was_released(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """Released at 20,000.00 (exposure 110,000.00); sales re-checks it at 25,000.00. It was demoted to held,
    so the released 20,000.00 stopped counting (exposure 90,000.00) and a further 10,000.00 order was
    approved into the room. The released order now stays released and counting; the increase is refused."""
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-A-5", "90000.00")
    held = check(client, demo_tokens["sales1"], customer, "SO-A-5", "20000.00")
    task = release_task(client, demo_tokens["manager1"], held["release_instance_id"])
    assert decide(client, demo_tokens["manager1"], task["id"], "approve").status_code == 200
    assert exposure(client, demo_tokens["manager1"], customer) == "110000.00"
    raised = check(client, demo_tokens["sales1"], customer, "SO-A-5", "25000.00")
    assert raised["result"] == "over_limit" and raised["release_instance_id"] is None, raised
    assert "stays released at €20,000.00" in raised["reason"]
    order = order_row(app, customer, "SO-A-5")
    assert (order.status, order.amount) == ("released", Decimal("20000.00"))
    assert exposure(client, demo_tokens["manager1"], customer) == "110000.00"
    assert check(client, demo_tokens["sales1"], customer, "SO-A-6", "10000.00")["result"] == "over_limit"


def test_an_approved_order_rechecked_after_a_block_keeps_counting(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """Approved and open at 30,000.00; dunning blocks the customer; the ERP re-checks the order: the answer
    is blocked, but the order was not un-ordered, so it still counts (it dropped to held and out of the
    exposure, which then read 10,000.00 too low)."""
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-A-7", "10000.00")
    assert check(client, demo_tokens["sales1"], customer, "SO-A-7", "30000.00")["result"] == "approved"
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.get_one(Customer, customer).blocked = True
    again = check(client, demo_tokens["sales1"], customer, "SO-A-7", "30000.00")
    assert again["result"] == "blocked" and again["release_instance_id"] is None
    assert "stays open at €30,000.00" in again["reason"]
    assert order_row(app, customer, "SO-A-7").status == "open"
    assert exposure(client, demo_tokens["manager1"], customer) == "40000.00"

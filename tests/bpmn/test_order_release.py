"""Order credit checks and the order_release process over the REST API: approved, blocked and over-limit
orders, the release with four-eyes, open orders in exposure and utilisation, closing and importing orders."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from handlers.registry import build_operations
from tests.helpers import auth, migrated_customer
from tests.webui.test_pages import logged_in
from workflows.credit.csv_import import ImportRejected
from workflows.credit.customer_views import customer_file, list_customer_rows
from workflows.credit.customers import exposure_of
from workflows.credit.fx import RateInput, store_rate
from workflows.credit.limit_review import review_triggers
from workflows.credit.models import Customer, DunningCase, DunningStatus
from workflows.credit.order_tables import CreditCheck, Order
from workflows.credit.orders import import_orders
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, OutboxEmail, ProcessInstance
from workflows.users import add_user, issue_token

CUSTOMER = {
    "external_id": "C-700",
    "name": "Orderly Trading GmbH",
    "email": "ap@orderly.example",
    "industry": "wholesale",
    "founded_year": 1999,
    "annual_revenue": "20000000.00",
    "currency": "EUR",
    "credit_limit": "100000.00",
}


@pytest.fixture
def release_deployed(app: Flask, clock: datetime) -> None:
    """order_release as `creditflow init` deploys it (only this bundle: the test needs no other)."""
    [bundle] = [b for b in shipped_bundles() if b[0].name == "order_release.bpmn"]
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        deploy_files(session, read_files(bundle), build_operations(), deployed_by="system", now=clock)


pytestmark = pytest.mark.usefixtures("release_deployed")


def person(app: Flask, name: str, *groups: str) -> str:
    """A user in several groups at once, and their API token."""
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, name, groups=list(groups), now=svc.clock())
        return issue_token(session, name, svc.clock())


def check(
    client: FlaskClient, token: str, customer_id: int, ref: str, amount: str, currency: str = "EUR"
) -> Any:
    body = {"customer_id": customer_id, "order_ref": ref, "amount": amount, "currency": currency}
    response = client.post("/api/credit-checks", json=body, headers=auth(token))
    assert response.status_code == 200, response.json
    return response.json


def invoice(client: FlaskClient, token: str, customer_id: int, number: str, amount: str) -> None:
    body = {
        "customer_id": customer_id,
        "number": number,
        "amount": amount,
        "currency": "EUR",
        "issue_date": "2026-02-01",
        "due_date": "2026-04-01",
    }
    response = client.post("/api/invoices", json=body, headers=auth(token))
    assert response.status_code == 201, response.json


def exposure(client: FlaskClient, token: str, customer_id: int) -> str:
    return str(client.get(f"/api/customers/{customer_id}", headers=auth(token)).json["exposure"])


def release_task(client: FlaskClient, token: str, instance_id: int) -> dict[str, Any]:
    tasks = client.get("/api/tasks", headers=auth(token)).json["items"]
    [task] = [t for t in tasks if t["instance_id"] == instance_id]
    return dict(task)


def decide(client: FlaskClient, token: str, task_id: int, decision: str, comment: str = "") -> Any:
    data = {"decision": decision, "comment": comment}
    return client.post(f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth(token))


def order_row(app: Flask, customer_id: int, ref: str) -> Order:
    with app.extensions["creditflow"].rt.factory() as session:
        return session.scalars(
            select(Order).where(Order.customer_id == customer_id, Order.order_ref == ref)
        ).one()


def test_an_order_within_the_limit_is_approved_and_counts_in_exposure_and_utilisation(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-700-1", "60000.00")
    answer = check(client, demo_tokens["sales1"], customer, "SO-1", "30000.00")
    assert answer["result"] == "approved"
    assert answer["reason"] == (
        "within the credit limit: exposure €60,000.00 + order €30,000.00 = €90,000.00, "
        "credit limit €100,000.00"
    )
    assert answer["release_instance_id"] is None
    # The approved order is recorded open and counts in the exposure and the utilisation everywhere.
    assert exposure(client, demo_tokens["manager1"], customer) == "90000.00"
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        assert exposure_of(session, customer) == Decimal("90000.00")
        assert customer_file(session, customer, svc.clock().date()).utilisation == Decimal("90.0")
        rows, _ = list_customer_rows(session, today=svc.clock().date(), text="Orderly")
        assert [(r.exposure, r.utilisation) for r in rows] == [(Decimal("90000.00"), Decimal("90.0"))]
    orders = client.get(f"/api/orders?customer_id={customer}", headers=auth(demo_tokens["auditor1"])).json
    assert [(o["order_ref"], o["status"], o["limit_amount"]) for o in orders["items"]] == [
        ("SO-1", "open", "30000.00")
    ]
    # The ERP invoices it: the order closes and counts no more (the invoice counts instead).
    order_id = orders["items"][0]["id"]
    closed = client.delete(f"/api/orders/{order_id}", headers=auth(demo_tokens["finance1"]))
    assert (closed.status_code, closed.json["status"], closed.json["closed_by"]) == (
        200,
        "invoiced",
        "finance1",
    )
    assert exposure(client, demo_tokens["manager1"], customer) == "60000.00"
    again = client.delete(f"/api/orders/{order_id}?reason=cancelled", headers=auth(demo_tokens["finance1"]))
    assert again.status_code == 409
    # A closed order is not checked again under its reference.
    body = {"customer_id": customer, "order_ref": "SO-1", "amount": "10.00", "currency": "EUR"}
    assert (
        client.post("/api/credit-checks", json=body, headers=auth(demo_tokens["sales1"])).status_code == 409
    )


def test_a_posted_open_order_counts_and_a_check_then_sees_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    body = {"customer_id": customer, "order_ref": "SO-ERP-1", "amount": "95000.00", "currency": "EUR"}
    posted = client.post("/api/orders", json=body, headers=auth(demo_tokens["sales1"]))
    assert (posted.status_code, posted.json["status"], posted.json["date"]) == (201, "open", "2026-03-02")
    assert exposure(client, demo_tokens["finance1"], customer) == "95000.00"
    answer = check(client, demo_tokens["finance1"], customer, "SO-ERP-2", "5000.01")
    assert answer["result"] == "over_limit"
    assert "exposure €95,000.00 + order €5,000.01 = €100,000.01" in answer["reason"]
    # Checking the posted order itself does not count it twice.
    assert check(client, demo_tokens["sales1"], customer, "SO-ERP-1", "95000.00")["result"] == "approved"


def test_an_over_limit_order_is_held_and_a_second_credit_manager_releases_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-700-2", "90000.00")
    # A sales user who is also a credit manager asks for the check, so may not release the order.
    dual = person(app, "dual", "sales", "credit_manager")
    answer = check(client, dual, customer, "SO-2", "20000.00")
    assert answer["result"] == "over_limit"
    assert answer["reason"] == (
        "over the credit limit: exposure €90,000.00 + order €20,000.00 = €110,000.00, "
        "credit limit €100,000.00"
    )
    instance_id = answer["release_instance_id"]
    assert instance_id and order_row(app, customer, "SO-2").status == "held"
    assert exposure(client, demo_tokens["manager1"], customer) == "90000.00"  # a held order counts nothing
    # The same order checked again waits for the same release: no second instance.
    again = check(client, demo_tokens["sales1"], customer, "SO-2", "20000.00")
    assert (again["result"], again["release_instance_id"]) == ("over_limit", instance_id)
    assert "held" in again["reason"]
    task = release_task(client, demo_tokens["manager1"], instance_id)
    assert task["name"] == "approve_release" and task["group"] == "credit_manager"
    assert {f["name"] for f in task["form"]["fields"]} == {"decision", "comment"}
    # Four-eyes: the requester may not release it.
    refused = decide(client, dual, task["id"], "approve")
    assert refused.status_code == 403, refused.json
    assert order_row(app, customer, "SO-2").status == "held"
    done = decide(client, demo_tokens["manager1"], task["id"], "approve", "Paid a large invoice by phone.")
    assert done.status_code == 200, done.json
    order = order_row(app, customer, "SO-2")
    assert (order.status, order.decided_by, order.limit_amount) == (
        "released",
        "manager1",
        Decimal("20000.00"),
    )
    # Released: it counts in the exposure, and a later check of it answers approved naming the approver.
    assert exposure(client, demo_tokens["manager1"], customer) == "110000.00"
    later = check(client, demo_tokens["sales1"], customer, "SO-2", "20000.00")
    assert (later["result"], later["reason"]) == ("approved", "released by manager1")
    with app.extensions["creditflow"].rt.factory() as session:
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None and (instance.status, instance.started_by) == ("completed", "dual")
        released = session.scalars(select(AuditEvent).where(AuditEvent.action == "order_released")).one()
        assert (released.actor, released.detail["approvers"]) == ("manager1", ["manager1"])
        mail = session.scalars(select(OutboxEmail).where(OutboxEmail.instance_id == instance_id)).one()
        assert mail.to == "dual@example.com" and "released" in mail.subject
        checks = session.scalars(select(CreditCheck).where(CreditCheck.customer_id == customer)).all()
        assert [c.result for c in checks] == ["over_limit", "over_limit", "approved"]
        assert [c.requested_by for c in checks] == ["dual", "sales1", "sales1"]


def test_a_refused_release_keeps_the_order_held_and_tells_the_requester(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    answer = check(client, demo_tokens["sales1"], customer, "SO-3", "150000.00")
    assert answer["result"] == "over_limit"
    task = release_task(client, demo_tokens["manager1"], answer["release_instance_id"])
    assert (
        decide(client, demo_tokens["manager1"], task["id"], "reject", "Too much at once.").status_code == 200
    )
    order = order_row(app, customer, "SO-3")
    assert (order.status, order.decided_by, order.decision_comment) == (
        "held",
        "manager1",
        "Too much at once.",
    )
    assert exposure(client, demo_tokens["manager1"], customer) == "0.00"
    with app.extensions["creditflow"].rt.factory() as session:
        mail = session.scalars(
            select(OutboxEmail).where(OutboxEmail.instance_id == answer["release_instance_id"])
        ).one()
        assert mail.to == "sales1@example.com" and "held" in mail.subject
    # A new check after the refusal asks again: a new release, not the refused one.
    again = check(client, demo_tokens["sales1"], customer, "SO-3", "150000.00")
    assert again["result"] == "over_limit"
    assert again["release_instance_id"] not in (None, answer["release_instance_id"])
    # Within the limit now (a smaller order under the same reference): approved, and it counts.
    smaller = check(client, demo_tokens["sales1"], customer, "SO-3", "80000.00")
    assert smaller["result"] == "over_limit"  # its release is still open: a person decides
    task = release_task(client, demo_tokens["manager1"], again["release_instance_id"])
    assert decide(client, demo_tokens["manager1"], task["id"], "reject").status_code == 200
    assert check(client, demo_tokens["sales1"], customer, "SO-3", "80000.00")["result"] == "approved"
    assert exposure(client, demo_tokens["manager1"], customer) == "80000.00"


def test_a_blocked_customer_is_refused_naming_the_dunning_block(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    svc = app.extensions["creditflow"]
    # What dunning level 3 leaves (handlers/dunning.escalate): the customer blocked by its active case.
    with transaction(svc.rt.factory) as session:
        row = session.get(Customer, customer)
        assert row is not None
        row.blocked = True
        case = DunningCase(
            customer_id=customer,
            status=DunningStatus.OPEN,
            level=3,
            currency="EUR",
            blocked_customer=True,
            opened_at=svc.clock(),
        )
        session.add(case)
        session.flush()
        case_id = case.id
    answer = check(client, demo_tokens["sales1"], customer, "SO-4", "10.00")
    assert answer["result"] == "blocked"
    assert (
        answer["reason"]
        == f"customer {customer} is blocked: credit block of dunning case {case_id} (level 3)"
    )
    assert answer["release_instance_id"] is None  # a block is lifted by a credit manager, not released
    assert order_row(app, customer, "SO-4").status == "held"
    assert exposure(client, demo_tokens["manager1"], customer) == "0.00"
    listed = client.get(
        f"/api/credit-checks?customer_id={customer}&result=blocked", headers=auth(demo_tokens["manager1"])
    ).json
    assert [(c["order_ref"], c["requested_by"]) for c in listed["items"]] == [("SO-4", "sales1")]
    # Handed over to legal, then closed with a write-off: the block stays, and the reason says why.
    with transaction(svc.rt.factory) as session:
        row = session.get(DunningCase, case_id)
        assert row is not None
        row.status = DunningStatus.LEGAL
    legal = check(client, demo_tokens["sales1"], customer, "SO-5", "10.00")
    assert legal["reason"] == f"customer {customer} is blocked: handed over to legal (dunning case {case_id})"
    with transaction(svc.rt.factory) as session:
        row = session.get(DunningCase, case_id)
        assert row is not None
        row.status, row.outcome = DunningStatus.CLOSED, "uncollectable"
    closed = check(client, demo_tokens["sales1"], customer, "SO-6", "10.00")
    assert closed["result"] == "blocked"
    assert f"dunning case {case_id} closed with the legal outcome uncollectable" in closed["reason"]


def test_a_foreign_currency_order_converts_and_without_a_rate_a_person_decides(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], settings: Any
) -> None:
    customer = migrated_customer(app, {**CUSTOMER, "currency": "GBP", "external_id": "C-701"})
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:  # base EUR: GBP 1 = EUR 1.17, USD 1 = EUR 0.90
        store_rate(session, RateInput("GBP", now.date(), Decimal("1.17"), "test"), actor="finance1", now=now)
        store_rate(session, RateInput("USD", now.date(), Decimal("0.9"), "test"), actor="finance1", now=now)
    approved = check(client, demo_tokens["sales1"], customer, "SO-USD", "13000.00", "USD")
    assert approved["result"] == "approved"
    # USD 13,000 = EUR 11,700 = GBP 10,000.
    assert "order £10,000.00 = £10,000.00" in approved["reason"]
    assert exposure(client, demo_tokens["manager1"], customer) == "10000.00"
    held = check(client, demo_tokens["sales1"], customer, "SO-CHF", "50.00", "CHF")
    assert held["result"] == "over_limit"
    assert held["reason"].startswith("no exchange rate: no exchange rate CHF->EUR")
    task = release_task(client, demo_tokens["manager1"], held["release_instance_id"])
    # Released without a rate it could not count: refused until a rate is posted, never guessed.
    refused = decide(client, demo_tokens["manager1"], task["id"], "approve")
    assert refused.status_code == 422 and "CHF" in refused.json["error"]["message"]
    assert order_row(app, customer, "SO-CHF").status == "held"
    later = now + timedelta(minutes=5)
    with transaction(svc.rt.factory) as session:
        store_rate(
            session, RateInput("CHF", now.date(), Decimal("1.05"), "test"), actor="finance1", now=later
        )
    assert decide(client, demo_tokens["manager1"], task["id"], "approve").status_code == 200
    # CHF 50 = EUR 52.50 = GBP 44.87 (52.50 / 1.17 = 44.871...).
    assert order_row(app, customer, "SO-CHF").limit_amount == Decimal("44.87")
    assert exposure(client, demo_tokens["manager1"], customer) == "10044.87"


def test_orders_import_all_or_nothing_naming_every_bad_line(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    svc = app.extensions["creditflow"]
    header = "customer_external_id,order_ref,amount,currency,date\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header + "C-700,SO-10,100.00,EUR,2026-03-01\nC-999,SO-11,5.00,EUR,2026-03-01\n"
        "C-700,SO-12,-5,EUR,2026-03-01\nC-700,SO-10,7.00,EUR,2026-03-01\nC-700,SO-13,1.00,eur,someday\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected, transaction(svc.rt.factory) as session:
        import_orders(session, bad, actor="finance1", now=svc.clock(), base="EUR")
    errors = rejected.value.report.errors
    assert [e.split(":")[0] for e in errors] == ["line 3", "line 4", "line 5", "line 6", "line 6"]
    assert exposure(client, demo_tokens["finance1"], customer) == "0.00"  # nothing imported
    good = tmp_path / "good.csv"
    good.write_text(header + "C-700,SO-10,100.00,EUR,2026-03-01\nC-700,SO-11,250.50,EUR,\n", encoding="utf-8")
    with transaction(svc.rt.factory) as session:
        report = import_orders(session, good, actor="finance1", now=svc.clock(), base="EUR")
    assert report.imported == 2
    assert exposure(client, demo_tokens["finance1"], customer) == "350.50"


def test_open_orders_count_towards_the_utilisation_review_trigger(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    svc = app.extensions["creditflow"]
    today = svc.clock().date()
    with svc.rt.factory() as session:
        assert customer not in review_triggers(session, today, svc.rt.settings.reviews)
    # 95 % of the limit in orders alone, no invoice: a utilisation review is due.
    assert check(client, demo_tokens["sales1"], customer, "SO-U", "95000.00")["result"] == "approved"
    with svc.rt.factory() as session:
        assert review_triggers(session, today, svc.rt.settings.reviews)[customer] == "utilisation"


def test_the_release_task_page_shows_the_order_and_the_customers_file(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    invoice(client, demo_tokens["finance1"], customer, "INV-700-9", "70000.00")
    answer = check(client, demo_tokens["sales1"], customer, "SO-PAGE", "45000.00")
    task = release_task(client, demo_tokens["manager1"], answer["release_instance_id"])
    assert task["title"] == "Release the held order"
    page = logged_in(app, "manager1").get(f"/tasks/{task['id']}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for expected in ("Orderly Trading GmbH", "SO-PAGE", "45,000.00", "over the credit limit", "70,000.00"):
        assert expected in text, expected
    # The requester reads the instance (its initiator) but is offered no task.
    assert logged_in(app, "sales1").get(f"/tasks/{task['id']}").status_code in (403, 404)


def test_an_order_cancelled_while_its_release_waits_stays_cancelled(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = migrated_customer(app, CUSTOMER)
    answer = check(client, demo_tokens["sales1"], customer, "SO-GONE", "120000.00")
    order = order_row(app, customer, "SO-GONE")
    gone = client.delete(f"/api/orders/{order.id}?reason=cancelled", headers=auth(demo_tokens["sales1"]))
    assert (gone.status_code, gone.json["status"]) == (200, "cancelled")
    task = release_task(client, demo_tokens["manager1"], answer["release_instance_id"])
    assert decide(client, demo_tokens["manager1"], task["id"], "approve").status_code == 200
    assert order_row(app, customer, "SO-GONE").status == "cancelled"
    assert exposure(client, demo_tokens["manager1"], customer) == "0.00"

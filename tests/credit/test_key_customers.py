"""Key customers (issue 17): a key_customer flag with an account owner (an active user), set at creation,
through POST /api/customers/ID/key-customer and by the ERP import, audited; limit_policy.dmn reviews key
customers more often."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.bpmn.test_credit_application import SOLID_CUSTOMER, apply, complete, open_task, refresh
from tests.helpers import auth
from tests.webui.test_pages import logged_in
from workflows.credit.csv_import import ImportRejected, import_customers
from workflows.credit.customers import add_months
from workflows.credit.models import Customer
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, User

pytestmark = pytest.mark.usefixtures("shipped")


def post(client: FlaskClient, token: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers=auth(token))


def events(app: Flask, action: str, customer_id: int) -> list[AuditEvent]:
    with app.extensions["creditflow"].rt.factory() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [e for e in rows if e.detail.get("customer_id") == customer_id]


def test_credit_staff_name_a_key_customer_with_an_active_account_owner(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    body = {**SOLID_CUSTOMER, "key_customer": True, "account_owner": "manager1"}
    created = post(client, demo_tokens["analyst1"], "/api/customers", body)
    assert created.status_code == 201, created.json
    assert (created.json["key_customer"], created.json["account_owner"]) == (True, "manager1")
    [event] = events(app, "customer_created", created.json["id"])
    assert event.actor == "analyst1"
    assert event.detail["after"]["key_customer"] is True
    assert event.detail["after"]["account_owner"] == "manager1"

    # Sales may create customers, not name key customers (that changes how often they are reviewed).
    refused = post(client, demo_tokens["sales1"], "/api/customers", {**body, "external_id": "C-101"})
    assert refused.status_code == 403
    assert "key_customer" in refused.json["error"]["fields"]
    plain = post(client, demo_tokens["sales1"], "/api/customers", {**SOLID_CUSTOMER, "external_id": "C-102"})
    assert plain.status_code == 201, plain.json
    assert plain.json["key_customer"] is False

    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(update(User).where(User.username == "cfo1").values(active=False))
    for bad, field in (
        ({"key_customer": True}, "account_owner"),  # a key customer names its owner
        ({"key_customer": True, "account_owner": "nobody"}, "account_owner"),
        ({"key_customer": True, "account_owner": "cfo1"}, "account_owner"),  # not active
        ({"key_customer": "maybe", "account_owner": "manager1"}, "key_customer"),
        ({"key_customer": True, "account_owner": "x" * 81}, "account_owner"),
    ):
        answer = post(
            client, demo_tokens["manager1"], "/api/customers", {**SOLID_CUSTOMER, **bad, "name": "K"}
        )
        assert answer.status_code == 422, (bad, answer.json)
        assert field in answer.json["error"]["fields"], (bad, answer.json)

    customer_id = plain.json["id"]
    path = f"/api/customers/{customer_id}/key-customer"
    assert post(client, demo_tokens["sales1"], path, {"key_customer": True}).status_code == 403
    assert post(client, demo_tokens["analyst1"], path, {"key_customer": True}).status_code == 422
    assert post(client, demo_tokens["analyst1"], path, {"account_owner": "manager1"}).status_code == 422
    done = post(client, demo_tokens["analyst1"], path, {"key_customer": True, "account_owner": "manager1"})
    assert done.status_code == 200, done.json
    assert (done.json["key_customer"], done.json["account_owner"]) == (True, "manager1")
    again = post(client, demo_tokens["manager1"], path, {"key_customer": True, "account_owner": "manager1"})
    assert again.status_code == 200  # nothing changed: nothing recorded
    off = post(client, demo_tokens["manager1"], path, {"key_customer": False})
    assert (off.json["key_customer"], off.json["account_owner"]) == (False, None)
    first, second = events(app, "key_customer_changed", customer_id)
    assert (first.actor, first.detail["before"], first.detail["after"]) == (
        "analyst1",
        {"key_customer": False, "account_owner": None},
        {"key_customer": True, "account_owner": "manager1"},
    )
    assert (second.actor, second.detail["after"]) == (
        "manager1",
        {"key_customer": False, "account_owner": None},
    )
    assert (
        post(
            client, demo_tokens["manager1"], "/api/customers/999999/key-customer", {"key_customer": False}
        ).status_code
        == 404
    )


def test_the_erp_import_takes_key_customers_and_checks_their_owners(app: Flask, tmp_path: Path) -> None:
    svc = app.extensions["creditflow"]
    now = svc.clock()
    header = (
        "external_id,name,email,industry,founded_year,annual_revenue,currency,key_customer,account_owner\n"
    )
    with transaction(svc.rt.factory) as session:
        from workflows.cli.demo import seed_demo_users

        seed_demo_users(session, now)
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "K1,Key AG,,retail,,,EUR,yes,\nK2,Other AG,,retail,,,EUR,true,ghost\n")
    with pytest.raises(ImportRejected) as rejected, transaction(svc.rt.factory) as session:
        import_customers(session, bad, actor="admin", now=now)
    assert rejected.value.report.errors == [
        "line 2: account_owner: A key customer needs an account owner (an active user).",
        "line 3: account_owner: 'ghost' is not an active user: name an existing active user.",
    ]
    good = tmp_path / "good.csv"
    good.write_text(header + "K1,Key AG,,retail,,,EUR,yes,manager1\nK2,Other AG,,retail,,,EUR,0,\n")
    with transaction(svc.rt.factory) as session:
        assert import_customers(session, good, actor="admin", now=now).imported == 2
    with svc.rt.factory() as session:
        rows = session.execute(
            select(Customer.external_id, Customer.key_customer, Customer.account_owner).order_by(Customer.id)
        ).all()
    assert [tuple(r) for r in rows] == [("K1", True, "manager1"), ("K2", False, None)]


def test_key_customers_are_reviewed_more_often(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """limit_policy.dmn: a grade C customer is reviewed in 6 months, a grade C key customer in 3."""
    today = app.extensions["creditflow"].clock().date()
    reviews: dict[bool, date] = {}
    for key, external_id in ((False, "C-200"), (True, "C-201")):
        fields = {**SOLID_CUSTOMER, "external_id": external_id, "name": f"Solid {external_id}"}
        if key:
            fields |= {"key_customer": True, "account_owner": "manager1"}
        created = post(client, demo_tokens["analyst1"], "/api/customers", fields)
        assert created.status_code == 201, created.json
        instance = apply(client, demo_tokens["sales1"], created.json["id"], 600_000)
        assert instance["data"]["credit_file"]["key_customer"] is key
        review = open_task(instance, "review_application")
        done = complete(
            client, demo_tokens["analyst1"], review["id"], decision="approve", recommended_limit="500000"
        )
        assert done.status_code == 200, done.json
        approval = open_task(refresh(client, demo_tokens, instance["id"]), "manager_approval")
        assert (
            complete(client, demo_tokens["manager1"], approval["id"], decision="approve").status_code == 200
        )
        credit_file = client.get(
            f"/api/customers/{created.json['id']}", headers=auth(demo_tokens["cfo1"])
        ).json
        assert credit_file["grade"] == "C"
        reviews[key] = date.fromisoformat(credit_file["next_review_date"])
    assert reviews == {False: add_months(today, 6), True: add_months(today, 3)}


def test_naming_a_key_customer_brings_its_next_review_onto_the_key_cycle(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    """A grade C customer due for review in 6 months is reviewed within 3 once named key (the key rule of
    limit_policy.dmn, as deployed); a review already sooner stays; the move is audited by name."""
    svc = app.extensions["creditflow"]
    today = svc.clock().date()
    ids = []
    for external_id, months in (("C-300", 6), ("C-301", 1)):
        body = {**SOLID_CUSTOMER, "external_id": external_id, "name": f"Graded {external_id}"}
        created = post(client, demo_tokens["analyst1"], "/api/customers", body)
        assert created.status_code == 201, created.json
        with transaction(svc.rt.factory) as session:
            session.execute(
                update(Customer)
                .where(Customer.id == created.json["id"])
                .values(grade="C", next_review_date=add_months(today, months))
            )
        ids.append(created.json["id"])
    far, near = ids
    for customer_id in ids:
        named = post(
            client,
            demo_tokens["manager1"],
            f"/api/customers/{customer_id}/key-customer",
            {"key_customer": True, "account_owner": "manager1"},
        )
        assert named.status_code == 200, named.json
    files = {i: client.get(f"/api/customers/{i}", headers=auth(demo_tokens["cfo1"])).json for i in ids}
    assert files[far]["next_review_date"] == add_months(today, 3).isoformat()
    assert files[near]["next_review_date"] == add_months(today, 1).isoformat()
    [moved] = events(app, "next_review_date_set", far)
    assert (moved.actor, moved.detail["reason"]) == ("manager1", "key_customer")
    assert moved.detail["before"] == {"next_review_date": add_months(today, 6).isoformat()}
    assert events(app, "next_review_date_set", near) == []


def test_the_customer_page_says_whether_it_is_a_key_customer_and_who_owns_it(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    body = {**SOLID_CUSTOMER, "key_customer": True, "account_owner": "manager1"}
    created = post(client, demo_tokens["analyst1"], "/api/customers", body)
    assert created.status_code == 201, created.json
    html = logged_in(app, "sales1").get(f"/customers/{created.json['id']}").get_data(as_text=True)
    assert "Key customer" in html and "yes, account owner manager1" in html

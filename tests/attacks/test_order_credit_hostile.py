"""Hostile calls of the order credit check, the orders API and the order release: crafted JSON, NUL bytes,
huge and negative amounts, the wrong groups, a duplicate order reference, two checks at once, a requester
who is also a credit manager (with and without the diagram's four-eyes), a release started by hand, and the
CSV import's rights. Each refusal writes nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from handlers.registry import build_operations
from tests.cli.test_cli import Cli, cli, initialized_db  # noqa: F401 - the fixtures
from tests.handlers.test_money_moves import deploy
from tests.helpers import auth, migrated_customer
from workflows.credit.order_tables import CreditCheck, Order
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.store.db import transaction
from workflows.store.models import InboxItem, ProcessInstance
from workflows.users import add_user, issue_token

CUSTOMER = {
    "external_id": "C-800",
    "name": "Hostile Orders Ltd",
    "email": "ap@hostile.example",
    "industry": "wholesale",
    "founded_year": 2001,
    "annual_revenue": "5000000.00",
    "currency": "EUR",
    "credit_limit": "100000.00",
}
FOUR_EYES = b'<spiffworkflow:property name="fourEyes" value="initiator" />'


def release_bundle() -> dict[str, bytes]:
    [paths] = [b for b in shipped_bundles() if b[0].name == "order_release.bpmn"]
    return read_files(paths)


@pytest.fixture
def customer(app: Flask, clock: Any) -> int:
    """The customer, with order_release (and definition_approval, which a changed version of it needs)
    deployed as `creditflow init` deploys them."""
    wanted = ("order_release.bpmn", "definition_approval.bpmn")
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        for bundle in [b for b in shipped_bundles() if b[0].name in wanted]:
            deploy_files(session, read_files(bundle), build_operations(), deployed_by="system", now=clock)
    return migrated_customer(app, CUSTOMER)


def counts(app: Flask) -> tuple[int, int, int]:
    with app.extensions["creditflow"].rt.factory() as session:
        return (
            session.scalar(select(func.count()).select_from(Order)) or 0,
            session.scalar(select(func.count()).select_from(CreditCheck)) or 0,
            session.scalar(select(func.count()).select_from(ProcessInstance)) or 0,
        )


def person(app: Flask, name: str, *groups: str) -> str:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, name, groups=list(groups), now=svc.clock())
        return issue_token(session, name, svc.clock())


def body(customer: int, **changes: Any) -> dict[str, Any]:
    return {"customer_id": customer, "order_ref": "SO-H-1", "amount": "100.00", "currency": "EUR"} | changes


# A credit check and an order take the same fields (an order may add `date`).
CRAFTED: list[tuple[str, dict[str, Any], str]] = [
    ("float_cents", {"amount": 0.1 + 0.2}, "amount"),
    ("exponent", {"amount": "1e30"}, "amount"),
    ("huge_integer", {"amount": 10**15}, "amount"),
    ("over_the_maximum", {"amount": "1000000000000.00"}, "amount"),
    ("three_places", {"amount": "10.005"}, "amount"),
    ("negative", {"amount": "-5.00"}, "amount"),
    ("zero", {"amount": 0}, "amount"),
    ("nan", {"amount": "NaN"}, "amount"),
    ("boolean_amount", {"amount": True}, "amount"),
    ("list_amount", {"amount": ["5"]}, "amount"),
    ("boolean_customer", {"customer_id": True}, "customer_id"),
    ("string_customer", {"customer_id": "1"}, "customer_id"),
    ("big_customer", {"customer_id": 2**40}, "customer_id"),
    ("long_ref", {"order_ref": "X" * 81}, "order_ref"),
    ("control_ref", {"order_ref": "SO\n1"}, "order_ref"),
    ("empty_ref", {"order_ref": "  "}, "order_ref"),
    ("object_ref", {"order_ref": {"$ne": ""}}, "order_ref"),
    ("lower_currency", {"currency": "eur"}, "currency"),
    ("long_currency", {"currency": "EURO"}, "currency"),
]


@pytest.mark.parametrize("route", ["/api/credit-checks", "/api/orders"])
@pytest.mark.parametrize(("name", "change", "field"), CRAFTED, ids=[c[0] for c in CRAFTED])
def test_crafted_fields_are_refused_naming_the_field(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    customer: int,
    route: str,
    name: str,
    change: dict[str, Any],
    field: str,
) -> None:
    response = client.post(route, json=body(customer, **change), headers=auth(demo_tokens["sales1"]))
    assert response.status_code == 422, (name, response.json)
    assert field in response.json["error"]["fields"]
    assert counts(app) == (0, 0, 0)


def test_unknown_fields_and_a_bad_date_are_named(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    token = auth(demo_tokens["sales1"])
    checked = client.post("/api/credit-checks", json=body(customer, approved=True), headers=token)
    assert checked.status_code == 422 and "approved" in checked.json["error"]["fields"]
    posted = client.post("/api/orders", json=body(customer, date="2026-02-30"), headers=token)
    assert posted.status_code == 422 and "date" in posted.json["error"]["fields"]
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("route", ["/api/credit-checks", "/api/orders"])
@pytest.mark.parametrize(
    "raw",
    [
        b'{"customer_id": 1, "order_ref": "SO\\u0000X", "amount": "1.00", "currency": "EUR"}',
        b'{"customer_id": 1, "order_ref": "SO-\\ud800", "amount": "1.00", "currency": "EUR"}',
        b'[{"customer_id": 1}]',
        b'{"customer_id": 1, "order_ref": ',
        b'{"customer_id": 99999999999999999999999, "order_ref": "A", "amount": "1.00", "currency": "EUR"}',
        b"\xff\xfe{}",
    ],
    ids=["nul", "surrogate", "array", "truncated", "beyond_64_bits", "not_utf8"],
)
def test_malformed_bodies_are_400(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int, route: str, raw: bytes
) -> None:
    headers = auth(demo_tokens["finance1"]) | {"Content-Type": "application/json"}
    response = client.post(route, data=raw, headers=headers)
    assert response.status_code == 400, response.json
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("user", ["collector1", "auditor1", "manager1", "analyst1", "legal1", "owner1"])
def test_only_the_erps_users_check_post_and_close_orders(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int, user: str
) -> None:
    token = auth(demo_tokens[user])
    assert client.post("/api/credit-checks", json=body(customer), headers=token).status_code == 403
    assert client.post("/api/orders", json=body(customer), headers=token).status_code == 403
    posted = client.post("/api/orders", json=body(customer), headers=auth(demo_tokens["finance1"]))
    assert posted.status_code == 201
    assert client.delete(f"/api/orders/{posted.json['id']}", headers=token).status_code == 403
    assert counts(app) == (1, 0, 0)
    assert client.get("/api/orders").status_code == 401
    assert client.post("/api/credit-checks", json=body(customer)).status_code == 401


def test_an_order_reference_is_unique_per_customer(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    token = auth(demo_tokens["finance1"])
    assert client.post("/api/orders", json=body(customer), headers=token).status_code == 201
    twice = client.post("/api/orders", json=body(customer, amount="1.00"), headers=token)
    assert twice.status_code == 409 and "SO-H-1" in twice.json["error"]["message"]
    other = migrated_customer(app, {**CUSTOMER, "external_id": "C-801", "name": "Other Orders Ltd"})
    assert client.post("/api/orders", json=body(other), headers=token).status_code == 201
    # A check of the posted order's reference re-checks that order; it is not a second one.
    assert client.post("/api/credit-checks", json=body(customer), headers=token).json["result"] == "approved"
    assert counts(app)[0] == 2
    assert client.delete("/api/orders/999999", headers=token).status_code == 404
    assert client.delete("/api/orders/1?reason=shipped", headers=token).status_code == 400
    missing = client.post("/api/credit-checks", json=body(999999), headers=token)
    assert missing.status_code == 404


def test_two_checks_at_once_cannot_both_use_the_last_of_the_limit(
    app: Flask, demo_tokens: dict[str, str], customer: int
) -> None:
    """Each order alone fits (60,000 of 100,000); both together do not: one is approved, one held."""
    start = threading.Barrier(2)
    answers: list[Any] = []

    def ask(ref: str) -> None:
        client = app.test_client()
        start.wait()
        answers.append(
            client.post(
                "/api/credit-checks",
                json=body(customer, order_ref=ref, amount="60000.00"),
                headers=auth(demo_tokens["sales1"]),
            )
        )

    threads = [threading.Thread(target=ask, args=(ref,)) for ref in ("SO-A", "SO-B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [200, 200]
    assert sorted(a.json["result"] for a in answers) == ["approved", "over_limit"]
    assert counts(app) == (2, 2, 1)


def test_the_same_order_checked_twice_at_once_is_one_order_with_one_release(
    app: Flask, demo_tokens: dict[str, str], customer: int
) -> None:
    start = threading.Barrier(2)
    answers: list[Any] = []

    def ask() -> None:
        client = app.test_client()
        start.wait()
        answers.append(
            client.post(
                "/api/credit-checks",
                json=body(customer, amount="150000.00"),
                headers=auth(demo_tokens["sales1"]),
            )
        )

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.json["result"] for a in answers] == ["over_limit", "over_limit"]
    assert len({a.json["release_instance_id"] for a in answers}) == 1
    assert counts(app) == (1, 2, 1)


def release_task_of(app: Flask, instance_id: int) -> int:
    with app.extensions["creditflow"].rt.factory() as session:
        return int(session.scalars(select(InboxItem.id).where(InboxItem.instance_id == instance_id)).one())


def approve(client: FlaskClient, token: str, task_id: int) -> Any:
    data = {"decision": "approve", "comment": ""}
    return client.post(f"/api/tasks/{task_id}/complete", json={"data": data}, headers=auth(token))


def test_the_requester_cannot_release_even_in_a_diagram_without_four_eyes(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    """A process owner's order_release without the fourEyes property (approved by a second owner, as a money
    move needs): the requester, a sales user who is also a credit manager, completes the approval, and
    order.release itself refuses (nothing written); a second credit manager releases it."""
    files = release_bundle()
    assert files["order_release.bpmn"].count(FOUR_EYES) == 1
    files["order_release.bpmn"] = files["order_release.bpmn"].replace(FOUR_EYES, b"")
    assert deploy(app, client, demo_tokens, files)["version"] == 2
    dual = person(app, "dual", "sales", "credit_manager")
    held = client.post("/api/credit-checks", json=body(customer, amount="150000.00"), headers=auth(dual)).json
    task_id = release_task_of(app, held["release_instance_id"])
    refused = approve(client, dual, task_id)
    assert refused.status_code == 422, refused.json
    assert "dual" in refused.json["error"]["message"]
    with app.extensions["creditflow"].rt.factory() as session:
        assert session.scalars(select(Order.status)).one() == "held"
    assert approve(client, demo_tokens["manager1"], task_id).status_code == 200
    with app.extensions["creditflow"].rt.factory() as session:
        order = session.scalars(select(Order)).one()
        assert (order.status, order.decided_by) == ("released", "manager1")


def test_whoever_posted_the_order_cannot_release_it_either(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    """finance posts the order, sales checks it; a finance user who is also a credit manager may not
    release what they recorded (order.release excludes who recorded or checked the order)."""
    files = release_bundle()
    files["order_release.bpmn"] = files["order_release.bpmn"].replace(FOUR_EYES, b"")
    deploy(app, client, demo_tokens, files)
    poster = person(app, "poster", "finance", "credit_manager")
    posted = client.post("/api/orders", json=body(customer, amount="99000.00"), headers=auth(poster))
    assert posted.status_code == 201
    grown = client.post(
        "/api/credit-checks", json=body(customer, amount="150000.00"), headers=auth(demo_tokens["sales1"])
    ).json
    assert grown["result"] == "over_limit"
    task_id = release_task_of(app, grown["release_instance_id"])
    assert approve(client, poster, task_id).status_code == 422
    assert approve(client, demo_tokens["manager1"], task_id).status_code == 200


def test_a_release_started_by_hand_releases_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    """order_release starts only from a credit check (startGroups admin); an admin's hand-started instance
    for an order that is not held by it cannot release the order."""
    token = auth(demo_tokens["sales1"])
    assert client.post("/api/credit-checks", json=body(customer), headers=token).json["result"] == "approved"
    data = {"customer_id": customer, "order_ref": "SO-H-1", "amount": "100.00", "currency": "EUR"}
    by_sales = client.post(
        "/api/process-instances", json={"process_key": "order_release", "data": data}, headers=token
    )
    assert by_sales.status_code == 403
    started = client.post(
        "/api/process-instances",
        json={"process_key": "order_release", "data": data},
        headers=auth(demo_tokens["admin"]),
    )
    assert started.status_code == 201, started.json
    refused = approve(client, demo_tokens["manager1"], release_task_of(app, started.json["id"]))
    assert (
        refused.status_code == 422
        and "not held for release in this instance" in refused.json["error"]["message"]
    )
    with app.extensions["creditflow"].rt.factory() as session:
        assert session.scalars(select(Order.status)).one() == "open"


ORDERS = "customer_external_id,order_ref,amount,currency,date\nC-1001,SO-CLI-{ref},1200.00,EUR,2026-03-01\n"


@pytest.mark.parametrize("user", ["collector1", "auditor1", "manager1"])
def test_an_order_import_takes_the_users_rights(cli: Cli, tmp_path: Path, user: str) -> None:  # noqa: F811
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS.format(ref=user), encoding="utf-8")
    refused = cli.run("import", "orders", str(path), "--user", user, code=1)
    assert f"{user} may not import orders" in refused.output
    assert cli.query("SELECT count(*) FROM orders WHERE order_ref LIKE 'SO-CLI-%'") == [(0,)]


def test_an_order_import_by_sales_counts_and_a_bad_file_imports_nothing(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS.format(ref="1"), encoding="utf-8")
    assert '"imported": 1' in cli.run("import", "orders", str(path), "--user", "sales1").output
    bad = tmp_path / "bad.csv"
    bad.write_text(
        ORDERS.format(ref="2") + "C-1001,SO-CLI-1,5.00,EUR,2026-03-01\nC-1001,SO-CLI-3,\x00,EUR,2026-03-01\n",
        encoding="utf-8",
    )
    rejected = cli.run("import", "orders", str(bad), "--user", "sales1", code=2)
    assert "line 3:" in rejected.output and "line 4: amount" in rejected.output
    assert cli.query("SELECT order_ref FROM orders WHERE order_ref LIKE 'SO-CLI-%'") == [("SO-CLI-1",)]

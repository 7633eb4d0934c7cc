"""POST /api/admin/clock and GET /api/health: one clock, moved forward only, in simulated mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import auth
from tests.webui.test_pages import login
from webui import create_app
from workflows.clock import utcnow
from workflows.settings import Settings
from workflows.store.login_tables import LoginAttempt

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def simulated(settings: Settings) -> Iterator[Flask]:
    """The app as a training environment runs it: `[clock] mode = "simulated"`, no clock handed in."""
    app = create_app(settings.replace("clock", mode="simulated", start=START.isoformat()))
    app.config["TESTING"] = True
    yield app
    app.extensions["creditflow"].engine.dispose()


def test_health_shows_the_real_clock_by_default(client: FlaskClient) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.json["status"] == "ok" and health.json["clock"]["mode"] == "real"
    datetime.fromisoformat(health.json["clock"]["now"])


def test_the_real_clock_cannot_be_moved(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    moved = client.post(
        "/api/admin/clock", json={"now": "2030-01-01T00:00:00Z"}, headers=auth(demo_tokens["admin"])
    )
    assert moved.status_code == 409
    assert moved.json["error"]["code"] == "conflict" and moved.json["error"]["mode"] == "real"
    assert 'the clock is real ([clock] mode = "real")' in moved.json["error"]["message"]
    assert "CREDITFLOW_CLOCK=simulated" in moved.json["error"]["message"]


def test_only_admins_move_the_clock(simulated: Flask, demo_tokens: dict[str, str]) -> None:
    client = simulated.test_client()
    refused = client.post(
        "/api/admin/clock", json={"now": "2026-04-01T09:00:00Z"}, headers=auth(demo_tokens["collector1"])
    )
    assert refused.status_code == 403
    assert client.post("/api/admin/clock", json={"now": "2026-04-01T09:00:00Z"}).status_code == 401
    assert client.get("/api/health").json["clock"]["now"] == START.isoformat()


def test_the_simulated_clock_moves_forward_never_back(simulated: Flask, demo_tokens: dict[str, str]) -> None:
    client, admin = simulated.test_client(), auth(demo_tokens["admin"])
    assert client.get("/api/health").json["clock"] == {"mode": "simulated", "now": START.isoformat()}
    later = START + timedelta(days=30)
    moved = client.post("/api/admin/clock", json={"now": later.isoformat()}, headers=admin)
    assert moved.status_code == 200, moved.json
    assert moved.json == {"mode": "simulated", "now": later.isoformat()}
    assert client.get("/api/health").json["clock"]["now"] == later.isoformat()
    back = client.post("/api/admin/clock", json={"now": START.isoformat()}, headers=admin)
    assert back.status_code == 409
    # The message writes its times as a person reads them; the JSON's own fields keep ISO (above).
    assert back.json["error"]["message"].startswith(
        "the simulated clock is at 1 Apr 2026 09:00 and moves only forward: 2 Mar 2026 09:00 would move it"
        " back"
    ), back.json
    # A tick at an earlier time would move it back too; a tick without a time runs at the stored one.
    assert client.post("/api/admin/tick", json={"now": START.isoformat()}, headers=admin).status_code == 409
    assert client.post("/api/admin/tick", json={}, headers=admin).status_code == 200
    assert client.get("/api/health").json["clock"]["now"] == later.isoformat()
    for bad in ({}, {"now": "soon"}, {"now": later.isoformat(), "then": 1}, {"now": 5}):
        assert client.post("/api/admin/clock", json=bad, headers=admin).status_code == 400, bad


def test_every_action_after_a_move_happens_at_the_moved_time(
    simulated: Flask, demo_tokens: dict[str, str]
) -> None:
    # Far past the wall clock, so that an action still on the wall clock would see nothing overdue.
    later = (utcnow() + timedelta(days=400)).replace(microsecond=0)
    client = simulated.test_client()
    client.post("/api/admin/clock", json={"now": later.isoformat()}, headers=auth(demo_tokens["admin"]))
    body = {"name": "Timely Traders", "email": "ap@timely.example", "currency": "EUR"}
    customer = client.post("/api/customers", json=body, headers=auth(demo_tokens["sales1"]))
    assert customer.status_code == 201, customer.json
    due = later.date() - timedelta(days=10)
    invoice = {
        "customer_id": customer.json["id"],
        "number": "INV-T1",
        "amount": "100.00",
        "currency": "EUR",
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
    }
    assert (
        client.post("/api/invoices", json=invoice, headers=auth(demo_tokens["finance1"])).status_code == 201
    )
    credit_file = client.get(f"/api/customers/{customer.json['id']}", headers=auth(demo_tokens["sales1"]))
    assert (
        credit_file.json["overdue"] == "100.00"
    )  # overdue on the simulated day, not yet on the wall clock's
    payment = {
        "customer_id": customer.json["id"],
        "amount": "100.00",
        "currency": "EUR",
        "date": later.date().isoformat(),
        "reference": "BANK-T1",
    }
    paid = client.post("/api/payments", json=payment, headers=auth(demo_tokens["finance1"]))
    assert paid.status_code == 201, paid.json
    trail = client.get(
        f"/api/audit?object=customer:{customer.json['id']}", headers=auth(demo_tokens["auditor1"])
    )
    assert trail.status_code == 200, trail.json
    assert trail.json["items"] and {item["at"] for item in trail.json["items"]} == {later.isoformat()}


def test_logins_are_throttled_on_the_wall_clock_while_the_simulated_clock_stands_still(
    simulated: Flask, demo_tokens: dict[str, str]
) -> None:
    # A standing simulated clock would keep a locked-out trainee locked until someone moved it.
    client = simulated.test_client()
    before = utcnow()
    assert login(client, "analyst1", "wrong").status_code == 401
    factory = simulated.extensions["creditflow"].rt.factory
    with factory() as session:
        attempted = session.scalars(select(LoginAttempt.attempted_at)).all()
    assert attempted and all(before <= at <= utcnow() for at in attempted), attempted
    assert login(client, "analyst1", "demo").status_code == 302


def test_every_page_says_the_clock_is_simulated_and_at_what_time(
    simulated: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # A trainee must never take the walked date for today.
    training = simulated.test_client()
    assert login(training, "analyst1", "demo").status_code == 302
    later = START + timedelta(days=45)
    moved = training.post(
        "/api/admin/clock", json={"now": later.isoformat()}, headers=auth(demo_tokens["admin"])
    )
    assert moved.status_code == 200, moved.json
    for page in ("/login", "/inbox", "/instances"):
        text = training.get(page).get_data(as_text=True)
        assert f"Simulated clock: it is {later.day} {later:%b %Y %H:%M} UTC" in text, page  # 2 Mar 2026 09:00
    assert login(client, "analyst1", "demo").status_code == 302
    assert "Simulated clock" not in client.get("/inbox").get_data(as_text=True)  # the real mode shows none

"""Provisions (issue 15): the deployed matrix to over 365 days, EUR, GBP and CNY summed in the base
currency at the stored rates, the monthly snapshot with its movement, and specific provisions that
follow recoveries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.helpers import auth, migrated_customer
from workflows.batch.jobs import DAILY_JOBS, run_daily_jobs
from workflows.credit.models import Provision
from workflows.credit.provision_snapshots import post_run
from workflows.credit.write_off_posting import post_request
from workflows.credit.write_offs import UNCOLLECTABLE, Proposal, open_request
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, OutboxEmail

pytestmark = pytest.mark.usefixtures("shipped")

TODAY = date(2026, 3, 2)  # the app clock's day (tests/conftest.py)
RATES = {"GBP": "1.1700", "CNY": "0.1283"}
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def customer(app: Flask, name: str, currency: str) -> int:
    return migrated_customer(
        app, {"external_id": name, "name": name, "currency": currency, "email": f"ap@{name}.example"}
    )


def post_invoice(
    client: FlaskClient, token: str, customer_id: int, number: str, amount: str, currency: str, due: str
) -> None:
    body = {
        "customer_id": customer_id,
        "number": number,
        "amount": amount,
        "currency": currency,
        "issue_date": "2024-01-01",
        "due_date": due,
    }
    response = client.post("/api/invoices", json=body, headers=auth(token))
    assert response.status_code == 201, response.json


def post_rate(client: FlaskClient, token: str, currency: str, rate: str, day: str = "2026-01-01") -> Any:
    return client.post(
        "/api/fx-rates", json={"currency": currency, "rate": rate, "date": day}, headers=auth(token)
    )


def preview(client: FlaskClient, token: str, as_of: str = TODAY.isoformat()) -> Any:
    return client.get(f"/api/provisions/preview?as_of={as_of}", headers=auth(token))


def test_the_400_day_old_invoice_is_provisioned_at_100_percent(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    old = customer(app, "oldco", "EUR")
    post_invoice(client, finance, old, "OLD-1", "1000.00", "EUR", "2025-01-26")  # 400 days before TODAY
    report = preview(client, finance)
    assert report.status_code == 200, report.json
    body = report.json
    assert body["buckets"][-1] == "over_365" and body["rates"]["over_365"] == "1"
    assert body["matrix"].startswith("provision_matrix.dmn of dunning v")
    (line,) = body["lines"]
    assert (line["bucket"], line["rate"], line["balance"], line["provision"]) == (
        "over_365",
        "1",
        "1000.00",
        "1000.00",
    )
    assert body["total"] == "1000.00"
    # The rates rise through the buckets the research note proposes, to 100 % past 365 days.
    assert [body["rates"][b] for b in body["buckets"]] == [
        "0.005",
        "0.02",
        "0.05",
        "0.1",
        "0.2",
        "0.35",
        "0.6",
        "1",
    ]


def test_eur_gbp_and_cny_aging_sums_to_the_base_currency_at_the_stored_rates(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    eur, gbp, cny = (
        customer(app, "eurco", "EUR"),
        customer(app, "gbpco", "GBP"),
        customer(app, "cnyco", "CNY"),
    )
    post_invoice(client, finance, eur, "E-1", "1000.00", "EUR", "2026-02-20")  # 10 days past due
    post_invoice(client, finance, gbp, "G-1", "2000.00", "GBP", "2026-02-20")
    post_invoice(client, finance, cny, "C-1", "100000.00", "CNY", "2026-02-20")
    # Without a CNY rate nothing is summed: the answer names the currency instead of guessing.
    assert post_rate(client, finance, "GBP", RATES["GBP"]).status_code == 201
    aging = client.get(f"/api/aging?as_of={TODAY}", headers=auth(finance)).json
    assert aging["total"] is None and aging["missing_rates"] == ["CNY"]
    refused = preview(client, finance)
    assert refused.status_code == 409 and "CNY" in refused.json["error"]["message"]
    assert post_rate(client, demo_tokens["finance1"], "CNY", RATES["CNY"]).status_code == 201
    aging = client.get(f"/api/aging?as_of={TODAY}", headers=auth(finance)).json
    # 1000.00 + 2000.00 * 1.17 + 100000.00 * 0.1283 = 1000.00 + 2340.00 + 12830.00
    assert aging["base_currency"] == "EUR" and aging["missing_rates"] == []
    assert aging["total"]["days_1_30"] == "16170.00"
    assert aging["by_currency"]["CNY"]["days_1_30"] == "100000.00"
    assert {c["customer_id"]: c["currency"] for c in aging["customers"]} == {
        eur: "EUR",
        gbp: "GBP",
        cny: "CNY",
    }
    body = preview(client, finance).json
    assert body["balance"] == "16170.00" and body["by_bucket"]["days_1_30"]["balance"] == "16170.00"
    # Each line stays in its currency with the rate used; the provision is 2 % of the base amount.
    lines = {line["currency"]: line for line in body["lines"]}
    assert lines["CNY"]["balance"] == "100000.00" and lines["CNY"]["fx_rate"] == "0.1283"
    assert lines["GBP"]["balance_base"] == "2340.00" and lines["GBP"]["provision"] == "46.80"
    assert body["total"] == "323.40"  # (1000.00 + 2340.00 + 12830.00) * 0.02


def test_the_monthly_snapshot_with_movements_reads_back_through_the_api(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    rt = app.extensions["creditflow"].rt
    finance = demo_tokens["finance1"]
    gbp = customer(app, "snapco", "GBP")
    assert post_rate(client, finance, "GBP", "1.2000", "2026-01-01").status_code == 201
    post_invoice(client, finance, gbp, "S-1", "1000.00", "GBP", "2026-01-20")  # 39 days past due on 28 Feb
    post_invoice(client, finance, gbp, "S-2", "500.00", "GBP", "2026-03-20")  # not due on 28 Feb
    assert client.get("/api/provisions?as_of=2026-02-28", headers=auth(finance)).status_code == 404

    job = {"provision_run": DAILY_JOBS["provision_run"]}
    (february,) = run_daily_jobs(rt, datetime(2026, 2, 28, 22, 0, tzinfo=UTC), job)
    assert february["posted"] == "2026-02-28", february
    # A second run of the day, or of any later day but the month's last, posts nothing.
    assert run_daily_jobs(rt, datetime(2026, 2, 28, 23, 0, tzinfo=UTC), job) == []
    (quiet,) = run_daily_jobs(rt, datetime(2026, 3, 15, 9, 0, tzinfo=UTC), job)
    assert quiet["posted"] is None

    # March: S-1 half paid (value date 10 March), a new rate, S-1 now 70 days past due.
    paid = client.post(
        "/api/payments",
        json={"customer_id": gbp, "amount": "500.00", "currency": "GBP", "date": "2026-03-10"},
        headers=auth(finance),
    )
    assert paid.status_code == 201, paid.json
    assert post_rate(client, finance, "GBP", "1.1000", "2026-03-31").status_code == 201
    (march,) = run_daily_jobs(rt, datetime(2026, 3, 31, 22, 0, tzinfo=UTC), job)
    assert march["posted"] == "2026-03-31", march

    feb = client.get("/api/provisions?as_of=2026-03-15", headers=auth(finance))
    assert feb.status_code == 200, feb.json
    feb_body = feb.json
    assert feb_body["as_of"] == "2026-02-28" and feb_body["posted_by"] == "system"
    # 1000 GBP * 1.2 = 1200.00 at 5 % (31-60 days), 500 GBP * 1.2 = 600.00 at 0.5 % (not due).
    assert feb_body["by_bucket"]["days_31_60"] == {"balance": "1200.00", "provision": "60.00"}
    assert feb_body["by_bucket"]["not_due"] == {"balance": "600.00", "provision": "3.00"}
    assert feb_body["movement"] == {
        "opening": "0.00",
        "charge": "63.00",
        "release": "0.00",
        "used": "0.00",
        "closing": "63.00",
    }
    mar_body = client.get("/api/provisions?as_of=2026-03-31", headers=auth(demo_tokens["auditor1"])).json
    # 500 GBP * 1.1 = 550.00 at 10 % (61-90 days) and 500 GBP * 1.1 = 550.00 at 2 % (11 days past due).
    assert mar_body["previous_as_of"] == "2026-02-28"
    assert mar_body["by_bucket"]["days_61_90"] == {"balance": "550.00", "provision": "55.00"}
    assert mar_body["by_bucket"]["days_1_30"] == {"balance": "550.00", "provision": "11.00"}
    movement = mar_body["movement"]
    assert movement["opening"] == feb_body["total"] == "63.00" and movement["closing"] == "66.00"
    assert Decimal(movement["charge"]) - Decimal(movement["release"]) == Decimal("66.00") - Decimal("63.00")
    assert (movement["charge"], movement["release"], movement["used"]) == ("3.00", "0.00", "0.00")
    # Posting a month end again is refused: snapshots are immutable and posted in order.
    with transaction(rt.factory) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "provision_run_posted")).all()
        assert [e.detail["as_of"] for e in events] == ["2026-02-28", "2026-03-31"]


def test_a_month_end_without_a_rate_is_refused_and_named(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    rt = app.extensions["creditflow"].rt
    cny = customer(app, "norate", "CNY")
    post_invoice(client, demo_tokens["finance1"], cny, "N-1", "800.00", "CNY", "2026-02-01")
    (day,) = run_daily_jobs(
        rt, datetime(2026, 2, 28, 22, 0, tzinfo=UTC), {"provision_run": DAILY_JOBS["provision_run"]}
    )
    assert day["posted"] is None and day["missing_rates"] == ["CNY"]
    assert (
        client.get("/api/provisions?as_of=2026-02-28", headers=auth(demo_tokens["cfo1"])).status_code == 404
    )
    with rt.factory() as session:
        refused = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "provision_run_refused")
        ).one()
        assert refused.detail["missing_rates"] == ["CNY"]
        # The people who may post the rate and the run hear of it.
        mail = session.scalars(
            select(OutboxEmail).where(OutboxEmail.dedupe_key.like("provision_run:%"))
        ).one()
        assert "finance1@example.com" in mail.to and "manager1@example.com" in mail.to
        assert "CNY" in mail.body_text and "--as-of 2026-02-28" in mail.body_text


def test_a_specific_provision_follows_recoveries(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    finance = demo_tokens["finance1"]
    debtor = customer(app, "legalco", "EUR")
    post_invoice(client, finance, debtor, "L-1", "1000.00", "EUR", "2025-10-01")
    now = app.extensions["creditflow"].clock()
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.add(
            Provision(
                customer_id=debtor,
                amount=Decimal("1000.00"),
                currency="EUR",
                rate=Decimal("1.00"),
                reason="legal handover",
                created_by="manager1",
                created_at=now,
            )
        )
    assert preview(client, finance).json["specific_total"] == "1000.00"
    paid = client.post(
        "/api/payments",
        json={"customer_id": debtor, "amount": "300.00", "currency": "EUR", "date": TODAY.isoformat()},
        headers=auth(demo_tokens["collector1"]),
    )
    assert paid.status_code == 201, paid.json
    body = preview(client, finance).json
    assert body["specific_total"] == "700.00" and body["matrix_total"] == "0.00"
    (line,) = body["lines"]
    assert (line["kind"], line["balance"], line["provision"]) == ("specific", "700.00", "700.00")
    with app.extensions["creditflow"].rt.factory() as session:
        provision = session.scalars(select(Provision)).one()
        assert provision.released_amount == Decimal("300.00") and provision.released_at is None
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "provision_recovered")).one()
        assert event.actor == "collector1" and event.detail["amount"] == "300.00"
    # The rest recovered: the provision is released whole, and the customer is back on the matrix.
    assert (
        client.post(
            "/api/payments",
            json={"customer_id": debtor, "amount": "700.00", "currency": "EUR", "date": TODAY.isoformat()},
            headers=auth(finance),
        ).status_code
        == 201
    )
    body = preview(client, finance).json
    assert body["specific_total"] == "0.00" and body["lines"] == []


def test_a_write_off_shows_as_the_provision_used_not_as_a_release(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    rt = app.extensions["creditflow"].rt
    debtor = customer(app, "goneco", "EUR")
    post_invoice(client, demo_tokens["finance1"], debtor, "W-1", "1000.00", "EUR", "2025-12-01")
    with transaction(rt.factory) as session:
        session.add(
            Provision(
                customer_id=debtor,
                amount=Decimal("1000.00"),
                currency="EUR",
                rate=Decimal("1.00"),
                reason="legal handover",
                created_by="manager1",
                created_at=datetime(2026, 2, 10, 9, 0, tzinfo=UTC),
            )
        )
    with transaction(rt.factory) as session:
        february = post_run(session, date(2026, 2, 28), base="EUR", actor="finance1", now=NOW)
        assert (february.specific_provision, february.charge) == (Decimal("1000.00"), Decimal("1000.00"))
    with transaction(rt.factory) as session:  # legal: uncollectable, approved by the credit manager
        proposal = Proposal(debtor, UNCOLLECTABLE, Decimal("0"), Decimal("0"))
        request = open_request(session, proposal, requested_by="legal1", instance_id=None, now=NOW)
        (line,) = post_request(session, request, approvers=["manager1"], actor="manager1", now=NOW)
        assert line.provision_used == Decimal("1000.00")
    with transaction(rt.factory) as session:
        post_run(
            session, date(2026, 3, 31), base="EUR", actor="finance1", now=datetime(2026, 4, 1, tzinfo=UTC)
        )
    march = client.get("/api/provisions?as_of=2026-04-30", headers=auth(demo_tokens["cfo1"])).json
    assert march["as_of"] == "2026-03-31" and march["posted_by"] == "finance1"
    assert march["movement"] == {
        "opening": "1000.00",
        "charge": "0.00",
        "release": "0.00",
        "used": "1000.00",
        "closing": "0.00",
    }

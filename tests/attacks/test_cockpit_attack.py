"""Hostile use of the credit manager's cockpit (issue 17), across its parts: exports, pages, the contact log,
the KPIs, the watchlist job. Each test is a break found (and fixed) or an attack that held."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from handlers.registry import build_operations
from tests.collections_desk import Collections
from tests.credit.test_watchlist import NOW as WL_NOW
from tests.credit.test_watchlist import TODAY as WL_TODAY
from tests.credit.test_watchlist import Book as WlBook
from tests.credit.test_watchlist import build_book
from tests.credit.test_watchlist import runtime as wl_runtime
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from workflows.batch.watchlist_run import watchlist_run
from workflows.credit.collection_contacts import CollectionContact
from workflows.credit.models import Customer, Invoice, InvoiceStatus
from workflows.credit.promises import DunningPromise
from workflows.credit.watchlist import WatchlistEntry
from workflows.definitions.deploy import deploy_files, read_files
from workflows.definitions.shipped import shipped_bundles
from workflows.definitions.validation import InvalidBundle
from workflows.settings import BPMN_DIR
from workflows.store.db import transaction
from workflows.store.models import AuditEvent, OutboxEmail, ProcessDefinition, ProcessInstance, User

pytestmark = pytest.mark.usefixtures("shipped", "demo_tokens")

HOSTILE_NAME = "</script><script>alert(1)</script><img src=x onerror=alert(2)>\"'&"


def add_customer(
    app: Flask, name: str, amount: str = "10.10", *, currency: str = "EUR", days: int = 10
) -> int:
    """A customer with one invoice `days` past due, written straight into the book."""
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        customer = Customer(name=name, currency=currency, created_at=now, updated_at=now)
        session.add(customer)
        session.flush()
        session.add(
            Invoice(
                customer_id=customer.id,
                number=f"X-{customer.id}",
                amount=Decimal(amount),
                open_amount=Decimal(amount),
                currency=currency,
                issue_date=now.date() - timedelta(days=days + 30),
                due_date=now.date() - timedelta(days=days),
                status=InvoiceStatus.OPEN,
                created_at=now,
            )
        )
        return customer.id


def counts(app: Flask) -> tuple[int, int]:
    """(contacts, promises) stored."""
    with app.extensions["creditflow"].rt.factory() as session:
        contacts = session.scalar(select(func.count()).select_from(CollectionContact)) or 0
        promises = session.scalar(select(func.count()).select_from(DunningPromise)) or 0
        return contacts, promises


def open_case(desk: Collections, name: str, amount: str = "1000.00") -> tuple[int, int]:
    customer = desk.customer(name)
    desk.invoice(
        customer, f"{name[:3].upper()}-{customer}", amount, due=desk.clock.now.date() - timedelta(days=5)
    )
    desk.tick()
    return customer, desk.case(customer)["id"]


def post_contact(desk: Collections, case_id: int, body: Any, user: str = "collector1") -> Any:
    return desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts", json=body, headers=auth(desk.tokens[user])
    )


# --- exports ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        '\x01=HYPERLINK("http://evil.example","pay here")',  # a control character hides the '='
        "\x1f+1+1",
        "\x08@SUM(A1:A9)",
        "\x0b-2+3",
    ],
)
def test_a_formula_behind_a_control_character_exports_as_inert_text(app: Flask, name: str) -> None:
    add_customer(app, name)
    manager = logged_in(app, "manager1")
    answer = manager.get("/portfolio.xlsx")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.data))["Portfolio"]
    [cell] = [row[2] for row in sheet.iter_rows(min_row=2) if row[2].value != "Total (EUR)"]
    assert cell.data_type == "s" and isinstance(cell.value, str), (cell.data_type, cell.value)
    assert cell.value[0] not in "=+-@\t\r", cell.value


# --- pages: names and notes are text, never markup ----------------------------------------------------------


def test_a_hostile_customer_name_is_text_on_every_cockpit_page(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    add_customer(app, HOSTILE_NAME, "5000.00", days=100)
    manager = logged_in(app, "manager1")
    for path in (
        "/dashboard",
        "/portfolio",
        "/portfolio?tab=top",
        "/watchlist?status=all",
        "/collections?due=all",
    ):
        answer = manager.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        html = answer.get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert "</script><" not in html, path


# --- the contact log ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "call", "outcome": "reached", "next_action_date": "9999-12-31"},
        {"kind": "call", "outcome": "promise", "promised_date": "9999-12-31", "promised_amount": "1000.00"},
        {"kind": "call", "outcome": "promise", "promised_date": "9999-12-31", "promised_amount": "0.01"},
        {"kind": "call", "outcome": "reached", "next_action_date": "0001-01-01"},
        {"kind": "call", "outcome": "promise", "promised_date": "2026-03-10", "promised_amount": "1" * 30},
        {"kind": "call", "outcome": "promise", "promised_date": "2026-03-10", "promised_amount": "-0.00"},
        {"kind": "call", "outcome": "promise", "promised_date": "2026-03-10", "promised_amount": "NaN"},
        {"kind": "call", "outcome": "promise", "promised_date": "2026-03-10", "promised_amount": "Infinity"},
        {"kind": "call", "outcome": "promise", "promised_date": "2026-03-10", "promised_amount": True},
        {"kind": "call", "outcome": "reached", "typename": "DunningPromise", "__class__": "x"},
    ],
)
def test_far_dates_and_odd_amounts_on_the_contact_log_are_never_a_500(desk: Collections, body: Any) -> None:
    _, case_id = open_case(desk, "Farout Ltd")
    before = counts(desk.client.application)
    answer = post_contact(desk, case_id, body)
    assert answer.status_code in (201, 409, 422), (body, answer.status_code, answer.json)
    if answer.status_code != 201:
        assert counts(desk.client.application) == before
    # The worklist still answers, whatever was logged.
    assert (
        desk.client.get("/api/collections?due=all", headers=auth(desk.tokens["collector1"])).status_code
        == 200
    )
    assert desk.client.get(
        f"/collections/{case_id}", headers=auth(desk.tokens["collector1"])
    ).status_code in (
        200,
        302,
        401,
    )


@pytest.mark.parametrize(
    "raw",
    [
        b'{"kind": "call", "outcome": "reached", "note": ' + b"[" * 100000 + b"]" * 100000 + b"}",
        b'{"kind": "call", "kind": "email", "outcome": "reached"}',
        b'{"kind": "call", "outcome": "reached", "note": "a\\u0000b"}',
        b'{"kind": "call", "outcome": "reached", "note": "\\ud800"}',
        b'{"kind": "call", "outcome": "reached", "next_action_date": 20260310}',
        b'{"kind": "call", "outcome": "promise", "promised_date": "2026-03-10", "promised_amount": 1e999}',
        b"\xff\xfe{}",
    ],
)
def test_crafted_raw_bodies_on_the_contact_log_are_a_4xx_writing_nothing(
    desk: Collections, raw: bytes
) -> None:
    _, case_id = open_case(desk, "Rawbody Ltd")
    answer = desk.client.post(
        f"/api/dunning-cases/{case_id}/contacts",
        data=raw,
        headers={**auth(desk.tokens["collector1"]), "Content-Type": "application/json"},
    )
    assert 400 <= answer.status_code < 500, (raw[:60], answer.status_code)
    assert counts(desk.client.application) == (0, 0)


def test_an_admin_who_logs_a_promise_may_not_approve_it(desk: Collections) -> None:
    customer, case_id = open_case(desk, "Selfapprove Ltd", "2000.00")
    promised = desk.clock.now.date() + timedelta(days=60)  # outside the ladder's limits: a manager decides
    body = {
        "kind": "call",
        "outcome": "promise",
        "promised_date": promised.isoformat(),
        "promised_amount": "2000.00",
    }
    logged = post_contact(desk, case_id, body, user="admin")
    assert logged.status_code == 201, logged.json
    [task] = [t for t in desk.open_tasks("admin") if t["name"] == "approve_promise"]
    refused = desk.complete("admin", task["id"], decision="approve")
    assert refused.status_code in (403, 409, 422), (refused.status_code, refused.json)
    case = desk.case(customer)
    assert (case["status"], case["promises"][0]["status"]) == ("open", "pending_approval")
    assert desk.complete("manager1", task["id"], decision="approve").status_code == 200
    assert desk.case(customer)["promises"][0]["decided_by"] == "manager1"


@pytest.mark.parametrize(
    "query",
    [
        "due=today&due=all",
        "due=%00",
        "due=tomorrow",
        "page=0",
        "page=2147483648",
        "page=99999999999999999999999",
        "per_page=0",
        "per_page=-5",
        "page=1e3",
        "page=%C2%B2",
    ],
)
def test_hostile_worklist_queries_are_a_400(desk: Collections, query: str) -> None:
    answer = desk.client.get(f"/api/collections?{query}", headers=auth(desk.tokens["collector1"]))
    assert answer.status_code in (400, 422), (query, answer.status_code)


def test_the_last_worklist_page_is_empty(desk: Collections) -> None:
    open_case(desk, "Paged Ltd")
    capped = desk.client.get("/api/collections?per_page=100000", headers=auth(desk.tokens["collector1"]))
    assert capped.status_code == 200 and capped.json["per_page"] == 200  # the house's MAX_PER_PAGE
    answer = desk.client.get(
        "/api/collections?due=all&page=2147483647", headers=auth(desk.tokens["collector1"])
    )
    assert answer.status_code == 200 and answer.json["items"] == [] and answer.json["total"] == 1
    for path in ("/collections?due=all&page=2147483647", "/collections?page=%00", "/collections?due=%00"):
        page = logged_in(desk.client.application, "collector1").get(path)
        assert page.status_code in (200, 400), (path, page.status_code)


# --- a currency without a rate ------------------------------------------------------------------------------


def test_a_currency_without_a_rate_is_named_on_every_cockpit_view_never_a_500(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    add_customer(app, "Euro GmbH", "100.00")
    add_customer(app, "Sterling plc", "250.00", currency="GBP", days=40)  # no GBP rate stored
    add_customer(app, "Dollar Inc", "300.00", currency="USD", days=100)
    manager = logged_in(app, "manager1")
    for path in (
        "/dashboard",
        "/dashboard?period=quarter",
        "/portfolio",
        "/portfolio.csv",
        "/portfolio.xlsx",
    ):
        answer = manager.get(path)
        assert answer.status_code in (200, 409), (path, answer.status_code)
        if path.startswith("/dashboard") or path == "/portfolio":
            assert "GBP" in answer.get_data(as_text=True), path
    kpis = manager.get("/api/kpis", headers=auth(demo_tokens["manager1"]))
    assert kpis.status_code == 409 and "GBP" in kpis.json["error"]["message"]
    assert "USD" in kpis.json["error"]["message"]
    # The portfolio's total never adds an unconverted amount as if it were euros.
    csv_text = manager.get("/portfolio.csv").get_data(as_text=True)
    total_line = [line for line in csv_text.splitlines() if "Total (EUR)" in line][0]
    assert "100.00" in total_line and "GBP 250.00" in total_line and "USD 300.00" in total_line
    assert "350.00" not in total_line and "650.00" not in total_line


# --- the watchlist job -------------------------------------------------------------------------------------


def watchlist_state(app: Flask) -> tuple[list[tuple[Any, ...]], int, int]:
    """(entries, summary e-mails queued, watchlist_evaluated events)."""
    with app.extensions["creditflow"].rt.factory() as session:
        entries = [
            (e.id, e.customer_id, e.action, e.severity, e.indicator_names, e.evaluated_on, e.cleared_at)
            for e in session.scalars(select(WatchlistEntry).order_by(WatchlistEntry.id))
        ]
        mails = session.scalar(select(func.count()).select_from(OutboxEmail)) or 0
        events = (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "watchlist_evaluated")
            )
            or 0
        )
        return entries, mails, events


def test_the_watchlist_job_twice_a_day_and_with_a_currency_without_a_rate(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    ids = build_book(app)
    with transaction(wl_runtime(app).factory) as session:  # a currency nobody posted a rate for
        book = WlBook(session, n=500)
        ids["yen"] = customer = book.customer("yen-owner", limit="1000", currency="JPY")
        book.invoice(customer, "990.00", currency="JPY")
    first = watchlist_run(wl_runtime(app), WL_TODAY, WL_NOW)
    assert first["missing_rates"] == ["JPY"] and first["summary_email"] is not None
    after_first = watchlist_state(app)
    assert len(after_first[0]) == 8 and after_first[1] == 1 and after_first[2] == 1
    second = watchlist_run(wl_runtime(app), WL_TODAY, WL_NOW + timedelta(hours=3))
    assert second["opened"] == second["cleared"] == 0 and second["summary_email"] is None
    assert watchlist_state(app) == after_first  # nothing changed, no second mail, no second event
    # The JPY customer is not judged on a guessed rate: not flagged, and the API still answers.
    listed = app.test_client().get("/api/watchlist?status=all", headers=auth(demo_tokens["manager1"]))
    assert listed.status_code == 200 and ids["yen"] not in {e["customer_id"] for e in listed.json["items"]}


# --- policy tables edited to give garbage: refused at deploy, naming the table ------------------------------

PRIORITY_SHIPPED = (BPMN_DIR / "collection_priority.dmn").read_text(encoding="utf-8")
WARNING_SHIPPED = (BPMN_DIR / "early_warning.dmn").read_text(encoding="utf-8")
A_SCORE = 'amount_overdue * days_overdue * Decimal("0.5") + broken_promises * amount_overdue * 30'


def bundle_with(stem: str, name: str, text: str) -> dict[str, bytes]:
    [bundle] = [b for b in shipped_bundles() if b[0].stem == stem]
    files = read_files(bundle)
    files[name] = text.encode()
    return files


@pytest.mark.parametrize(
    ("stem", "name", "text"),
    [
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace(A_SCORE, '"high"')),
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace(A_SCORE, "None")),
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace(A_SCORE, "1 / 0")),
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace(A_SCORE, "-amount_overdue - 1")),
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace(A_SCORE, 'Decimal("NaN")')),
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace(A_SCORE, 'Decimal("1E+400")')),
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace(A_SCORE, "[1, 2]")),
        (
            "dunning",
            "collection_priority.dmn",
            PRIORITY_SHIPPED.replace('Decimal("0.5")</text>', '"x"</text>'),
        ),
        ("dunning", "collection_priority.dmn", PRIORITY_SHIPPED.replace('name="score"', 'name="points"')),
        (
            "dunning",
            "collection_priority.dmn",
            PRIORITY_SHIPPED.replace('id="collection_priority"', 'id="prio"'),
        ),
        ("dunning", "collection_priority.dmn", "<definitions>garbage"),
        (
            "dunning",
            "collection_priority.dmn",
            PRIORITY_SHIPPED.replace("<text>grade</text>", "<text>grade(</text>"),
        ),
        (
            "credit_limit_review",
            "early_warning.dmn",
            WARNING_SHIPPED.replace('"review"', '"delete_customer"', 1),
        ),
        ("credit_limit_review", "early_warning.dmn", WARNING_SHIPPED.replace('"review"', "None", 1)),
        ("credit_limit_review", "early_warning.dmn", WARNING_SHIPPED.replace('"review"', "42", 1)),
        ("credit_limit_review", "early_warning.dmn", WARNING_SHIPPED.replace('"review"', '["call"]', 1)),
        ("credit_limit_review", "early_warning.dmn", WARNING_SHIPPED.replace('"medium"', '"HIGH"', 1)),
        ("credit_limit_review", "early_warning.dmn", WARNING_SHIPPED.replace('"utilisation"<', "1 / 0<", 1)),
        (
            "credit_limit_review",
            "early_warning.dmn",
            WARNING_SHIPPED.replace('"utilisation"<', '"<b>x</b>"<', 1),
        ),
        ("credit_limit_review", "early_warning.dmn", WARNING_SHIPPED.replace('name="action"', 'name="todo"')),
        (
            "credit_limit_review",
            "early_warning.dmn",
            WARNING_SHIPPED.replace('id="early_warning"', 'id="ew"'),
        ),
        ("credit_limit_review", "early_warning.dmn", "not xml at all"),
    ],
)
def test_a_garbage_policy_table_is_refused_at_deploy_naming_it(
    app: Flask, stem: str, name: str, text: str
) -> None:
    factory = app.extensions["creditflow"].rt.factory
    with factory() as session:
        before = session.scalar(select(func.count()).select_from(ProcessDefinition))
    now = app.extensions["creditflow"].clock()
    with transaction(factory) as session, pytest.raises(InvalidBundle) as refused:
        deploy_files(
            session, bundle_with(stem, name, text), build_operations(), deployed_by="owner1", now=now
        )
    assert name in str(refused.value), str(refused.value)[:300]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessDefinition)) == before


# --- GET /api/portfolio -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "grade=A&grade=B",
        "region=EU&region=UK",
        "sort=total&sort=name",
        "page=1&page=2",
        "tab=top&tab=key",
        "grade=Z",
        "sort=password",
        "dir=sideways",
        "key=maybe",
        "currency=eur",
        "page=0",
        "page=2147483648",
        "page=99999999999999999999999",
        "page=%C2%B2",
        "tab=top&top=0",
        "tab=top&top=" + "9" * 30,
        "region=" + "x" * 81,
        "industry=%00",
        "sales_owner=a%00b",
        "per_page=-1",
    ],
)
def test_hostile_api_portfolio_queries_are_a_4xx(app: Flask, demo_tokens: dict[str, str], query: str) -> None:
    add_customer(app, "Anything Ltd")
    answer = app.test_client().get(f"/api/portfolio?{query}", headers=auth(demo_tokens["manager1"]))
    assert 400 <= answer.status_code < 500, (query, answer.status_code)


def test_api_portfolio_wrong_groups_and_tokens(app: Flask, demo_tokens: dict[str, str]) -> None:
    client = app.test_client()
    for user in ("sales1", "collector1", "lead1", "finance1", "buyer1", "owner1", "legal1"):
        assert client.get("/api/portfolio", headers=auth(demo_tokens[user])).status_code == 403, user
    for header in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer \x00"}):
        assert client.get("/api/portfolio", headers=header).status_code == 401, header
    last = client.get("/api/portfolio?page=2147483647", headers=auth(demo_tokens["manager1"]))
    assert last.status_code == 200 and last.json["items"] == []


def test_a_hostile_name_in_the_weekly_summary_mail_is_text(app: Flask) -> None:
    ids = build_book(app)
    with transaction(wl_runtime(app).factory) as session:
        customer = session.get(Customer, ids["over_limit"])
        assert customer is not None
        customer.name = HOSTILE_NAME + "\r\nBcc: victim@example.com"
    summary = watchlist_run(wl_runtime(app), WL_TODAY, WL_NOW)
    with app.extensions["creditflow"].rt.factory() as session:
        mail = session.get(OutboxEmail, summary["summary_email"])
        assert mail is not None
        assert "<script>" not in mail.body_html and "<img" not in mail.body_html
        assert "&lt;/script&gt;" in mail.body_html
        assert "\n" not in mail.subject and "Bcc" not in mail.subject


@pytest.mark.parametrize("amount", ["5000.00", "1000.01", "0.01", "999999999999999.99"])
def test_a_promise_the_instance_cannot_take_leaves_no_contact_claiming_one(
    desk: Collections, amount: str
) -> None:
    customer, case_id = open_case(desk, "Overpromise Ltd", "1000.00")
    promised = desk.clock.now.date() + timedelta(days=5)
    body = {
        "kind": "call",
        "outcome": "promise",
        "promised_date": promised.isoformat(),
        "promised_amount": amount,
    }
    answer = post_contact(desk, case_id, body)
    assert answer.status_code in (201, 409, 422), (answer.status_code, answer.json)
    contacts, promises = counts(desk.client.application)
    if answer.status_code == 201:
        assert answer.json["promise_id"] is not None and (contacts, promises) == (1, 1)
        [promise] = desk.case(customer)["promises"]
        assert promise["id"] == answer.json["promise_id"] and promise["amount"] == amount
    else:
        assert (contacts, promises) == (0, 0)
    with desk.client.application.extensions["creditflow"].rt.factory() as session:
        errored = session.scalar(
            select(func.count()).select_from(ProcessInstance).where(ProcessInstance.status == "error")
        )
        assert errored == 0


def test_a_hostile_note_is_text_and_the_page_form_needs_its_csrf_token(desk: Collections) -> None:
    _, case_id = open_case(desk, "Notes Ltd")
    note = {"kind": "call", "outcome": "reached", "note": HOSTILE_NAME, "next_action": HOSTILE_NAME[:150]}
    assert post_contact(desk, case_id, note).status_code == 201
    web = logged_in(desk.client.application, "collector1")
    for path in (f"/collections/{case_id}", "/collections?due=all"):
        html = web.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, path
    # The page's form without (or with another session's) CSRF token writes nothing.
    form = {"kind": "call", "outcome": "reached", "note": "forged"}
    other = logged_in(desk.client.application, "collector1")
    for data in (form, {**form, "csrf_token": csrf_token(other, f"/collections/{case_id}")}):
        answer = web.post(f"/collections/{case_id}/contacts", data=data)
        assert answer.status_code == 400, answer.status_code
    # Another group's member on the page: refused, nothing written.
    for user in ("sales1", "auditor1", "manager1"):
        client = logged_in(desk.client.application, user)
        token = csrf_token(client, "/watchlist")
        answer = client.post(f"/collections/{case_id}/contacts", data={**form, "csrf_token": token})
        assert answer.status_code == 403, (user, answer.status_code)
    assert counts(desk.client.application) == (1, 0)


def due_case_ids(desk: Collections, user: str = "collector1") -> set[int]:
    answer = desk.client.get("/api/collections", headers=auth(desk.tokens[user]))
    assert answer.status_code == 200, answer.json
    return {row["case_id"] for row in answer.json["items"]}


def test_a_rejected_promise_does_not_hide_the_case_until_its_promised_date(desk: Collections) -> None:
    customer, case_id = open_case(desk, "Rejected Promise Ltd", "2000.00")
    assert case_id in due_case_ids(desk)
    promised = desk.clock.now.date() + timedelta(days=60)  # outside the ladder's limits: a manager decides
    body = {
        "kind": "call",
        "outcome": "promise",
        "promised_date": promised.isoformat(),
        "promised_amount": "2000.00",
    }
    assert post_contact(desk, case_id, body).status_code == 201
    [task] = [t for t in desk.open_tasks("manager1") if t["name"] == "approve_promise"]
    assert desk.complete("manager1", task["id"], decision="reject").status_code == 200
    case = desk.case(customer)
    assert (case["status"], case["promises"][0]["status"]) == ("open", "refused")
    # Dunning goes on, so the collector must see the case again now, not in 60 days.
    assert case_id in due_case_ids(desk)
    [row] = desk.client.get("/api/collections", headers=auth(desk.tokens["collector1"])).json["items"]
    assert row["next_action_date"] is None and "refused" in row["next_action"]


# --- key customers and deactivated people ------------------------------------------------------------------


def deactivate(app: Flask, username: str) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(update(User).where(User.username == username).values(active=False))


def test_a_deactivated_person_neither_owns_key_customers_nor_reads_the_cockpit(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    customer = add_customer(app, "Keyowner Ltd")
    client = app.test_client()
    manager = auth(demo_tokens["manager1"])
    deactivate(app, "analyst1")
    path = f"/api/customers/{customer}/key-customer"
    refused = client.post(path, json={"key_customer": True, "account_owner": "analyst1"}, headers=manager)
    assert refused.status_code == 422, refused.status_code
    for owner in ("nobody-at-all", "ANALYST1", "admin\u200b", "cli:root", "system"):
        answer = client.post(path, json={"key_customer": True, "account_owner": owner}, headers=manager)
        assert answer.status_code == 422, (owner, answer.status_code)
    with app.extensions["creditflow"].rt.factory() as session:
        stored = session.get(Customer, customer)
        assert stored is not None and (stored.key_customer, stored.account_owner) == (False, None)
    deactivate(app, "manager1")
    for route in ("/api/kpis", "/api/portfolio", "/api/watchlist", "/api/collections"):
        assert client.get(route, headers=manager).status_code == 401, route
    assert client.post(path, json={"key_customer": True}, headers=manager).status_code == 401


def test_a_promise_replaced_outside_the_contact_log_does_not_keep_the_old_date(desk: Collections) -> None:
    customer, case_id = open_case(desk, "Replaced Promise Ltd", "900.00")
    later = desk.clock.now.date() + timedelta(days=25)
    body = {
        "kind": "call",
        "outcome": "promise",
        "promised_date": later.isoformat(),
        "promised_amount": "900.00",
    }
    assert post_contact(desk, case_id, body).status_code == 201
    assert case_id not in due_case_ids(desk)
    sooner = desk.clock.now.date() + timedelta(days=2)
    message = {
        "name": "promise_to_pay",
        "correlation_key": str(customer),
        "data": {"promised_date": sooner.isoformat(), "amount": "900.00"},
    }
    sent = desk.client.post("/api/messages", json=message, headers=auth(desk.tokens["collector1"]))
    statuses = [p["status"] for p in desk.case(customer)["promises"]]
    assert sent.status_code == 200 and statuses == ["replaced", "open"], statuses
    # The newer promise (not logged here) decides: the collector must look now, not on the old date.
    assert case_id in due_case_ids(desk)


def test_the_managers_promise_task_has_its_subject(desk: Collections) -> None:
    _, case_id = open_case(desk, "Subject Matter Ltd", "2000.00")
    promised = desk.clock.now.date() + timedelta(days=60)
    body = {
        "kind": "call",
        "outcome": "promise",
        "promised_date": promised.isoformat(),
        "promised_amount": "2000.00",
    }
    assert post_contact(desk, case_id, body).status_code == 201
    [task] = [t for t in desk.open_tasks("manager1") if t["name"] == "approve_promise"]
    # The day as an English reader writes it ("2 May 2026"; the subject's day(), R21's F-1), no longer ISO.
    assert task["subject"] == f"Subject Matter Ltd: promise of €2,000.00 by {promised.day} {promised:%b %Y}"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page=2147483647", 200),
        ("page=2147483648", 400),
        ("page=0", 400),
        ("per_page=0", 400),
        ("page=%00", 400),
        ("page=1&page=2", 400),
        ("per_page=" + "9" * 40, 400),
    ],
)
def test_hostile_contact_log_pages(desk: Collections, query: str, status: int) -> None:
    _, case_id = open_case(desk, "Pager Ltd")
    answer = desk.client.get(
        f"/api/dunning-cases/{case_id}/contacts?{query}", headers=auth(desk.tokens["collector1"])
    )
    assert answer.status_code in ((400, 422) if status == 400 else (status,)), (query, answer.status_code)
    for path in ("/api/dunning-cases/0/contacts", "/api/dunning-cases/-1/contacts"):
        assert desk.client.get(path, headers=auth(desk.tokens["collector1"])).status_code == 404, path

"""The studio's preview over "a recent case, values hidden" (issue 18, review): a process owner who may read
no case of the process (owner1 of the demo is no analyst) still sees a shipped subject rendered, over the
newest case's keys, nesting and types with placeholders for its values, and nothing of the customer; an owner
who may read the case keeps the real data. A crafted case (deep, wide, huge) gives a bounded answer."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import IntEnum
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.test_browser import deploy_shipped
from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from workflows.definitions.hidden_values import MAX_DEPTH, MAX_KEYS, MAX_NODES, hidden
from workflows.store.db import transaction
from workflows.store.models import ProcessInstance
from workflows.users import add_user

ROOT = Path(__file__).resolve().parents[2]
TEXTS = "/definitions/credit_application/1/preview/texts"
TIMER = "/definitions/credit_application/1/preview/timer"
CUSTOMER = "Geheim Maschinenbau AG"


def _shipped_subject() -> str:
    """The analyst review's subject as shipped in bpmn/credit_application.bpmn (whatever its wording)."""
    xml = (ROOT / "bpmn" / "credit_application.bpmn").read_text(encoding="utf-8")
    task = xml[xml.index('id="review_application"') :]
    found = re.search(r"""name="subject" value=(['"])(.*?)\1""", task)
    assert found, "no subject on review_application"
    return html.unescape(found.group(2))


@pytest.fixture
def application(app: Flask, client: FlaskClient, demo_tokens: dict[str, str]) -> dict[str, Any]:
    deploy_shipped(app, "credit_application", "definition_approval")
    customer = client.post(
        "/api/customers",
        json={
            "name": CUSTOMER,
            "industry": "manufacturing",
            "founded_year": 1990,
            "annual_revenue": "50000000.00",
            "currency": "EUR",
        },
        headers=auth(demo_tokens["sales1"]),
    ).json
    data = {
        "customer_id": customer["id"],
        "requested_limit": 80_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Secret plans of " + CUSTOMER,
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "business_key": "HIDDEN-1", "data": data},
        headers=auth(demo_tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    return dict(started.json)


def _owner(app: Flask, *groups: str) -> tuple[FlaskClient, dict[str, str]]:
    if groups:
        svc = app.extensions["creditflow"]
        with transaction(svc.rt.factory) as session:
            add_user(session, "owner1", groups=list(groups), now=svc.clock())
    browser = logged_in(app, "owner1")
    return browser, {"X-CSRFToken": csrf_token(browser, "/definitions")}


def _studio(page: str) -> dict[str, Any]:
    found = re.search(r"data-studio='([^']*)'", page)
    assert found, "no data-studio on the edit page"
    return dict(json.loads(html.unescape(found.group(1))))


def test_an_owner_who_reads_no_case_previews_a_shipped_subject_with_values_hidden(
    app: Flask, application: dict[str, Any]
) -> None:
    browser, headers = _owner(app)  # the demo's owner1: a process owner, no analyst
    studio = _studio(browser.get("/definitions/credit_application/1/edit").get_data(as_text=True))
    assert studio["instances"] == [] and studio["hiddenValues"] is True  # the panel defaults to hidden
    body = {
        "hidden_values": True,
        "subject": _shipped_subject(),
        "instructions": "{{ credit_file.customer_name }} asks {{ requested_limit }} for "
        "{{ payment_terms_days }} days: {{ justification }}",
    }
    response = browser.post(TEXTS, json=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.json
    assert answer["subject"]["ok"], answer
    subject = answer["subject"]["text"]
    assert subject.startswith("‹customer_name›, ") and "0.00" in subject, subject
    assert answer["instructions"] == {
        "ok": True,
        "text": "‹customer_name› asks 0.00 for 0 days: ‹justification›",
    }
    assert CUSTOMER not in response.get_data(as_text=True) and "Secret" not in response.get_data(as_text=True)
    # The same case by its id stays the readers' (403), and the timer preview takes hidden values too.
    refused = browser.post(TEXTS, json={"instance_id": application["id"], "subject": "1"}, headers=headers)
    assert refused.status_code == 403
    timer = {
        "kind": "timeDuration",
        "expression": '"P" + str(payment_terms_days) + "D"',
        "start": "2027-01-12",
    }
    fires = browser.post(TIMER, json={**timer, "hidden_values": True}, headers=headers).json
    assert fires["fires"] == ["2027-01-12T00:00:00+00:00"]  # 0 days: the value is hidden, not the type
    both = browser.post(TEXTS, json={**body, "instance_id": application["id"]}, headers=headers)
    assert both.status_code == 400
    assert browser.post(TEXTS, json={**body, "hidden_values": "yes"}, headers=headers).status_code == 400


def test_an_owner_who_reads_the_case_keeps_the_real_data(app: Flask, application: dict[str, Any]) -> None:
    browser, headers = _owner(app, "credit_analyst")
    studio = _studio(browser.get("/definitions/credit_application/1/edit").get_data(as_text=True))
    assert [i["id"] for i in studio["instances"]] == [application["id"]]
    body = {"instance_id": application["id"], "subject": _shipped_subject()}
    real = browser.post(TEXTS, json=body, headers=headers).json
    assert real["subject"]["ok"] and real["subject"]["text"].startswith(CUSTOMER + ", "), real
    assert "80,000.00" in real["subject"]["text"]
    masked = browser.post(TEXTS, json={**body, "instance_id": None, "hidden_values": True}, headers=headers)
    assert masked.json["subject"]["text"].startswith("‹customer_name›, ")


@pytest.mark.usefixtures("demo_tokens")  # the demo's users
def test_hidden_values_of_no_case_is_no_data(app: Flask) -> None:
    deploy_shipped(app, "credit_application", "definition_approval")
    browser, headers = _owner(app)
    studio = _studio(browser.get("/definitions/credit_application/1/edit").get_data(as_text=True))
    assert studio["hiddenValues"] is False
    answer = browser.post(TEXTS, json={"hidden_values": True, "subject": "currency"}, headers=headers).json
    assert answer["subject"]["ok"] is False and "currency" in answer["subject"]["error"]


def test_a_crafted_case_gives_a_bounded_answer(app: Flask, application: dict[str, Any]) -> None:
    deep: Any = "bottom"
    for _level in range(300):  # what SQLite's JSON keeps; hidden() itself is tested deeper below
        deep = {"down": deep}
    hostile = {
        "deep": deep,
        "rows": [{"name": f"customer {i}", "amount": i} for i in range(100_000)],
        "wide": {f"field_{i}": "x" * 50 for i in range(20_000)},
        "by_person": {"Anna Secret": 1, "INV-2026-001": {"Bob Secret": "yes"}},
    }
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:  # the newest case: queued, so its data is what is stored
        first = session.get_one(ProcessInstance, application["id"])
        now = datetime.now(UTC)
        session.add(
            ProcessInstance(
                definition_id=first.definition_id,
                process_key="credit_application",
                version=1,
                business_key="HOSTILE",
                status="running",
                state="",
                data=hostile,
                started_by="sales1",
                started_at=now,
                updated_at=now,
            )
        )
    browser, headers = _owner(app)
    started = time.monotonic()
    body = {
        "hidden_values": True,
        "subject": "str(len(rows)) + ' ' + rows[0]['name'] + ' ' + str(len(wide))",
        "instructions": "{{ deep }}|{{ by_person }}",
    }
    response = browser.post(TEXTS, json=body, headers=headers)
    assert time.monotonic() - started < 20
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.json
    assert answer["subject"] == {"ok": True, "text": f"1 ‹name› {MAX_KEYS}"}
    shown = answer["instructions"]["text"]
    assert len(shown) < 2_000 and shown.count("down") == MAX_DEPTH, shown
    assert "Secret" not in response.get_data(as_text=True) and "INV" not in shown


def test_hidden_keeps_keys_nesting_and_types_only() -> None:
    data = {
        "customer_name": "Anna",
        "limit": Decimal("120000.50"),
        "days": 30,
        "level": IntEnum("Level", {"HIGH": 3}).HIGH,  # no member 0: still a plain 0
        "rate": 0.25,
        "approved": True,
        "decided": None,
        "due": date(2026, 12, 24),
        "at": datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
        "lines": [{"invoice": "INV-1", "open": Decimal("5.10")}, {"invoice": "INV-2", "open": Decimal("7")}],
        "pair": ("a", 1),
        "empty": [],
    }
    assert hidden(data) == {
        "customer_name": "‹customer_name›",
        "limit": Decimal("0.00"),
        "days": 0,
        "level": 0,
        "rate": 0.0,
        "approved": False,
        "decided": None,
        "due": date(2000, 1, 1),
        "at": datetime(2000, 1, 1, tzinfo=UTC),
        "lines": [{"invoice": "‹invoice›", "open": Decimal("0.00")}],
        "pair": ("‹pair›",),
        "empty": [],
    }
    deep: Any = 1
    for _level in range(50_000):  # far past Python's recursion limit: cut, not a RecursionError
        deep = [deep]
    many = hidden({"deep": deep, "wide": [{f"k{i}": [i] for i in range(10 * MAX_NODES)}]})
    assert len(many["wide"][0]) == MAX_KEYS
    assert len(json.dumps(many, default=str)) < 20 * MAX_NODES

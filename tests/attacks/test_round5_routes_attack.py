"""Hostile calls of the round-5 routes not covered elsewhere: POST/GET /api/credit-checks, GET/POST
/api/customers/ID/collateral, GET /api/disputes, /api/disputes/ID, /api/disputes/summary and GET
/api/credit-notes. Tokens (none, bad, a deactivated user's, each wrong group), crafted JSON (`__class__`,
a key twice, 100 levels of nesting, NUL and unpaired surrogates in each string field, 10**30, 1e400, "1e400",
999999999999.995, 3 places), crafted query strings (page and per_page at and past their ends, repeated and
unknown parameters, calendar ends, ids past BIGINT) and two writes at once. Each refusal writes nothing."""

from __future__ import annotations

import json
import threading
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from tests.collections_desk import Collections
from tests.helpers import auth, migrated_customer
from workflows.credit.order_tables import CreditCheck, Order
from workflows.credit.record_fields import convert_field
from workflows.store.db import transaction
from workflows.store.models import User

pytestmark = pytest.mark.usefixtures("shipped")

CUSTOMER = {
    "external_id": "C-R5",
    "name": "Round Five Ltd",
    "email": "ap@r5.example",
    "industry": "wholesale",
    "founded_year": 2001,
    "annual_revenue": "5000000.00",
    "currency": "EUR",
    "credit_limit": "100000.00",
}
CHECK = {"order_ref": "SO-R5-1", "amount": "100.00", "currency": "EUR"}
COLLATERAL = {"kind": "bank_guarantee", "value": "100000.00", "currency": "EUR", "expires_on": "2027-12-31"}
JSON = {"Content-Type": "application/json"}
# Every status the OpenAPI document names for these routes (401/400/413/405 are answered by every call).
DOCUMENTED = {
    "credit_check": {200, 400, 401, 403, 404, 409, 413, 422},
    "collateral": {201, 400, 401, 403, 404, 409, 413, 422},
    "read": {200, 400, 401, 403, 404, 422},
}


@pytest.fixture
def customer(app: Flask) -> int:
    return migrated_customer(app, CUSTOMER)


def rows(app: Flask) -> tuple[int, int]:
    with app.extensions["creditflow"].rt.factory() as session:
        return (
            session.scalar(select(func.count()).select_from(CreditCheck)) or 0,
            session.scalar(select(func.count()).select_from(Order)) or 0,
        )


def collateral_count(client: FlaskClient, tokens: dict[str, str], customer_id: int) -> int:
    listed = client.get(f"/api/customers/{customer_id}/collateral", headers=auth(tokens["auditor1"]))
    assert listed.status_code == 200, listed.json
    return len(listed.json["items"])


def deactivate(app: Flask, username: str) -> None:
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(update(User).where(User.username == username).values(active=False))


# --- tokens and groups -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Bearer nonsense", "Basic c2FsZXMxOnNhbGVz", "Bearer ", "bearer\x00x"]
)
def test_every_route_refuses_a_missing_or_bad_token_with_401(
    app: Flask, client: FlaskClient, customer: int, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, path, payload in [
        ("post", "/api/credit-checks", {"customer_id": customer, **CHECK}),
        ("get", "/api/credit-checks", None),
        ("get", f"/api/customers/{customer}/collateral", None),
        ("post", f"/api/customers/{customer}/collateral", COLLATERAL),
        ("get", "/api/disputes", None),
        ("get", "/api/disputes/1", None),
        ("get", "/api/disputes/summary", None),
        ("get", "/api/credit-notes", None),
    ]:
        response = getattr(client, method)(path, json=payload, headers=headers)
        assert response.status_code == 401, (method, path, response.status_code)
    assert rows(app) == (0, 0)


def test_a_deactivated_users_token_is_refused_everywhere(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    deactivate(app, "sales1")
    deactivate(app, "analyst1")
    sales, analyst = auth(demo_tokens["sales1"]), auth(demo_tokens["analyst1"])
    assert (
        client.post("/api/credit-checks", json={"customer_id": customer, **CHECK}, headers=sales).status_code
        == 401
    )
    assert client.get("/api/credit-checks", headers=sales).status_code == 401
    assert client.get("/api/disputes", headers=sales).status_code == 401
    assert client.get("/api/credit-notes", headers=sales).status_code == 401
    posted = client.post(f"/api/customers/{customer}/collateral", json=COLLATERAL, headers=analyst)
    assert posted.status_code == 401
    assert rows(app) == (0, 0)
    assert collateral_count(client, demo_tokens, customer) == 0


@pytest.mark.parametrize(
    "user", ["collector1", "legal1", "auditor1", "buyer1", "owner1", "lead1", "logistics1", "pm1", "cfo1"]
)
def test_no_other_group_checks_an_order(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int, user: str
) -> None:
    response = client.post(
        "/api/credit-checks", json={"customer_id": customer, **CHECK}, headers=auth(demo_tokens[user])
    )
    assert response.status_code == 403, response.json
    assert user in response.json["error"]["message"]
    assert rows(app) == (0, 0)


@pytest.mark.parametrize(
    "user", ["sales1", "collector1", "legal1", "finance1", "auditor1", "buyer1", "owner1", "lead1", "pm1"]
)
def test_no_group_outside_credit_records_collateral(
    client: FlaskClient, demo_tokens: dict[str, str], customer: int, user: str
) -> None:
    response = client.post(
        f"/api/customers/{customer}/collateral", json=COLLATERAL, headers=auth(demo_tokens[user])
    )
    assert response.status_code == 403, response.json
    assert collateral_count(client, demo_tokens, customer) == 0


@pytest.mark.parametrize("user", ["owner1", "pm1", "lead1", "logistics1"])
def test_groups_outside_the_customer_staff_read_no_checks_or_collateral(
    client: FlaskClient, demo_tokens: dict[str, str], customer: int, user: str
) -> None:
    token = auth(demo_tokens[user])
    assert client.get("/api/credit-checks", headers=token).status_code == 403
    assert client.get(f"/api/customers/{customer}/collateral", headers=token).status_code == 403


@pytest.mark.parametrize("user", ["owner1", "pm1"])
def test_groups_outside_the_dispute_staff_read_no_disputes_or_credit_notes(
    client: FlaskClient, demo_tokens: dict[str, str], user: str
) -> None:
    token = auth(demo_tokens[user])
    for path in ("/api/disputes", "/api/disputes/1", "/api/disputes/summary", "/api/credit-notes"):
        assert client.get(path, headers=token).status_code == 403, path


# --- crafted JSON ----------------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


HEAD = '{"customer_id": %d, "order_ref": "SO-1", '
CRAFTED_RAW = {
    "class_key": HEAD + '"amount": "1.00", "currency": "EUR", "__class__": "X"}',
    "typename_key": HEAD + '"amount": "1.00", "currency": "EUR", "typename": "X"}',
    "key_twice": HEAD + '"amount": "1.00", "amount": "999999.00", "currency": "EUR"}',
    "deep": HEAD + '"amount": "1.00", "currency": "EUR", "x": ' + nested(100) + "}",
    "int_10_30": HEAD + '"amount": 1000000000000000000000000000000, "currency": "EUR"}',
    "float_1e400": HEAD + '"amount": 1e400, "currency": "EUR"}',
    "string_1e400": HEAD + '"amount": "1e400", "currency": "EUR"}',
    "half_cent": HEAD + '"amount": 999999999999.995, "currency": "EUR"}',
    "three_places_number": HEAD + '"amount": 1.005, "currency": "EUR"}',
    "negative_number": HEAD + '"amount": -1, "currency": "EUR"}',
    "negative_zero": HEAD + '"amount": "-0.00", "currency": "EUR"}',
    "nul_currency": HEAD + '"amount": "1.00", "currency": "EU\\u0000"}',
    "surrogate_currency": HEAD + '"amount": "1.00", "currency": "\\udc00UR"}',
    "nul_amount": HEAD + '"amount": "1.00\\u0000", "currency": "EUR"}',
    "surrogate_amount": HEAD + '"amount": "\\ud83d1.00", "currency": "EUR"}',
    "nul_key": HEAD + '"amount": "1.00", "currency": "EUR", "x\\u0000": 1}',
    "array_ref": '{"customer_id": %d, "order_ref": ["SO-1"], "amount": "1.00", "currency": "EUR"}',
    "object_currency": HEAD + '"amount": "1.00", "currency": {"code": "EUR"}}',
    "float_customer": '{"customer_id": %d.0, "order_ref": "SO-1", "amount": "1.00", "currency": "EUR"}',
    "zero_customer": '{"customer_id": 0, "order_ref": "SO-1", "amount": "1.00", "currency": "EUR", "n": %d}',
    "string_body": '"customer %d"',
}


@pytest.mark.parametrize("name", sorted(CRAFTED_RAW))
def test_a_crafted_credit_check_is_a_4xx_and_writes_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int, name: str
) -> None:
    raw = CRAFTED_RAW[name] % customer
    response = client.post("/api/credit-checks", data=raw, headers=auth(demo_tokens["sales1"]) | JSON)
    assert response.status_code in (400, 422), (name, response.status_code, response.get_data(as_text=True))
    assert response.json["error"]["message"]
    assert rows(app) == (0, 0)


COLLATERAL_RAW = {
    "class_key": {**COLLATERAL, "__class__": "Collateral"},
    "typename_key": {**COLLATERAL, "typename": "Collateral"},
    "int_10_30": {**COLLATERAL, "value": 10**30},
    "string_1e400": {**COLLATERAL, "value": "1e400"},
    "three_places": {**COLLATERAL, "value": "100.005"},
    "zero": {**COLLATERAL, "value": 0},
    "negative": {**COLLATERAL, "value": -100},
    "expiry_9999": {**COLLATERAL, "expires_on": "9999-12-32"},
    "expiry_year_1": {**COLLATERAL, "expires_on": "0001-01-01"},
    # broke: the JSON number 20271231 was stored as 2027-12-31 (str() then date.fromisoformat, which in 3.11
    # also reads the basic and week forms); the contract's day is the text YYYY-MM-DD.
    "expiry_number": {**COLLATERAL, "expires_on": 20271231},
    "expiry_basic_form": {**COLLATERAL, "expires_on": "20271231"},
    "expiry_week_form": {**COLLATERAL, "expires_on": "2027-W52-5"},
    "kind_list": {**COLLATERAL, "kind": ["bank_guarantee"]},
    "kind_surrogate": {**COLLATERAL, "kind": "bank_guarantee\ud800"},
    "currency_surrogate": {**COLLATERAL, "currency": "EU\udfff"},
    "expiry_nul": {**COLLATERAL, "expires_on": "2027-12-31\x00"},
    "expiry_surrogate": {**COLLATERAL, "expires_on": "2027-12-3\ud800"},
    "provider_surrogate": {**COLLATERAL, "provider": "Bank \ud800"},
    "provider_object": {**COLLATERAL, "provider": {"name": "Bank"}},
}


def _raw_json(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=True)


@pytest.mark.parametrize("name", sorted(COLLATERAL_RAW) + ["key_twice", "deep", "float_1e400", "half_cent"])
def test_a_crafted_collateral_is_a_4xx_and_stores_nothing(
    client: FlaskClient, demo_tokens: dict[str, str], customer: int, name: str
) -> None:
    if name in COLLATERAL_RAW:
        raw = _raw_json(COLLATERAL_RAW[name])
    else:
        head = '{"kind": "bank_guarantee", "currency": "EUR", "expires_on": "2027-12-31", '
        raw = (
            head
            + {
                "key_twice": '"value": "1.00", "value": "999999999.00"}',
                "deep": '"value": "1.00", "x": ' + nested(100) + "}",
                "float_1e400": '"value": 1e400}',
                "half_cent": '"value": 999999999999.995}',
            }[name]
        )
    response = client.post(
        f"/api/customers/{customer}/collateral", data=raw, headers=auth(demo_tokens["analyst1"]) | JSON
    )
    assert response.status_code in (400, 422), (name, response.status_code, response.get_data(as_text=True))
    assert collateral_count(client, demo_tokens, customer) == 0


def test_collateral_for_an_id_past_bigint_is_404_for_both_methods(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    token = auth(demo_tokens["analyst1"])
    for cid in (2**63, 10**30, 0):
        assert client.get(f"/api/customers/{cid}/collateral", headers=token).status_code == 404
        assert (
            client.post(f"/api/customers/{cid}/collateral", json=COLLATERAL, headers=token).status_code == 404
        )


# --- query strings ---------------------------------------------------------------------------------------

LISTS = ["/api/credit-checks", "/api/disputes", "/api/credit-notes"]
BAD_QUERIES = [
    "page=0",
    "page=-1",
    f"page={10**30}",
    "per_page=0",
    "per_page=-5",
    "page=1.5",
    "page=1e3",
    "page=%00",
    f"customer_id={2**63}",
    "customer_id=0",
    "customer_id=-1",
    "customer_id=%EF%BF%BF",
    "customer_id=1&customer_id=abc",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("query", BAD_QUERIES)
def test_a_crafted_list_query_is_a_documented_4xx(
    client: FlaskClient, demo_tokens: dict[str, str], path: str, query: str
) -> None:
    response = client.get(f"{path}?{query}", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code in (400, 422), (
        path,
        query,
        response.status_code,
        response.get_data(as_text=True),
    )
    assert response.json["error"]["message"]


@pytest.mark.parametrize("path", LISTS)
def test_a_huge_page_size_is_cut_to_200_and_said_so(
    client: FlaskClient, demo_tokens: dict[str, str], path: str
) -> None:
    response = client.get(f"{path}?per_page=100000&unknown=1&page=1", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == 200, response.json
    assert response.json["per_page"] == 200 and response.json["page"] == 1


def test_another_customers_checks_do_not_appear_under_a_customer_filter(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    other = migrated_customer(app, {**CUSTOMER, "external_id": "C-R5-2", "name": "Other Five Ltd"})
    token = auth(demo_tokens["sales1"])
    for cid, ref in ((customer, "SO-MINE"), (other, "SO-THEIRS")):
        posted = client.post(
            "/api/credit-checks", json={**CHECK, "customer_id": cid, "order_ref": ref}, headers=token
        )
        assert posted.status_code == 200, posted.json
    listed = client.get(f"/api/credit-checks?customer_id={customer}", headers=auth(demo_tokens["auditor1"]))
    assert [c["order_ref"] for c in listed.json["items"]] == ["SO-MINE"] and listed.json["total"] == 1
    # A repeated customer_id must not widen the filter to both customers.
    both = client.get(
        f"/api/credit-checks?customer_id={customer}&customer_id={other}",
        headers=auth(demo_tokens["auditor1"]),
    )
    assert both.status_code == 400 and "customer_id" in both.json["error"]["message"]
    for result, status in (("approved%00", 400), ("approved_by_me", 400), ("APPROVED", 400)):
        bogus = client.get(f"/api/credit-checks?result={result}", headers=auth(demo_tokens["auditor1"]))
        assert bogus.status_code == status, (result, bogus.json)


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-12-31&to=2026-01-01",
        "from=0001-01-01&to=9999-12-31",
        "from=0001-01-01&to=0001-01-01",
        "from=9999-12-31&to=9999-12-31",
        "to=0001-01-01",
        "to=0001-02-01",
        "from=9999-12-31",
        "from=2026-02-30",
        "from=%00",
        "from=2026-01-01&from=2027-01-01",
        "to=10000-01-01",
        "from=-2026-01-01",
    ],
)
def test_a_crafted_summary_period_is_a_200_or_a_4xx(
    client: FlaskClient, demo_tokens: dict[str, str], query: str
) -> None:
    response = client.get(f"/api/disputes/summary?{query}", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code in (200, 400, 422), (
        query,
        response.status_code,
        response.get_data(as_text=True),
    )
    if response.status_code == 200:
        assert response.json["from"] <= response.json["to"]


@pytest.mark.parametrize("dispute_id", ["0", str(2**63), str(10**30), "-1", "1.0", "%00"])
def test_one_dispute_by_a_crafted_id_is_404(
    client: FlaskClient, demo_tokens: dict[str, str], dispute_id: str
) -> None:
    response = client.get(f"/api/disputes/{dispute_id}", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == (400 if dispute_id == "%00" else 404), response.get_data(as_text=True)


@pytest.mark.parametrize("status", ["open\x00", "OPEN", "x" * 21, "open&status=closed", "%ud800"])
def test_a_crafted_dispute_status_is_a_4xx(
    client: FlaskClient, demo_tokens: dict[str, str], status: str
) -> None:
    response = client.get(
        "/api/disputes", query_string={"status": status}, headers=auth(demo_tokens["auditor1"])
    )
    assert response.status_code in (400, 422), response.get_data(as_text=True)


# --- two writes at once ----------------------------------------------------------------------------------


def at_once(app: Flask, n: int, send: Any) -> list[Any]:
    start = threading.Barrier(n)
    answers: list[Any] = []

    def run() -> None:
        client = app.test_client()
        start.wait()
        answers.append(send(client))

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_the_same_approved_order_checked_twice_at_once_is_one_order(
    app: Flask, demo_tokens: dict[str, str], customer: int
) -> None:
    token = auth(demo_tokens["sales1"])
    answers = at_once(
        app, 2, lambda c: c.post("/api/credit-checks", json={"customer_id": customer, **CHECK}, headers=token)
    )
    assert [a.status_code for a in answers] == [200, 200], [a.get_data(as_text=True) for a in answers]
    assert {a.json["result"] for a in answers} == {"approved"}
    assert rows(app) == (2, 1)


def test_the_same_collateral_posted_twice_at_once_counts_once(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int
) -> None:
    """Twice the same bank guarantee (kind, provider, reference) at once: one row, the other a 409; two rows
    would double its cover in the scorecard."""
    token = auth(demo_tokens["analyst1"])
    body = {**COLLATERAL, "provider": "Hausbank AG", "reference": "BG-2027-0042"}
    answers = at_once(
        app, 2, lambda c: c.post(f"/api/customers/{customer}/collateral", json=body, headers=token)
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.get_data(as_text=True) for a in answers]
    assert collateral_count(client, demo_tokens, customer) == 1


@pytest.mark.parametrize(
    "value", [20271231, "20271231", "2027-W52-5", "2027W525", 2027.12, True, " 2027-12-31x"]
)
def test_every_record_date_is_the_text_yyyy_mm_dd(value: Any) -> None:
    """The same rule for the customer's, the contract's and the collateral's days (one converter)."""
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        convert_field("date", value, date(2026, 3, 2))
    assert convert_field("date", " 2027-12-31 ", date(2026, 3, 2)) == date(2027, 12, 31)
    assert convert_field("date", date(2027, 12, 31), date(2026, 3, 2)) == date(2027, 12, 31)


@pytest.mark.parametrize("currency", ["CHF", "XXX"])
def test_an_order_in_a_currency_without_a_rate_is_held_for_a_person_not_guessed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int, currency: str
) -> None:
    body = {**CHECK, "customer_id": customer, "currency": currency}
    response = client.post("/api/credit-checks", json=body, headers=auth(demo_tokens["sales1"]))
    assert response.status_code == 200, response.json
    assert response.json["result"] != "approved" and "no exchange rate" in response.json["reason"]
    assert response.json["release_instance_id"] is not None
    assert rows(app) == (1, 1)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("customer_id=1&order_ref=SO-1&amount=1.00&currency=EUR", "application/x-www-form-urlencoded"),
        ("", "application/json"),
        ("null", "application/json"),
        ("x" * (3 * 1024 * 1024), "application/json"),
    ],
    ids=["form", "empty", "null", "over_the_size_limit"],
)
def test_a_check_not_sent_as_a_json_object_is_a_documented_4xx(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], customer: int, data: str, content_type: str
) -> None:
    headers = auth(demo_tokens["sales1"]) | {"Content-Type": content_type}
    response = client.post("/api/credit-checks", data=data, headers=headers)
    assert response.status_code in (400, 413, 415, 422), response.get_data(as_text=True)[:300]
    assert rows(app) == (0, 0)


@pytest.mark.parametrize("path", [*LISTS, "/api/disputes?status=open"])
def test_the_last_page_there_may_be_is_an_empty_page_not_an_overflow(
    client: FlaskClient, demo_tokens: dict[str, str], customer: int, path: str
) -> None:
    """page 2**31-1 at 200 a page is an OFFSET near 2**38: inside BIGINT on PostgreSQL and SQLite."""
    joiner = "&" if "?" in path else "?"
    url = f"{path}{joiner}page={2**31 - 1}&per_page=200&customer_id={customer}"
    response = client.get(url, headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["items"] == [] and response.json["page"] == 2**31 - 1
    assert (
        client.get(
            url.replace(f"page={2**31 - 1}", f"page={2**31}"), headers=auth(demo_tokens["auditor1"])
        ).status_code
        == 400
    )


def test_a_customer_filter_shows_no_other_customers_dispute_and_a_repeat_cannot_widen_it(
    desk: Collections,
) -> None:
    mine, theirs = desk.customer("Filter Mine"), desk.customer("Filter Theirs")
    desk.invoice(mine, "INV-R5-M", "500.00")
    desk.invoice(theirs, "INV-R5-T", "700.00")
    for cid, number in ((mine, "INV-R5-M"), (theirs, "INV-R5-T")):
        line = {"number": number, "amount": "100.00", "reason": "price"}
        data = {"customer_id": cid, "invoices": [line], "owner_group": "sales"}
        body = {"process_key": "dispute_resolution", "data": data}
        started = desk.client.post(
            "/api/process-instances", json=body, headers=auth(desk.tokens["collector1"])
        )
        assert started.status_code == 201, started.json
    token = auth(
        desk.tokens["buyer1"]
    )  # procurement reads customers, so disputes: but only the one asked for
    listed = desk.client.get(f"/api/disputes?customer_id={mine}", headers=token)
    assert listed.status_code == 200 and listed.json["total"] == 1
    [item] = listed.json["items"]
    assert item["customer_id"] == mine and [i["number"] for i in item["invoices"]] == ["INV-R5-M"]
    assert (
        desk.client.get(f"/api/disputes?customer_id={mine}&customer_id={theirs}", headers=token).status_code
        == 400
    )
    notes = desk.client.get(f"/api/credit-notes?customer_id={mine}", headers=token)
    assert notes.status_code == 200 and notes.json["items"] == []
    summary = desk.client.get("/api/disputes/summary?from=2020-01-01&to=2029-12-31", headers=token)
    assert summary.status_code == 200 and summary.json["total_count"] == 2
    assert summary.json["total_amount"] == "200.00"

"""No 500 for bad input: each case below answered 500 once; now it is a 4xx with the contract's JSON error
(or, for the web pages, a safe redirect or an error page)."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth
from tests.webui.test_pages import csrf_token, logged_in
from webui import create_app
from webui.input_checks import MAX_ID, MAX_JSON_DEPTH
from workflows.settings import Settings

pytestmark = pytest.mark.usefixtures("shipped")

BIG = 2**63  # one past BIGINT: SQLite raises OverflowError, PostgreSQL "bigint out of range"
PAST_INTEGER = 2**31  # ids are INTEGER columns: PostgreSQL says "integer out of range"
CUSTOMER = {"name": "Huge Amounts Ltd", "email": "ap@huge.example", "currency": "EUR"}


def error_of(response: Any, status: int) -> dict[str, str]:
    """The contract's error object, after checking the status and the shape."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = response.json["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    return dict(error)


def customer_id(client: FlaskClient, tokens: dict[str, str]) -> int:
    response = client.post("/api/customers", json=CUSTOMER, headers=auth(tokens["sales1"]))
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def invoice(customer: int, amount: Any) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "number": "INV-HUGE",
        "amount": amount,
        "currency": "EUR",
        "issue_date": "2026-03-01",
        "due_date": "2026-03-31",
    }


def raw_post(client: FlaskClient, path: str, body: bytes, token: str) -> Any:
    return client.post(path, data=body, content_type="application/json", headers=auth(token))


def api_rules(app: Flask) -> Iterator[tuple[str, str]]:
    """(method, rule) of every API route except the documentation's."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield method, rule.rule


# --- amounts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", ['"1e30"', "1e400", '"1e400"', '"99999999999999999999"', '"Infinity"'])
def test_huge_amounts_of_customers_invoices_and_payments_are_422_naming_the_field(
    client: FlaskClient, demo_tokens: dict[str, str], amount: str
) -> None:
    customer = customer_id(client, demo_tokens)
    dates = '"issue_date": "2026-03-01", "due_date": "2026-03-31"'
    for path, token, body in [
        ("/api/customers", "sales1", '{"name": "X", "currency": "EUR", "current_ratio": AMOUNT}'),
        ("/api/customers", "sales1", '{"name": "X", "currency": "EUR", "annual_revenue": AMOUNT}'),
        (
            "/api/invoices",
            "finance1",
            f'{{"customer_id": {customer}, "number": "N1", "amount": AMOUNT, "currency": "EUR", {dates}}}',
        ),
        (
            "/api/payments",
            "finance1",
            f'{{"customer_id": {customer}, "amount": AMOUNT, "currency": "EUR", "date": "2026-03-01"}}',
        ),
    ]:
        response = raw_post(client, path, body.replace("AMOUNT", amount).encode(), demo_tokens[token])
        error = error_of(response, 422)
        assert error["code"] == "invalid"
        assert set(error["fields"]) in ({"current_ratio"}, {"annual_revenue"}, {"amount"}), error


def test_the_largest_amount_is_stored_and_read_back_exactly(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    customer = customer_id(client, demo_tokens)
    body = invoice(customer, "999999999999999.99")
    response = client.post("/api/invoices", json=body, headers=auth(demo_tokens["finance1"]))
    assert response.status_code == 201, response.json
    assert response.json["amount"] == "999999999999999.99"
    again = client.post(
        "/api/invoices",
        json={**body, "number": "N2", "amount": "1000000000000000.00"},
        headers=auth(demo_tokens["finance1"]),
    )
    assert error_of(again, 422)["fields"] == {"amount": "At most 999999999999999.99."}


# --- ids and page numbers beyond 64 bits -----------------------------------------------------------------


def test_path_ids_at_or_above_2_63_are_404_on_every_route(app: Flask, demo_tokens: dict[str, str]) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for value in (PAST_INTEGER, BIG, 2**64, 10**30, 0):
                path = re.sub(r"<int:\w+>", str(value), rule.rule)
                response = client.open(path, method=method, headers=auth(demo_tokens["admin"]), json={})
                # No route matches (404), or one does for another method (405): no query runs either way.
                assert response.status_code in (404, 405), (method, path, response.status_code)
                checked += 1
    assert checked > 40  # the API's and the web pages' id routes


def test_the_largest_id_is_an_ordinary_not_found(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    for path in (
        "/api/customers",
        "/api/tasks",
        "/api/process-instances",
        "/api/suppliers",
        "/api/contracts",
    ):
        response = client.get(f"{path}/{MAX_ID}", headers=auth(demo_tokens["admin"]))
        assert error_of(response, 404)["code"] == "not_found", path


@pytest.mark.parametrize("parameter", ["page", "per_page", "customer_id", "supplier_id"])
def test_query_numbers_at_or_above_2_63_are_400_on_every_list(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], parameter: str
) -> None:
    lists = [rule for method, rule in api_rules(app) if method == "GET" and "<" not in rule]
    answered_400 = []
    for path in lists:
        for value in (str(PAST_INTEGER), str(BIG), "1" + "0" * 40, "-" + str(BIG + 1)):
            response = client.get(f"{path}?{parameter}={value}", headers=auth(demo_tokens["admin"]))
            assert response.status_code < 500, (path, value, response.get_data(as_text=True)[:300])
            if response.status_code == 400:
                answered_400.append(path)
                assert parameter in response.json["error"]["message"]
    # Every list with paging reads page and per_page; the others ignore parameters they do not have.
    if parameter in ("page", "per_page"):
        assert {"/api/customers", "/api/tasks", "/api/emails", "/api/invoices"} <= set(answered_400)


def test_huge_page_numbers_below_2_63_do_not_overflow_the_offset(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # (page - 1) * per_page would pass BIGINT in an OFFSET: the page number itself is bounded.
    response = client.get(f"/api/customers?page={2**62}&per_page=200", headers=auth(demo_tokens["admin"]))
    assert "page" in error_of(response, 400)["message"]
    last = client.get(f"/api/customers?page={2**31 - 1}&per_page=200", headers=auth(demo_tokens["admin"]))
    assert last.status_code == 200 and last.json["items"] == []


def test_json_integers_beyond_64_bits_are_400(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    body = b'{"customer_id": %d, "number": "N", "amount": "1.00", "currency": "EUR"}' % BIG
    error = error_of(raw_post(client, "/api/invoices", body, demo_tokens["finance1"]), 400)
    assert "customer_id" in error["message"] and "64 bits" in error["message"]


def test_json_ids_beyond_integer_are_422_naming_the_field(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for path, user, body in [
        ("/api/invoices", "finance1", invoice(PAST_INTEGER, "1.00")),
        ("/api/payments", "finance1", {"customer_id": PAST_INTEGER, "amount": "1.00", "currency": "EUR"}),
        ("/api/contracts", "buyer1", {"supplier_id": str(PAST_INTEGER), "number": "C-1", "value": "1.00"}),
    ]:
        response = client.post(path, json=body, headers=auth(demo_tokens[user]))
        assert set(error_of(response, 422)["fields"]) >= {
            "customer_id" if "supplier_id" not in body else "supplier_id"
        }


def test_web_page_numbers_that_are_not_ascii_digits_show_the_first_page(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    analyst = logged_in(app, "analyst1")
    for page in ("²", "١", str(BIG), "-1", "1" * 5000):
        assert analyst.get(f"/inbox?page={page}").status_code == 200, page
        assert analyst.get(f"/customers?page={page}").status_code == 200, page


def test_start_form_prefill_with_an_odd_customer_id_is_ignored(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    sales = logged_in(app, "sales1")
    for value in ("²", str(BIG), "0", "1" * 5000):
        assert sales.get(f"/start/credit_application?customer_id={value}").status_code == 200, value


# --- nesting and size ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000],
    ids=["arrays", "objects"],
)
def test_json_nested_100000_levels_is_400_on_every_json_route(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], body: bytes
) -> None:
    # Claim, unclaim and retry take no body; deploying, validating and a what-if take multipart files.
    bodiless = ("claim", "unclaim", "retry", "process-definitions", "what-if", "definitions/validate")
    posts = [rule for method, rule in api_rules(app) if method == "POST" and not rule.endswith(bodiless)]
    assert len(posts) >= 10
    for rule in posts:
        path = re.sub(r"<int:\w+>", "1", rule)
        error = error_of(raw_post(client, path, body, demo_tokens["admin"]), 400)
        assert "nested" in error["message"], (path, error)


def test_json_nesting_is_allowed_up_to_the_limit(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    def nested(depth: int) -> bytes:
        return b'{"name": "x", "correlation_key": "none", "data": ' + b"[" * depth + b"]" * depth + b"}"

    ok = raw_post(client, "/api/messages", nested(MAX_JSON_DEPTH - 2), demo_tokens["admin"])
    assert ok.status_code != 400 or "nested" not in ok.json["error"]["message"]
    too_deep = raw_post(client, "/api/messages", nested(MAX_JSON_DEPTH), demo_tokens["admin"])
    assert "$.data" in error_of(too_deep, 400)["message"]


def test_a_body_over_the_size_limit_is_413(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"name": "' + b"x" * limit + b'"}'
    assert error_of(raw_post(client, "/api/customers", body, demo_tokens["sales1"]), 413)["code"]


# --- text no database stores ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [r"\ud800", r"a\u0000b", r"\udfff tail"], ids=["high", "nul", "low"])
def test_unpaired_surrogates_and_nul_in_json_strings_are_400(
    client: FlaskClient, demo_tokens: dict[str, str], text: str
) -> None:
    cases = [
        ("/api/customers", "sales1", '{"name": "%s", "currency": "EUR"}'),
        ("/api/process-instances", "sales1", '{"process_key": "%s", "data": {}}'),
        ("/api/messages", "collector1", '{"name": "dispute", "correlation_key": "%s", "data": {}}'),
        ("/api/messages", "collector1", '{"name": "dispute", "correlation_key": "1", "data": {"x": ["%s"]}}'),
        ("/api/messages", "collector1", '{"name": "dispute", "correlation_key": "1", "data": {"%s": 1}}'),
        ("/api/suppliers", "buyer1", '{"name": "%s", "currency": "EUR"}'),
    ]
    for path, user, template in cases:
        response = raw_post(client, path, (template % text).encode(), demo_tokens[user])
        error = error_of(response, 400)
        assert "NUL" in error["message"] or "surrogate" in error["message"], (path, error)


def test_nul_in_query_parameters_is_400(app: Flask, client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    for _, rule in api_rules(app):
        if "<" in rule:
            continue
        response = client.get(f"{rule}?q=a%00b&status=%00", headers=auth(demo_tokens["admin"]))
        assert response.status_code in (400, 405), rule
        if response.status_code == 400:
            assert "NUL" in response.json["error"]["message"]


def test_nul_in_web_form_posts_is_400(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = app.test_client()
    token = csrf_token(browser)
    response = browser.post(
        "/login", data={"username": "sales1\x00", "password": "demo", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


def test_nul_in_an_uploaded_file_name_is_400(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    from io import BytesIO

    response = client.post(
        "/api/process-definitions",
        data={"files": [(BytesIO(b"<x/>"), "a\x00.bpmn")]},
        headers=auth(demo_tokens["owner1"]),
        content_type="multipart/form-data",
    )
    assert "NUL" in error_of(response, 400)["message"]


@pytest.mark.parametrize(
    ("changes", "says"),
    [("[" * 100_000 + "]" * 100_000, "nested"), ('{"price": "\\u0000"}', "NUL"), ('{"x": 1e99999}', "")],
    ids=["deep", "nul", "huge"],
)
def test_start_form_json_fields_are_checked_like_api_bodies(
    app: Flask, demo_tokens: dict[str, str], changes: str, says: str
) -> None:
    buyer = logged_in(app, "buyer1")
    token = csrf_token(buyer, "/start/supplier_contract_change")
    form = {
        "csrf_token": token,
        "contract_id": "1",
        "change_type": "price",
        "changes": changes,
        "reason": "r",
    }
    response = buyer.post("/start/supplier_contract_change", data=form)
    assert response.status_code == 422, response.status_code
    assert says in response.get_data(as_text=True)


# --- login redirect ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%0A/evil.example",
        "/%0D%0ALocation:%20http://evil.example",
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%00/x",
    ],
)
def test_login_next_never_leaves_the_site_nor_fails(
    app: Flask, demo_tokens: dict[str, str], target: str
) -> None:
    browser = app.test_client()
    token = csrf_token(browser)
    response = browser.post(
        f"/login?next={target}", data={"username": "analyst1", "password": "demo", "csrf_token": token}
    )
    if "%00" in target:
        assert response.status_code == 400
        return
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"] == "/inbox"


def test_login_next_on_this_site_is_followed(app: Flask, demo_tokens: dict[str, str]) -> None:
    browser = app.test_client()
    token = csrf_token(browser)
    response = browser.post(
        "/login?next=/customers%3Fq%3Dacme",
        data={"username": "analyst1", "password": "demo", "csrf_token": token},
    )
    assert (response.status_code, response.headers["Location"]) == (302, "/customers?q=acme")


# --- a locked database ---------------------------------------------------------------------------------


@pytest.fixture
def impatient_app(settings: Settings) -> Iterator[Flask]:
    """The app with a one-second busy timeout, so a held lock shows quickly."""
    if not settings.database.url.startswith("sqlite"):
        pytest.skip("holds SQLite's write lock; PostgreSQL waits on row locks instead")
    quick = dataclasses.replace(settings, database=dataclasses.replace(settings.database, busy_timeout_s=1))
    application = create_app(quick)
    application.config["TESTING"] = True
    yield application
    application.extensions["creditflow"].engine.dispose()


def test_database_is_locked_is_503_with_retry_after(
    impatient_app: Flask, settings: Settings, demo_tokens: dict[str, str]
) -> None:
    client = impatient_app.test_client()
    path = settings.database.url.split(":///", 1)[1]
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock past our busy timeout
        response = client.post("/api/customers", json=CUSTOMER, headers=auth(demo_tokens["sales1"]))
        other.execute("ROLLBACK")
    error = error_of(response, 503)
    assert error["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0
    retried = client.post("/api/customers", json=CUSTOMER, headers=auth(demo_tokens["sales1"]))
    assert retried.status_code == 201


# --- no token, the wrong group, the wrong content type ----------------------------------------------------


def concrete(rule: str) -> str:
    """The rule with id 1 for every `<int:...>` (the demo data's first records) and a shipped process for
    `<key>`."""
    return re.sub(r"<int:\w+>", "1", rule).replace("<key>", "credit_application")


def test_every_api_call_without_a_valid_token_is_401(app: Flask, client: FlaskClient) -> None:
    public = {"/api/health", "/api/openapi.json", "/api/docs"}
    for method, rule in api_rules(app):
        if rule in public:
            continue
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YTpi"}):
            response = client.open(concrete(rule), method=method, headers=headers, json={})
            assert error_of(response, 401)["code"] == "unauthorized", (method, rule, headers)


def test_an_auditor_reads_but_every_write_is_refused(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    from workflows.cli.demo import seed_demo, start_demo_cases
    from workflows.store.db import transaction

    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        seed_demo(session, svc.clock())
    start_demo_cases(svc.rt, svc.clock())
    for method, rule in api_rules(app):
        if rule.endswith("/unclaim"):
            continue  # see the next test
        response = client.open(concrete(rule), method=method, headers=auth(demo_tokens["auditor1"]), json={})
        if method == "GET":
            # Lists and files: 200; a task of another group is 403 even to an auditor; the provision
            # snapshot is 404 until a month end's run posted one (this seed posts none).
            expected = (200, 403, 404) if rule == "/api/provisions" else (200, 403)
            assert response.status_code in expected, (rule, response.status_code)
        else:
            # 403, or 404 when the record is out of the auditor's sight, or 400/422 for an empty body
            # checked before the rights (which process? which message?): never a write, never a 5xx.
            assert response.status_code in (400, 403, 404, 422), (
                method,
                rule,
                response.get_data(as_text=True),
            )


def test_unclaiming_a_task_of_another_group_is_refused(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    from tests.helpers import credit_hold_files, upload

    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    start = {"order_amount": 1200.50, "available_limit": 1000, "order_number": "SO-7"}
    body = {"process_key": "credit_hold", "business_key": "CUST-1", "data": start}
    started = client.post("/api/process-instances", json=body, headers=auth(demo_tokens["sales1"]))
    task = next(t for t in started.json["tasks"] if t["status"] == "open")
    # Auditors read every task, but unclaiming is a write; neither they nor another group may.
    assert client.get(f"/api/tasks/{task['id']}", headers=auth(demo_tokens["auditor1"])).status_code == 200
    for user in ("auditor1", "collector1"):
        response = client.post(f"/api/tasks/{task['id']}/unclaim", headers=auth(demo_tokens[user]))
        assert response.status_code == 403, user


def test_json_sent_as_a_form_is_read_as_json(client: FlaskClient, demo_tokens: dict[str, str]) -> None:
    # `curl -d '{...}'` labels the body application/x-www-form-urlencoded.
    body = b'{"name": "Curl Ltd", "currency": "EUR"}'
    response = client.post(
        "/api/customers",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers=auth(demo_tokens["sales1"]),
    )
    assert response.status_code == 201, response.json


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"name=X&currency=EUR"),
        (
            "multipart/form-data; boundary=b",
            b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n',
        ),
        ("text/plain", b"not json"),
        ("application/json", b"\xff\xfe{}"),
        ("application/json", b'{"a": 1} trailing'),
        ("application/json", b'"just a string"'),
    ],
    ids=["form", "multipart", "text", "not-utf8", "trailing", "not-an-object"],
)
def test_every_write_with_the_wrong_content_is_4xx(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], content_type: str, body: bytes
) -> None:
    for method, rule in api_rules(app):
        if method == "GET":
            continue
        response = client.open(
            concrete(rule),
            method=method,
            data=body,
            content_type=content_type,
            headers=auth(demo_tokens["admin"]),
        )
        assert 400 <= response.status_code < 500, (method, rule, response.status_code)
        assert response.json["error"]["code"], (method, rule)


# --- text longer than its column (PostgreSQL refuses it inside the INSERT) ---------------------------------


def test_texts_longer_than_their_columns_are_422_naming_the_field(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for path, user, body, field in [
        ("/api/customers", "sales1", {**CUSTOMER, "language": "x" * 11}, "language"),
        ("/api/customers", "sales1", {**CUSTOMER, "industry": "x" * 81}, "industry"),
        ("/api/suppliers", "buyer1", {**CUSTOMER, "registration_no": "x" * 81}, "registration_no"),
        (
            "/api/process-instances",
            "sales1",
            {"process_key": "dunning", "business_key": "k" * 121},
            "business_key",
        ),
    ]:
        response = client.post(path, json=body, headers=auth(demo_tokens[user]))
        assert field in error_of(response, 422)["fields"], (path, response.json)


def test_a_long_business_key_on_the_start_form_is_named(app: Flask, demo_tokens: dict[str, str]) -> None:
    sales = logged_in(app, "sales1")
    token = csrf_token(sales, "/start/credit_application")
    response = sales.post("/start/credit_application", data={"csrf_token": token, "business_key": "k" * 121})
    assert response.status_code == 422
    assert "At most 120 characters." in response.get_data(as_text=True)


def test_a_value_the_database_refuses_is_400_and_logged_as_an_error(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import DataError

    class Truncated(Exception):
        sqlstate = "22001"  # string_data_right_truncation, as psycopg reports it

    application = create_app(settings)

    @application.get("/api/_truncated")
    def truncated() -> str:
        raise DataError("INSERT ...", {}, Truncated("value too long for type character varying(10)"))

    response = application.test_client().get("/api/_truncated")
    application.extensions["creditflow"].engine.dispose()
    assert (
        error_of(response, 400)["message"]
        == "A value does not fit: value too long for type character varying(10)"
    )
    assert [r.levelname for r in caplog.records if "did not fit" in r.getMessage()] == ["ERROR"]


# --- a tick at the edge of time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now", ["0001-01-01T03:00:01Z", "9999-12-31T23:59:59", "0001-01-01T00:00:00+14:00", 5, ["2026-03-02"]]
)
def test_a_tick_at_a_time_the_jobs_cannot_count_from_is_400(
    client: FlaskClient, demo_tokens: dict[str, str], now: object
) -> None:
    # Found by the fuzzer on PostgreSQL: year 1 made the dunning run's date arithmetic overflow (500).
    response = client.post("/api/admin/tick", json={"now": now}, headers=auth(demo_tokens["admin"]))
    assert "now must" in error_of(response, 400)["message"]


def test_a_review_started_with_a_non_ascii_digit_business_key_does_not_stop_the_sweep(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # "²".isdigit() is true and int("²") raises: the limit-review sweep read every review's business key
    # that way, so one such review made every tick's sweep fail for every customer.
    start = {
        "process_key": "credit_limit_review",
        "business_key": "²",
        "data": {"customer_id": customer_id(client, demo_tokens), "reason": "manual"},
    }
    started = client.post("/api/process-instances", json=start, headers=auth(demo_tokens["analyst1"]))
    assert started.status_code == 201, started.json
    tick = client.post(
        "/api/admin/tick", json={"now": "2026-03-03T03:00:00Z"}, headers=auth(demo_tokens["admin"])
    )
    assert tick.status_code == 200, tick.json
    assert all(job.get("error") in (None, "") for job in tick.json["jobs"]), tick.json


def test_a_multipart_part_without_a_name_is_not_a_500(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    # Found by the fuzzer: werkzeug gives such a part the name None, which the NUL check did not expect.
    body = (
        b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n"
        b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n'
    )
    response = client.post(
        "/api/process-definitions",
        data=body,
        content_type="multipart/form-data; boundary=b",
        headers=auth(demo_tokens["owner1"]),
    )
    assert "files" in error_of(response, 400)["message"]

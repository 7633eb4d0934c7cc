"""Issue 20's eleventh-session changes under hostile input (attacker A20): format_money's CLDR English on odd
stored values (huge, NaN, "-0", codes that are no ISO code), currencies that clients send, stored sentences
with markup, template syntax, format placeholders, NUL, RTL marks and CJK on zh and en pages, crafted
sentences against said_stored's shapes (each render timed), and the inbox total's cap at the API's edges.
Every answer is a 2xx/4xx, never a 500; every value a person typed is shown escaped and as typed."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import auth, credit_hold_files, upload
from tests.webui.test_customer_pages import make_customer
from tests.webui.test_pages import logged_in
from webui.case_labels import data_value
from webui.stored_sentences import said_stored
from workflows import inbox
from workflows.credit.customers import change_limit, get_customer
from workflows.engine import runner
from workflows.money import format_money
from workflows.store.db import transaction
from workflows.users import actor_for, get_user

# Tests here bound a call's CPU time: a garbage collection of the whole worker must not land in it.
pytestmark = pytest.mark.usefixtures("no_gc")

# --- format_money on what may be stored (workflows/money.py) --------------------------------------------

ODD_AMOUNTS: list[Any] = [
    10**30,  # decimal.InvalidOperation in Babel's quantize (28 digits) before the fix: a 500 on the page
    -(10**30),
    "1e40",
    1e300,
    "1e999999",
    10**5000,  # str() of this int raises; the page must not
    Decimal("sNaN"),  # InvalidOperation
    Decimal("NaN"),  # was "€NaN.00"
    Decimal("Infinity"),
    float("nan"),
    "NaN",
    "-0",
    Decimal("-0.001"),
    "1e5",
    True,
    "12 apples",
]
ODD_CODES: list[Any] = [
    "EUR",
    "eur",
    "XXX",
    "E" * 50,
    "EU\x00",
    "\U0001f4b6",
    "",
    None,
    "1",
    "<b>",
    "\u202eEUR",
    5,
]


@pytest.mark.parametrize("locale", ["en", "zh_Hans", None])
def test_format_money_never_raises_on_an_odd_stored_value(locale: str | None) -> None:
    format_money(1, "EUR", locale=locale)  # Babel loads a locale's data once (tens of ms): not timed
    for amount in ODD_AMOUNTS:
        for code in ODD_CODES:
            started = time.thread_time()
            shown = format_money(amount, code, locale=locale)
            assert isinstance(shown, str) and len(shown) < 6_000, (amount, code)
            assert time.thread_time() - started < 0.2, (type(amount), code)


def test_format_money_reads_odd_values_right() -> None:
    assert format_money(10**30, "EUR") == "€1,000,000,000,000,000,000,000,000,000,000.00"
    assert format_money("1e999999", "EUR") == "1e999999"  # as stored, never a million digits
    assert format_money(Decimal("NaN"), "EUR") == "NaN"  # not "€NaN.00"
    # Nothing owed is no debt: "-0" and an amount that rounds to zero carry no minus sign.
    assert format_money("-0", "EUR") == "€0.00"
    assert format_money(Decimal("-0.001"), "CHF") == "CHF\xa00.00"
    assert format_money("-0.01", "EUR") == "-€0.01"
    # A code that is no ISO code is never glued to the digits: currency "1" and 5 read "15.00" before.
    assert format_money(5, "1") == "5.00 1"
    assert format_money(5, "\U0001f4b6") == "5.00 \U0001f4b6"
    assert format_money(5, "eur") == format_money(5, "EUR") == "€5.00"
    assert format_money(5, "eur", locale="zh_Hans") == "€5.00"
    assert format_money(1200, "CNY", locale="zh_Hans") == "¥1,200.00"  # the normal path unchanged
    assert format_money(1200, "CHF") == "CHF\xa01,200.00"


def test_a_case_amount_too_large_for_babel_is_shown_on_a_zh_and_an_en_task_page(app: Flask) -> None:
    # data_value formats amounts of task data, which clients send as JSON numbers of any size.
    for language in ("zh", "en"):
        with app.test_request_context("/tasks/1", headers={"Accept-Language": language}):
            assert data_value("requested_limit", 10**30, "x", "EUR").endswith("000,000.00")
            assert data_value("requested_limit", 1e300, "x", "EUR") == "1e+300"
            assert data_value("requested_limit", Decimal("sNaN"), "x", "EUR") == "sNaN"


# --- currencies clients send --------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["eur", "E" * 50, "EU\x00", "\U0001f4b6", "", "1", "EU", "<b>", "\u202eEU"])
def test_an_odd_currency_is_refused_at_input(
    client: FlaskClient, demo_tokens: dict[str, str], code: str
) -> None:
    body = {"name": f"Odd currency {code!r}", "email": "ap@customer.example", "currency": code}
    response = client.post("/api/customers", json=body, headers=auth(demo_tokens["sales1"]))
    assert 400 <= response.status_code < 500, (code, response.status_code)
    customer = make_customer(client, demo_tokens, f"Invoice currency {code!r}")
    invoice = {
        "customer_id": customer,
        "number": "INV-ODD-1",
        "currency": code,
        "amount": "100.00",
        "issue_date": "2026-11-01",
        "due_date": "2026-12-01",
    }
    answer = client.post("/api/invoices", json=invoice, headers=auth(demo_tokens["finance1"]))
    assert 400 <= answer.status_code < 500, (code, answer.status_code)


# --- stored sentences and typed text on pages -------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "{{ 7*7 }} {% if 1 %}x{% endif %} }} {",
    "%(reason)s %s %% 100% %(",
    "nul\x00inside",
    "\u202ereversed\u202c \u200f",
    "上海精密零件有限公司 的 额度 %(amount)s",
    "migrated from ERP",  # a msgid: the stored limit reason our code writes (said in Chinese on zh pages)
    "credit.score failed: <img src=x onerror=alert(2)>",  # a msgid's shape around markup
]


def _set_limit_with_reason(app: Flask, customer_id: int, reason: str, exception_reason: str) -> None:
    from workflows.credit.models import LimitPolicyNote

    with transaction(app.extensions["creditflow"].rt.factory) as session:
        customer = get_customer(session, customer_id)
        change_limit(
            session,
            customer,
            Decimal("1000.00") + len(reason),
            reason=reason[:200],
            approvers=["manager1"],
            actor="manager1",
            now=datetime.fromisoformat("2026-12-01T10:00:00+00:00"),
            policy=LimitPolicyNote(policy_limit=Decimal("500.00"), exception_reason=exception_reason),
        )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_hostile_limit_reasons_on_the_customer_page_are_escaped_and_as_typed(
    app: Flask, demo_tokens: dict[str, str], client: FlaskClient, language: str
) -> None:
    customer = make_customer(client, demo_tokens, "Hostile reasons GmbH")
    for text in HOSTILE:
        _set_limit_with_reason(app, customer, text.replace("\x00", ""), "typed: " + text.replace("\x00", ""))
    reader = logged_in(app, "analyst1")
    reader.get("/inbox", headers={"Accept-Language": language})
    started = time.thread_time()
    response = reader.get(f"/customers/{customer}", headers={"Accept-Language": language})
    took = time.thread_time() - started
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert took < 2, took  # the whole page; each sentence below is timed alone
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert ">49<" not in page and "{{ 7*7 }}" in page  # never a template
    # The analyst's typed exception reasons are their words, in every language: never "translated".
    assert "typed: migrated from ERP" in page
    assert "typed: %(reason)s %s %% 100% %(" in page


def test_hostile_stored_sentences_are_said_quickly_and_keep_their_data(app: Flask) -> None:
    crafted = [
        *HOSTILE,
        "x" * 100_000,
        "credit.score failed: " * 3_000,  # a frame inside a frame, far past the depth said_stored reads
        ("credit.score failed: " * 3) + "%(operation)s failed: %(error)s",
        "Error evaluating expression " + "a: " * 20_000 + ": b",
        "No conditions satisfied for " + "{" * 50_000 + ".",
        "ValueError: " + "credit.score failed: " * 200,
    ]
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        said_stored("credit.score failed: warm")  # the catalogue's shapes are built once per catalogue
    for sentence in crafted:
        for language in ("zh", "en"):
            with app.test_request_context("/", headers={"Accept-Language": language}):
                started = time.thread_time()
                said = said_stored(sentence)
                took = time.thread_time() - started
            assert took < 0.2, (sentence[:40], language, took)
            if language == "en":
                assert said == sentence  # English pages show what was stored
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        said = said_stored("credit.score failed: <img src=x onerror=alert(2)>")
        # The frame is said, the data kept as data: escaping is the template's, so it must stay a str.
        assert "<img src=x onerror=alert(2)>" in said and type(said) is str


# --- the inbox total's cap on the API (GET /api/tasks) ----------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "per_page=0",
        "per_page=-1",
        "page=0",
        "page=-5",
        "page=abc",
        f"page={2**31}",
        f"per_page={2**31}",
        "page=1e3",
    ],
)
def test_inbox_paging_values_out_of_range_are_a_4xx(
    client: FlaskClient, demo_tokens: dict[str, str], query: str
) -> None:
    response = client.get(f"/api/tasks?{query}", headers=auth(demo_tokens["manager1"]))
    assert 400 <= response.status_code < 500, (query, response.status_code)


@pytest.fixture
def holds(app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime) -> int:
    """Four credit holds waiting for a credit analyst (analyst1 sees them)."""
    rt = app.extensions["creditflow"].rt
    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    with transaction(rt.factory) as session:
        actor = actor_for(get_user(session, "sales1"))
    for k in range(4):
        data = {"order_amount": 120 + k, "available_limit": 100, "order_number": f"SO-A20-{k}"}
        runner.start_instance(rt, "credit_hold", data, actor=actor, now=clock + timedelta(minutes=k))
    return 4


def test_inbox_pages_past_the_cap_and_past_the_end_stay_consistent(
    client: FlaskClient, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, holds: int
) -> None:
    headers = auth(demo_tokens["analyst1"])
    filters = (
        "",
        "&sort=-created",
        "&group=credit_analyst",
        "&process_key=credit_hold",
        "&q=review",
        "&q=%25_",
        "&mine=true",
    )
    counts = {}
    for shown_by in filters:
        everything = client.get(f"/api/tasks?per_page=200{shown_by}", headers=headers).json
        assert everything is not None and everything["total_is_lower_bound"] is False
        counts[shown_by] = everything["total"]
    assert counts[""] >= 3 and counts["&q=review"] == counts[""] and counts["&mine=true"] == 0
    monkeypatch.setattr(inbox, "COUNT_LIMIT", 1)
    for shown_by, count in counts.items():
        for per_page in (1, 2, 200):
            for page in (1, 2, 3, count + 5, 2**31 - 1):
                started = time.thread_time()
                response = client.get(
                    f"/api/tasks?page={page}&per_page={per_page}{shown_by}", headers=headers
                )
                assert time.thread_time() - started < 2
                assert response.status_code == 200, (page, per_page, shown_by)
                found = response.json
                assert found is not None
                shown = len(found["items"])
                assert shown == max(0, min(per_page, count - (page - 1) * per_page)), (
                    page,
                    per_page,
                    shown_by,
                )
                assert found["has_more"] is (count > page * per_page)
                if found["total_is_lower_bound"]:
                    assert found["has_more"] and found["total"] < count
                else:
                    assert found["total"] == count  # exact once the page's end reaches the count
                # The total never says fewer tasks than the caller has already paged past.
                assert found["total"] >= min(count, (page - 1) * per_page + shown)
    for language in ("zh", "en"):
        page = client.get(f"/inbox?page={2**31 - 1}", headers={**headers, "Accept-Language": language})
        assert page.status_code in (200, 302, 401), page.status_code


def test_the_inbox_page_beyond_the_cap_says_more_than_in_the_readers_language(
    app: Flask, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, holds: int
) -> None:
    monkeypatch.setattr(inbox, "COUNT_LIMIT", 1)
    rt = app.extensions["creditflow"].rt
    rt.settings = rt.settings.replace("web", page_size=1)
    reader = logged_in(app, "analyst1")
    for language, lang in (("zh", "zh-Hans"), ("en", "en")):
        response = reader.get("/inbox", headers={"Accept-Language": language})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert f'<html lang="{lang}"' in page
        shown = re.sub(r"<script.*?</script>", "", page, flags=re.S)  # the scripts' msgids hold placeholders
        assert re.search(r"%\(\w+\)s", shown) is None  # no unfilled placeholder from the pager's sentence
        assert ("第 1 页 · 共超过 1 条" if language == "zh" else "Page 1 · more than 1 in all") in page


# --- e-mails and PDF letters in zh and en -----------------------------------------------------------------


def test_hostile_names_and_odd_amounts_in_a_zh_and_an_en_notice_and_its_pdf() -> None:
    from io import BytesIO

    from pypdf import PdfReader

    from tests.mail.test_mail_languages import CONTEXT
    from workflows.mail.letters_pdf import letter_pdf
    from workflows.mail.templates import render_email

    name = "上海<script>alert(1)</script> {{ 7*7 }} %(x)s \u202eRTL\u202c 公司"
    context = {
        **CONTEXT,
        "customer_name": name,
        "contact_name": "张{% raw %}三",
        "total": 10**30,  # InvalidOperation inside the money filter before the fix: the notice never went
        "fees": Decimal("NaN"),
        "currency": "eur",
        "interest": None,
        "invoices": [
            {"number": "<b>INV-%s-{0}</b>", "due_date": "2026-01-01", "days_overdue": 5, "open_amount": "-0"}
        ],
    }
    for language in ("zh", "en", "zh"):
        rendered = render_email("dunning_notice", context, language=language)
        assert rendered.language == language
        assert "<script>alert(1)" not in rendered.html and "<b>INV" not in rendered.html
        assert "&lt;b&gt;INV-%s-{0}&lt;/b&gt;" in rendered.html and "张{% raw %}三" in rendered.html
        if language == "zh":  # the zh notice names the company above the contact, the English one greets
            assert "上海&lt;script&gt;alert(1)&lt;/script&gt;" in rendered.html
        assert "{{ 7*7 }}" in rendered.subject and "49" not in rendered.subject  # data, never a template
        assert "\n" not in rendered.subject and name.split()[0] in rendered.subject
        assert "€1,000,000,000,000,000,000,000,000,000,000.00" in rendered.text
        assert "€0.00" in rendered.text and "-€0.00" not in rendered.text
        started = time.thread_time()
        pdf = letter_pdf(rendered.html, language=language, on=datetime(2026, 12, 6).date(), title="t")
        took = time.thread_time() - started
        text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
        assert "INV-%s-{0}" in text and "张{% raw %}三" in text
        if language == "zh":
            assert "alert(1)" in text and "公司" in text  # the name's text as text: no script runs in a PDF
    assert took < 2, took  # the second zh letter: fonts already parsed


# --- typed text is the person's own words -------------------------------------------------------------------


def test_a_typed_contract_change_reason_is_shown_as_typed_on_a_zh_page(app: Flask) -> None:
    # A requester who types "overdue" (their words: the supplier's deliveries are overdue) must not read
    # 发票逾期 ("overdue invoices", a limit review's trigger) back on the Chinese task page.
    with app.test_request_context("/tasks/1", headers={"Accept-Language": "zh"}):
        process = "supplier_contract_change"
        assert data_value("reason", "overdue", "overdue", None, process) == "overdue"
        assert data_value("reason", "manual", "manual", None, process) == "manual"
        # In a limit review the same word is the trigger's code, said by its label.
        assert data_value("reason", "overdue", "overdue", None, "credit_limit_review") != "overdue"


# --- odd amounts and races on the JSON API, messages in the asker's language -----------------------------


def _open_hold(client: FlaskClient, demo_tokens: dict[str, str], holds: int) -> int:
    listed = client.get("/api/tasks?per_page=200", headers=auth(demo_tokens["analyst1"])).json
    assert listed is not None and len(listed["items"]) == holds
    return int(listed["items"][0]["id"])


@pytest.mark.parametrize("amount", [10**30, -0.0, "1e5", "NaN", "1e999999", "１２", True, [1], 1e308])
@pytest.mark.parametrize("language", ["zh", "en", "zh;q=NaN, en;q=0", "x" * 5_000])
def test_an_odd_release_amount_is_a_4xx_in_a_language_creditflow_speaks(
    client: FlaskClient, demo_tokens: dict[str, str], holds: int, amount: Any, language: str
) -> None:
    task = _open_hold(client, demo_tokens, holds)
    response = client.post(
        f"/api/tasks/{task}/complete",
        json={"data": {"decision": "release", "release_amount": amount}},
        headers={**auth(demo_tokens["analyst1"]), "Accept-Language": language},
    )
    if response.status_code == 200:  # a plain amount the form takes ("1e5", -0.0): stored as a number
        return
    assert 400 <= response.status_code < 500, (amount, response.status_code)
    message = str(response.json["error"]["message"])  # type: ignore[index]
    assert re.search(r"%\(\w+\)|\{\w*\}", message) is None, message
    if language == "zh":
        assert re.search(r"[\u4e00-\u9fff]", message), message


def test_two_clients_completing_the_same_task_at_once_one_wins_and_the_inbox_adds_up(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], holds: int
) -> None:
    import threading

    task = _open_hold(client, demo_tokens, holds)
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def complete(language: str) -> None:
        mine = app.test_client()
        barrier.wait()
        answers.append(
            mine.post(
                f"/api/tasks/{task}/complete",
                json={"data": {"decision": "release", "release_amount": 200.5}},
                headers={**auth(demo_tokens["analyst1"]), "Accept-Language": language},
            ).status_code
        )

    threads = [threading.Thread(target=complete, args=(lang,)) for lang in ("zh", "en")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers)[0] == 200 and len(answers) == 2, answers
    assert answers.count(200) == 1 and 400 <= max(answers) < 500, answers  # the loser: a 409, never a 500
    left = client.get("/api/tasks?per_page=1&page=1", headers=auth(demo_tokens["analyst1"])).json
    assert left is not None and left["total"] == holds - 1 and left["has_more"] is True
    last = client.get(f"/api/tasks?per_page=1&page={holds - 1}", headers=auth(demo_tokens["analyst1"])).json
    assert last is not None and len(last["items"]) == 1 and last["has_more"] is False


def test_a_release_amount_of_1e308_the_form_takes_is_shown_on_zh_and_en_pages(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], holds: int
) -> None:
    # The hold's form has no maximum: a JSON number 1e308 is a valid release amount and lands in the case
    # data, whose tables format amounts with format_money (InvalidOperation, a 500, before the fix).
    task = _open_hold(client, demo_tokens, holds)
    done = client.post(
        f"/api/tasks/{task}/complete",
        json={"data": {"decision": "release", "release_amount": 1e308}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert done.status_code == 200, done.json
    instance = done.json["instance"]["id"]  # type: ignore[index]
    reader = logged_in(app, "analyst1")
    for language in ("zh", "en"):
        for url in (f"/tasks/{task}", f"/instances/{instance}"):
            started = time.thread_time()
            response = reader.get(url, headers={"Accept-Language": language})
            assert response.status_code == 200, (url, language, response.status_code)
            assert time.thread_time() - started < 2
            assert "1e+308" in response.get_data(as_text=True) or "1E+308" in response.get_data(as_text=True)


# --- names a process owner deploys, through the new Jinja helpers (definition_name, task names) -------------

EVIL_NAME = "Credit hold <script>alert(1)</script> {{ 7*7 }} %(x)s %s"
EVIL_ZH = "审核<img src=x onerror=alert(3)> %(name)s {{ 7*7 }} \u202e逆"


def test_hostile_diagram_names_in_both_languages_are_escaped_on_every_page(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], tmp_path: Any, clock: datetime
) -> None:
    from html import escape

    bundle = tmp_path / "evil_bundle"
    bundle.mkdir()
    for path in credit_hold_files():
        content = path.read_text()
        if path.suffix == ".bpmn":
            content = content.replace(
                'name="Credit hold on a sales order"', f'name="{escape(EVIL_NAME)}"'
            ).replace(
                '<spiffworkflow:property name="dueIn" value="P1D" />',
                '<spiffworkflow:property name="dueIn" value="P1D" />'
                f'<spiffworkflow:property name="name_zh" value="{escape(EVIL_ZH)}" />',
            )
            assert escape(EVIL_ZH) in content
        (bundle / path.name).write_text(content)
    deployed = upload(client, demo_tokens["owner1"], sorted(bundle.iterdir()))
    assert deployed.status_code == 201, deployed.json
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        actor = actor_for(get_user(session, "sales1"))
    data = {"order_amount": 120, "available_limit": 100, "order_number": "SO-EVIL"}
    instance = runner.start_instance(rt, "credit_hold", data, actor=actor, now=clock)
    reader = logged_in(app, "analyst1")
    owner = logged_in(app, "owner1")
    task = client.get("/api/tasks", headers=auth(demo_tokens["analyst1"])).json["items"][0]["id"]  # type: ignore[index]
    for language in ("zh", "en"):
        for who, url in (
            (reader, "/inbox"),
            (reader, f"/tasks/{task}"),
            (reader, f"/instances/{instance.id}"),
            (owner, "/definitions"),
            (owner, "/definitions/credit_hold/1"),
        ):
            # CPU time of this thread (the test client renders in it): a loaded CI machine stretches the
            # wall time of the first zh page (catalogue and template compile), not the work done.
            started = time.thread_time()
            response = who.get(url, headers={"Accept-Language": language})
            took = time.thread_time() - started
            assert response.status_code == 200, (url, language, response.status_code)
            page = response.get_data(as_text=True)
            assert "<script>alert(1)" not in page and "<img src=x" not in page, (url, language)
            assert ">49<" not in page and " 49 " not in page, (url, language)
            assert took < 3, (url, language, took)
        inbox_page = reader.get("/inbox", headers={"Accept-Language": language}).get_data(as_text=True)
        if language == "zh":  # the Chinese task name, as the owner wrote it: escaped, placeholders as text
            assert escape("审核<img src=x onerror=alert(3)> %(name)s {{ 7*7 }}") in inbox_page


@pytest.mark.parametrize(
    "amount", ["%(most)s", "{0}{1}", "%s%s%s", "１２３", "1" * 41, "<b>1</b>", "1,5", "NaN"]
)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_amount_a_client_types_is_echoed_as_data_in_the_askers_language(
    client: FlaskClient, demo_tokens: dict[str, str], amount: str, language: str
) -> None:
    customer = make_customer(client, demo_tokens, "Typed amounts Ltd")
    response = client.post(
        "/api/credit-checks",
        json={"customer_id": customer, "order_ref": "SO-%(x)s-{0}", "amount": amount, "currency": "EUR"},
        headers={**auth(demo_tokens["sales1"]), "Accept-Language": language},
    )
    assert 400 <= response.status_code < 500, (amount, response.status_code)
    said = str(response.json)  # message and field errors
    assert "Traceback" not in said and "%(value)" not in said and "%(most)s %(most)s" not in said
    if language == "zh":
        assert re.search(r"[\u4e00-\u9fff]", said), said


@pytest.mark.parametrize(
    "query",
    ["page=-1", "page=abc", f"page={10**20}", "page=0", "per_page=0", f"page={2**31 - 1}", "page=1e3"],
)
def test_the_inbox_page_takes_odd_paging_values_without_a_500(
    app: Flask, demo_tokens: dict[str, str], query: str
) -> None:
    reader = logged_in(app, "analyst1")
    for language in ("zh", "en"):
        response = reader.get(f"/inbox?{query}", headers={"Accept-Language": language})
        assert response.status_code < 500, (query, language, response.status_code)


def test_an_order_reference_that_reads_like_one_of_our_sentences_stays_the_erps_reference(app: Flask) -> None:
    # The ERP's order references are its own words (80 characters, spaces allowed): inside a stored
    # credit-check reason they were re-read as a sentence: order "credit application" read 订单 授信申请.
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        for ref in ("credit application", "migrated from ERP"):
            said = said_stored(f"order {ref} is held: a credit manager decides on its release in instance 5")
            assert f"订单 {ref} " in said and "实例 5" in said, said
        assert said_stored("released by migrated from ERP") == "已由 migrated from ERP 放行"
        # A parameter that holds one of our sentences is still said (the frame inside the frame).
        assert (
            said_stored("credit.score failed: migrated from ERP") != "credit.score failed: migrated from ERP"
        )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_customer_name_with_line_breaks_cannot_add_a_header_to_a_notice(language: str) -> None:
    from tests.mail.test_mail_languages import CONTEXT
    from workflows.mail.templates import render_email

    name = "上海公司\r\nBcc: victim@evil.example\r\n\r\n<h1>x</h1>\u2028Subject: 2"
    rendered = render_email("dunning_notice", {**CONTEXT, "customer_name": name}, language=language)
    assert not re.search(r"[\r\n\u2028\u2029]", rendered.subject), rendered.subject
    assert "<h1>x</h1>" not in rendered.html

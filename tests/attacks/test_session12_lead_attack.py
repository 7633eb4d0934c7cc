"""Session 12, attacker A23 on the lead's commits: the `day` filter of task instructions (542bb4f), the KPI
'no exchange rate' refusal (3b3cac6/c6f40af), a promise's stored `outside` list on the customer page
(04bba4b) and the /jobs filter (76e9539), each fed what a hostile user or a hand-edited row could hold."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import ChainableUndefined
from sqlalchemy import select

from tests.bpmn.test_dunning_policy import on, promise, walk_to
from tests.collections_desk import Collections
from tests.credit.kpi_book_fixture import at
from tests.helpers import auth, migrated_customer
from tests.webui.test_language import as_user
from tests.webui.test_pages import logged_in
from workflows.credit.promises import DunningPromise
from workflows.credit.receivables import InvoiceInput, post_invoice
from workflows.engine.task_texts import render_capped, render_instructions, renders_in_process
from workflows.store.db import transaction

pytestmark = pytest.mark.usefixtures("shipped")

# --- 1. the `day` filter (542bb4f) -------------------------------------------------------------------

_HOSTILE_DAYS: list[tuple[str, Any, dict[str, str]]] = [
    ("huge", "9" * 15_000, {"en": "9" * 15_000}),
    (
        "far_future_east",
        "9999-12-31T23:59:59+14:00",
        {"en": "31 Dec 9999 09:59 UTC", "zh": "9999年12月31日 09:59 UTC"},
    ),
    ("first_day", "0001-01-01", {"en": "1 Jan 1", "zh": "1年1月1日"}),
    ("naive_time", "2026-03-02T08:30:00", {"en": "2 Mar 2026 08:30 UTC", "zh": "2026年3月2日 08:30 UTC"}),
    (
        "naive_datetime",
        datetime(2026, 3, 2, 8, 30),
        {"en": "2 Mar 2026 08:30 UTC", "zh": "2026年3月2日 08:30 UTC"},
    ),  # noqa: DTZ001
    ("nul", "2026-03-02\x00", {"en": "2026-03-02"}),
    ("nul_alone", "\x00", {"en": "[]"}),
    ("nested_dict", {"a": {"b": ["2026-03-02"]}}, {"en": "{'a': {'b': ['2026-03-02']}}"}),
    ("nested_list", [[["2026-03-02"]]], {"en": "[[['2026-03-02']]]"}),
    ("jinja_text", "{{ 7 * 7 }}{% for i in range(9) %}x{% endfor %}", {"en": "{{ 7 * 7 }}{% for"}),
    ("markup", "<script>alert(1)</script>", {"en": "<script>alert(1)</script>"}),
    ("bool", True, {"en": "True"}),
    ("decimal", Decimal("1E+999999"), {"en": "1E+999999"}),
    ("lone_surrogate", "2026-03-0\ud800", {"en": "[2026-03-0"}),
]


@pytest.mark.parametrize(
    ("value", "expected"), [(v, e) for _, v, e in _HOSTILE_DAYS], ids=[i for i, *_ in _HOSTILE_DAYS]
)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_day_filter_never_raises_on_hostile_values(
    value: Any, expected: dict[str, str], language: str
) -> None:
    template = "[{{ x | day }}] [{{ missing.a.b.c | day }}] [{{ x.y.z | day }}] done"
    assert renders_in_process(template)
    text = render_instructions(template, {"x": value}, language=language)
    assert text != template, "the template failed and was shown as written"
    assert text.endswith("] done") and "\x00" not in text, text
    # The ChainableUndefined chain reads as nothing, never 'None' or an Undefined's repr.
    assert "[] [" in text and "Undefined" not in text, text
    want = expected.get(language, expected["en"])
    assert want.strip("[") in text or (want == "[]" and text.startswith("[]")), (want, text)


def test_the_day_filter_with_a_huge_string_stays_under_the_cap_and_in_process() -> None:
    big = "2026-03-02" * 100_000  # a megabyte: never parsed as a day, shown as it is
    assert render_capped("{{ x | day }}", {"x": big}, 2_000_000, "zh") == big
    chain = ChainableUndefined(name="nothing")
    assert render_instructions("[{{ x | day }}]", {"x": chain}, language="zh") == "[]"


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-14:00",  # in UTC a day of year 10000
        "0001-01-01T00:00:00+14:00",  # in UTC a day of year 0
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-14))),
    ],
    ids=["iso_past_9999", "iso_before_1", "datetime_before_1", "datetime_past_9999"],
)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_time_whose_utc_day_leaves_the_calendar_does_not_drop_the_whole_text(
    value: Any, language: str
) -> None:
    template = "Call {{ name }} (oldest due {{ due | day }})."
    text = render_instructions(template, {"name": "Slowpay", "due": value}, language=language)
    assert text.startswith("Call Slowpay (oldest due "), text  # not the template as written
    assert text.endswith(").") and str(value) in text, text


# --- 2. the KPI refusal (3b3cac6 / c6f40af) ----------------------------------------------------------


def test_the_kpi_refusal_with_many_days_and_currencies_is_a_409_in_en_and_zh(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    currencies = ["USD", "GBP", "CNY", "JPY", "CHF", "SEK"]
    factory = app.extensions["creditflow"].rt.factory
    for n, currency in enumerate(currencies):
        customer = migrated_customer(
            app,
            {
                "external_id": f"FX-{currency}",
                "name": f"<b>{currency}</b>",
                "currency": currency,
                "email": "a@x.example",
            },
        )
        with transaction(factory) as session:
            issued = date(2025, 1 + n, 5)
            data = InvoiceInput(
                customer, f"FX-{n}", Decimal("100.00"), currency, issued, issued + timedelta(days=400)
            )
            post_invoice(session, data, actor="finance1", now=at(issued))
    headers = auth(demo_tokens["manager1"])
    for query in ("?as_of=2026-02-28&period=month", "?as_of=2026-02-28&period=quarter", "?as_of=2026-02-28"):
        for language in ("en", "zh"):
            answer = client.get(f"/api/kpis{query}", headers=headers | {"Accept-Language": language})
            assert answer.status_code == 409, (
                query,
                language,
                answer.status_code,
                answer.get_data(as_text=True)[:500],
            )
            body = answer.json
            message = body["error"]["message"]
            assert message and "%(" not in message, message
            missing = body["error"].get("missing_rates") or body["error"].get("details", {}).get(
                "missing_rates"
            )
            assert missing and len(missing) >= 2 and all(missing.values()), body
            for currency in ("USD", "SEK"):
                assert currency in message, message
            if language == "zh":
                assert "缺少折算为 EUR 的汇率" in message and "2025年12月31日：" in message, message
            else:
                assert "no exchange rate into EUR on or before these days (" in message, message
                assert "31 Dec 2025: " in message and "-12-31" not in message, message
    # The dashboard page says it too, in both languages, without a 500.
    for language in ("en", "zh"):
        page = as_user(app, "manager1", language).get("/dashboard?as_of=2026-02-28&period=quarter")
        assert page.status_code in (200, 409), page.status_code
        html = page.get_data(as_text=True)
        at_ = html.find("<b>USD</b>")
        assert at_ < 0, html[max(0, at_ - 300) : at_ + 300]  # customers' names escaped
        assert ("缺少折算为 EUR 的汇率" if language == "zh" else "no exchange rate into EUR") in html


# --- 3. a promise's stored `outside` list on the customer page (04bba4b) -----------------------------

_MARKUP = '<img src=x onerror="alert(1)">'


@pytest.mark.parametrize("language", ["en", "zh"])
def test_odd_values_in_a_promise_s_outside_list_are_shown_escaped(
    app: Flask, desk: Collections, language: str
) -> None:
    customer = desk.customer("Odd Promiser")
    desk.invoice(customer, "INV-O1", "4000.00")
    walk_to(desk, 3)
    assert promise(desk, customer, on(3 + 45), "100.00").json["delivered_to"]
    odd: list[Any] = [
        _MARKUP,
        7,
        None,
        {"k": "<b>x</b>"},
        ["a", 1.5],
        "case closed",  # equal to a catalogue msgid (case_closed's label)
        "%(day)s: %(currencies)s",  # the shape of a msgid, placeholders and all
        "{{ 7 * 7 }}",
        "\x00",
        "x" * 10_000,
    ]
    with transaction(desk.client.application.extensions["creditflow"].rt.factory) as session:
        row = session.scalars(select(DunningPromise)).one()
        row.outside = odd
    page = as_user(app, "manager1", language).get(f"/customers/{customer}")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    assert _MARKUP not in html and "&lt;img src=x" in html, "markup must be escaped"
    assert "<b>x</b>" not in html
    assert "{{ 7 * 7 }}" in html  # stored text, never rendered as a template
    small = html[html.index("&lt;img src=x") - 400 :].split("</small>")[0]
    # A value equal to a msgid that is not a stored limit sentence stays as stored (not translated).
    assert "case closed" in small and "%(day)s: %(currencies)s" in small, small
    # A NUL stays in the page (a hand-edited SQLite row only: PostgreSQL's JSONB refuses \u0000); browsers
    # read it as U+FFFD, so it is not asserted away here.
    assert "x" * 10_000 in html
    assert "%(day)s" not in html or "%(day)s: %(currencies)s" in html


# --- 4. /jobs with a hostile ?job= (76e9539) ----------------------------------------------------------


@pytest.mark.parametrize(
    "job",
    [_MARKUP, "dunning_run\x00", "\x00", "x" * 10_000, "%(day)s", "' OR 1=1 --", "每日催收", "%ZZ"],
    ids=["markup", "nul_after", "nul", "10k", "placeholder", "sql", "chinese", "bad_percent"],
)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_jobs_page_with_a_hostile_job_filter_is_never_a_500(
    app: Flask, demo_tokens: dict[str, str], job: str, language: str
) -> None:
    admin = logged_in(app, "admin")
    for query in ({"job": job}, {"job": job, "from": job, "to": "2026-13-45"}):
        page = admin.get("/jobs", query_string=query, headers={"Accept-Language": language})
        assert page.status_code < 500, page.status_code
        html = page.get_data(as_text=True)
        assert _MARKUP not in html and "<img src=x" not in html
        assert "\x00" not in html
    for raw_query in (
        "job=%3Cscript%3Ealert(1)%3C/script%3E&job=%00",
        "job=%ED%A0%80",
        "job=%FF%FE",
        "job=%",
    ):
        raw = admin.get(f"/jobs?{raw_query}", headers={"Accept-Language": language})
        assert raw.status_code < 500 and "<script>alert(1)" not in raw.get_data(as_text=True), raw_query


def test_the_jobs_api_with_a_hostile_job_filter_is_never_a_500(
    client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    for job in (_MARKUP, "\x00", "x" * 10_000, "%ZZ"):
        answer = client.get("/api/jobs", query_string={"job": job}, headers=auth(demo_tokens["admin"]))
        assert answer.status_code < 500, (job[:20], answer.status_code)
        assert _MARKUP not in answer.get_data(as_text=True) or answer.is_json

"""Hostile review A21 of the eleventh session's work (git log aa12ba9..b921561): the inbox API's paging at
PostgreSQL's integer edges, the JSON columns GET /api/tasks decodes itself (orjson with a json fallback),
status words said through the catalogue, case data labels, the one-connection SMTP dispatch, PDF letters
with shared fonts, and two people completing one task at once."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.helpers import auth, credit_hold_files, upload
from tests.webui.test_pages import logged_in
from workflows import inbox
from workflows.engine import runner
from workflows.store.db import transaction
from workflows.users import actor_for, get_user

INT4 = 2**31 - 1


@pytest.fixture
def holds(app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime) -> int:
    """Three credit holds waiting for a credit analyst (analyst1 sees them)."""
    rt = app.extensions["creditflow"].rt
    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    with transaction(rt.factory) as session:
        actor = actor_for(get_user(session, "sales1"))
    for k in range(3):
        data = {"order_amount": 120 + k, "available_limit": 100, "order_number": f"SO-A21-{k}"}
        runner.start_instance(rt, "credit_hold", data, actor=actor, now=clock + timedelta(minutes=k))
    return 3


# --- 1. GET /api/tasks paging at the edges -------------------------------------------------------------

ODD_PAGING = [
    "page=0",
    "page=-1",
    "per_page=0",
    "per_page=-1",
    f"page={INT4 + 1}",
    f"per_page={INT4 + 1}",
    f"page={2**63}",
    f"page={2**64}",
    f"page={10**30}",
    f"per_page={10**30}",
    "page=1e3",
    "page=NaN",
    "page=Infinity",
    "page=%00",
    "page=1%00",
    "per_page=5%002",
    "page=%EF%BC%95",  # a fullwidth 5
    "page=1_0",
    "page=%2B5",
    "page=%205",
    "page=5.5",
    "page=0x10",
    "page=%C2%B2",  # a superscript 2: str.isdigit is true, int() raises
    "page=1&page=2",  # a repeated parameter: a 400 (a list is no integer), never a guess
    "per_page=1&per_page=500",
]
FINE_PAGING = [
    f"page={INT4}",
    f"per_page={INT4}",
    f"page={INT4}&per_page={INT4}",
    "page=2&per_page=1",
    f"page={INT4 // 200 + 1}&per_page=200",  # page * per_page just past 2**31
    "page=0001&per_page=002",
]


@pytest.mark.parametrize("query", ODD_PAGING + FINE_PAGING)
def test_odd_api_paging_is_a_4xx_or_a_page_that_adds_up(
    client: FlaskClient, demo_tokens: dict[str, str], holds: int, query: str
) -> None:
    headers = auth(demo_tokens["analyst1"])
    started = time.thread_time()
    response = client.get(f"/api/tasks?{query}", headers=headers)
    assert time.thread_time() - started < 2
    if query in ODD_PAGING and response.status_code != 200:
        assert 400 <= response.status_code < 500, (query, response.status_code)
        return
    assert response.status_code == 200, (query, response.status_code, response.json)
    found = response.json
    assert found is not None
    page, per_page = found["page"], found["per_page"]
    assert 1 <= page <= INT4 and 1 <= per_page <= 200, found
    shown = len(found["items"])
    assert shown == max(0, min(per_page, holds - (page - 1) * per_page)), (query, found)
    assert found["total"] == holds and found["total_is_lower_bound"] is False, (query, found)
    assert found["has_more"] is (holds > page * per_page), (query, found)


@pytest.mark.parametrize("count_limit", [1, 2, 3])
def test_api_paging_with_the_cap_reached_adds_up_at_every_page_size(
    client: FlaskClient,
    demo_tokens: dict[str, str],
    holds: int,
    monkeypatch: pytest.MonkeyPatch,
    count_limit: int,
) -> None:
    monkeypatch.setattr(inbox, "COUNT_LIMIT", count_limit)
    headers = auth(demo_tokens["analyst1"])
    seen: dict[int, list[int]] = {}
    for per_page in (1, 2, 3, 200, INT4):
        ids: list[int] = []
        for page in range(1, 6):
            found = client.get(f"/api/tasks?page={page}&per_page={per_page}", headers=headers).json
            assert found is not None
            ids += [item["id"] for item in found["items"]]
            if found["total_is_lower_bound"]:
                assert found["has_more"] and found["total"] < holds, found
            else:
                assert found["total"] == holds, (per_page, page, found)
            assert found["total"] >= min(holds, (page - 1) * min(per_page, 200) + len(found["items"]))
            assert found["has_more"] is (holds > page * min(per_page, 200)), (per_page, page, found)
        seen[per_page] = ids
    # Every page size walks the same tasks in the same order, each once.
    assert all(ids == seen[200] and len(set(ids)) == holds for ids in seen.values()), seen


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", f"page={INT4}", f"page={INT4 + 1}", f"page={2**63}", f"page={10**30}", "page=1e3",
     "page=NaN", "page=%00", "page=1&page=2", "page=%C2%B2", "page=" + "9" * 5000],
)  # fmt: skip
def test_the_web_inbox_takes_odd_pages_and_says_the_tasks(
    app: Flask, holds: int, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    monkeypatch.setattr(inbox, "COUNT_LIMIT", 1)
    reader = logged_in(app, "analyst1")
    first = set(re.findall(r'href="/tasks/(\d+)"', reader.get("/inbox").get_data(as_text=True)))
    assert first  # the cap of 1 still shows a first page
    for language in ("zh", "en"):
        response = reader.get(f"/inbox?{query}", headers={"Accept-Language": language})
        if query == "page=%00":  # a NUL anywhere in a request is refused before any view reads it
            assert response.status_code == 400
            continue
        assert response.status_code == 200, (query, language, response.status_code)
        shown = set(re.findall(r'href="/tasks/(\d+)"', response.get_data(as_text=True)))
        # Anything but a page number from 1 to 2**31-1 reads page 1; a page far past the end shows no task.
        assert shown == (set() if query == f"page={INT4}" else first), (query, language)


# --- 2. JSON columns GET /api/tasks decodes itself (inbox._loads) ---------------------------------------

ODD_JSON_TEXTS = {
    "19 digits": '{"n": 1234567890123456789, "m": -9223372036854775809}',
    "beyond 64 bits": '{"n": 18446744073709551616, "m": 123456789012345678901234567890}',
    "minus zero": '{"i": -0, "f": -0.0}',
    "1e400": '{"big": 1e400, "small": -1e400, "tiny": 1e-400}',
    "NaN": '{"nan": NaN, "inf": Infinity, "minf": -Infinity}',
    "long float": '{"f": 0.1000000000000000055511151231257827, "g": 9007199254740993.0}',
    "NUL": '{"s": "a\\u0000b"}',
    "lone surrogate": '{"s": "\\ud800 and \\udfff"}',
    "pair": '{"s": "\\ud83d\\ude00"}',
    "19 digits in a string": '{"s": "order 12345678901234567890"}',
    "duplicate key": '{"a": 1, "a": 2}',
    "huge string": json.dumps({"s": "x" * 2_000_000}),
    "deep 64": '{"d": ' + "[" * 63 + "]" * 63 + "}",
    "deep 100": '{"d": ' + "[" * 100 + "]" * 100 + "}",
    "deep 150": '{"d": ' + "[" * 150 + "]" * 150 + "}",
    "deep 200": '{"d": ' + "[" * 200 + "]" * 200 + "}",
    "deep 300": '{"d": ' + "[" * 300 + "]" * 300 + "}",  # past orjson's depth limit of 254 when encoding
}


def _api_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


_UNVALIDATED = pytest.mark.xfail(
    strict=True,
    reason="both GET /api/tasks and GET /api/tasks/ID answer 500 (the same for the whole inbox list): the "
    "response validation (spectree/pydantic, responses(200, Task)) refuses a stored lone surrogate or JSON "
    "nested ~200 deep, and the ValidationError's bytes input cannot be jsonified. Input checks keep both out "
    "of the API (400), but a script's result or an import can store them. Fix: check script results with "
    "webui/input_checks' rules before they are stored, or answer a response validation failure as the data",
)
_CASES = [pytest.param(n, marks=_UNVALIDATED) if n in ("lone surrogate", "deep 200", "deep 300") else n
          for n in ODD_JSON_TEXTS]  # fmt: skip


@pytest.mark.parametrize("name", _CASES)
def test_the_inbox_api_reads_odd_case_data_as_the_task_api_does(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], holds: int, name: str
) -> None:
    headers = auth(demo_tokens["analyst1"])
    listed = client.get("/api/tasks?per_page=200", headers=headers).json
    assert listed is not None
    task = listed["items"][0]["id"]
    stored = ODD_JSON_TEXTS[name]
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:  # what a script, an import or an older version may have stored
        session.execute(
            text("UPDATE inbox_items SET context = :data, four_eyes = :eyes WHERE id = :id"),
            {"data": stored, "eyes": "[" + stored + "]", "id": task},
        )
    one = client.get(f"/api/tasks/{task}", headers=headers)
    started = time.thread_time()
    page = client.get("/api/tasks?per_page=200", headers=headers)
    assert time.thread_time() - started < 5
    assert page.status_code == one.status_code == 200, (name, page.status_code, one.status_code)
    from_list = next(item for item in page.json["items"] if item["id"] == task)  # type: ignore[index]
    assert _api_text(from_list) == _api_text(one.json), name
    assert page.get_data().count(b"\n") == 1  # one JSON document


# --- 3. a `status` parameter said through the catalogue (workflows/messages.translated) -----------------


@pytest.mark.parametrize(
    ("url", "typed", "its_msgstr"),
    [
        ("/api/process-instances?status={}", "customers", "客户"),
        ("/api/process-instances?status={}", "Amount", "金额"),
        ("/api/disputes?status={}", "customers", "客户"),
        ("/api/disputes?status={}", "Approval", "审批"),
    ],
)
def test_a_status_a_client_typed_is_echoed_as_typed_in_zh(
    client: FlaskClient, demo_tokens: dict[str, str], url: str, typed: str, its_msgstr: str
) -> None:
    # The status rule says one of OUR status codes in the reader's language; a typed value that happens to
    # be a msgid of the catalogue ('customers' -> 客户) is the asker's word, not a status of ours. Before the
    # fix the dispute list answered 没有争议状态 '客户' to ?status=customers.
    response = client.get(url.format(typed), headers={**auth(demo_tokens["admin"]), "Accept-Language": "zh"})
    assert 400 <= response.status_code < 500, response.status_code
    message = str(response.json["error"]["message"])  # type: ignore[index]
    assert its_msgstr not in message, message
    if "disputes" in url:
        assert f"'{typed}'" in message and "争议" in message, message


def test_translated_says_our_status_codes_and_never_formats_what_it_was_given() -> None:
    from workflows.messages import _, translated

    catalogue = {
        "instance %(id)s is %(status)s, not error; there is nothing to retry": "实例 %(id)s 为%(status)s",
        "running": "运行中",
        "customers": "客户",
        "no dispute status %(status)r": "没有争议状态 %(status)r",
        "evil": "%(id)s %s %",  # a msgstr with placeholders said as a status: a value, never a format
    }

    def zh(msgid: str) -> str:
        return catalogue.get(msgid, msgid)

    retry = "instance %(id)s is %(status)s, not error; there is nothing to retry"
    assert translated(_(retry, id=5, status="running"), zh) == "实例 5 为运行中"
    assert translated(_(retry, id=5, status="evil"), zh) == "实例 5 为%(id)s %s %"
    for hostile in ("%(id)s", "%s%s%n", "running\x00", "{0}", "x" * 100_000, "运行中", ""):
        assert translated(_(retry, id=5, status=hostile), zh) == f"实例 5 为{hostile}"
    assert translated(_("no dispute status %(status)r", status="customers"), zh) == "没有争议状态 'customers'"
    assert translated(_("no dispute status %(status)r", status="running"), zh) == "没有争议状态 'running'"
    # A msgstr whose placeholders do not match its msgid is the English sentence, not an error.
    catalogue[retry] = "实例 %(nope)s %d"
    assert translated(_(retry, id=5, status="running"), zh) == str(_(retry, id=5, status="running"))


# --- 4. case data labels: typed text stays typed, hostile change summaries --------------------------------

EVIL = "<script>alert(1)</script>{{ 7*7 }} %(reason)s %s"


def _hold_with(app: Flask, clock: datetime, extra: dict[str, Any]) -> tuple[int, int]:
    """A credit hold started with `extra` in its case data (what an ERP import or an API start may store);
    (its open task, its instance)."""
    rt = app.extensions["creditflow"].rt
    with transaction(rt.factory) as session:
        actor = actor_for(get_user(session, "sales1"))
    data = {"order_amount": 150, "available_limit": 100, "order_number": "SO-A21-X", **extra}
    started = runner.start_instance(rt, "credit_hold", data, actor=actor, now=clock)
    with transaction(rt.factory) as session:
        task = session.scalar(text("SELECT id FROM inbox_items WHERE instance_id = :i"), {"i": started.id})
    return int(task), started.id


def test_a_typed_summary_beside_a_changes_mapping_stays_as_typed_outside_a_contract_change(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    # case.html said any mapping's "summary" again from its "changes" (d59fedf), whatever the process: a
    # credit hold whose order data carries both read 价格：— → … instead of what the sales person wrote.
    assert upload(client, demo_tokens["owner1"], credit_hold_files()).status_code == 201
    typed = "Customer asked for a one-off exception"
    task, instance = _hold_with(app, clock, {"summary": typed, "changes": {"price": "EUR 1 -> EUR 2"}})
    reader = logged_in(app, "analyst1")
    for url in (f"/tasks/{task}", f"/instances/{instance}"):
        page = reader.get(url, headers={"Accept-Language": "zh"})
        assert page.status_code == 200
        cell = re.search(r'data-key="summary">[^<]*</th>\s*<td>([^<]*)</td>', page.get_data(as_text=True))
        assert cell is not None and cell.group(1) == typed, (url, cell and cell.group(1))


HOSTILE_REQUESTS: list[Any] = [
    {"summary": "s", "changes": {"price": EVIL}, "current": {"price": EVIL}},
    {"summary": "s", "changes": {EVIL: EVIL}, "current": EVIL},
    {"summary": "s", "changes": {"price": None, "end_date": "2026-02-30"}, "current": ["x"]},
    {"summary": "s", "changes": {f"k{n}": "x" * 1000 for n in range(2000)}, "current": None},
    {
        "summary": "s",
        "changes": {"price": {"nested": [EVIL]}, "valid_to": 10**30},
        "current": {"price": 1e400},
    },
    {"summary": "s", "changes": {"price": "\x00\ud800"}, "current": {}},
    {"summary": EVIL, "changes": {"price": "1"}},
    {"summary": "", "changes": {"price": "1"}},
    {"summary": 5, "changes": {"price": "1"}},
    {"summary": None, "changes": {}},
]


@pytest.mark.parametrize("request_data", HOSTILE_REQUESTS)
def test_change_summary_of_a_hostile_request_never_raises_and_never_makes_markup(
    app: Flask, request_data: dict[str, Any]
) -> None:
    from markupsafe import Markup, escape

    from webui.instruction_sentences import change_summary, said_instructions

    for language in ("zh-Hans", "en"):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            started = time.thread_time()
            said = change_summary(request_data, "supplier_contract_change")
            instructions = said_instructions(
                f"Review: {request_data['summary']}.",
                "supplier_contract_change",
                {"change_request": request_data},
            )
            assert time.thread_time() - started < 2
            assert not isinstance(said, Markup) and not isinstance(instructions, Markup)
            # Escaped where a page writes it: no tag of the request's survives.
            assert "<script>" not in str(escape(said)) and "<script>" not in str(escape(instructions))


@pytest.mark.parametrize(
    "reason",
    ["review:" + EVIL, "review:", "review:%(reason)s", "review:overdue", "review:" + "x" * 200_000,
     "review:review:overdue", "review:\u202eoverdue", "review: overdue", "review:top_exposure\nInjected: 1"],
)  # fmt: skip
def test_a_review_reason_with_hostile_text_is_said_as_typed(app: Flask, reason: str) -> None:
    from markupsafe import Markup

    from webui.case_labels import limit_reason

    with app.test_request_context("/", headers={"Accept-Language": "zh-Hans"}):
        started = time.thread_time()
        said = limit_reason(reason)
        assert time.thread_time() - started < 1
        assert not isinstance(said, Markup)
        typed = reason.removeprefix("review:")
        if typed == "overdue":
            assert "overdue" not in said  # our trigger code, by its label
        elif typed:
            assert typed.strip() in said or said == reason, said[:200]

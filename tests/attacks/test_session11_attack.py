"""Hostile review A21 of the eleventh session's work (git log aa12ba9..b921561): the inbox API's paging at
PostgreSQL's integer edges, the JSON columns GET /api/tasks decodes itself (orjson with a json fallback),
status words said through the catalogue, case data labels, the one-connection SMTP dispatch, PDF letters
with shared fonts, and two people completing one task at once."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from tests.helpers import auth, credit_hold_files, upload
from tests.mail.test_dispatch_connection import Relay, _close, queue_notices, rows, subjects
from tests.webui.test_pages import logged_in
from workflows import inbox
from workflows.clock import utcnow
from workflows.engine import runner
from workflows.mail.outbox import DispatchResult, dispatch_due_emails, queue_email
from workflows.mail.sink import SINK_HOST, start_controller
from workflows.mail.smtp import YagmailMailer
from workflows.settings import Settings
from workflows.store.db import transaction
from workflows.store.models import MailStatus
from workflows.users import actor_for, get_user

# Tests here bound a call's CPU time: a garbage collection of the whole worker must not land in it.
pytestmark = pytest.mark.usefixtures("no_gc")

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


# A stored lone surrogate or JSON nested ~200 deep made both GET /api/tasks and GET /api/tasks/ID a 500 (the
# response validation's parser refuses them, orjson too past 254 levels). Nothing creditflow writes holds
# them (handlers' results are now checked as scripts' are); a row that does is shown repaired
# (workflows/store/shown_json.py): U+FFFD for a lone surrogate, "…" past 100 levels.
REPAIRED: dict[str, Any] = {
    "lone surrogate": {"s": "\ufffd and \ufffd"},
    "pair": {"s": "\U0001f600"},
    "deep 200": {"d": json.loads("[" * 99 + json.dumps("…") + "]" * 99)},
    "deep 300": {"d": json.loads("[" * 99 + json.dumps("…") + "]" * 99)},
}


@pytest.mark.parametrize("name", list(ODD_JSON_TEXTS))
def test_the_inbox_api_reads_odd_case_data_as_the_task_api_does(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], holds: int, name: str
) -> None:
    headers = auth(demo_tokens["analyst1"])
    listed = client.get("/api/tasks?per_page=200", headers=headers).json
    assert listed is not None
    task = listed["items"][0]["id"]
    stored = ODD_JSON_TEXTS[name]
    rt = app.extensions["creditflow"].rt
    if name == "NaN" and rt.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's json type refuses NaN and Infinity: such a value cannot be stored there")
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
    if name in REPAIRED:
        assert one.json["context"]["data"] == REPAIRED[name], name  # type: ignore[index]
        # The four-eyes record [stored] is one level deeper, so it is cut one level sooner.
        eyes = (
            [{"d": json.loads("[" * 98 + json.dumps("…") + "]" * 98)}] if "deep" in name else [REPAIRED[name]]
        )
        assert one.json["context"]["four_eyes"] == eyes, name  # type: ignore[index]


@pytest.mark.parametrize("name", ["lone surrogate", "deep 300", "pair", "19 digits"])
def test_an_instance_with_odd_stored_data_reads_as_its_tasks_do(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], holds: int, name: str
) -> None:
    # GET /api/process-instances/ID answered 500 for the same stored values as the task API did (its data
    # and its events' details); it shows them repaired the same way (workflows/store/shown_json.py).
    headers = auth(demo_tokens["admin"])
    listed = client.get("/api/tasks?per_page=200", headers=headers).json
    assert listed is not None
    instance = listed["items"][0]["instance_id"]
    stored = ODD_JSON_TEXTS[name]
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(
            text("UPDATE process_instances SET data = :d WHERE id = :id"), {"d": stored, "id": instance}
        )
        session.execute(
            text("UPDATE audit_events SET detail = :d WHERE instance_id = :id"), {"d": stored, "id": instance}
        )
    one = client.get(f"/api/process-instances/{instance}", headers=headers)
    assert one.status_code == 200, (name, one.status_code)
    data = one.json["data"]  # type: ignore[index]
    assert data == REPAIRED.get(name, json.loads(stored)), name
    assert all(event["detail"] == data for event in one.json["events"]), name  # type: ignore[index]


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
        assert f"“{typed}”" in message and "争议" in message, message  # quoted as Chinese quotes


def test_translated_says_our_status_codes_and_never_formats_what_it_was_given() -> None:
    from workflows.messages import _, translated

    catalogue = {
        "instance %(id)s is %(status)s, not error; there is nothing to retry": "实例 %(id)s 为%(status)s",
        "running": "运行中",
        "customers": "客户",
        "no dispute status '%(status)s'": "没有争议状态“%(status)s”",
        "evil": "%(id)s %s %",  # a msgstr with placeholders said as a status: a value, never a format
    }

    def zh(msgid: str) -> str:
        return catalogue.get(msgid, msgid)

    retry = "instance %(id)s is %(status)s, not error; there is nothing to retry"
    assert translated(_(retry, id=5, status="running"), zh) == "实例 5 为运行中"
    assert translated(_(retry, id=5, status="evil"), zh) == "实例 5 为%(id)s %s %"
    for hostile in ("%(id)s", "%s%s%n", "running\x00", "{0}", "x" * 100_000, "运行中", ""):
        assert translated(_(retry, id=5, status=hostile), zh) == f"实例 5 为{hostile}"
    quoted = "no dispute status '%(status)s'"
    assert translated(_(quoted, status="customers"), zh) == "没有争议状态“customers”"
    assert translated(_(quoted, status="running"), zh) == "没有争议状态“running”"
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


# --- 5. the one-connection SMTP dispatch (workflows/mail/dispatch.py, smtp.py) -------------------------


class HostileRelay(Relay):
    """The connection tests' relay, which also says 421 (and closes) at a recipient, or after a message's
    DATA without storing it."""

    def __init__(self) -> None:
        super().__init__()
        self.close_at_rcpt = ""  # an address: 421 and close when it is named
        self.close_after_data = ""  # a subject: 421 and close instead of accepting it (once)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == self.close_at_rcpt:
            self.close_at_rcpt = ""
            asyncio.get_running_loop().call_soon(_close, server)
            return "421 4.3.2 shutting down"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content or b""
        said = content.decode(errors="replace") if isinstance(content, bytes) else content
        if self.close_after_data and f"Subject: {self.close_after_data}" in said:
            self.close_after_data = ""
            asyncio.get_running_loop().call_soon(_close, server)
            return "421 4.3.2 shutting down"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def hostile_relay() -> Iterator[HostileRelay]:
    sink = HostileRelay()
    controller = start_controller(sink, SINK_HOST, 0)
    sink.port = controller.port
    yield sink
    sink.released = True
    controller.stop()


def _dispatch_until_done(
    settings: Settings, factory: sessionmaker[Any], relay: Relay, clock: datetime, rounds: int = 6
) -> None:
    """Dispatch rounds, each one retry delay later, until nothing is pending (or `rounds` ran)."""
    mailer = YagmailMailer(settings.mail, relay.host, relay.port)
    for n in range(rounds):
        later = clock + timedelta(hours=n)
        dispatch_due_emails(
            factory, mailer, settings.mail, later, wall=lambda hours=n: utcnow() + timedelta(hours=hours)
        )
        if all(r.status != MailStatus.PENDING for r in rows(factory)):
            return


def test_a_recipient_with_a_line_break_adds_no_header_and_no_recipient_and_the_rest_go_once(
    settings: Settings, session_factory: sessionmaker[Any], clock: datetime, hostile_relay: HostileRelay
) -> None:
    queue_notices(session_factory, clock, 4)
    with pytest.raises(ValueError):  # refused when queued
        with transaction(session_factory) as session:
            queue_email(
                session,
                to=["a@example.com\r\nBcc: evil@example.com"],
                template="generic",
                context={"subject": "Injected", "message": "x"},
                dedupe_key="evil",
                now=clock,
            )
    # What an older version, an import or a hand edit may have stored: the row itself carries the break.
    with transaction(session_factory) as session:
        session.execute(
            text('UPDATE outbox_emails SET "to" = :to WHERE dedupe_key = :key'),
            {
                "to": "customer1@example.com\r\nBcc: evil@example.com, x@example.com\nX-Evil: 1",
                "key": "notice:1",
            },
        )
    _dispatch_until_done(settings, session_factory, hostile_relay, clock)
    everyone = [address for listed in hostile_relay.envelope_recipients for address in listed]
    assert not any("evil" in address for address in everyone), everyone
    assert all("X-Evil" not in m and "Bcc" not in m for m in hostile_relay.messages)
    assert sorted(subjects(hostile_relay)) == ["Notice 0", "Notice 2", "Notice 3"]  # each once
    states = {r.dedupe_key: r.status for r in rows(session_factory)}
    assert states.pop("notice:1") == MailStatus.FAILED and set(states.values()) == {MailStatus.SENT}


@pytest.mark.parametrize("where", ["rcpt", "data"])
def test_a_relay_saying_421_mid_batch_loses_no_message_and_sends_none_twice(
    settings: Settings,
    session_factory: sessionmaker[Any],
    clock: datetime,
    hostile_relay: HostileRelay,
    where: str,
) -> None:
    queue_notices(session_factory, clock, 6)
    if where == "rcpt":
        hostile_relay.close_at_rcpt = "customer2@example.com"
    else:
        hostile_relay.close_after_data = "Notice 3"
    _dispatch_until_done(settings, session_factory, hostile_relay, clock)
    assert sorted(subjects(hostile_relay)) == [f"Notice {n}" for n in range(6)]  # each exactly once
    assert len({m["Message-ID"] for m in hostile_relay.messages}) == 6
    assert {r.status for r in rows(session_factory)} == {MailStatus.SENT}


def test_two_dispatchers_at_once_send_each_message_exactly_once(
    settings: Settings, session_factory: sessionmaker[Any], clock: datetime, hostile_relay: HostileRelay
) -> None:
    queue_notices(session_factory, clock, 30)
    barrier = threading.Barrier(2)
    results: list[DispatchResult] = []
    errors: list[BaseException] = []

    def dispatch() -> None:
        mailer = YagmailMailer(settings.mail, hostile_relay.host, hostile_relay.port)
        barrier.wait()
        try:
            results.append(dispatch_due_emails(session_factory, mailer, settings.mail, clock))
        except BaseException as exc:  # reported below: a thread's exception is otherwise only printed
            errors.append(exc)

    threads = [threading.Thread(target=dispatch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sum(r.sent for r in results) == 30 and not any(r.retried or r.failed for r in results), results
    assert sorted(subjects(hostile_relay)) == sorted(f"Notice {n}" for n in range(30))
    assert [(r.status, r.attempts) for r in rows(session_factory)] == [(MailStatus.SENT, 1)] * 30


# --- 5b. PDF letters with the shared parsed fonts (workflows/mail/letter_fonts.py) -----------------------

ODD_NAMES = [
    "\U0001f4a9 Ltd \U0010ffff \U000e0001 \u202eevil\u202c \x01\x07 tab\there",  # outside the font
    "\U00020000\U0002a6a5 \ua66e \u16a0 \ufdfd e\u0301\u0301\u0301",  # CJK extension B, odd scripts, marks
    "<b>&amp;</b> {{ 7*7 }} %(x)s",
    "x" * 100_000,
    "深" * 100_000,
]


def _odd_letters() -> list[tuple[str, str, str]]:
    from tests.mail.test_mail_languages import CONTEXT
    from workflows.mail.templates import render_email

    letters = []
    for name in ODD_NAMES:
        for language in ("zh", "en"):
            email = render_email("dunning_notice", {**CONTEXT, "customer_name": name}, language=language)
            letters.append((email.html, email.language, email.subject))
    return letters


def test_letters_with_odd_and_huge_names_are_add_fonts_pdf_alone_and_in_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    from concurrent.futures import ThreadPoolExecutor

    from pypdf import PdfReader

    from tests.mail.test_letter_fonts import ON, _add_font_itself, _DatedFPDF
    from workflows.mail import letter_fonts, letters_pdf

    monkeypatch.setattr(letters_pdf, "FPDF", _DatedFPDF)
    letters = _odd_letters()
    started = time.thread_time()
    alone = [letters_pdf.letter_pdf(html, language=lng, on=ON, title=title) for html, lng, title in letters]
    assert time.thread_time() - started < 60  # ten letters, four of 100,000 characters (~0.6 s each alone)
    monkeypatch.setattr(letter_fonts, "_parsed", {})  # the threads race to parse the fonts again
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(
            pool.map(
                lambda one: letters_pdf.letter_pdf(one[0], language=one[1], on=ON, title=one[2]), letters * 2
            )
        )
    assert together == alone * 2
    texts = [PdfReader(io.BytesIO(data)).pages[0].extract_text() for data in alone[4:6]]
    assert all("<b>&amp;</b> {{ 7*7 }} %(x)s" in said for said in texts), texts
    # The shared fonts give the bytes fpdf2's own add_font gives (the small letters: add_font parses the
    # 10 MB fonts for each one).
    monkeypatch.setattr(letters_pdf, "add_shared_font", _add_font_itself)
    monkeypatch.setattr(letters_pdf, "use_small_fonts", lambda pdf: None)
    parsed = [
        letters_pdf.letter_pdf(html, language=lng, on=ON, title=title) for html, lng, title in letters[:6]
    ]
    assert parsed == alone[:6]


# --- 6. two people at once on one task (the step's prepared UPDATEs, workflows/engine/row_writes.py) ------

TERMS = {
    "customer_name": "Race Ltd",
    "order_value": 250000,
    "standard_terms_days": 30,
    "requested_terms_days": 45,
    "justification": "race",
}


def _race(app: Flask, tokens: dict[str, str], task: int, people: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each of `people` completes `task` with their form at the same moment; {who: response}."""
    barrier = threading.Barrier(len(people))
    answers: dict[str, Any] = {}

    def complete(who: str) -> None:
        mine = app.test_client()
        barrier.wait()
        answers[who] = mine.post(
            f"/api/tasks/{task}/complete", json={"data": people[who]}, headers=auth(tokens[who])
        )

    threads = [threading.Thread(target=complete, args=(who,)) for who in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(answers) == set(people)
    return answers


def _rows(app: Flask, instance: int) -> tuple[list[Any], list[Any]]:
    """The instance's inbox rows (bpmn id, status, completed_by) and its task_completed audit events."""
    with app.extensions["creditflow"].rt.factory() as session:
        items = session.execute(
            text("SELECT bpmn_id, status, completed_by FROM inbox_items WHERE instance_id = :i ORDER BY id"),
            {"i": instance},
        ).all()
        events = session.execute(
            text(
                "SELECT bpmn_id, actor FROM audit_events WHERE instance_id = :i AND action = 'task_completed'"
            ),
            {"i": instance},
        ).all()
    return [tuple(row) for row in items], [tuple(row) for row in events]


@pytest.mark.usefixtures("shipped")
@pytest.mark.parametrize("attempt", range(3))
def test_two_people_completing_one_review_at_once_one_wins_and_the_case_moves_once(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], attempt: int
) -> None:
    body = {"process_key": "payment_terms_exception", "business_key": f"RACE-{attempt}", "data": TERMS}
    started = client.post("/api/process-instances", json=body, headers=auth(demo_tokens["sales1"]))
    assert started.status_code == 201, started.json
    instance = started.json["id"]  # type: ignore[index]
    [task] = client.get("/api/tasks?per_page=5", headers=auth(demo_tokens["analyst1"])).json["items"]  # type: ignore[index]
    review = {"decision": "approve", "approved_terms_days": 45}
    answers = _race(app, demo_tokens, task["id"], {"analyst1": review, "admin": review})
    codes = sorted(r.status_code for r in answers.values())
    assert codes[0] == 200 and 400 <= codes[1] < 500, codes  # the loser: a 4xx (409), never a 500
    [winner] = [who for who, r in answers.items() if r.status_code == 200]
    items, events = _rows(app, instance)
    # No half-written state: the review completed once, by the winner, and exactly one approval waits.
    assert items == [("review_terms", "completed", winner), ("approve_terms", "open", None)], items
    assert events == [("review_terms", winner)], events


@pytest.mark.usefixtures("shipped")
def test_the_reviewer_racing_a_manager_for_the_approval_is_still_refused(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str]
) -> None:
    body = {"process_key": "payment_terms_exception", "business_key": "RACE-4E", "data": TERMS}
    started = client.post("/api/process-instances", json=body, headers=auth(demo_tokens["sales1"]))
    assert started.status_code == 201, started.json
    instance = started.json["id"]  # type: ignore[index]
    [review] = client.get("/api/tasks?per_page=5", headers=auth(demo_tokens["analyst1"])).json["items"]  # type: ignore[index]
    done = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "approve", "approved_terms_days": 45}},
        headers=auth(demo_tokens["admin"]),
    )
    assert done.status_code == 200, done.json
    [approval] = client.get("/api/tasks?per_page=5", headers=auth(demo_tokens["manager1"])).json["items"]  # type: ignore[index]
    alone = client.post(
        f"/api/tasks/{approval['id']}/complete",
        json={"data": {"decision": "approve"}},
        headers=auth(demo_tokens["admin"]),
    )
    assert alone.status_code == 403, (
        alone.status_code,
        alone.json,
    )  # four eyes: the reviewer may not approve
    answers = _race(
        app,
        demo_tokens,
        approval["id"],
        {"admin": {"decision": "approve"}, "manager1": {"decision": "approve"}},
    )
    # Refused either way: by the four eyes (403), or as already completed when the manager was first (409).
    assert answers["admin"].status_code in (403, 409) and answers["manager1"].status_code == 200, {
        who: (r.status_code, r.json) for who, r in answers.items()
    }
    items, events = _rows(app, instance)
    assert items == [("review_terms", "completed", "admin"), ("approve_terms", "completed", "manager1")], (
        items
    )
    assert events == [("review_terms", "admin"), ("approve_terms", "manager1")], events


@pytest.mark.parametrize(
    ("column", "stored"),
    [
        ("form_schema", "null"),
        ("form_schema", "[]"),
        ("form_schema", '{"properties": 5}'),
        (
            "form_schema",
            '{"properties": {"a": {"enum": [1e400, 12345678901234567890123], "title": "\\u0000"}}}',
        ),
        ("form_schema", '{"properties": {"a": {"type": ["string", null]}}, "required": "a"}'),
        ("candidate_groups", "[]"),
        ("candidate_groups", '["credit_analyst", 5, null]'),
        ("four_eyes", "null"),
        ("context", "null"),
        ("context", "[1, 2]"),
    ],
)
def test_odd_stored_forms_and_groups_read_the_same_in_the_list_and_alone(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], holds: int, column: str, stored: str
) -> None:
    headers = auth(demo_tokens["admin"])  # an admin sees every open task, whatever its groups say
    listed = client.get("/api/tasks?per_page=200", headers=headers).json
    assert listed is not None
    task = listed["items"][0]["id"]
    with transaction(app.extensions["creditflow"].rt.factory) as session:
        session.execute(
            text(f"UPDATE inbox_items SET {column} = :v WHERE id = :id"), {"v": stored, "id": task}
        )
    one = client.get(f"/api/tasks/{task}", headers=headers)
    page = client.get("/api/tasks?per_page=200", headers=headers)
    # The list and the task alone agree. A row the answer's schema refuses (a form that is no object, a
    # group that is no string, no case data) is a 500 on both, as before b8cdfda: response validation;
    # such rows come from a deployment or a hand edit, never from a form.
    assert page.status_code == one.status_code, (page.status_code, one.status_code)
    if one.status_code == 200:
        from_list = next(item for item in page.json["items"] if item["id"] == task)  # type: ignore[index]
        assert _api_text(from_list) == _api_text(one.json)


@pytest.mark.parametrize("process", ["order_release", "supplier_contract_change", "payment_terms_exception"])
def test_a_typed_reason_equal_to_a_review_trigger_stays_as_typed_outside_the_review(
    app: Flask, process: str
) -> None:
    # 'reason' is a choice only in credit_limit_review's start form; order_release and the contract change
    # take it as typed text (case_keys._choice_processes, c19b5ea). In order_release (5eb2bfa: its reason is
    # said as our sentence) a typed 'overdue' read 已逾期, 'customers' 客户, before this fix.
    from webui.case_labels import TRIGGERS, data_value

    with app.test_request_context("/", headers={"Accept-Language": "zh-Hans"}):
        for code in [*TRIGGERS, "overdue invoices", "customers", "Approval", "Overdue", "overdue "]:
            assert data_value("reason", code, code, process=process) == code, (process, code)
        said = data_value("reason", "overdue", "overdue", process="credit_limit_review")
        assert said != "overdue" and re.search(r"[\u4e00-\u9fff]", said), said  # the review's own trigger


def test_a_typed_order_release_reason_shaped_like_another_sentence_stays_as_typed(app: Flask) -> None:
    # data_value said an order_release 'reason' with said_stored, which matches every msgid of the catalogue:
    # 'review:overdue' read 额度复核：overdue. Only the credit check's own sentences are said now
    # (webui/process_sentences.py), in the case data and in the task's instructions alike.
    from webui.case_labels import data_value
    from webui.instruction_sentences import said_instructions

    over = "over the credit limit: exposure €0.00 + order €9,000.00 = €9,000.00, credit limit €5,000.00"
    with app.test_request_context("/", headers={"Accept-Language": "zh-Hans"}):
        for typed in ("review:overdue", "customer 7 is in dunning", "credit check: over the limit"):
            assert data_value("reason", typed, typed, process="order_release") == typed
            text = f"订单 A-1 已被冻结：{typed}。"
            assert said_instructions(text, "order_release", {"reason": typed}) == text
        said = data_value("reason", over, over, process="order_release")
        assert said.startswith("超出信用额度") and "€9,000.00" in said, said  # our own sentence is still said
        assert "超出信用额度" in said_instructions(
            f"订单 A-1 已被冻结：{over}。", "order_release", {"reason": over}
        )


def test_the_sentences_order_release_says_are_the_credit_checks_msgids() -> None:
    # A msgid changed in credit_checks.py but not in process_sentences would be shown in English again.
    import ast

    from webui.process_sentences import CREDIT_CHECK_REASONS
    from workflows.credit import credit_checks

    source = Path(credit_checks.__file__).read_text(encoding="utf-8")
    msgids = {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_" and node.args
        if isinstance(node.args[0], ast.Constant)
    }
    assert CREDIT_CHECK_REASONS <= msgids, CREDIT_CHECK_REASONS - msgids

"""Session 13, attacker A25 on the lead's commits: the audit trail's repaired JSON (a1ae77c), the batch
scheduler's nudges and shutdown (983fd85, 5a1ec65, 97564b1, eb06cb2), the amount contexts, collections
page and money_words (520fe42, b33d730, d95f790) and the new-diagram deploy's 409 (d5a1c8c), each fed what
a hostile user or a hand-edited row could hold."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError

from tests.attacks.test_studio_attack import NEW, _template
from tests.bpmn.test_supplier_contract_change import get_contract, make_contract
from tests.collections_desk import Collections
from tests.fixtures.engine.cases import review_runtime
from tests.helpers import auth
from tests.webui.test_language import switch
from tests.webui.test_pages import csrf_token, logged_in
from webui.i18n import ACTION_LABELS
from workflows.batch.scheduler import NUDGE_WINDOW, EmbeddedScheduler
from workflows.clock import utcnow
from workflows.credit.models import ContractChangeStatus
from workflows.definitions.versions import versions_of
from workflows.engine.runner import Runtime
from workflows.settings import Settings
from workflows.store.audit import record_event
from workflows.store.db import transaction
from workflows.store.shown_json import CUT, MAX_SHOWN_DEPTH, shown_json

pytestmark = pytest.mark.usefixtures("shipped")
csv.field_size_limit(2**31 - 1)  # the huge detail's CSV cell, read back

# --- 1. GET /api/audit, /audit and /audit.csv on hand-written detail JSON (a1ae77c) -------------------


def _hand_written(app: Flask, clock: datetime, detail_text: str, action: str = "hand_written") -> None:
    # The row as an older version or a hand edit left it: the detail column's text set by SQL, as is.
    factory = app.extensions["creditflow"].rt.factory
    with transaction(factory) as session:
        record_event(session, actor="ana", action=action, now=clock)
    _hand_edit(app, "UPDATE audit_events SET detail = :d WHERE action = :a", {"d": detail_text, "a": action})


def _hand_edit(app: Flask, sql: str, params: dict[str, Any]) -> bool:
    """Run a hand edit's UPDATE as is; True when stored. PostgreSQL's column types refuse what SQLite keeps
    (text that is no JSON, NaN, no day, a currency past its 3 letters): there the row keeps creditflow's
    value, and the pages must show it all the same."""
    factory = app.extensions["creditflow"].rt.factory
    try:
        with transaction(factory) as session:
            session.execute(text(sql), params)
    except DataError:
        assert factory.kw["bind"].dialect.name == "postgresql"
        return False
    return True


def _nested(depth: int) -> str:
    return '{"customer_id": 1, "n": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


def _all_three(app: Flask, client: FlaskClient, tokens: dict[str, str], query: str) -> dict[str, object]:
    api = client.get(f"/api/audit?{query}", headers=auth(tokens["auditor1"]))
    assert api.status_code == 200, api.get_data(as_text=True)[:2000]
    exported = client.get(f"/api/audit?format=csv&{query}", headers=auth(tokens["auditor1"]))
    assert exported.status_code == 200, exported.get_data(as_text=True)[:2000]
    assert len(list(csv.reader(io.StringIO(exported.get_data(as_text=True).replace("\x00", ""))))) >= 1
    browser = logged_in(app, "auditor1")
    for path in (f"/audit?{query}", f"/audit.csv?{query}"):
        page = browser.get(path)
        assert page.status_code == 200, (path, page.get_data(as_text=True)[:2000])
    return dict(api.json)


@pytest.mark.parametrize("depth", [99, 101, 199, 201, 253, 255, 400])
def test_a_deep_hand_written_detail_is_listed_cut_not_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime, depth: int
) -> None:
    # Past orjson's 254 levels and pydantic's 200: shown_json cuts at MAX_SHOWN_DEPTH, filters combined.
    _hand_written(app, clock, _nested(depth))
    found = _all_three(app, client, demo_tokens, "kind=hand_written&actor=ana&object=customer:1&per_page=1")
    [change] = found["items"]  # type: ignore[misc]
    assert change["object"] == "customer:1" and found["total"] == 1
    shown = json.dumps(change["detail"], ensure_ascii=False)
    assert (CUT in shown) is (depth >= MAX_SHOWN_DEPTH)


def test_a_detail_nested_990_levels_is_listed_not_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _hand_written(app, clock, _nested(990))
    _all_three(app, client, demo_tokens, "kind=hand_written")


def test_a_detail_that_is_no_json_is_listed_not_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    _hand_written(app, clock, "not json")
    _all_three(app, client, demo_tokens, "kind=hand_written")


@pytest.mark.parametrize("detail", ["not json", "1e999", _nested(1001)])
def test_one_unparsable_detail_does_not_break_the_object_filter(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime, detail: str
) -> None:
    if app.extensions["creditflow"].rt.factory.kw["bind"].dialect.name != "sqlite":
        pytest.skip("json_extract is SQLite's")
    _hand_written(app, clock, detail)
    response = client.get("/api/audit?object=customer:1", headers=auth(demo_tokens["auditor1"]))
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "detail", "shown_object"),
    [
        ("surrogate_in_keys", '{"\\ud800k": {"\\udfff": ["\\udc00"]}, "customer_id": 1}', "customer:1"),
        ("surrogate_as_customer", '{"customer_id": "\\ud800"}', "customer:\ufffd"),
        ("surrogate_as_user", '{"username": "x\\udbff"}', "user:x\ufffd"),
        ("surrogate_as_definition", '{"process_key": "\\udc00"}', ""),
        ("surrogate_before_after", '{"before": {"\\ud800": 1}, "after": "\\udfff"}', ""),
        ("markup_user", '{"username": "<script>alert(1)</script>"}', "user:<script>alert(1)</script>"),
        (
            "dict_as_customer",
            '{"customer_id": {"\\ud800": [1, 2]}}',
            r"customer:{'\ud800': [1, 2]}",
        ),  # repr: ASCII
    ],
)
def test_a_hand_written_detail_with_surrogates_anywhere_is_listed_repaired(
    app: Flask,
    client: FlaskClient,
    demo_tokens: dict[str, str],
    clock: datetime,
    name: str,
    detail: str,
    shown_object: str,
) -> None:
    # a1ae77c repaired before/after/detail; the object names a record FROM the detail, so it needs it too
    # (fixed here: a customer_id or username holding a lone surrogate was a 500 under response validation).
    _hand_written(app, clock, detail)
    found = _all_three(app, client, demo_tokens, "kind=hand_written")
    [change] = found["items"]  # type: ignore[misc]
    assert change["object"] == shown_json(shown_object)
    json.dumps(change, ensure_ascii=False).encode()  # no lone surrogate anywhere: UTF-8 encodes it


def test_a_huge_hand_written_detail_is_listed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime
) -> None:
    big = json.dumps(
        {"customer_id": 1, "blob": ["x" * 1000] * 3000, "wide": {str(i): i for i in range(20000)}}
    )
    _hand_written(app, clock, big)
    found = _all_three(app, client, demo_tokens, "kind=hand_written&actor=ana&object=customer:1&page=1")
    assert found["total"] == 1 and len(found["items"][0]["detail"]["wide"]) == 20000  # type: ignore[index]


@pytest.mark.parametrize("detail", ["[1, 2]", '"text"', "null", "1e999", "NaN", '{"a": NaN, "b": Infinity}'])
def test_a_hand_written_detail_that_is_no_object_is_listed(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], clock: datetime, detail: str
) -> None:
    _hand_written(app, clock, detail)
    _all_three(app, client, demo_tokens, "kind=hand_written")


# --- 2. the embedded scheduler's nudges and shutdown (983fd85, 5a1ec65, 97564b1, eb06cb2) --------------


@pytest.fixture
def review_rt(settings: Settings, db_engine: Engine, clock: datetime) -> Runtime:
    return review_runtime(settings, db_engine, clock)


def _wait_until(done: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)
    return done()


def test_a_storm_of_nudges_from_many_threads_loses_no_round_and_does_not_spin(
    review_rt: Runtime, clock: datetime
) -> None:
    """Eight request threads nudge for a second while every round outlasts the window: the last nudge is
    followed by a round that began after it (its e-mail is sent), rounds run about one per round length
    (no round per nudge, no loop at full CPU), and once the requests stop the scheduler goes quiet."""
    began: list[float] = []
    scheduler = EmbeddedScheduler(review_rt, None, clock=lambda: clock, jobs={})

    def slow_round(now: datetime, *, light: bool = False) -> datetime:
        began.append(time.monotonic())
        time.sleep(NUDGE_WINDOW.total_seconds() * 1.4)
        return now + timedelta(hours=1)

    scheduler.wake_once = slow_round  # type: ignore[method-assign]
    stop = threading.Event()
    last_nudge = [0.0]

    def requests() -> None:
        while not stop.is_set():
            scheduler.nudge()
            last_nudge[0] = max(last_nudge[0], time.monotonic())
            time.sleep(0.003)

    scheduler.start()
    threads = [threading.Thread(target=requests) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.2)
        stop.set()
        for thread in threads:
            thread.join()
        ended = last_nudge[0]
        assert _wait_until(lambda: any(b > ended for b in began), 5), "the last nudge's round never ran"
        time.sleep(1.0)
        quiet = len(began)
        time.sleep(0.8)
        assert len(began) == quiet, "rounds go on with nobody nudging"
        # 1.2 s of nudges at 0.35 s a round: a handful of rounds, not thousands
        assert len(began) <= 12, len(began)
    finally:
        scheduler.shutdown(wait_s=2)


def test_a_round_that_raises_is_retried_after_the_backoff_and_a_nudge_brings_it_forward(
    review_rt: Runtime, clock: datetime
) -> None:
    rounds: list[bool] = []
    second = threading.Event()
    scheduler = EmbeddedScheduler(review_rt, None, clock=lambda: clock, jobs={})

    def failing_round(now: datetime, *, light: bool = False) -> datetime:
        rounds.append(light)
        if len(rounds) == 1:
            raise RuntimeError("database gone")
        second.set()
        return now + timedelta(hours=1)

    scheduler.wake_once = failing_round  # type: ignore[method-assign]
    scheduler.start()
    try:
        assert _wait_until(lambda: scheduler._scheduler.get_job("wake") is not None and bool(rounds), 5)
        retry = scheduler._scheduler.get_job("wake").next_run_time
        assert retry >= utcnow() + timedelta(seconds=scheduler.backoff_s - 2)  # no spin after a failure
        scheduler.nudge()  # a web action: its e-mail does not wait for the backoff
        assert second.wait(5), rounds
    finally:
        scheduler.shutdown(wait_s=2)


def test_shutdown_from_inside_a_round_twice_and_nudges_after_it_are_quiet(
    review_rt: Runtime, clock: datetime
) -> None:
    rounds: list[float] = []
    scheduler = EmbeddedScheduler(review_rt, None, clock=lambda: clock, jobs={})
    returned = threading.Event()

    def stopping_round(now: datetime, *, light: bool = False) -> datetime:
        rounds.append(time.monotonic())
        scheduler.nudge()  # a request during the round
        # Once APScheduler has removed the date job it runs (its own race otherwise: test_scheduler_nudges).
        assert _wait_until(lambda: scheduler._scheduler.get_job("wake") is None, 5)
        scheduler.shutdown(wait_s=0.2)  # waits its bound (this round is the one running), then returns
        returned.set()
        return now  # due at once: _wake must not run another round after a shutdown

    scheduler.wake_once = stopping_round  # type: ignore[method-assign]
    scheduler.start()
    assert returned.wait(5)
    assert scheduler._idle.wait(5)
    scheduler.shutdown(wait_s=0.2)  # a second shutdown: was SchedulerNotRunningError (fixed here)
    for _ in range(20):
        scheduler.nudge()  # a request still answering after the shutdown
    scheduler.nudge(clock)
    time.sleep(0.5)
    assert len(rounds) == 1


@pytest.mark.parametrize("back", [timedelta(hours=2), timedelta(days=400)])
def test_a_clock_that_moved_back_during_a_round_does_not_put_the_next_one_past_the_sleep_cap(
    review_rt: Runtime, clock: datetime, back: timedelta
) -> None:
    """A real clock stepped back (NTP) while a round ran: the round's `now` is later than the clock, and the
    next wake-up (clock time) was waited from the wall clock as `now - clock`: hours or a year of sleep,
    past `max_sleep_s`, the cap that makes the scheduler notice rows other processes write."""
    times = iter([clock])
    scheduler = EmbeddedScheduler(review_rt, None, clock=lambda: next(times, clock - back), jobs={})
    scheduler._scheduler.start(paused=True)
    try:
        scheduler._round()
        due = scheduler._scheduler.get_job("wake").next_run_time
        cap = timedelta(seconds=review_rt.settings.scheduler.max_sleep_s)
        assert due <= utcnow() + cap, due - utcnow()
    finally:
        scheduler.shutdown()


# --- 3. amounts and days as the reader writes them (520fe42, b33d730, d95f790) ------------------------


def _contract_change(
    client: FlaskClient, tokens: dict[str, str], contract_id: int, language: str, body: str
) -> Any:
    # The raw body: 1e400 and NaN are what a JSON number can say but a Decimal field should not take.
    return client.post(
        "/api/process-instances",
        data=body.replace("CONTRACT", str(contract_id)),
        content_type="application/json",
        headers={"Authorization": f"Bearer {tokens['buyer1']}", "Accept-Language": language},
    )


_CHANGE = (
    '{"process_key": "supplier_contract_change", "data": {"contract_id": CONTRACT, "change_type": "price", '
    '"changes": {"value": VALUE}, "value_impact": IMPACT, "reason": "price"}}'
)
_HOSTILE_IMPACTS = [
    "1e400",
    "-1e400",
    '"1e400"',
    '"NaN"',
    "NaN",
    '"Infinity"',
    "-Infinity",
    '"sNaN"',
    '"' + "9" * 5000 + '"',
    '"1E+999999"',
    '"-0"',
    "0.0000000000000000000000001",
    '"1,000"',
    "true",
    "[1]",
]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("impact", _HOSTILE_IMPACTS)
def test_a_hostile_value_impact_is_refused_in_the_reader_s_language_and_changes_nothing(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], impact: str, language: str
) -> None:
    contract = make_contract(client, demo_tokens, currency="CNY")
    body = _CHANGE.replace("VALUE", '"60000000.00"').replace("IMPACT", impact)
    response = _contract_change(client, demo_tokens, contract["id"], language, body)
    assert response.status_code in (400, 422), (response.status_code, response.get_data(as_text=True)[:500])
    assert len(response.get_data()) < 20_000  # the 5,000 digits are not echoed back whole, nor twice
    after = get_contract(client, demo_tokens, contract["id"])
    assert (after["value"], after["version"], after["change_requests"]) == ("1200000.00", 1, [])


@pytest.mark.parametrize("value", ['"' + "9" * 40 + '"', '"-60000000.00"', '"1E+30"', '"NaN"', "1e400"])
def test_a_hostile_new_value_is_refused_or_checked_against_its_impact_never_a_500(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], value: str
) -> None:
    contract = make_contract(client, demo_tokens, currency="CNY")
    body = _CHANGE.replace("VALUE", value).replace("IMPACT", '"1.00"')
    response = _contract_change(client, demo_tokens, contract["id"], "zh", body)
    assert response.status_code in (400, 422), (response.status_code, response.get_data(as_text=True)[:500])


@pytest.mark.parametrize("currency", ["cny", "XXX", "ZZZ", "EURO", "€", "<b>x</b>", ""])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_hand_edited_contract_currency_is_said_in_the_refusal_and_the_pages(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], currency: str, language: str
) -> None:
    contract = make_contract(client, demo_tokens)
    _hand_edit(app, "UPDATE contracts SET currency = :c WHERE id = :i", {"c": currency, "i": contract["id"]})
    with app.extensions["creditflow"].rt.factory() as session:
        supplier_id = session.scalar(
            text("SELECT supplier_id FROM contracts WHERE id = :i"), {"i": contract["id"]}
        )
    body = _CHANGE.replace("VALUE", '"60000000.00"').replace("IMPACT", '"1.00"')
    response = _contract_change(client, demo_tokens, contract["id"], language, body)
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True)[:500])
    message = response.json["error"]["message"]
    field = "价值影响" if language == "zh" else "Value impact"  # as the start form labels it (fc3862f)
    assert "58,800,000.00" in message and field in message, message
    browser = logged_in(app, "pm1")
    if language == "zh":
        switch(browser, "zh", "/contracts")
    for path in (
        f"/contracts/{contract['id']}",
        "/contracts",
        f"/suppliers/{supplier_id}",
    ):
        page = browser.get(path)
        shown = page.get_data(as_text=True)
        assert page.status_code == 200, (path, shown[:500])
        assert "<b>x</b>" not in shown
        assert ("合同金额" in shown) is (language == "zh"), path


_HOSTILE_DAYS = [
    "not a date",
    "2026-13-45",
    "2026-03-02T10:00:00",
    "<i>x</i>",
    "9999-12-31",
    "0001-01-01",
]


@pytest.mark.parametrize("day", _HOSTILE_DAYS)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_hand_edited_promise_day_on_the_collections_case_page(
    desk: Collections, app: Flask, day: str, language: str
) -> None:
    customer = desk.customer("Handday GmbH")
    desk.invoice(customer, "HD-1", "750.00")
    for _ in range(5):
        desk.tick()
    case_id = desk.case(customer)["id"]
    collector = logged_in(app, "collector1")
    promised = (desk.clock.now.date() + timedelta(days=7)).isoformat()
    logged = collector.post(
        f"/collections/{case_id}/contacts",
        data={
            "csrf_token": csrf_token(collector, f"/collections/{case_id}"),
            "kind": "call",
            "outcome": "promise",
            "promised_date": promised,
            "promised_amount": "750.00",
        },
    )
    assert logged.status_code in (302, 303), logged.get_data(as_text=True)[:500]
    # Fixed with workflows.store.column_types.ReadableDate: SQLite holds any text; PostgreSQL refuses a day
    # that is none ("2026-13-45") and reads "2026-03-02T10:00:00" as that day.
    stored = all(
        _hand_edit(app, f"UPDATE {table} SET promised_date = :d", {"d": day})  # noqa: S608
        for table in ("dunning_cases", "dunning_promises")
    )
    if language == "zh":
        switch(collector, "zh", f"/collections/{case_id}")
    for path in (f"/collections/{case_id}", "/collections?due=all", f"/customers/{customer}"):
        page = collector.get(path)
        assert page.status_code == 200, (path, page.get_data(as_text=True)[:300])
        assert "<i>x</i>" not in page.get_data(as_text=True)
    [promise] = desk.case(customer)["promises"]  # the API too (its response is validated in tests)
    assert promise["promised_date"] in ((None, day, day[:10]) if stored else (promised,))


def test_actions_recorded_past_the_label_test_s_scan_have_labels_too() -> None:
    """tests/webui/test_action_labels.py finds `action="..."` literals only. Actions are also passed by
    position (contracts.audit_contract), built (f"contract_change_{status}") and named by a constant
    (action=RECOMMENDATION_WEIGHED): each of those has a label as well, or a zh audit page shows English."""
    root = Path(__file__).resolve().parents[2]
    found: set[str] = set()
    for package in ("workflows", "handlers", "webui"):
        for path in (root / package).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            for built in re.findall(r'audit_contract\(\s*session,\s*\w+,\s*(f?"[a-z_{}]+")', source):
                if "{status}" in built:
                    found.update(
                        f"contract_change_{s}"
                        for s in (ContractChangeStatus.REJECTED, ContractChangeStatus.EXPIRED)
                    )
                else:
                    found.add(built.strip('"'))
            for constant in re.findall(r"\baction=([A-Z][A-Z_]+)\b", source):
                found.update(re.findall(rf'^{constant} = "([a-z_]+)"', source, re.MULTILINE))
    assert {"contract_change_requested", "contract_change_expired", "limit_recommendation_weighed"} <= found
    assert sorted(found - ACTION_LABELS.keys()) == []


# --- 4. a new diagram's deploy: version 1 or a 409, nothing half-written (d5a1c8c) --------------------

OTHER = {"key": "supplier_offboarding", "name": "Supplier offboarding", "group": "procurement"}


def _both(first: str, second: str) -> str:
    """One diagram holding the processes of two templates: two pools in one collaboration."""
    participant = re.search(r"\s*<bpmn:participant [^>]*/>", second)
    process = re.search(r"\s*<bpmn:process .*?</bpmn:process>", second, re.DOTALL)
    shapes = re.search(
        r'(?<=bpmnElement="supplier_offboarding_collaboration">)(.*?)(?=\s*</bpmndi:BPMNPlane>)',
        second,
        re.DOTALL,
    )
    assert participant and process and shapes
    moved = re.sub(r'y="(\d+)"', lambda m: f'y="{int(m.group(1)) + 300}"', shapes.group(1))
    merged = first.replace("</bpmn:collaboration>", participant.group(0) + "\n  </bpmn:collaboration>")
    merged = merged.replace("</bpmn:process>", "</bpmn:process>" + process.group(0), 1)
    return merged.replace("</bpmndi:BPMNPlane>", moved + "\n    </bpmndi:BPMNPlane>")


def _deploy_new(browser: FlaskClient, key: str, xml: str) -> Any:
    headers = {"X-CSRFToken": csrf_token(browser, "/definitions/new")}
    return browser.post(f"/definitions/new/deploy?key={key}", json={"xml": xml}, headers=headers)


def _deploy_rows(app: Flask, *keys: str) -> dict[str, object]:
    with app.extensions["creditflow"].rt.factory() as session:
        versions = {key: sorted(d.version for d in versions_of(session, [key])) for key in keys}
        audited = session.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = 'definition_deployed'")
        )
    return {"versions": versions, "audited": audited}


def test_the_same_new_diagram_deployed_twice_in_a_row_is_a_409_and_writes_nothing(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = logged_in(app, "owner1")
    xml = _template(owner)
    before = _deploy_rows(app, NEW["key"])
    assert _deploy_new(owner, NEW["key"], xml).status_code == 201
    after_first = _deploy_rows(app, NEW["key"])
    second = _deploy_new(owner, NEW["key"], xml)
    assert second.status_code == 409 and "deployed already" in second.get_data(as_text=True)
    assert _deploy_rows(app, NEW["key"]) == after_first
    assert after_first["versions"] == {NEW["key"]: [1]}
    assert after_first["audited"] == before["audited"] + 1  # type: ignore[operator]


@pytest.mark.parametrize("renamed", [False, True])
def test_a_check_passed_before_another_owner_s_version_1_is_a_409_whatever_its_content(
    app: Flask, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, renamed: bool
) -> None:
    """d5a1c8c rolls back when deploy_files found the same content ('unchanged'). The other owner's version 1
    may hold other content (their own name, their own steps): then deploy_files makes a version 2 of a
    process this owner did not create, on the 'new diagram' route, and answered 201."""
    owner = logged_in(app, "owner1")
    first = _deploy_new(owner, NEW["key"], _template(owner))
    assert first.status_code == 201
    monkeypatch.setattr("webui.definition_new.newest_version", lambda session, key: None)  # checked "before"
    mine = _template(owner, name="Supplier onboarding (mine)") if renamed else _template(owner)
    rows = _deploy_rows(app, NEW["key"])
    second = _deploy_new(owner, NEW["key"], mine)
    assert second.status_code == 409, second.get_data(as_text=True)[:300]
    assert _deploy_rows(app, NEW["key"]) == rows


@pytest.mark.parametrize("renamed", [False, True])
def test_a_bundle_of_two_whose_second_process_was_taken_meanwhile_is_a_409_and_writes_neither(
    app: Flask, demo_tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, renamed: bool
) -> None:
    owner = logged_in(app, "owner1")
    other = _template(owner, **OTHER)
    assert _deploy_new(owner, OTHER["key"], other).status_code == 201  # another owner's, meanwhile
    monkeypatch.setattr("webui.definition_new.newest_version", lambda session, key: None)
    theirs = _template(owner, **{**OTHER, "name": "Offboarding (mine)"}) if renamed else other
    rows = _deploy_rows(app, NEW["key"], OTHER["key"])
    answer = _deploy_new(owner, NEW["key"], _both(_template(owner), theirs))
    assert answer.status_code == 409, answer.get_data(as_text=True)[:300]
    problems = answer.json["problems"]
    assert [p["element_id"] for p in problems] == [OTHER["key"]], problems  # the one taken, by name
    assert _deploy_rows(app, NEW["key"], OTHER["key"]) == rows


def test_a_bundle_of_two_new_processes_deploys_both_as_version_1(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    owner = logged_in(app, "owner1")
    answer = _deploy_new(owner, NEW["key"], _both(_template(owner), _template(owner, **OTHER)))
    assert answer.status_code == 201, answer.get_data(as_text=True)[:500]
    assert _deploy_rows(app, NEW["key"], OTHER["key"])["versions"] == {NEW["key"]: [1], OTHER["key"]: [1]}
    again = _deploy_new(owner, NEW["key"], _both(_template(owner), _template(owner, **OTHER)))
    assert again.status_code == 409


@pytest.mark.parametrize("renamed", [False, True])
def test_three_owners_creating_the_same_key_at_once_get_one_version_1(
    app: Flask, demo_tokens: dict[str, str], renamed: bool
) -> None:
    browsers = [logged_in(app, "owner1") for _ in range(3)]
    xmls = [
        _template(b, name=f"Supplier onboarding {n}") if renamed else _template(b)
        for n, b in enumerate(browsers)
    ]
    posts = [
        (b, x, {"X-CSRFToken": csrf_token(b, "/definitions/new")})
        for b, x in zip(browsers, xmls, strict=True)
    ]
    barrier = threading.Barrier(len(posts))
    statuses: list[int] = []

    def deploy(browser: FlaskClient, xml: str, headers: dict[str, str]) -> None:
        barrier.wait()
        answer = browser.post(f"/definitions/new/deploy?key={NEW['key']}", json={"xml": xml}, headers=headers)
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=deploy, args=post) for post in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [201, 409, 409]
    rows = _deploy_rows(app, NEW["key"])
    assert rows["versions"] == {NEW["key"]: [1]}

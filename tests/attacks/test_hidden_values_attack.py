"""Attacks on the studio previews' "hidden_values" option (commit 1cb410c, issue 18): who may ask, what the
body may say, and whether a template or a crafted case can read a real value back out of the placeholders.
Every answer is a 2xx/4xx, bounded in time and size, and names no customer's value."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask

from tests.webui import test_studio_hidden_values as shown
from tests.webui.test_pages import csrf_token, logged_in
from tests.webui.test_studio_hidden_values import CUSTOMER, TEXTS, TIMER, _owner
from workflows.store.db import transaction
from workflows.store.models import ProcessInstance

application = shown.application  # the fixture: a credit application of CUSTOMER, started by sales1
NEW_TEXTS = "/definitions/new/preview/texts"
NEW_TIMER = "/definitions/new/preview/timer"
ROUTES = (TEXTS, TIMER, NEW_TEXTS, NEW_TIMER)
SECRETS = ("Geheim", "Secret", "80000", "80,000", "Maschinenbau")
DURATION = {"kind": "timeDuration", "expression": '"P2D"', "start": "2027-01-12"}


def _clean(response: Any) -> str:
    text = response.get_data(as_text=True)
    for secret in SECRETS:
        assert secret not in text, (secret, text[:500])
    return text


def _crafted(app: Flask, data: dict[str, Any], like: int) -> int:
    """A queued case of credit_application with `data` as stored, the newest one."""
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        first = session.get_one(ProcessInstance, like)
        now = datetime.now(UTC)
        row = ProcessInstance(
            definition_id=first.definition_id,
            process_key="credit_application",
            version=1,
            business_key="HOSTILE-A2",
            status="running",
            state="",
            data=data,
            started_by="sales1",
            started_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return int(row.id)


@pytest.mark.usefixtures("application")
@pytest.mark.parametrize("user", ["sales1", "collector1", "auditor1", "manager1"])
def test_hidden_values_by_anyone_but_a_process_owner_is_403(app: Flask, user: str) -> None:
    browser = logged_in(app, user)
    headers = {"X-CSRFToken": csrf_token(browser, "/inbox")}
    body = {"hidden_values": True, "subject": "customer_name", **DURATION}
    for path in ROUTES:
        answer = browser.post(path, json=body, headers=headers)
        assert answer.status_code == 403, (path, answer.status_code)
        _clean(answer)


@pytest.mark.usefixtures("application")
def test_hidden_values_without_a_session_or_csrf_is_refused(app: Flask) -> None:
    anonymous = app.test_client()
    body = {"hidden_values": True, "subject": "customer_name", **DURATION}
    for path in ROUTES:
        answer = anonymous.post(path, json=body)
        assert answer.status_code in (302, 400, 401), (path, answer.status_code)
        _clean(answer)
    owner = logged_in(app, "owner1")
    for path in ROUTES:
        answer = owner.post(path, json=body)
        assert answer.status_code == 400, (path, answer.status_code)
        _clean(answer)


@pytest.mark.usefixtures("application")
@pytest.mark.parametrize("value", ["true", 1, 0, None, [True], {"on": True}, 10**40, 1.0, "", "false"])
def test_hidden_values_that_is_not_a_boolean_is_400(app: Flask, value: Any) -> None:
    browser, headers = _owner(app)
    for path in ROUTES:
        body = {"hidden_values": value, "subject": "customer_name", **DURATION}
        answer = browser.post(path, json=body, headers=headers)
        assert answer.status_code == 400, (path, value, answer.status_code)
        _clean(answer)


def test_hidden_values_with_an_instance_id_is_400_even_a_readable_one(
    app: Flask, application: dict[str, Any]
) -> None:
    for groups in ((), ("credit_analyst",)):
        browser, headers = _owner(app, *groups)
        for path in (TEXTS, TIMER):
            for instance_id in (application["id"], 0, -1, "1", 10**30):
                body = {"hidden_values": True, "instance_id": instance_id, "subject": "1", **DURATION}
                answer = browser.post(path, json=body, headers=headers)
                assert answer.status_code == 400, (groups, path, instance_id, answer.status_code)
                _clean(answer)


@pytest.mark.parametrize(
    "subject",
    [
        "customer_name.__class__",
        "credit_file.__class__.__mro__",
        "requested_limit.__class__.__subclasses__()",
        "[x for x in range(10**9)]",
        "str(range(10**9))",
        "'x' * 10**9",
        "10**10**10",
        "globals()",
        "__import__('os')",
        "open('/etc/passwd').read()",
    ],
)
def test_hostile_subjects_over_hidden_values_are_answers(
    app: Flask, application: dict[str, Any], subject: str
) -> None:
    browser, headers = _owner(app)
    started = time.monotonic()
    answer = browser.post(TEXTS, json={"hidden_values": True, "subject": subject}, headers=headers)
    assert time.monotonic() - started < 20
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    text = _clean(answer)
    assert len(text) < 10_000 and "root:" not in text


@pytest.mark.parametrize(
    "instructions",
    [
        "{{ customer_name.__class__ }}",
        "{{ customer_name.__class__.__mro__[1].__subclasses__() }}",
        "{% for i in range(10**9) %}x{% endfor %}",
        "{% for k, v in credit_file.items() %}{{ k }}={{ v }};{% endfor %}",
        "{{ self.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ lipsum.__globals__ }}",
        "{{ config }}{{ request }}",
        "{% for x in justification %}{{ x }}{% endfor %}|{{ justification|list|join('') }}",
    ],
)
def test_hostile_instructions_over_hidden_values_are_answers(
    app: Flask, application: dict[str, Any], instructions: str
) -> None:
    browser, headers = _owner(app)
    started = time.monotonic()
    body = {"hidden_values": True, "instructions": instructions}
    answer = browser.post(TEXTS, json=body, headers=headers)
    assert time.monotonic() - started < 30
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    text = _clean(answer)
    assert "SECRET_KEY" not in text and len(text) < 200_000


def test_the_whole_hidden_case_printed_names_no_value(app: Flask, application: dict[str, Any]) -> None:
    browser, headers = _owner(app)
    body = {
        "hidden_values": True,
        "subject": "str(credit_file) + str(customer_id) + str(requested_limit)",
        "instructions": "{% for k in credit_file %}{{ k }}={{ credit_file[k] }};{% endfor %}"
        "{{ customer_id }}|{{ requested_limit }}|{{ justification }}",
    }
    answer = browser.post(TEXTS, json=body, headers=headers)
    assert answer.status_code == 200
    _clean(answer)
    assert answer.json["subject"]["ok"], answer.json
    timer = {**DURATION, "expression": '"P" + str(customer_id) + "D"', "hidden_values": True}
    fires = browser.post(TIMER, json=timer, headers=headers)
    assert fires.status_code == 200 and fires.json["ok"], fires.json
    _clean(fires)


def test_a_case_with_personal_data_as_keys_and_odd_values_leaks_nothing(
    app: Flask, application: dict[str, Any]
) -> None:
    hostile = {
        "by_person": {"Anna Secret": {"Bob Secret": "Geheim"}, "INV-Secret-1": [1, 2]},
        "mixed": [{"Secret Name": "x"}, "Geheim", 80000],
        "Secret-Key With Spaces": "Geheim value",
        "emails": {"secret@example.com": "Geheim"},
        "unicode": {"Sécret": "Geheim", "ゲハイム": "Secret"},
        "long": "Secret " * 50_000,
        "numbers": [80000, 80000.5, True, None],
    }
    _crafted(app, hostile, application["id"])
    browser, headers = _owner(app)
    body = {
        "hidden_values": True,
        "subject": "str(by_person) + str(mixed) + str(emails) + str(unicode) + long + str(numbers)",
        "instructions": "{{ by_person }}{{ mixed }}{{ emails }}{{ unicode }}{{ long }}{{ numbers }}",
    }
    started = time.monotonic()
    answer = browser.post(TEXTS, json=body, headers=headers)
    assert time.monotonic() - started < 20
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    text = _clean(answer)
    assert "example.com" not in text and "ゲハイム" not in text and "Sécret" not in text
    assert answer.json["subject"]["ok"], answer.json


def test_a_deep_list_case_is_bounded(app: Flask, application: dict[str, Any]) -> None:
    deep: Any = "Secret bottom"
    for _level in range(200):
        deep = [deep, {"Secret": deep}] if _level < 3 else [deep]
    _crafted(app, {"deep": deep, "wide": [[i] * 1000 for i in range(1000)]}, application["id"])
    browser, headers = _owner(app)
    started = time.monotonic()
    body = {"hidden_values": True, "subject": "str(deep) + str(wide)", "instructions": "{{ deep }}{{ wide }}"}
    answer = browser.post(TEXTS, json=body, headers=headers)
    assert time.monotonic() - started < 20
    assert answer.status_code == 200
    text = _clean(answer)
    assert len(text) < 20_000


def test_hidden_values_of_another_process_never_shows_this_process_case(
    app: Flask, application: dict[str, Any]
) -> None:
    browser, headers = _owner(app)
    for path in (
        "/definitions/definition_approval/1/preview/texts",
        "/definitions/no_such_process/1/preview/texts",
        "/definitions/credit_application/99/preview/texts",
        "/definitions/credit_application/99999999999999999999999/preview/texts",
        "/definitions/a%00b/1/preview/texts",
        "/definitions/" + "k" * 5000 + "/1/preview/texts",
        "/definitions/credit_application%25/1/preview/texts",
        NEW_TEXTS,
    ):
        body = {"hidden_values": True, "subject": "customer_name", "instructions": "{{ customer_id }}"}
        answer = browser.post(path, json=body, headers=headers)
        assert answer.status_code in (200, 400, 404), (path, answer.status_code)
        text = _clean(answer)
        assert "‹customer_name›" not in text, (path, text)
    new = browser.post(NEW_TEXTS, json={"hidden_values": True, "subject": "1 + 1"}, headers=headers)
    assert new.status_code == 200 and new.json["subject"] == {"ok": True, "text": "2"}
    timer = browser.post(NEW_TIMER, json={**DURATION, "hidden_values": True}, headers=headers)
    assert timer.status_code == 200 and timer.json["ok"], timer.json


def test_hidden_values_false_is_no_data_as_before(app: Flask, application: dict[str, Any]) -> None:
    browser, headers = _owner(app)
    body = {"hidden_values": False, "subject": "customer_name"}
    answer = browser.post(TEXTS, json=body, headers=headers)
    assert answer.status_code == 200 and answer.json["subject"]["ok"] is False
    _clean(answer)
    assert CUSTOMER not in answer.get_data(as_text=True)

"""A task whose JSON column no decoder reads (a hand edit: JSON nested 3,000 levels, which both databases
store) answers with the same shape on every reader's API and pages, says the stored text under
"unreadable", and is worked by no one it should not be (workflows/task_answers.py, task_rights,
forms.validate_form). A26's attack (tests/attacks/test_session14_store_attack.py) shows no 500s; this
shows what the reader sees."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.attacks.test_session13_lead_attack import _hand_edit
from tests.attacks.test_session14_store_attack import DEEP_LIST, DEEP_OBJECT, REJECT, _application
from tests.helpers import auth
from tests.webui.test_pages import logged_in

pytestmark = pytest.mark.usefixtures("shipped")

# column, the answer's name for it, what the answer shows instead, the stored text
_CASES = [
    ("candidate_groups", "groups", lambda task: (task["groups"], task["group"]) == ([], None), DEEP_LIST),
    ("four_eyes", "context.four_eyes", lambda task: task["context"]["four_eyes"] == [], DEEP_LIST),
    ("form_schema", "form.schema", lambda task: task["form"] == {"fields": [], "schema": {}}, DEEP_OBJECT),
    ("context", "context.data", lambda task: task["context"]["data"] == {}, DEEP_OBJECT),
]


@pytest.mark.parametrize(("column", "name", "instead", "value"), _CASES)
def test_an_unreadable_task_column_is_said_as_stored_and_the_pages_answer(
    app: Flask, client: FlaskClient, demo_tokens: dict[str, str], column: str, name: str, instead, value: str
) -> None:
    started = _application(client, demo_tokens)
    task = started["tasks"][0]["id"]
    assert _hand_edit(app, f"UPDATE inbox_items SET {column} = :v", {"v": value})  # noqa: S608
    admin = auth(demo_tokens["admin"])
    one = client.get(f"/api/tasks/{task}", headers=admin).json
    [listed] = client.get("/api/tasks", headers=admin).json["items"]
    [shown] = client.get(f"/api/process-instances/{started['id']}", headers=admin).json["tasks"]
    for answer in (one, listed, shown):
        assert answer["unreadable"] == {name: value} and instead(answer), answer["unreadable"].keys()
    assert listed == one  # the inbox page's plain rows answer as task_json does
    for user in ("admin", "auditor1", "analyst1"):
        browser = logged_in(app, user)
        assert browser.get("/inbox").status_code == 200, user
        page = browser.get(f"/tasks/{task}")
        assert page.status_code in (200, 403), user
        if user == "admin" and column != "context":  # the page says what it cannot read (it shows the
            said = {  # instance's case data, not the task's copy: that one is said by the API only)
                "candidate_groups": "groups no one can read",
                "four_eyes": "Four-eyes rule: the rule of",
                "form_schema": "form cannot be read, so no input can be checked",
            }[column]
            assert said in page.get_data(as_text=True), column
    done = client.post(f"/api/tasks/{task}/complete", json=REJECT, headers=auth(demo_tokens["analyst1"]))
    if column in ("candidate_groups", "four_eyes"):  # no one is known to pass: no analyst works it
        assert done.status_code == 403, done.json
    elif column == "form_schema":  # no input can be checked against a form no one reads
        assert done.status_code == 409, done.json
    else:
        assert done.status_code == 200, done.json

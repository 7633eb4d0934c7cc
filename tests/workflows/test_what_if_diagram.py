"""Issue 18: a what-if "for the edited diagram where it changes decisions only". An uploaded BPMN that is the
deployed one (labels and drawing aside) is accepted; one that points a business rule task at another
decision has that decision's table replayed over the rows the task logged; one that changes how the process
runs is refused with a 422 naming what changed. Expected counts are the authority table written out by hand
(tests/workflows/test_what_if.py's `level_of`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.webui.test_pages import csrf_token, logged_in
from tests.workflows.test_what_if import (
    AUTHORITY,
    BPMN,
    RAISED,
    SEEDED,
    level_of,
    period,
    seed_history,
    what_if,
)

pytestmark = pytest.mark.usefixtures("shipped")

DIAGRAM = (BPMN / "credit_application.bpmn").read_text(encoding="utf-8")
CALLS_AUTHORITY = "<spiffworkflow:calledDecisionId>approval_authority</spiffworkflow:calledDecisionId>"
STRICT = (
    AUTHORITY.replace('id="approval_authority"', 'id="strict_authority"')
    .replace('dmnElementRef="approval_authority"', 'dmnElementRef="strict_authority"')
    .replace('id="approval_authority_definitions"', 'id="strict_authority_definitions"')
    .replace("&gt; 100000<", "&gt; 50000<")
)


@pytest.fixture
def logged(app: Flask, clock: datetime) -> list[dict[str, Any]]:
    return seed_history(app, clock)  # 500 approval_authority rows of decide_authority


def test_the_deployed_diagram_relabelled_and_moved_changes_nothing(
    client: FlaskClient, demo_tokens: dict[str, str], logged: list[dict[str, Any]], clock: datetime
) -> None:
    relabelled = DIAGRAM.replace('name="Who must approve"', 'name="Who signs"').replace(
        'x="', 'x="1'
    )  # every shape and waypoint moves
    assert relabelled.count('x="1') > 20
    with_diagram = what_if(
        client,
        demo_tokens["owner1"],
        {"credit_application.bpmn": relabelled, "approval_authority.dmn": RAISED},
        **period(clock),
    )
    alone = what_if(client, demo_tokens["owner1"], {"approval_authority.dmn": RAISED}, **period(clock))
    assert with_diagram.status_code == alone.status_code == 200, with_diagram.json
    assert with_diagram.json["changes"] == alone.json["changes"]
    assert with_diagram.json["summary"]["repointed"] == []
    assert with_diagram.json["summary"]["changed"] == sum(
        level_of(i, 100_000) != level_of(i, 150_000) for i in logged
    )


def test_a_task_pointed_at_another_decision_replays_that_table_over_the_task_s_rows(
    client: FlaskClient, demo_tokens: dict[str, str], logged: list[dict[str, Any]], clock: datetime
) -> None:
    repointed = DIAGRAM.replace(
        CALLS_AUTHORITY, CALLS_AUTHORITY.replace(">approval_authority<", ">strict_authority<")
    )
    assert repointed.count("strict_authority") == 1  # decide_authority
    answer = what_if(
        client,
        demo_tokens["owner1"],
        {"credit_application.bpmn": repointed, "strict_authority.dmn": STRICT},
        **period(clock),
    )
    assert answer.status_code == 200, answer.json
    summary = answer.json["summary"]
    assert {"bpmn_id": "decide_authority", "from": "approval_authority", "to": "strict_authority"} in summary[
        "repointed"
    ]
    [own, via_task] = summary["tables"]  # the uploaded table over its own (no) rows, then over the task's
    assert (own["decision_id"], own["rows"], own["bpmn_id"]) == ("strict_authority", 0, None)
    assert (via_task["decision_id"], via_task["bpmn_id"]) == ("strict_authority", "decide_authority")
    expected = sum(level_of(i, 100_000) != level_of(i, 50_000) for i in logged)
    assert via_task["rows"] == SEEDED and via_task["failed"] == 0, via_task["failure"]
    assert via_task["changed"] == summary["changed"] == answer.json["changes"]["total"] == expected > 0


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (
            ('grade != "E"</bpmn:conditionExpression>', 'grade != "D"</bpmn:conditionExpression>'),
            "needs_review",
        ),
        (('<spiffworkflow:property name="dueIn" value="P2D" />', ""), "review_application"),
        (
            ('name="credit_manager"', 'name="credit_analyst"'),
            "credit_manager_lane",
        ),  # a lane's name is its group
    ],
)
def test_a_diagram_that_changes_how_the_process_runs_is_refused(
    client: FlaskClient, demo_tokens: dict[str, str], edit: tuple[str, str], names: str
) -> None:
    old, new = edit
    assert old in DIAGRAM
    answer = what_if(
        client,
        demo_tokens["owner1"],
        {"credit_application.bpmn": DIAGRAM.replace(old, new, 1), "approval_authority.dmn": RAISED},
        **{"from": "2026-01-01", "to": "2026-03-01"},
    )
    assert answer.status_code == 422, answer.json
    message = answer.json["error"]["message"]
    assert "decision changes only" in message and names in message


@pytest.mark.parametrize(
    ("files", "status", "says"),
    [
        ({"a.bpmn": DIAGRAM, "b.bpmn": DIAGRAM}, 400, "at most one"),
        ({"credit_application.bpmn": "<bpmn:definitions"}, 422, "well-formed"),
        ({"credit_application.bpmn": ""}, 422, "well-formed"),
        ({"credit_application.bpmn": "<a>" * 5000 + "</a>" * 5000}, 422, "credit_application.bpmn"),
        ({"credit_application.bpmn": AUTHORITY}, 422, "decision changes only"),  # a table named .bpmn
        (
            {
                "credit_application.bpmn": DIAGRAM.replace(
                    CALLS_AUTHORITY, CALLS_AUTHORITY.replace(">approval_", ">no_")
                )
            },
            422,
            "'no_authority'",
        ),
    ],
)
def test_bad_diagrams_are_a_clear_4xx(
    client: FlaskClient, demo_tokens: dict[str, str], files: dict[str, str], status: int, says: str
) -> None:
    answer = what_if(client, demo_tokens["owner1"], files, **{"from": "2026-01-01", "to": "2026-03-01"})
    assert answer.status_code == status, answer.json
    assert says in answer.json["error"]["message"]


def test_the_edit_page_refuses_a_diagram_that_changes_the_flow(
    app: Flask, demo_tokens: dict[str, str]
) -> None:
    browser = logged_in(app, "owner1")
    headers = {"X-CSRFToken": csrf_token(browser, "/inbox")}
    url = "/definitions/credit_application/1/what-if"
    period_ = {"from": "2026-01-01", "to": "2026-03-01"}
    changed = DIAGRAM.replace(
        'grade != "E"</bpmn:conditionExpression>', 'grade != "D"</bpmn:conditionExpression>'
    )
    answer = browser.post(
        url, json={"xml": changed, "files": {"approval_authority.dmn": RAISED}, **period_}, headers=headers
    )
    assert answer.status_code == 422, answer.get_data(as_text=True)[:300]
    assert "needs_review" in answer.get_data(as_text=True)
    for xml in (DIAGRAM, ["not", "text"], 10**30):  # nothing edited: the same diagram, or no diagram at all
        answer = browser.post(url, json={"xml": xml, **period_}, headers=headers)
        assert answer.status_code == 400, answer.get_data(as_text=True)[:300]

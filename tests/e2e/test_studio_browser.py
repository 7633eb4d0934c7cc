"""Issue 18, must-show 1, in Debian chromium: the process owner's properties panel. owner1 opens
credit_application, gives the analyst's review task another candidate group and due date in the panel, reads
a service task's operation and that operation's fields, sees an invalid condition marked before deploying and
the deploy refuse it, and deploys; a new application's review task then waits in the new group with the new
due date."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    deploy_shipped,
    live_url,
    log_in,
    page,
)
from tests.helpers import auth
from workflows.store.db import transaction
from workflows.users import add_user, issue_token

pytestmark = pytest.mark.browser

STUDIO = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "studio" / "studio.js"


def entry(page: Any, entry_id: str, control: str = "input") -> Any:  # noqa: F811
    return page.locator(f'[data-entry-id="{entry_id}"] {control}')


def select(page: Any, element_id: str) -> None:  # noqa: F811
    """Click the element on the canvas, as a user does (after panning it clear of the palette, which covers
    the canvas's left edge); the panel then shows its properties."""
    page.evaluate(
        """id => window.creditflowModeler.get("canvas").scrollToElement(id,
             { top: 120, bottom: 120, left: 260, right: 120 })""",
        element_id,
    )
    # The middle of a flow's first segment (a bent flow's box centre may lie on a lane), a lane's label
    # strip, else the centre.
    x, y = page.evaluate(
        """id => {
             const modeler = window.creditflowModeler, canvas = modeler.get("canvas");
             const el = modeler.get("elementRegistry").get(id), box = canvas.viewbox();
             const at = el.waypoints
               ? { x: (el.waypoints[0].x + el.waypoints[1].x) / 2,
                   y: (el.waypoints[0].y + el.waypoints[1].y) / 2 }
               : el.type === "bpmn:Lane"
                 ? { x: el.x + 15, y: el.y + el.height / 2 }  // its label strip: tasks lie on the rest
                 : { x: el.x + el.width / 2, y: el.y + el.height / 2 };
             const frame = canvas.getContainer().getBoundingClientRect();
             return [frame.left + (at.x - box.x) * box.scale, frame.top + (at.y - box.y) * box.scale];
           }""",
        element_id,
    )
    page.mouse.click(x, y)
    page.wait_for_function(
        "id => document.querySelector('[data-entry-id=id] input')?.value === id", arg=element_id
    )


def checked(page: Any) -> None:  # noqa: F811
    """Wait until the last change was checked by POST .../validate (the panel checks every change)."""
    page.wait_for_function("() => !!document.querySelector('[data-bpmn-modeler]').dataset.checked")


def test_owner_sets_group_and_due_date_in_the_panel_and_a_bad_condition_is_refused(
    app: Flask,
    page: Any,  # noqa: F811
    client: FlaskClient,
    demo_tokens: dict[str, str],
    tmp_path: Path,  # noqa: F811
) -> None:
    if not STUDIO.exists():
        pytest.skip("the studio bundle is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "definition_approval")
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")

    # The analyst's review task: its group (from the lane until now) and its due date, in the panel.
    select(page, "review_application")
    groups = entry(page, "candidateGroups", "select")
    assert groups.input_value() == ""  # the lane decides today
    assert "credit_analyst" in page.locator('[data-entry-id="candidateGroups"]').inner_text()
    assert entry(page, "formJsonSchemaFilename", "select").input_value() == "credit_review.json"
    assert entry(page, "fourEyes").input_value() == "initiator"
    assert entry(page, "dueIn").input_value() == "P2D"
    assert "2 days" in page.locator('[data-entry-id="dueIn"]').inner_text()
    groups.select_option("credit_manager")
    entry(page, "dueIn").fill("P5X")
    page.locator('[data-entry-id="dueIn"] .bio-properties-panel-error').wait_for()  # marked as typed
    entry(page, "dueIn").fill("P5D")
    page.locator('[data-entry-id="dueIn"]:has-text("5 days")').wait_for()
    checked(page)
    assert page.locator('[data-entry-id="dueIn"] .bio-properties-panel-error').count() == 0
    assert page.locator(".modeler-status.ok").count() == 1

    # A service task: its operation, chosen from the live handler table, and that operation's fields.
    select(page, "load_credit_file")
    assert entry(page, "serviceTaskOperator", "select").input_value() == "credit.load_file"
    operator_text = page.locator('[data-entry-id="serviceTaskOperator"]').inner_text()
    assert "who the customer is" in operator_text  # the handler's description
    assert entry(page, "parameter-customer_id").input_value() == "customer_id"
    parameter = page.locator('[data-entry-id="parameter-customer_id"]')
    assert "customer_id (int, required)" in parameter.inner_text()
    result = page.locator('[data-entry-id="resultVariable"]')
    assert entry(page, "resultVariable").input_value() == "credit_file"
    assert "customer_name (str)" in result.inner_text() and "exposure (Decimal)" in result.inner_text()
    options = entry(page, "serviceTaskOperator", "select").locator("option").all_inner_texts()
    assert "credit.score" in options and "notify.email" in options

    # An invalid condition on a sequence flow is marked on the flow and in the panel before any deploy ...
    select(page, "needs_review")
    condition = entry(page, "conditionExpression", "textarea")
    assert condition.input_value() == 'grade != "E"'
    condition.fill("grade !=")
    page.locator('.djs-element.cf-problem[data-element-id="needs_review"]').wait_for()
    error = page.locator('[data-entry-id="conditionExpression"] .bio-properties-panel-error')
    error.wait_for()
    assert "syntax" in error.inner_text()
    page.screenshot(path=str(tmp_path / "studio-problem.png"))
    # ... and deploy refuses it: nothing is deployed.
    page.get_by_role("button", name="Deploy as new version").click()
    page.locator(".modeler-status.error:has-text('Nothing was deployed')").wait_for()
    assert "needs_review" in page.locator(".problems").inner_text()
    versions = client.get("/api/process-definitions", headers=auth(demo_tokens["owner1"])).json
    assert [d["version"] for d in versions if d["key"] == "credit_application"] == [1]

    condition.fill('grade != "E"')
    page.wait_for_selector('.djs-element.cf-problem[data-element-id="needs_review"]', state="detached")
    checked(page)
    page.get_by_role("button", name="Deploy as new version").click()
    page.get_by_role("link", name="Deployed credit_application version 2.").wait_for()
    page.screenshot(path=str(tmp_path / "studio-deployed.png"))

    xml = _diagram(app, 2)
    assert '<spiffworkflow:property name="candidateGroups" value="credit_manager" />' in xml
    assert '<spiffworkflow:property name="dueIn" value="P5D" />' in xml
    assert '<spiffworkflow:property name="dueIn" value="P2D" />' in xml  # the approvals' are unchanged
    assert "<spiffworkflow:instructionsForEndUser>Score {{ scoring.score }}" in xml  # extensions survive

    # Version 2 sets limits: a second process owner approves it before it starts.
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        add_user(session, "owner2", groups=["process_owner"], now=svc.clock())
        owner2 = issue_token(session, "owner2", svc.clock())
    later = (svc.clock() + timedelta(seconds=5)).isoformat()
    tick = client.post("/api/admin/tick", json={"now": later}, headers=auth(demo_tokens["admin"]))
    assert tick.status_code == 200
    [approval] = client.get("/api/tasks", headers=auth(owner2)).json["items"]
    approve = {"data": {"decision": "approve", "comment": "review goes to the managers"}}
    done = client.post(f"/api/tasks/{approval['id']}/complete", json=approve, headers=auth(owner2))
    assert done.status_code == 200

    customer = client.post(
        "/api/customers",
        json={
            "name": "Panel Changes AG",
            "industry": "manufacturing",
            "founded_year": 1990,
            "annual_revenue": "50000000.00",
            "currency": "EUR",
        },
        headers=auth(demo_tokens["sales1"]),
    ).json
    data = {
        "customer_id": customer["id"],
        "requested_limit": 200_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "New plant",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(demo_tokens["sales1"]),
    ).json
    assert started["version"] == 2
    [review] = [t for t in started["tasks"] if t["status"] == "open"]
    assert review["name"] == "review_application"
    # In the managers' inbox, no longer the analysts', due five days after it opened.
    inbox = client.get("/api/tasks", headers=auth(demo_tokens["manager1"])).json["items"]
    [task] = [t for t in inbox if t["id"] == review["id"]]
    assert task["groups"] == ["credit_manager"]
    created = datetime.fromisoformat(task["created_at"])
    assert datetime.fromisoformat(task["due_at"]) - created == timedelta(days=5)
    analysts = client.get("/api/tasks", headers=auth(demo_tokens["analyst1"])).json["items"]
    assert review["id"] not in [t["id"] for t in analysts]


def _diagram(app: Flask, version: int) -> str:
    from webui.diagrams import diagram_xml
    from workflows.definitions.versions import get_definition

    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        return diagram_xml(session, get_definition(session, "credit_application", version))


def test_the_panel_shows_and_writes_scripts_timers_decisions_lanes_and_messages(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],  # the demo users, owner1 among them
) -> None:
    if not STUDIO.exists():
        pytest.skip("the studio bundle is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "dunning")
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")

    select(page, "review_application")
    assert entry(page, "subject").input_value().startswith('credit_file["customer_name"]')
    assert entry(page, "instructions", "textarea").input_value().startswith("Score {{ scoring.score }}")

    select(page, "reject_automatically")
    assert entry(page, "script", "textarea").input_value().startswith('decision = "reject"')

    select(page, "information_reminder")
    assert entry(page, "timerType", "select").input_value() == "timeDuration"
    assert entry(page, "timerExpression").input_value() == '"P5D"'
    assert "Fires 5 days after" in page.locator('[data-entry-id="timerExpression"]').inner_text()
    entry(page, "timerExpression").fill('"P3D"')
    page.locator('[data-entry-id="timerExpression"]:has-text("Fires 3 days after")').wait_for()
    checked(page)
    xml = page.evaluate("() => window.creditflowModeler.saveXML({ format: true }).then(r => r.xml)")
    assert '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P3D"</bpmn:timeDuration>' in xml
    entry(page, "timerType", "select").select_option("timeCycle")  # the expression is kept
    page.wait_for_function(
        "v => document.querySelector('[data-entry-id=timerExpression] input')?.value === v", arg='"P3D"'
    )
    assert entry(page, "timerType", "select").input_value() == "timeCycle"
    entry(page, "timerExpression").fill('"R3/PT1H"')
    page.locator('[data-entry-id="timerExpression"]:has-text("Fires every 1 hour, 3 times.")').wait_for()

    select(page, "grade_customer")
    decision = entry(page, "decisionRef", "select")
    assert decision.input_value() == "credit_scorecard"
    assert "approval_authority" in decision.locator("option").all_inner_texts()

    select(page, "credit_analyst_lane")
    lane = entry(page, "laneGroup", "select")
    assert lane.input_value() == "credit_analyst"
    assert "collections" in lane.locator("option").all_inner_texts()

    checked(page)
    xml = page.evaluate("() => window.creditflowModeler.saveXML({ format: true }).then(r => r.xml)")
    reminder = xml.split('id="information_reminder"')[1].split("</bpmn:boundaryEvent>")[0]
    assert "<bpmn:timeDuration" not in reminder
    assert '<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R3/PT1H"</bpmn:timeCycle>' in xml
    # What the panel did not touch is written back as read, unknown extensions included.
    assert '<spiffworkflow:property name="name_zh" value="审核信用申请" />' in xml
    assert "<spiffworkflow:calledDecisionId>credit_scorecard</spiffworkflow:calledDecisionId>" in xml

    page.goto("/definitions/dunning/1/edit")
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")
    select(page, "await_payment")
    assert entry(page, "messageName", "select").input_value() == "payment_received_message"
    assert entry(page, "senderGroups").input_value() == "finance"
    assert entry(page, "messageVariable").input_value() == "payment"
    assert entry(page, "messageJsonSchemaFilename", "select").input_value() == "message_payment_received.json"
    entry(page, "senderGroups").fill("finance, nobody")
    page.locator('[data-entry-id="senderGroups"]:has-text("unknown group(s): nobody")').wait_for()
    names = entry(page, "messageName", "select").locator("option").all_inner_texts()
    assert "promise_to_pay" in names and "dispute" in names

"""Issue 18, must-show 2 in one chromium walk: owner1 raises the credit manager's threshold in
approval_authority.dmn on the definition edit page, reads the change in words, runs the what-if over the
demo's history plus 500 seeded applications and reads counts equal to the test's own computation, and
deploys; once a second process owner approved version 2, a new application of the changed size skips the
manager.

The 500 applications' decision log rows come out of the runtime's own path: SpiffWorkflow's DMN engine
evaluates the deployed table through the patched `DMNEngine.result` (which names the matched rules) inside
`patches.recording_decisions`, and `decision_row` writes the row the engine's step would write, from task data
shaped as credit.check_recommendation leaves it. Running 500 applications through review and approvals would
take minutes; what the what-if reads of them is exactly these rows.

The expected counts do not come from the DMN engine: `_route` below is the table's rules written out by hand.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    live_url,
    log_in,
    page,
)
from tests.e2e.test_dmn_browser import DMN, MANAGER_LIMIT, _checked, _type_into_cell
from tests.helpers import auth
from webui.diagrams import deployment_files
from workflows.cli.demo import seed_demo, start_demo_cases
from workflows.definitions.versions import get_definition
from workflows.engine import patches
from workflows.engine.decision_rows import decision_row
from workflows.engine.decisions import decision_engine
from workflows.store.db import transaction
from workflows.store.decision_log_table import DecisionLogEntry
from workflows.store.models import Base
from workflows.users import add_user, issue_token

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("shipped")]

SEEDED = 500
HISTORY_DAYS = 90  # the seeded applications were decided over the 90 days before the demo's day
OLD_THRESHOLD, NEW_THRESHOLD = Decimal("100000"), Decimal("150000")
CHANGED_SIZE = 120_000  # between the old and the new threshold
SOLID_CUSTOMER = {
    "name": "Threshold Walk GmbH",
    "email": "ap@threshold-walk.example",
    "industry": "manufacturing",
    "founded_year": 1990,
    "annual_revenue": "50000000.00",
    "currency": "EUR",
}


def _route(inputs: dict[str, Any], threshold: Decimal) -> str:
    """approval_authority.dmn's rules in order (hit policy FIRST), by hand, with the manager's threshold."""
    limit = Decimal(str(inputs['recommendation["limit_in_base"]']))
    above, grade = inputs['recommendation["above_policy"]'], inputs["grade"]
    if inputs['recommendation["rate_missing"]']:
        return "cfo"
    if limit > 1_000_000 or (limit > 100_000 and above):
        return "cfo"
    if limit > threshold:
        return "manager"
    if grade == "D":
        return "cfo" if above else "manager"
    return "manager" if above else "analyst"


def _seed_applications(app: Flask, today: date) -> None:
    """500 approval_authority decisions, each evaluated by the engine's DMN code and logged as its step
    logs a business rule task: the deployed table, the task data check_recommendation leaves."""
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        files = deployment_files(session, get_definition(session, "credit_application", 1))
    engine, probe = decision_engine(files["approval_authority.dmn"], "approval_authority")
    spec = SimpleNamespace(bpmn_id="decide_authority", extensions={"calledDecisionId": "approval_authority"})
    rows: list[dict[str, Any]] = []
    record = lambda dmn, task, rules, outputs: rows.append(decision_row(dmn, task, rules, outputs))  # noqa: E731
    rng = random.Random(18)
    with patches.recording_decisions(record):
        for _n in range(SEEDED):
            limit = Decimal(rng.choice([rng.randrange(5_000, 300_000), rng.randrange(5_000, 1_500_000)]))
            recommendation = {
                "above_policy": rng.random() < 0.15,
                "policy_limit": str(limit + 10_000),
                "limit_in_base": limit,
                "rate_missing": rng.random() < 0.03,
                "base_currency": "EUR",
            }
            data = {"recommendation": recommendation, "grade": rng.choice("AABBBCCD")}
            engine.result(SimpleNamespace(task_spec=spec, data=data, workflow=probe.workflow))
    assert len(rows) == SEEDED
    with transaction(svc.rt.factory) as session:
        for n, row in enumerate(rows):
            at = datetime.combine(today, datetime.min.time(), svc.clock().tzinfo) - timedelta(
                days=1 + n % HISTORY_DAYS, minutes=n
            )
            session.add(
                DecisionLogEntry(**row, instance_id=None, process_key="credit_application", version=1, at=at)
            )


def _decide_demo_application(client: FlaskClient, tokens: dict[str, str]) -> None:
    """analyst1 approves the demo's Nordlicht application at 130,000: the engine logs its authority."""
    tasks = client.get("/api/tasks", headers=auth(tokens["analyst1"])).json["items"]
    [review] = [t for t in tasks if t["name"] == "review_application"]
    decision = {
        "decision": "approve",
        "recommended_limit": 130_000,
        "exception_reason": "Twelve new stores; the seasonal stock is insured",
    }
    done = client.post(
        f"/api/tasks/{review['id']}/complete", json={"data": decision}, headers=auth(tokens["analyst1"])
    )
    assert done.status_code == 200, done.json


def _expected(app: Flask, start: date, end: date) -> tuple[int, int]:
    """(rows, changed) over the logged approval_authority inputs of the period, by `_route`."""
    svc = app.extensions["creditflow"]
    log = DecisionLogEntry
    with svc.rt.factory() as session:
        inputs = list(
            session.scalars(
                select(log.inputs).where(
                    log.decision_id == "approval_authority",
                    log.process_key == "credit_application",
                    log.at >= datetime.combine(start, datetime.min.time(), svc.clock().tzinfo),
                    log.at
                    < datetime.combine(end + timedelta(days=1), datetime.min.time(), svc.clock().tzinfo),
                )
            )
        )
    changed = sum(_route(i, OLD_THRESHOLD) != _route(i, NEW_THRESHOLD) for i in inputs)
    return len(inputs), changed


def test_owner_raises_the_manager_threshold_replays_history_deploys_and_the_size_skips_the_manager(
    app: Flask,
    page: Any,  # noqa: F811
    client: FlaskClient,
    demo_tokens: dict[str, str],
) -> None:
    if not DMN.exists():
        pytest.skip("the decision table editor is not built; run `make setup` (it needs npm)")
    svc = app.extensions["creditflow"]
    now = svc.clock()
    with transaction(svc.rt.factory) as session:
        seed_demo(session, now)
    start_demo_cases(svc.rt, now)  # the demo's history: its cases, their decisions logged by the engine
    _decide_demo_application(client, demo_tokens)
    _seed_applications(app, now.date())
    start, end = now.date() - timedelta(days=HISTORY_DAYS + 1), now.date()
    rows, changed = _expected(app, start, end)
    assert rows == SEEDED + 1 and 0 < changed < rows  # the threshold matters for some, not all

    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_function("() => document.querySelector('[data-bpmn-modeler]').dataset.state === 'ready'")
    page.locator('[data-dmn-file="approval_authority.dmn"]').click()
    page.locator(f"td{MANAGER_LIMIT} .content-editable").wait_for()
    _type_into_cell(page, f"> {NEW_THRESHOLD}")
    _checked(page)
    assert page.locator(".dmn-problems").is_hidden(), page.locator(".dmn-problems li").all_inner_texts()
    assert page.locator(".dmn-diff li").all_inner_texts() == [
        "Who approves a credit limit — rule 4 (above_hundred_thousand): "
        f"Recommended limit in the base currency > {OLD_THRESHOLD} → > {NEW_THRESHOLD}"
    ]

    # The what-if over the demo's day and the 90 days of seeded history before it.
    what_if = page.locator("form.what-if")
    what_if.locator("input[name=from]").fill(start.isoformat())
    what_if.locator("input[name=to]").fill(end.isoformat())
    before = _row_counts(app)
    assert before["outbox_emails"] > 0  # the demo's dunning reminder waits in the outbox
    page.locator('[data-action="what-if"]').click()
    page.wait_for_function("() => document.querySelector('[data-dmn-editor]').dataset.whatIf === 'done'")
    assert _row_counts(app) == before  # must-show 3: it wrote nothing, the outbox included
    summary = page.locator(".what-if-summary li").all_inner_texts()
    assert summary[0] == (
        f"{rows} logged decisions from {start.isoformat()}T00:00:00+00:00 to "
        f"{end.isoformat()}T23:59:59.999999+00:00 replayed: {changed} would change."
    ), summary
    counts = re.search(
        r"approval_authority: (\d+) of (\d+) changed \(approval_level manager → analyst: (\d+)\)", summary[1]
    )
    assert counts is not None, summary
    assert [int(n) for n in counts.groups()] == [changed, rows, changed]
    # Each seeded row is an application of its own and the demo's is one case: as many as changed rows.
    assert summary[2].startswith(
        f"approval_authority: {changed} applications would have had another approver; approval hours "
    ), summary
    listed = page.locator(".what-if-changes tbody tr")
    assert listed.count() == min(changed, 20)
    more = page.locator(".what-if-more").inner_text()  # "the first 20 of N changed decisions"
    assert (re.findall(r"\d+", more) == ["20", str(changed)]) if changed > 20 else more == "", more

    page.locator('[data-action="deploy"]').click()
    page.wait_for_function(
        "() => !document.querySelector('.modeler-status').textContent.includes('deploying')"
    )
    status = page.locator(".modeler-status").inner_text()
    assert status.startswith("Deployed credit_application version 2"), page.locator(
        ".problems li"
    ).all_inner_texts()

    # Version 2 sets limits: a second process owner approves it before it starts.
    with transaction(svc.rt.factory) as session:
        add_user(session, "owner2", groups=["process_owner"], now=svc.clock())
        owner2 = issue_token(session, "owner2", svc.clock())
    later = (svc.clock() + timedelta(seconds=5)).isoformat()
    assert (
        client.post("/api/admin/tick", json={"now": later}, headers=auth(demo_tokens["admin"])).status_code
        == 200
    )
    [approval] = client.get("/api/tasks", headers=auth(owner2)).json["items"]
    approve = {"data": {"decision": "approve", "comment": "the manager signs above 150,000"}}
    assert (
        client.post(f"/api/tasks/{approval['id']}/complete", json=approve, headers=auth(owner2)).status_code
        == 200
    )

    # A new application of the changed size: the analyst's approval is the last, no manager step.
    customer = client.post("/api/customers", json=SOLID_CUSTOMER, headers=auth(demo_tokens["sales1"])).json
    data = {
        "customer_id": customer["id"],
        "requested_limit": CHANGED_SIZE,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "A second production line",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "data": data},
        headers=auth(demo_tokens["sales1"]),
    ).json
    assert started["version"] == 2, started
    [review] = [t for t in started["tasks"] if t["status"] == "open"]
    decided = client.post(
        f"/api/tasks/{review['id']}/complete",
        json={"data": {"decision": "approve", "recommended_limit": CHANGED_SIZE}},
        headers=auth(demo_tokens["analyst1"]),
    )
    assert decided.status_code == 200, decided.json
    instance = client.get(f"/api/process-instances/{started['id']}", headers=auth(demo_tokens["admin"])).json
    assert instance["status"] == "completed", instance
    assert instance["data"]["approval_level"] == "analyst"
    assert [t["name"] for t in instance["tasks"]] == ["review_application"]
    assert _route({**_logged_inputs(app, started["id"])}, OLD_THRESHOLD) == "manager"  # v1 would have asked


def _row_counts(app: Flask) -> dict[str, int]:
    with app.extensions["creditflow"].rt.factory() as session:
        return {
            t.name: session.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


def _logged_inputs(app: Flask, instance_id: int) -> dict[str, Any]:
    svc = app.extensions["creditflow"]
    log = DecisionLogEntry
    with svc.rt.factory() as session:
        [inputs] = session.scalars(
            # The business rule task's row (credit.apply_limit's handler logs its own check of the table too).
            select(log.inputs).where(
                log.instance_id == instance_id,
                log.decision_id == "approval_authority",
                log.bpmn_id == "decide_authority",
            )
        )
    return dict(inputs)

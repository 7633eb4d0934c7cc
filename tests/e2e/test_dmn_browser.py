"""Issue 18, decision tables in the browser (must-show 2, the browser half), in Debian chromium: owner1 opens
credit_application's edit page, opens approval_authority.dmn in the dmn-js decision table editor, raises the
credit manager's threshold in a cell, reads the change in words against the current version, and deploys the
bundle; version 2 then holds the new threshold and the diagram unchanged. A cell the deploy's DMN checker
refuses is marked in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.e2e.test_browser import (  # noqa: F401 (fixtures)
    chromium,
    deploy_shipped,
    live_url,
    log_in,
    page,
)
from webui.diagrams import deployment_files
from workflows.definitions.versions import get_definition
from workflows.store.db import transaction
from workflows.store.decision_log_table import DecisionLogEntry

pytestmark = pytest.mark.browser

DMN = Path(__file__).resolve().parents[2] / "webui" / "static" / "vendor" / "studio" / "dmn.js"
MANAGER_LIMIT = '[data-element-id="above_hundred_thousand_in2"]'  # rule 4: above 100,000 → the manager


def _checked(page: Any) -> None:  # noqa: F811
    page.wait_for_function("() => !!document.querySelector('[data-dmn-editor]').dataset.checked")


def _type_into_cell(page: Any, text: str) -> None:  # noqa: F811
    """As a user does: click the cell, select what it holds, type, and leave it."""
    page.locator(f"td{MANAGER_LIMIT}").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.locator(".dmn-editor h2").click()


def _log_decisions(app: Flask, limits: list[str]) -> None:
    """approval_authority decisions taken yesterday (grade B, within policy): the manager signed each."""
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        for limit in limits:
            inputs = {
                'recommendation["rate_missing"]': False,
                'recommendation["limit_in_base"]': limit,
                "grade": "B",
                'recommendation["above_policy"]': False,
            }
            session.add(
                DecisionLogEntry(
                    instance_id=None,
                    process_key="credit_application",
                    version=1,
                    decision_id="approval_authority",
                    bpmn_id="decide_authority",
                    inputs=inputs,
                    outputs={"approval_level": "manager"},
                    rules=[],
                    at=datetime.now(UTC) - timedelta(days=1),  # the page's "last 30 days" are the browser's
                )
            )


def _files(app: Flask, version: int) -> dict[str, str]:
    svc = app.extensions["creditflow"]
    with svc.rt.factory() as session:
        return deployment_files(session, get_definition(session, "credit_application", version))


def test_owner_raises_the_manager_threshold_reads_the_diff_and_deploys(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],  # the demo users, owner1 among them
) -> None:
    if not DMN.exists():
        pytest.skip("the decision table editor is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "definition_approval")  # it moves money: four eyes
    _log_decisions(app, ["120000.00", "140000.00", "200000.00"])
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_function("() => document.querySelector('[data-bpmn-modeler]').dataset.state === 'ready'")
    page.locator('[data-dmn-file="approval_authority.dmn"]').click()
    cell = page.locator(f"td{MANAGER_LIMIT} .content-editable")
    cell.wait_for()
    assert cell.inner_text().strip() == "> 100000"

    # A cell the DMN checker refuses is marked where it is, before deploy.
    _type_into_cell(page, "> 1OO000 +")
    _checked(page)
    problems = page.locator(".dmn-problems li")
    assert problems.count() >= 1
    assert "approval_authority.dmn" in problems.first.inner_text()
    assert page.locator(f"td{MANAGER_LIMIT}.cf-problem").count() == 1

    _type_into_cell(page, "> 150000")
    _checked(page)
    assert page.locator(".dmn-problems").is_hidden(), page.locator(".dmn-problems li").all_inner_texts()
    diff = page.locator(".dmn-diff li")
    assert diff.all_inner_texts() == [
        "Who approves a credit limit — rule 4 (above_hundred_thousand): "
        "Recommended limit in the base currency > 100000 → > 150000"
    ]
    assert page.locator(".dmn-diff-against").inner_text() == "(v1)"

    # What-if over the last 30 days: the two limits between 100,000 and 150,000 no longer need the manager.
    page.locator('[data-action="what-if"]').click()
    page.wait_for_function("() => document.querySelector('[data-dmn-editor]').dataset.whatIf === 'done'")
    summary = page.locator(".what-if-summary li").all_inner_texts()
    assert summary[0].startswith("3 logged decisions from "), summary
    assert summary[0].endswith("replayed: 2 would change."), summary
    changed = page.locator(".what-if-changes tbody tr")
    assert changed.count() == 2
    assert "manager" in changed.first.inner_text()

    page.locator('[data-action="deploy"]').click()
    page.wait_for_function(
        "() => !document.querySelector('.modeler-status').textContent.includes('deploying')"
    )
    status = page.locator(".modeler-status").inner_text()
    problems_listed = page.locator(".problems li").all_inner_texts()
    assert status.startswith("Deployed credit_application version 2"), problems_listed

    old, new = _files(app, 1), _files(app, 2)
    assert "&gt; 150000" in new["approval_authority.dmn"] or "> 150000" in new["approval_authority.dmn"]
    assert new["approval_authority.dmn"].count("100000") == old["approval_authority.dmn"].count("100000") - 1
    assert {n: t for n, t in new.items() if n != "approval_authority.dmn"} == {
        n: t for n, t in old.items() if n != "approval_authority.dmn"
    }

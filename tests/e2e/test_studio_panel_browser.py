"""Issue 18's panel, the pieces after must-show 1, in Debian chromium as owner1: several candidate groups; an
unknown candidate group marked on the task and refused by deploy with FILE:LINE; the subject and instructions
previewed over a recent instance's data (and a broken template's problem in place); a timer's firing for a
start date; a form made from a field list, deployed with the diagram; and an owner who reads no case previews
over the newest one with its values hidden."""

from __future__ import annotations

import json
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
from tests.e2e.test_studio_browser import STUDIO, checked, entry, select
from tests.helpers import auth
from workflows.store.db import transaction
from workflows.users import add_user

pytestmark = pytest.mark.browser


def _xml(page: Any) -> str:  # noqa: F811
    return str(page.evaluate("() => window.creditflowModeler.saveXML({ format: true }).then(r => r.xml)"))


def _open(app: Flask, page: Any) -> None:  # noqa: F811
    log_in(page, "owner1")
    page.wait_for_url("**/inbox")
    page.goto("/definitions/credit_application/1/edit")
    page.wait_for_selector("[data-bpmn-modeler][data-state=ready]")


def _application(client: FlaskClient, tokens: dict[str, str]) -> dict[str, Any]:
    customer = client.post(
        "/api/customers",
        json={
            "name": "Preview Werke GmbH",
            "industry": "manufacturing",
            "founded_year": 1990,
            "annual_revenue": "50000000.00",
            "currency": "EUR",
        },
        headers=auth(tokens["sales1"]),
    ).json
    data = {
        "customer_id": customer["id"],
        "requested_limit": 80_000,
        "currency": "EUR",
        "payment_terms_days": 30,
        "justification": "Preview",
    }
    started = client.post(
        "/api/process-instances",
        json={"process_key": "credit_application", "business_key": "PREVIEW-1", "data": data},
        headers=auth(tokens["sales1"]),
    )
    assert started.status_code == 201, started.json
    return dict(started.json)


def test_groups_previews_timer_and_a_new_form_in_the_panel(
    app: Flask,
    page: Any,  # noqa: F811
    client: FlaskClient,
    demo_tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    if not STUDIO.exists():
        pytest.skip("the studio bundle is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "definition_approval")
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:  # a process owner who is also an analyst reads the cases
        add_user(session, "owner1", groups=["credit_analyst"], now=svc.clock())
    instance = _application(client, demo_tokens)
    _open(app, page)

    # Several candidate groups.
    select(page, "review_application")
    groups = entry(page, "candidateGroups", "select")
    groups.select_option(["credit_analyst", "credit_manager"])
    page.locator(
        '[data-entry-id="candidateGroups"]:has-text("Offered to: credit_analyst, credit_manager")'
    ).wait_for()
    checked(page)
    assert '<spiffworkflow:property name="candidateGroups" value="credit_analyst, credit_manager" />' in _xml(
        page
    )

    # Subject and instructions over the instance's data, rendered by the server's sandboxes.
    preview = page.locator('[data-entry-id="textPreview"]')
    preview.locator("select").select_option(str(instance["id"]))
    subject = preview.locator('[data-preview="subject"] .cf-preview-text')
    subject.wait_for()
    assert "Preview Werke GmbH" in subject.inner_text()
    instructions = preview.locator('[data-preview="instructions"] .cf-preview-text')
    assert instructions.inner_text().startswith("Score ")
    assert "{{" not in instructions.inner_text()
    entry(page, "instructions", "textarea").fill("Score {{ scoring.score }} {% for %}")
    error = preview.locator('[data-preview="instructions"] .bio-properties-panel-error')
    error.wait_for()
    assert "TemplateSyntaxError" in error.inner_text()
    entry(page, "instructions", "textarea").fill("Check {{ credit_file.customer_name }} now.")
    page.locator('[data-preview="instructions"]:has-text("Check Preview Werke GmbH now.")').wait_for()
    preview.screenshot(path=str(tmp_path / "studio-text-preview.png"))

    # A form made from a field list and then replaced by another choice is not deployed.
    page.get_by_role("button", name="New form from a field list…").click()
    builder = page.locator('[data-entry-id="newForm"]')
    builder.locator("#cf-new-form-name").fill("first_try")
    builder.locator('input[name="field-name"]').fill("remark")
    builder.locator('[data-action="create-form"]').click()
    form = entry(page, "formJsonSchemaFilename", "select")
    page.wait_for_function(
        "v => document.querySelector('[data-entry-id=formJsonSchemaFilename] select')?.value === v",
        arg="first_try.json",
    )
    form.select_option("credit_review.json")
    # A form made from a field list: refused while wrong, then chosen for the task.
    page.get_by_role("button", name="New form from a field list…").click()
    builder.locator("#cf-new-form-name").fill("second_look")
    builder.locator('input[name="field-name"]').fill("Bad Name")
    builder.locator('[data-action="create-form"]').click()
    builder.locator(".bio-properties-panel-error:has-text('field Bad Name')").wait_for()
    builder.locator('input[name="field-name"]').fill("second_opinion")
    assert builder.locator(".bio-properties-panel-error").count() == 0  # the fixed name is no longer blamed
    builder.locator('[data-action="add-field"]').click()
    builder.locator('input[name="field-name"]').nth(1).fill("suggested_limit")
    builder.locator('select[name="field-type"]').nth(1).select_option("money")
    builder.screenshot(path=str(tmp_path / "studio-form-builder.png"))
    builder.locator('[data-action="create-form"]').click()
    page.wait_for_function(
        "v => document.querySelector('[data-entry-id=formJsonSchemaFilename] select')?.value === v",
        arg="second_look.json",
    )
    checked(page)
    assert page.locator(".modeler-status.ok").count() == 1  # deploy's checks accept the new form

    # A timer's firing for a start date.
    select(page, "information_reminder")
    page.locator('[data-entry-id="timerStart"] input').fill("2027-01-09 09:00")
    page.locator(
        '[data-preview="timer"]:has-text("Fires 14 Jan 2027 09:00 UTC for this start date.")'
    ).wait_for()
    page.locator('[data-entry-id="timerStart"]').screenshot(path=str(tmp_path / "studio-timer.png"))
    entry(page, "timerExpression").fill('"P5D" + days')  # a name the case's data does not have
    page.locator('[data-entry-id="timerStart"] .bio-properties-panel-error:has-text("days")').wait_for()
    # Computed from the case: the instance chosen above (payment terms 30 days).
    assert page.locator("#cf-timer-instance").input_value() == str(instance["id"])
    entry(page, "timerExpression").fill('"P" + str(payment_terms_days) + "D"')
    page.locator(
        '[data-preview="timer"]:has-text("Fires 8 Feb 2027 09:00 UTC for this start date.")'
    ).wait_for()
    entry(page, "timerExpression").fill('"P5D"')
    page.locator('[data-preview="timer"]:has-text("Fires 14 Jan 2027 09:00 UTC")').wait_for()
    checked(page)

    page.get_by_role("button", name="Deploy as new version").click()
    page.get_by_role("link", name="Deployed credit_application version 2.").wait_for()
    from webui.diagrams import deployment_files
    from workflows.definitions.versions import get_definition

    with svc.rt.factory() as session:
        files = deployment_files(session, get_definition(session, "credit_application", 2))
    schema = json.loads(files["second_look.json"])
    assert schema["required"] == ["second_opinion"]
    assert schema["properties"]["suggested_limit"] == {
        "title": "suggested limit",
        "type": "number",
        "format": "money",
    }
    assert (
        '<spiffworkflow:property name="formJsonSchemaFilename" value="second_look.json" />'
        in files["credit_application.bpmn"]
    )
    assert "credit_review.json" in files  # the version's forms are deployed with it, unchanged
    assert "first_try.json" not in files  # made, then replaced: not deployed


def test_an_unknown_candidate_group_is_marked_and_refused(
    app: Flask,
    page: Any,  # noqa: F811
    client: FlaskClient,
    demo_tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    if not STUDIO.exists():
        pytest.skip("the studio bundle is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "definition_approval")
    _open(app, page)
    # A diagram written elsewhere names a group the catalogue does not know (a typo).
    page.evaluate(
        """() => {
             const modeler = window.creditflowModeler;
             return modeler.saveXML({ format: true }).then(r => modeler.importXML(r.xml.replace(
               '<spiffworkflow:property name="formJsonSchemaFilename" value="credit_review.json" />',
               '<spiffworkflow:property name="formJsonSchemaFilename" value="credit_review.json" />' +
               '<spiffworkflow:property name="candidateGroups" value="credit_analyts" />')))
           }"""
    )
    select(page, "review_application")
    option = entry(page, "candidateGroups", "select").locator("option:checked")
    assert option.inner_text() == "credit_analyts (unknown group)"
    # Any change is checked by deploy's checks: the group is a problem, marked on the task and in the panel.
    entry(page, "dueIn").fill("P3D")
    page.locator('.djs-element.cf-problem[data-element-id="review_application"]').wait_for()
    error = page.locator('[data-entry-id="candidateGroups"] .bio-properties-panel-error')
    error.wait_for()
    assert "credit_analyts, not a known group" in error.inner_text()
    page.locator(".properties-panel").screenshot(path=str(tmp_path / "studio-unknown-group.png"))
    page.get_by_role("button", name="Deploy as new version").click()
    page.locator(".modeler-status.error:has-text('Nothing was deployed')").wait_for()
    problems = page.locator(".problems").inner_text()
    assert "credit_application.bpmn:" in problems and "review_application" in problems
    assert "candidateGroups names credit_analyts" in problems
    versions = client.get("/api/process-definitions", headers=auth(demo_tokens["owner1"])).json
    assert [d["version"] for d in versions if d["key"] == "credit_application"] == [1]

    # Choosing known groups clears it.
    entry(page, "candidateGroups", "select").select_option(["credit_manager"])
    page.wait_for_selector('.djs-element.cf-problem[data-element-id="review_application"]', state="detached")
    assert page.locator('[data-entry-id="candidateGroups"] .bio-properties-panel-error').count() == 0


def test_an_owner_who_reads_no_case_previews_with_the_values_hidden(
    app: Flask,
    page: Any,  # noqa: F811
    client: FlaskClient,
    demo_tokens: dict[str, str],
    tmp_path: Path,
) -> None:
    """The demo's owner1 is no analyst: no case of credit_application is theirs to read, so the panel
    previews by default over the newest case with its values hidden, and the shipped subject renders."""
    if not STUDIO.exists():
        pytest.skip("the studio bundle is not built; run `make setup` (it needs npm)")
    deploy_shipped(app, "credit_application", "definition_approval")
    _application(client, demo_tokens)
    _open(app, page)
    select(page, "review_application")
    preview = page.locator('[data-entry-id="textPreview"]')
    assert preview.locator("select").input_value() == "hidden"
    assert "No one's data is shown." in preview.locator("[data-preview-note]").inner_text()
    subject = preview.locator('[data-preview="subject"] .cf-preview-text')
    subject.wait_for()
    assert subject.inner_text().startswith("‹customer_name›, ") and "0.00" in subject.inner_text()
    entry(page, "instructions", "textarea").fill("Check {{ credit_file.customer_name }} now.")
    page.locator('[data-preview="instructions"]:has-text("Check ‹customer_name› now.")').wait_for()
    assert "Preview Werke" not in page.locator(".properties-panel").inner_text()
    preview.screenshot(path=str(tmp_path / "studio-hidden-values.png"))
    # No data, chosen by hand: the name is a problem again.
    preview.locator("select").select_option("")
    page.locator('[data-preview="subject"] .bio-properties-panel-error:has-text("credit_file")').wait_for()


def test_a_zh_owner_reads_the_new_entries_and_the_previews_in_chinese(
    app: Flask,
    page: Any,  # noqa: F811
    demo_tokens: dict[str, str],
) -> None:
    if not STUDIO.exists():
        pytest.skip("the studio bundle is not built; run `make setup` (it needs npm)")
    from workflows.users import set_language

    deploy_shipped(app, "credit_application", "definition_approval")
    svc = app.extensions["creditflow"]
    with transaction(svc.rt.factory) as session:
        set_language(session, "owner1", "zh", svc.clock())
    _open(app, page)
    select(page, "review_application")
    groups = page.locator('[data-entry-id="candidateGroups"]')
    assert "候选用户组" in groups.inner_text() and "按住 Ctrl" in groups.inner_text()
    assert "按字段清单新建表单" in page.locator('[data-entry-id="newForm"]').inner_text()
    assert "不带数据（空案件）" in page.locator('[data-entry-id="textPreview"]').inner_text()
    entry(page, "dueIn").fill("P5D")
    page.locator('[data-entry-id="dueIn"]:has-text("任务生成 5 天后到期。")').wait_for()
    select(page, "information_reminder")
    page.locator('[data-entry-id="timerStart"] input').fill("2027-01-09 09:00")
    page.locator(
        '[data-preview="timer"]:has-text("按此开始时间，于 2027年1月14日 09:00 UTC 触发。")'
    ).wait_for()
